//! Custom policies written in Apple's `passwordrules` language (the format password managers
//! share), parsed by the `password-rules-parser` crate and mapped onto our policy model.

use password_rules_parser::{CharacterClass, parse_password_rules};

use super::charset::{APPLE_SPECIALS, Charset};
use super::{Class, Generation, GenerationRules, Policy, PolicyError, Required};

/// Length a custom policy generates when its rules allow it.
const PREFERRED_LENGTH: usize = 32;

/// Map one parsed class to (name, accepted members).
fn class(c: &CharacterClass) -> (String, Charset) {
    match c {
        CharacterClass::Upper => ("upper".into(), Charset::upper()),
        CharacterClass::Lower => ("lower".into(), Charset::lower()),
        CharacterClass::Digit => ("digit".into(), Charset::digit()),
        CharacterClass::Special => ("special".into(), Charset::of(APPLE_SPECIALS)),
        CharacterClass::AsciiPrintable => ("ascii-printable".into(), Charset::printable()),
        CharacterClass::Unicode => ("unicode".into(), Charset::any_printable()),
        CharacterClass::Custom(chars) => {
            let set = chars.iter().fold(Charset::EMPTY, |s, &c| s.with(c));
            let shown: String = set.ascii_chars().map(|c| if c == ' ' { '␠' } else { c }).collect();
            (format!("[{shown}]"), set)
        }
    }
}

/// What the generator may draw: the accepted ASCII characters, but never a space, which
/// password fields and copy-paste silently trim at either end.
fn generatable(set: Charset) -> Charset {
    Charset::graphic().intersection(set.ascii_only())
}

const EXAMPLE: &str =
    "Example: --rules \"minlength: 30; required: upper; required: lower; required: digit; allowed: [-_]\"";

pub(super) fn from_passwordrules(text: &str) -> Result<Policy, PolicyError> {
    if text.trim().is_empty() {
        return Err(PolicyError::Rules(format!("the rules are empty.\n{EXAMPLE}")));
    }
    let parsed = parse_password_rules(text, true)
        .map_err(|e| PolicyError::Rules(format!("{}\n{EXAMPLE}", e.to_string().trim_end().trim_end_matches('.'))))?;
    let required: Vec<Class> = parsed
        .required
        .iter()
        .map(|alternatives| {
            let (names, set) = alternatives.iter().map(class).fold(
                (Vec::new(), Charset::EMPTY),
                |(mut names, set), (name, members)| {
                    names.push(name);
                    (names, set.union(members))
                },
            );
            Class::new(names.join(" or "), set)
        })
        .collect();
    // The parser keeps `required` out of `allowed`; a required character is of course allowed.
    let accept = parsed
        .allowed
        .iter()
        .map(|c| class(c).1)
        .chain(required.iter().map(|c| c.chars))
        .fold(Charset::EMPTY, Charset::union);

    let min_length = parsed.min_length.map_or(1, |n| n as usize).max(1);
    let max_length = parsed.max_length.map(|n| n as usize);
    if let Some(max) = max_length {
        if max < min_length {
            return Err(PolicyError::Impossible(format!("maxlength {max} is below minlength {min_length}")));
        }
    }
    let max_consecutive = match parsed.max_consecutive {
        Some(0) => return Err(PolicyError::Impossible("max-consecutive must be at least 1".into())),
        other => other.map(|n| n as usize),
    };
    let length = PREFERRED_LENGTH.max(min_length).min(max_length.unwrap_or(usize::MAX));
    let generation = GenerationRules {
        alphabet: generatable(accept),
        length,
        required: required.iter().map(|c| Class::new(c.name.clone(), generatable(c.chars))).collect(),
        max_consecutive,
    };
    Ok(Policy {
        name: "custom".into(),
        summary: format!("custom rules: {}", text.trim()),
        rules_source: Some(text.trim().to_owned()),
        accept,
        min_length,
        max_length,
        required: Required::all(required),
        max_consecutive,
        username_rule: false,
        looks_random: false,
        format: None,
        generation: Generation::Local(generation),
        warnings: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_classes_are_allowed_too() {
        let p = from_passwordrules("minlength: 20; allowed: lower; required: [-]; required: digit").unwrap();
        assert!(p.accept.contains('-') && p.accept.contains('7') && p.accept.contains('q'));
        assert!(!p.accept.contains('Q'));
        assert_eq!(p.required.classes.len(), 2);
        assert_eq!(p.required.at_least, 2);
        assert_eq!(p.min_length, 20);
        assert_eq!(p.max_length, None);
    }

    #[test]
    fn alternatives_in_one_required_rule_are_a_union() {
        let p = from_passwordrules("required: upper, digit; maxlength: 12").unwrap();
        assert_eq!(p.required.classes.len(), 1);
        assert_eq!(p.required.classes[0].name, "upper or digit");
        assert!(p.required.classes[0].chars.contains('A') && p.required.classes[0].chars.contains('5'));
        let Generation::Local(g) = &p.generation else { panic!("custom rules generate") };
        assert_eq!(g.length, 12);
    }

    #[test]
    fn space_is_accepted_but_never_generated() {
        let p = from_passwordrules("allowed: ascii-printable").unwrap();
        assert!(p.accept.contains(' '));
        let Generation::Local(g) = &p.generation else { panic!() };
        assert!(!g.alphabet.contains(' ') && g.alphabet.contains('~'));
    }

    #[test]
    fn nonsense_is_an_error_that_says_what_to_do() {
        let err = from_passwordrules("minlength: banana").unwrap_err().to_string();
        assert!(err.contains("--rules") && err.contains("\nExample"), "{err}");
        let err = from_passwordrules("  ").unwrap_err().to_string();
        assert!(err.contains("empty") && err.contains("Example"), "{err}");
        let p = from_passwordrules("required: [ ]; allowed: lower").unwrap();
        assert_eq!(p.required.classes[0].name, "[␠]");
        let err = from_passwordrules("minlength: 10; maxlength: 5").unwrap_err().to_string();
        assert!(err.contains("below minlength"), "{err}");
        assert!(from_passwordrules("max-consecutive: 0").is_err());
    }
}
