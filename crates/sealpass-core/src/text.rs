//! Text that came from elsewhere (a server, an envelope, a request's label) made safe to show on a
//! terminal or in a log line: the one sanitiser, pure, so every layer that shows or checks such text
//! uses the same rule.

use std::borrow::Cow;

/// Characters that would let text from elsewhere drive or fool the terminal: C0 and C1
/// controls (escape sequences, carriage returns, newlines that forge lines), DEL, and the
/// invisible format characters — bidirectional overrides and isolates, which reorder what is
/// shown (U+202E turns `exe.txt` into `txt.exe`), and zero-width characters, which hide text.
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}')
}

/// Text that did not come from the person at the keyboard (a server's answer, an envelope's
/// field), made safe to print on one line: every hazard is shown as a visible `\u{…}` escape.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars().map(|c| if is_hazard(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() }).collect(),
    )
}

/// The last line of defence for whole blocks of human output: hazards escaped as in [`shown`],
/// except line breaks and tabs, and the colour codes (`ESC [ digits ; m`) this module writes.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hazard(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\x1b' {
            let rest = &text[i + 1..];
            let sgr = rest.strip_prefix('[').and_then(|r| {
                let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
                (r[end..].starts_with('m')).then_some(end + 2)
            });
            if let Some(len) = sgr {
                out.push_str(&text[i..i + 1 + len]);
                for _ in 0..len {
                    chars.next();
                }
                continue;
            }
        }
        if is_hazard(c) && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazards_from_elsewhere_are_shown_not_obeyed() {
        assert_eq!(shown("alice"), "alice");
        assert_eq!(shown("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        for hazard in ["\u{2066}", "\u{200b}", "\n", "\r", "\u{9b}", "\u{feff}", "\u{7f}"] {
            assert!(!shown(&format!("x{hazard}y")).contains(hazard), "{hazard:?}");
        }
        // Whole blocks keep their lines and our colours, nothing else.
        assert_eq!(scrub("a\n\x1b[31;1mred\x1b[0m\tb"), "a\n\x1b[31;1mred\x1b[0m\tb");
        assert_eq!(scrub("a\x1b]0;title\x07\rb"), "a\\u{1b}]0;title\\u{7}\\u{d}b");
        assert_eq!(scrub("x\x1b[2J"), "x\\u{1b}[2J");
    }
}
