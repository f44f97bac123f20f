//! `sealpass generate` through the real binary.

use std::collections::HashSet;

use crate::helpers::sealpass;

#[test]
fn generates_salesforce_passwords_one_a_line() {
    let run = sealpass(&["generate", "--policy", "salesforce", "--count", "50"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 50);
    assert_eq!(lines.iter().collect::<HashSet<_>>().len(), 50, "all distinct");
    for pw in lines {
        assert_eq!(pw.len(), 32);
        assert!(pw.chars().all(|c| c.is_ascii_alphanumeric() || "-!#$%+=_".contains(c)), "{pw}");
    }
    assert!(run.stderr.is_empty(), "nothing on stderr when piped: {}", run.stderr);
}

#[test]
fn json_lines_have_exactly_the_documented_fields() {
    let run = sealpass(&["generate", "--policy", "salesforce", "--length", "40", "--count", "3", "--json"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let objects = run.json_lines();
    assert_eq!(objects.len(), 3);
    for o in objects {
        let mut keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["entropy_bits", "length", "password", "policy"]);
        assert_eq!(o["policy"], "salesforce");
        assert_eq!(o["length"], 40);
        assert_eq!(o["password"].as_str().unwrap().len(), 40);
        let bits = o["entropy_bits"].as_f64().unwrap();
        assert!(bits > 245.0 && bits < 40.0 * 70f64.log2(), "{bits}");
    }
}

#[test]
fn default_policy_is_strong() {
    let run = sealpass(&["generate", "--json"], "");
    assert_eq!(run.json_lines()[0]["policy"], "strong");
    assert_eq!(run.json_lines()[0]["length"], 24);
}

#[test]
fn custom_rules_generate_what_they_describe() {
    let rules = "minlength: 20; maxlength: 20; allowed: lower; required: digit; required: [-]; max-consecutive: 2";
    let run = sealpass(&["generate", "--rules", rules, "--count", "20"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    for pw in run.stdout.lines() {
        assert_eq!(pw.len(), 20);
        assert!(pw.chars().any(|c| c.is_ascii_digit()) && pw.contains('-'), "{pw}");
        assert!(pw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{pw}");
        let bytes = pw.as_bytes();
        assert!(bytes.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])), "{pw}");
    }
}

#[test]
fn refusals_exit_2_and_say_what_to_do() {
    let run = sealpass(&["generate", "--policy", "microsoft-app-password"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Microsoft generates app passwords"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let run = sealpass(&["generate", "--policy", "salesforce", "--length", "20"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("30–128"), "{}", run.stderr);

    let run = sealpass(&["generate", "--policy", "nope"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("salesforce"), "lists the choices: {}", run.stderr);

    let run = sealpass(&["generate", "--rules", "minlength: lots"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Example"), "{}", run.stderr);

    let run = sealpass(&["generate", "--policy", "strong", "--rules", "minlength: 9"], "");
    assert_eq!(run.code, 2, "--policy and --rules conflict");

    let run = sealpass(&["generate", "--count", "0"], "");
    assert_eq!(run.code, 2);
}

#[test]
fn policy_can_come_from_the_environment() {
    let run = crate::helpers::sealpass_env(&["generate", "--json"], "", &[("SEALPASS_POLICY", "entra-password")]);
    assert_eq!(run.json_lines()[0]["policy"], "entra-password");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    for json in ["", "--json"] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; '{}' generate --count 1000000 {json} | head -n 1; echo \"exit ${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_sealpass")
            ))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 2, "{stdout}");
        assert!(stdout.ends_with("exit 0\n"), "{json}: {stdout}");
        assert!(out.stderr.is_empty(), "{json}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn env_policy_yields_to_rules_on_the_command_line() {
    let run = crate::helpers::sealpass_env(
        &["generate", "--rules", "minlength: 20; maxlength: 20", "--json"],
        "",
        &[("SEALPASS_POLICY", "salesforce")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json_lines()[0]["policy"], "custom");
}

#[test]
fn generation_can_hang_regression_long_run_limited_rules_finish() {
    // Took 133 s by whole-string rejection; now drawn directly from the run-limited strings.
    let started = std::time::Instant::now();
    let run = sealpass(&["generate", "--rules", "minlength:4096;max-consecutive:2;allowed:[abcdefghijklmnopq]"], "");
    run.expect(0);
    let pw = run.stdout.trim_end();
    assert_eq!(pw.len(), 4096);
    assert!(pw.as_bytes().windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn generation_can_hang_regression_unmeetable_username_is_an_error() {
    let home = crate::helpers::Home::new();
    let recipient = home.keygen("v.key");
    // Every candidate must contain "x", which is the username: never met, so an error (exit 2).
    let run = home.sealpass(
        &[
            "seal",
            "--to",
            &recipient,
            "--kind",
            "generic",
            "--username",
            "x",
            "--rules",
            "required: [x]",
            "--generate",
            "--print-generated",
            "-o",
            "out.age",
        ],
        "",
    );
    run.expect(2);
    assert!(run.stderr.contains("username"), "{}", run.stderr);
    assert!(!home.path("out.age").exists());
}

#[test]
fn rules_with_little_entropy_warn() {
    let run = sealpass(&["generate", "--rules", "minlength: 64; allowed: [ab]; max-consecutive: 1"], "");
    run.expect(0);
    assert!(run.stderr.contains("1.0 bits of entropy"), "{}", run.stderr);
}
