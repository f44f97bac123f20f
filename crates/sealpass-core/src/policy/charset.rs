//! Character sets as the policies see them: small, copyable ASCII bitsets with an optional
//! "anything outside ASCII" flag, so rules can be compared, united and described exactly.

use std::fmt;

/// A set of characters: any subset of ASCII, plus optionally every non-ASCII character.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Charset {
    ascii: u128,
    non_ascii: bool,
}

/// The specials Salesforce's generator-friendly alphabet uses (SPEC §2).
pub const SALESFORCE_SPECIALS: &str = "-!#$%+=_";
/// The specials Microsoft documents as safe in Entra ID passwords and that survive URLs and shells.
pub const SAFE_SPECIALS: &str = "-_.~!#$%*+=?@^";
/// Apple's passwordrules `special` class: every printable ASCII character that is not a letter,
/// digit (space included).
pub const APPLE_SPECIALS: &str = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

impl Charset {
    /// The empty set.
    pub const EMPTY: Charset = Charset { ascii: 0, non_ascii: false };

    /// Characters of `s` (non-ASCII characters turn on the whole non-ASCII flag).
    pub fn of(s: &str) -> Charset {
        s.chars().fold(Charset::EMPTY, |set, c| set.with(c))
    }

    /// An inclusive ASCII range.
    pub fn range(lo: char, hi: char) -> Charset {
        (lo..=hi).fold(Charset::EMPTY, |set, c| set.with(c))
    }

    /// `A`–`Z`.
    pub fn upper() -> Charset {
        Charset::range('A', 'Z')
    }
    /// `a`–`z`.
    pub fn lower() -> Charset {
        Charset::range('a', 'z')
    }
    /// `0`–`9`.
    pub fn digit() -> Charset {
        Charset::range('0', '9')
    }
    /// Printable ASCII without space (`!`–`~`, 94 characters).
    pub fn graphic() -> Charset {
        Charset::range('!', '~')
    }
    /// Printable ASCII including space (95 characters).
    pub fn printable() -> Charset {
        Charset::range(' ', '~')
    }
    /// Every printable character: printable ASCII and everything outside ASCII.
    pub fn any_printable() -> Charset {
        Charset { non_ascii: true, ..Charset::printable() }
    }

    /// This set with `c` added.
    pub fn with(self, c: char) -> Charset {
        if c.is_ascii() {
            Charset { ascii: self.ascii | 1u128 << (c as u32), ..self }
        } else {
            Charset { non_ascii: true, ..self }
        }
    }

    /// Union of two sets.
    pub fn union(self, other: Charset) -> Charset {
        Charset { ascii: self.ascii | other.ascii, non_ascii: self.non_ascii || other.non_ascii }
    }

    /// Intersection of two sets.
    pub fn intersection(self, other: Charset) -> Charset {
        Charset { ascii: self.ascii & other.ascii, non_ascii: self.non_ascii && other.non_ascii }
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: char) -> bool {
        if c.is_ascii() { self.ascii >> (c as u32) & 1 == 1 } else { self.non_ascii }
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(self, other: Charset) -> bool {
        self.ascii & !other.ascii == 0 && (!self.non_ascii || other.non_ascii)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.ascii == 0 && !self.non_ascii
    }

    /// Whether the set includes non-ASCII characters.
    pub fn has_non_ascii(self) -> bool {
        self.non_ascii
    }

    /// The ASCII members, in code-point order.
    pub fn ascii_chars(self) -> impl Iterator<Item = char> {
        (0u8..128).filter(move |b| self.ascii >> b & 1 == 1).map(char::from)
    }

    /// Number of ASCII members.
    pub fn ascii_len(self) -> usize {
        self.ascii.count_ones() as usize
    }

    /// The same set without its non-ASCII part: what a generator can draw from.
    pub fn ascii_only(self) -> Charset {
        Charset { non_ascii: false, ..self }
    }

    /// Compact human description: `A–Z a–z 0–9 -!#$%+=_`, with ranges folded.
    pub fn describe(self) -> String {
        let tail = if self.non_ascii { " and any non-ASCII character" } else { "" };
        if self.ascii == Charset::printable().ascii {
            return format!("printable ASCII including space{tail}");
        }
        if self.ascii == Charset::graphic().ascii {
            return format!("printable ASCII except space{tail}");
        }
        let mut parts: Vec<String> = Vec::new();
        let mut rest = self.ascii;
        for (lo, hi) in [('A', 'Z'), ('a', 'z'), ('0', '9')] {
            let full = Charset::range(lo, hi).ascii;
            if rest & full == full {
                parts.push(format!("{lo}–{hi}"));
                rest &= !full;
            }
        }
        let others: String =
            Charset { ascii: rest, non_ascii: false }.ascii_chars().map(|c| if c == ' ' { '␠' } else { c }).collect();
        if !others.is_empty() {
            parts.push(others);
        }
        if self.non_ascii {
            parts.push("and any non-ASCII character".to_owned());
        }
        if parts.is_empty() { "(nothing)".to_owned() } else { parts.join(" ") }
    }
}

impl fmt::Debug for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Charset({})", self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_alphabet_has_70_characters() {
        let set = Charset::upper().union(Charset::lower()).union(Charset::digit());
        assert_eq!(set.union(Charset::of(SALESFORCE_SPECIALS)).ascii_len(), 70);
        assert_eq!(Charset::graphic().ascii_len(), 94);
        assert_eq!(Charset::printable().ascii_len(), 95);
        assert_eq!(Charset::of(APPLE_SPECIALS).ascii_len(), 33);
    }

    #[test]
    fn membership_subset_and_non_ascii() {
        let set = Charset::of("ab");
        assert!(set.contains('a') && !set.contains('c') && !set.contains('é'));
        assert!(set.is_subset(Charset::lower()));
        assert!(!Charset::of("é").is_subset(Charset::printable()));
        assert!(Charset::of("é").is_subset(Charset::any_printable()));
        assert!(Charset::any_printable().contains('ß'));
        assert_eq!(Charset::of("ba").ascii_chars().collect::<String>(), "ab");
    }

    #[test]
    fn describe_folds_ranges() {
        let set = Charset::upper().union(Charset::digit()).union(Charset::of("-! "));
        assert_eq!(set.describe(), "A–Z 0–9 ␠!-");
        assert_eq!(Charset::EMPTY.describe(), "(nothing)");
        assert_eq!(Charset::any_printable().describe(), "printable ASCII including space and any non-ASCII character");
    }
}
