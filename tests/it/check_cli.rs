//! `sealpass check` through the real binary: exit codes, JSON shape, and secrets that never
//! appear in argv or in the output.

use crate::helpers::{sealpass, sealpass_env};

const TYPED: &str = "Password123!Password123!Password1";

#[test]
fn a_generated_salesforce_password_is_compliant() {
    let pw = sealpass(&["generate", "--policy", "salesforce"], "").stdout;
    let run = sealpass(&["check", "--policy", "salesforce", "--username", "kore@acme.example"], &pw);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("compliant"));
}

#[test]
fn a_typed_password_fails_salesforce_with_exit_3_and_says_why() {
    let run = sealpass(&["check", "--policy", "salesforce"], &format!("{TYPED}\n"));
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stdout.contains("NOT compliant"));
    assert!(run.stdout.contains("looks-random"));
    assert!(run.stdout.contains("a repeated block") && run.stdout.contains("a common password"), "{}", run.stdout);
}

#[test]
fn json_report_has_the_documented_shape() {
    let run = sealpass(&["check", "--policy", "salesforce", "--json"], TYPED);
    assert_eq!(run.code, 3);
    let objects = run.json_lines();
    assert_eq!(objects.len(), 1);
    let report = objects[0].as_object().unwrap();
    let mut keys: Vec<&str> = report.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["compliant", "entropy_estimate_bits", "policy", "rules", "warnings"]);
    assert_eq!(report["policy"], "salesforce");
    assert_eq!(report["compliant"], false);
    for rule in report["rules"].as_array().unwrap() {
        let mut keys: Vec<&str> = rule.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["detail", "ok", "rule"]);
    }
    let failed: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["looks-random"]);
    assert!(report["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("2027")));
    assert!(report["entropy_estimate_bits"].as_f64().unwrap() < 60.0);
}

#[test]
fn the_secret_never_appears_in_the_report() {
    let secrets = [
        ("salesforce", "Kore-Integration-é-é-Kore-Integration!9"),
        ("entra-password", "Zq9-kore-Integration-Zq9-kore-Xy"),
        ("salesforce", TYPED),
        ("entra-password", "short"),
        ("entra-client-secret", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("microsoft-app-password", "abcdefghijklmnoP"),
    ];
    for (policy, secret) in secrets {
        for json in [false, true] {
            let mut args = vec!["check", "--policy", policy, "--username", "kore@acme.example"];
            if json {
                args.push("--json");
            }
            let run = sealpass(&args, secret);
            assert_eq!(run.code, 3, "{policy}: {}", run.stdout);
            assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{policy} leaked: {}", run.stdout);
        }
    }
}

#[test]
fn a_guid_as_client_secret_is_called_out() {
    let run = sealpass(&["check", "--policy", "entra-client-secret"], "0f8fad5b-d9cb-469f-a165-70867728950e\n");
    assert_eq!(run.code, 3);
    assert!(run.stdout.contains("this looks like the secret's ID, not its value"), "{}", run.stdout);
    let legacy = sealpass(&["check", "--policy", "entra-client-secret", "--json"], "Xk3/9qL+Zp0=Tm7.Rw2:Vb5@Nc8-Hd1]");
    assert_eq!(legacy.code, 0, "{}", legacy.stdout);
    assert!(legacy.stdout.contains("legacy"));
}

#[test]
fn username_rule_is_on_with_username() {
    let pw = "Zq9-kore-Integration-Zq9-kore-Xy";
    let without = sealpass(&["check", "--policy", "entra-password", "--json"], pw);
    assert_eq!(without.code, 0);
    assert!(without.stdout.contains("--username"));
    let with = sealpass(&["check", "--policy", "entra-password", "--username", "kore@acme.example"], pw);
    assert_eq!(with.code, 3);
    assert!(with.stdout.contains("local part"));
}

#[test]
fn custom_rules_are_checked() {
    let rules = "minlength: 8; allowed: lower; required: digit; max-consecutive: 2";
    assert_eq!(sealpass(&["check", "--rules", rules], "abcdefg1").code, 0);
    let run = sealpass(&["check", "--rules", rules, "--json"], "abcdefggg");
    assert_eq!(run.code, 3);
    let failed: Vec<String> = run.json_lines()[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["classes", "max-consecutive"]);
    // Apple's rules: with a `required` and no `allowed`, only the required classes are allowed.
    let run = sealpass(&["check", "--rules", "required: digit", "--json"], "abc123");
    assert_eq!(run.code, 3);
    assert!(run.stdout.contains("not allowed at position 1, 2, 3"), "{}", run.stdout);
}

#[test]
fn a_secret_on_argv_is_refused_and_not_echoed() {
    for args in [
        vec!["check", "--policy", "salesforce", "hunter2-correct-horse"],
        vec!["check", "hunter2-correct-horse"],
        vec!["check", "--", "hunter2-correct-horse"],
        vec!["generate", "hunter2-correct-horse"],
        vec!["hunter2-correct-horse"],
    ] {
        let run = sealpass(&args, "");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"), "{args:?} echoed: {}", run.stderr);
        assert!(run.stderr.contains("stdin"), "{args:?} says what to do: {}", run.stderr);
    }
}

#[test]
fn bad_stdin_is_a_clear_error() {
    let run = sealpass(&["check"], "");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no secret on stdin"), "{}", run.stderr);
    let run = sealpass(&["check"], "Qz9firstline\nQz9secondline\n");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("more than one line"));
    assert!(!run.stderr.contains("Qz9") && !run.stdout.contains("Qz9"), "{}", run.stderr);
}

/// Run through `script` so stdout is a terminal, as for a person.
fn on_a_terminal(shell_command: &str, no_color: bool) -> String {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", shell_command, "/dev/null"]).env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    String::from_utf8_lossy(&cmd.output().expect("script(1) from util-linux runs").stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_unless_no_color_is_set() {
    let command = format!("echo short | '{}' check --policy salesforce", env!("CARGO_BIN_EXE_sealpass"));
    let coloured = on_a_terminal(&command, false);
    assert!(coloured.contains("NOT compliant") && coloured.contains('\x1b'), "{coloured:?}");
    let plain = on_a_terminal(&command, true);
    assert!(plain.contains("NOT compliant") && !plain.contains('\x1b'), "{plain:?}");
    let piped = sealpass_env(&["check", "--policy", "salesforce"], TYPED, &[]);
    assert!(!piped.stdout.contains('\x1b'));
}

#[test]
fn batch_checks_one_json_string_a_line() {
    let input = format!(
        "{}\n{}\n\n{}\n",
        serde_json::to_string("5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ").unwrap(),
        serde_json::to_string("Password123!Password123!Password1").unwrap(),
        serde_json::to_string("line\nbreak\u{0}and nul inside, which one line could never hold").unwrap()
    );
    let run = crate::helpers::sealpass(&["check", "--policy", "salesforce", "--batch", "--json"], &input);
    run.expect(3);
    let reports = run.json_lines();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["compliant"], true);
    assert_eq!(reports[1]["compliant"], false);
    let characters = reports[2]["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "characters").unwrap();
    assert_eq!(characters["ok"], false);
    let bad = crate::helpers::sealpass(&["check", "--batch"], "not json\n");
    bad.expect(2);
    assert!(bad.stderr.contains("line 1") && !bad.stderr.contains("not json"), "{}", bad.stderr);
}

/// Issue 19: an account exempt from MFA must not take a common password, and the strength
/// figure is the same for the same string under every policy.
#[test]
fn entra_passwords_must_look_random_and_strength_is_one_figure_regression() {
    let run = sealpass(&["check", "--policy", "entra-password", "--json"], "Password123!");
    assert_eq!(run.code, 3, "{}", run.stdout);
    let report = run.json();
    let looks_random = report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "looks-random").unwrap();
    assert_eq!(looks_random["ok"], false, "{report}");
    let bits = |policy: &str| {
        sealpass(&["check", "--policy", policy, "--json"], "Password123!").json()["entropy_estimate_bits"]
            .as_f64()
            .unwrap()
    };
    let (entra, strong) = (bits("entra-password"), bits("strong"));
    assert_eq!(entra, strong, "one figure for one string");
    assert!(entra < 30.0, "a common password is weak: {entra}");
    let longer = sealpass(&["check", "--policy", "entra-password"], "Summer2026!Summer");
    assert_eq!(longer.code, 3, "{}", longer.stdout);
    let generated = sealpass(&["generate", "--policy", "entra-password"], "").stdout;
    assert_eq!(sealpass(&["check", "--policy", "entra-password"], &generated).code, 0);
}
