//! Evaluating a secret against a policy: every rule is reported with pass/fail and a reason that
//! says what to change. Reasons name positions and kinds of characters, never the characters.

use regex::Regex;
use serde::Serialize;
use zeroize::Zeroizing;

use super::randomness::{self, ANALYSED_CHARS};
use super::{Charset, Policy, Required, describe_required};

/// The outcome of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleResult {
    /// Stable rule id: `length`, `characters`, `classes`, `max-consecutive`, `username`,
    /// `format`, `looks-random`.
    pub rule: &'static str,
    /// Whether the rule holds.
    pub ok: bool,
    /// Why, in words a person can act on.
    pub detail: String,
}

/// The outcome of checking a secret against a policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Policy name.
    pub policy: String,
    /// Whether every rule holds.
    pub compliant: bool,
    /// Every rule, in a stable order.
    pub rules: Vec<RuleResult>,
    /// Advice that does not fail the check.
    pub warnings: Vec<String>,
    /// Rough strength: brute force over the classes used, with predictable parts priced at
    /// what guessing them costs.
    pub entropy_estimate_bits: f64,
}

fn rule(rule: &'static str, ok: bool, detail: impl Into<String>) -> RuleResult {
    RuleResult { rule, ok, detail: detail.into() }
}

/// Positions (1-based) as `3, 9 and 12`, at most a handful.
fn positions(list: &[usize]) -> String {
    let shown: Vec<String> = list.iter().take(5).map(|p| (p + 1).to_string()).collect();
    let more = if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

/// Characters no policy accepts: controls, and the invisible format characters (byte-order
/// mark, zero-width and bidirectional marks) that editors slip in and logins then reject.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// What kind of character this is, without saying which one.
fn char_kind(c: char) -> &'static str {
    match c {
        ' ' => "a space",
        c if c.is_control() => "a control character",
        c if invisible(c) => "an invisible formatting character",
        c if !c.is_ascii() => "a non-ASCII character",
        c if c.is_ascii_alphanumeric() => "a letter or digit",
        _ => "a symbol",
    }
}

fn length_rule(p: &Policy, len: usize) -> RuleResult {
    let ok = p.accepts_length(len);
    let detail = if ok {
        format!("{len} characters (allowed {})", p.length_range())
    } else {
        format!("{len} characters; needs {}", p.length_range())
    };
    rule("length", ok, detail)
}

fn characters_rule(accept: Charset, chars: &[char]) -> RuleResult {
    let bad: Vec<usize> =
        chars.iter().enumerate().filter(|(_, c)| !accept.contains(**c) || invisible(**c)).map(|(i, _)| i).collect();
    if bad.is_empty() {
        return rule("characters", true, format!("only allowed characters ({})", accept.describe()));
    }
    let mut kinds: Vec<&str> = bad.iter().map(|&i| char_kind(chars[i])).collect();
    kinds.dedup();
    kinds.sort_unstable();
    kinds.dedup();
    rule(
        "characters",
        false,
        format!(
            "{} character(s) not allowed at position {} ({}); allowed: {}",
            bad.len(),
            positions(&bad),
            kinds.join(", "),
            accept.describe()
        ),
    )
}

fn classes_rule(req: &Required, chars: &[char]) -> RuleResult {
    let (has, missing): (Vec<_>, Vec<_>) =
        req.classes.iter().partition(|class| chars.iter().any(|&c| class.chars.contains(c)));
    let ok = has.len() >= req.at_least;
    let names = |list: &[&super::Class]| list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let detail = if ok && req.at_least >= req.classes.len() {
        format!("has {}", names(&has))
    } else if ok {
        format!("has {} ({} of {} needed)", names(&has), req.at_least, req.classes.len())
    } else if req.at_least >= req.classes.len() {
        format!("missing {}", names(&missing))
    } else {
        format!(
            "has {} of the {} needed ({}); add {}",
            has.len(),
            req.at_least,
            describe_required(req),
            names(&missing)
        )
    };
    rule("classes", ok, detail)
}

fn max_consecutive_rule(max: usize, chars: &[char]) -> RuleResult {
    let (mut longest, mut at, mut run) = (0, 0, 0);
    for (i, c) in chars.iter().enumerate() {
        run = if i > 0 && chars[i - 1] == *c { run + 1 } else { 1 };
        if run > longest {
            (longest, at) = (run, i + 1 - run);
        }
    }
    if longest <= max {
        rule("max-consecutive", true, format!("longest run of identical characters is {longest} (max {max})"))
    } else {
        rule(
            "max-consecutive",
            false,
            format!("{longest} identical characters in a row from position {} (max {max})", at + 1),
        )
    }
}

/// The parts of a username a password must not contain: the whole name and, for
/// `user@domain` or `DOMAIN\user`, the user part when it is long enough to mean something.
fn username_parts(username: &str) -> Vec<String> {
    let whole = username.trim().to_lowercase();
    let mut parts = vec![whole.clone()];
    let local = whole.split('@').next().unwrap_or_default();
    let local = local.rsplit('\\').next().unwrap_or_default();
    if local.chars().count() >= 3 && local != whole {
        parts.push(local.to_owned());
    }
    parts.retain(|p| !p.is_empty());
    parts
}

fn username_rule(secret: &str, username: &str) -> RuleResult {
    let lower = Zeroizing::new(secret.to_lowercase());
    match username_parts(username).into_iter().find(|part| lower.contains(part.as_str())) {
        Some(part) if part == username.trim().to_lowercase() => {
            rule("username", false, "contains the username; choose a password unrelated to the account")
        }
        // The matched part is also a piece of the secret: name it, don't quote it.
        Some(_) => rule(
            "username",
            false,
            "contains the username's local part (before the @); choose a password unrelated to the account",
        ),
        None => rule("username", true, format!("does not contain the username '{}'", username.trim())),
    }
}

/// A GUID as the Entra portal shows it, braced, or with its dashes removed.
fn looks_like_guid(s: &str) -> bool {
    let s = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(s);
    let hex = |p: &str| p.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    (parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && hex(p)))
        || (s.len() == 32 && hex(s))
}

/// The format rule; may relax the length rule (legacy secrets) and add a warning.
fn format_rule(
    f: &super::Format,
    secret: &str,
    len: usize,
    length: &mut RuleResult,
    warnings: &mut Vec<String>,
) -> RuleResult {
    if f.guid_is_an_id && looks_like_guid(secret) {
        return rule(
            "format",
            false,
            "this looks like the secret's ID, not its value: copy the Value column of the client secret \
             (shown only once, when the secret is created)",
        );
    }
    // The pattern is a fixed string of ours; a failure to compile it is a bug caught by the tests.
    let matches = Regex::new(f.pattern).is_ok_and(|re| re.is_match(secret));
    if matches {
        return rule("format", true, format!("matches the {} format", f.what));
    }
    let legacy = f.legacy_lengths.contains(&len) && secret.chars().all(|c| Charset::graphic().contains(c));
    if legacy {
        *length = rule("length", true, format!("{len} characters (legacy format)"));
        warnings.push(format!(
            "this is a legacy {len}-character {}; it still works, but a new secret would use the current format",
            f.what
        ));
        return rule("format", true, format!("legacy {len}-character {}", f.what));
    }
    rule("format", false, format!("does not match the {} format {}", f.what, f.pattern))
}

/// Size of the pool an attacker must draw from: the classes the secret uses, limited to what
/// the policy accepts (an attacker knows the policy too).
fn pool_size(chars: &[char], accept: Charset) -> f64 {
    let classes = [Charset::lower(), Charset::upper(), Charset::digit(), Charset::of(super::charset::APPLE_SPECIALS)];
    let mut pool: usize = classes
        .iter()
        .filter(|class| chars.iter().any(|&c| class.contains(c)))
        .map(|class| class.intersection(accept).ascii_len())
        .sum();
    if chars.iter().any(|c| !c.is_ascii()) {
        // Unknowable in general; a few hundred common non-ASCII letters is a fair guess.
        pool += 100;
    }
    pool as f64
}

pub(super) fn check(p: &Policy, secret: &str, username: Option<&str>) -> Report {
    let chars: Zeroizing<Vec<char>> = Zeroizing::new(secret.chars().collect());
    let len = chars.len();
    let mut warnings: Vec<String> = p.warnings.iter().map(|w| (*w).to_owned()).collect();
    if secret.starts_with(char::is_whitespace) || secret.ends_with(char::is_whitespace) {
        warnings
            .push("the secret begins or ends with a space, which many forms trim: check that it is intended".into());
    }
    let mut length = length_rule(p, len);
    let mut rules = vec![characters_rule(p.accept, &chars)];
    if !p.required.classes.is_empty() {
        rules.push(classes_rule(&p.required, &chars));
    }
    if let Some(max) = p.max_consecutive {
        rules.push(max_consecutive_rule(max, &chars));
    }
    match username.filter(|u| !u.trim().is_empty()) {
        Some(u) => rules.push(username_rule(secret, u)),
        None if p.username_rule => {
            warnings.push("the username rule was not checked: pass --username to check it".into());
        }
        None => {}
    }
    if let Some(f) = &p.format {
        let format = format_rule(f, secret, len, &mut length, &mut warnings);
        rules.push(format);
    }
    // The pattern analysis (zxcvbn) serves the looks-random rule and the strength estimate,
    // which is the same for the same string under every policy: a common password is weak
    // whichever rules it is checked against.
    let analysis = randomness::analyse(secret);
    let bits_per_char = pool_size(&chars, Charset::graphic()).max(1.0).log2();
    let patterned: f64 =
        analysis.findings.iter().map(|f| (f.guesses.max(1) as f64).log2().min(f.len() as f64 * bits_per_char)).sum();
    let in_findings: usize = analysis.findings.iter().map(|f| f.len()).sum();
    let plain = len.saturating_sub(in_findings.min(ANALYSED_CHARS));
    let entropy_estimate_bits = ((plain as f64 * bits_per_char + patterned) * 100.0).round() / 100.0;
    if p.looks_random {
        let detail = if !analysis.looks_random() {
            format!(
                "predictable patterns cover {} of the first {} characters: {}; generate one with `sealpass generate`",
                analysis.covered,
                analysis.analysed,
                analysis.describe(5)
            )
        } else if analysis.findings.is_empty() {
            "no words, keyboard walks, repeats, sequences or dates found".to_owned()
        } else {
            format!("only minor patterns found: {}", analysis.describe(3))
        };
        rules.push(rule("looks-random", analysis.looks_random(), detail));
    }
    rules.insert(0, length);

    Report { policy: p.name.clone(), compliant: rules.iter().all(|r| r.ok), rules, warnings, entropy_estimate_bits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(report: &Report) -> Vec<&'static str> {
        report.rules.iter().filter(|r| !r.ok).map(|r| r.rule).collect()
    }

    #[test]
    fn salesforce_accepts_a_random_password_and_names_every_rule() {
        let p = Policy::preset("salesforce").unwrap();
        let r = p.check("5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ", Some("kore@acme.example"));
        assert!(r.compliant, "{r:#?}");
        let names: Vec<_> = r.rules.iter().map(|r| r.rule).collect();
        assert_eq!(names, ["length", "characters", "classes", "username", "looks-random"]);
        assert!(r.entropy_estimate_bits > 150.0, "{}", r.entropy_estimate_bits);
        assert!(r.warnings.iter().any(|w| w.contains("2027")));
    }

    #[test]
    fn salesforce_rejects_typed_password_even_when_long() {
        let p = Policy::preset("salesforce").unwrap();
        let r = p.check("Password123!Password123!Password1", None);
        assert!(!r.compliant);
        assert!(failed(&r).contains(&"looks-random"), "{r:#?}");
        assert!(r.entropy_estimate_bits < 80.0, "{}", r.entropy_estimate_bits);
    }

    #[test]
    fn length_rule_bounds() {
        let p = Policy::preset("salesforce").unwrap();
        assert_eq!(failed(&p.check("aB3-aB3-", None))[0], "length");
        let r = p.check(&"x".repeat(129), None);
        assert!(r.rules[0].detail.contains("needs 30–128"), "{:?}", r.rules[0]);
    }

    #[test]
    fn characters_rule_names_positions_not_characters() {
        let p = Policy::preset("salesforce").unwrap();
        let r = p.check("5=3wNdPM1Rk+3b_xHkKalOcE4$4eKN é", None);
        let c = r.rules.iter().find(|r| r.rule == "characters").unwrap();
        assert!(!c.ok);
        assert!(
            c.detail.contains("position 31, 32") && c.detail.contains("a space") && c.detail.contains("non-ASCII"),
            "{}",
            c.detail
        );
        assert!(!c.detail.contains('é'));
    }

    #[test]
    fn classes_all_of_and_three_of_four() {
        let sf = Policy::preset("salesforce").unwrap();
        let r = sf.check("abcdefghijkmnopqrstuvwxyzABCDEFGHJ", None);
        let c = r.rules.iter().find(|r| r.rule == "classes").unwrap();
        assert!(!c.ok && c.detail.contains("missing digit, special"), "{}", c.detail);

        let entra = Policy::preset("entra-password").unwrap();
        // (entra-password also wants a random-looking password: these check the classes rule.)
        let classes_ok = |s: &str| entra.check(s, None).rules.iter().any(|r| r.rule == "classes" && r.ok);
        assert!(classes_ok("Abcdefg1"));
        assert!(classes_ok("abcdefg1!"));
        let r = entra.check("abcdefgh1", None);
        let c = r.rules.iter().find(|r| r.rule == "classes").unwrap();
        assert!(!c.ok && c.detail.contains("has 2 of the 3 needed"), "{}", c.detail);
        assert!(!entra.check("Abcdefg1é", None).compliant, "non-ASCII is refused");
        assert!(
            entra.check("Ab cdefg1", None).rules.iter().all(|r| r.ok || r.rule == "looks-random"),
            "space is allowed"
        );
    }

    #[test]
    fn max_consecutive_reports_where() {
        let p = Policy::from_rules("max-consecutive: 2; minlength: 4").unwrap();
        assert!(p.check("aabaa", None).compliant);
        let r = p.check("abbbc", None);
        let c = r.rules.iter().find(|r| r.rule == "max-consecutive").unwrap();
        assert!(!c.ok && c.detail.contains("3 identical characters in a row from position 2"), "{}", c.detail);
    }

    #[test]
    fn username_rule_whole_and_local_part_case_insensitive() {
        let p = Policy::preset("entra-password").unwrap();
        let user = Some("kore@acme.example");
        assert!(p.check("xxKORE@ACME.EXAMPLExx1", user).rules.iter().any(|r| r.rule == "username" && !r.ok));
        let r = p.check("Zz9-Kore-Integration", user);
        let u = r.rules.iter().find(|r| r.rule == "username").unwrap();
        assert!(!u.ok && u.detail.contains("local part"), "{}", u.detail);
        assert!(!u.detail.to_lowercase().contains("kore"), "never quotes part of the secret: {}", u.detail);
        let username_ok = |s: &str, user| p.check(s, user).rules.iter().any(|r| r.rule == "username" && r.ok);
        assert!(username_ok("Zz9-Integration-xyz", user));
        assert!(p.check("Zz9-Integration-xyz", None).warnings.iter().any(|w| w.contains("--username")));
        // A one- or two-letter local part is not a meaningful thing to forbid.
        assert!(username_ok("Zz9-ab-Integration", Some("ab@x.example")));
        assert!(
            p.check("Zz9-kore-Integration", Some("ACME\\kore")).rules.iter().any(|r| r.rule == "username" && !r.ok)
        );
    }

    #[test]
    fn app_password_is_sixteen_lowercase_letters() {
        let p = Policy::preset("microsoft-app-password").unwrap();
        assert!(p.check("abcdefghijklmnop", None).compliant);
        assert!(!p.check("abcdefghijklmnoP", None).compliant);
        assert!(!p.check("abcdefghijklmno", None).compliant);
        assert!(p.check("abcdefghijklmnop", None).warnings.iter().any(|w| w.contains("MFA")));
    }

    #[test]
    fn client_secret_value_guid_and_legacy() {
        let p = Policy::preset("entra-client-secret").unwrap();
        let value = "abc8Q~defghijklmnopqrstuvwxyz0123456789.";
        assert_eq!(value.len(), 40);
        assert!(p.check(value, None).compliant, "{:#?}", p.check(value, None));
        assert!(!p.check("abc9Q~defghijklmnopqrstuvwxyz0123456789.", None).compliant);

        for guid in [
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "0f8fad5bd9cb469fa16570867728950e",
        ] {
            let r = p.check(guid, None);
            assert!(!r.compliant, "{guid}");
            let f = r.rules.iter().find(|r| r.rule == "format").unwrap();
            assert!(f.detail.contains("this looks like the secret's ID, not its value"), "{}", f.detail);
        }

        for legacy in ["Xk3/9qL+Zp0=Tm7.Rw2:Vb5@Nc8-Hd1]", "Xk3/9qL+Zp0=Tm7.Rw2:Vb5@Nc8-Hd1]ab"] {
            let r = p.check(legacy, None);
            assert!(r.compliant, "{r:#?}");
            assert!(r.warnings.iter().any(|w| w.contains("legacy")));
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused_everywhere() {
        let p = Policy::preset("strong").unwrap();
        for sneaky in
            ["\u{FEFF}ß9$kQ2%vL!x7Zp^Rm", "ß9$kQ2%vL!x7\u{200B}Zp^Rm", "ß9$kQ2%vL!x7Zp^Rm\u{85}", "ß9$kQ2%v\tL!x7Zp^Rm"]
        {
            let r = p.check(sneaky, None);
            let c = r.rules.iter().find(|r| r.rule == "characters").unwrap();
            assert!(!c.ok, "{sneaky:?}");
        }
        let spaced = Policy::preset("entra-password").unwrap().check(" kQ2%vL!x7Zp^Rm9", None);
        assert!(spaced.compliant && spaced.warnings.iter().any(|w| w.contains("begins or ends with a space")));
    }

    #[test]
    fn strong_accepts_unicode_but_wants_randomness_and_16() {
        let p = Policy::preset("strong").unwrap();
        assert!(p.check("ß9$kQ2%vL!x7Zp^Rm", None).compliant);
        assert!(!p.check("short", None).compliant);
        assert!(!p.check("iloveyouiloveyouiloveyou", None).compliant);
    }

    #[test]
    fn every_preset_pattern_compiles() {
        for p in Policy::presets() {
            if let Some(f) = &p.format {
                Regex::new(f.pattern).unwrap();
            }
        }
    }
}
