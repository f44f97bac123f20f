//! The rough edges a new user found (issue 11), each through the real binary: typos shown (and
//! only possible secrets hidden), every man page, local checks before a claim, a private staff
//! token file.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::{Home, sealpass};

#[test]
fn typos_are_shown_with_the_valid_choices_and_only_possible_secrets_are_hidden() {
    // A bad value of a flag whose values are never secrets, typed as its own argument: shown.
    for (args, shows) in [
        (vec!["generate", "--count", "-1"], "'-1'"),
        (vec!["generate", "--count", "0"], "0 is not in 1..="),
        (vec!["generate", "--count=0"], "0 is not in 1..="),
        (vec!["completions", "tcsh"], "tcsh"),
        (vec!["generate", "--policy", "salesfroce"], "salesfroce"),
    ] {
        let run = sealpass(&args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(shows), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("not shown"), "{args:?}: {}", run.stderr);
    }
    let shells = sealpass(&["completions", "tcsh"], "");
    assert!(shells.stderr.contains("bash") && shells.stderr.contains("zsh"), "{}", shells.stderr);
    // Anything else could be a secret in the wrong place: hidden, with clap's suggestion kept.
    for (args, typed, hint) in [
        (vec!["generate", "Zq8!kR2#mW9$vB4%"], "Zq8!kR2#mW9$vB4%", ""),
        (vec!["send", "-Zq8kR2mW9vB4tN7x"], "Zq8kR2mW9vB4tN7x", ""),
        (vec!["correct-horse-battery-staple"], "correct-horse", ""),
        (vec!["open-sesame-42"], "sesame", "`open`"),
        (vec!["genrate"], "genrate", "`generate`"),
        (vec!["generate", "--lenght", "5"], "lenght", "`--length`"),
        (vec!["send", "--sender-apple-tree"], "apple-tree", "`--sender`"),
        (vec!["generate", "-pR7kqzz"], "R7kqzz", "salesforce"),
        (vec!["check", "--username", "kore", "--", "hunter2"], "hunter2", ""),
    ] {
        let run = sealpass(&args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(!run.stderr.contains(typed), "{args:?} echoed: {}", run.stderr);
        assert!(run.stderr.contains("not shown"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(hint), "{args:?} keeps the hint {hint}: {}", run.stderr);
    }
}

#[test]
fn man_writes_every_page_it_refers_to() {
    let home = Home::new();
    std::fs::create_dir(home.path("man")).unwrap();
    let run = home.sealpass(&["man", "--dir", "man"], "");
    run.expect(0);
    let top = std::fs::read_to_string(home.path("man/sealpass.1")).unwrap();
    for command in ["generate", "check", "send", "receive", "serve", "staff-token", "status"] {
        let page = home.path(&format!("man/sealpass-{command}.1"));
        assert!(page.exists(), "{command}: {}", run.stderr);
        let roff = format!("sealpass\\-{}(1)", command.replace('-', "\\-"));
        assert!(top.contains(&roff), "the top page refers to {command}");
    }
    home.sealpass(&["man", "--dir", "no/such/dir"], "").expect(2);
    let help = sealpass(&["--help"], "");
    assert!(help.stdout.contains("init         Customer: confirm and pin"), "{}", help.stdout);
    assert!(help.stdout.contains("serve        Operator: run the drop server"), "{}", help.stdout);
}

#[test]
fn staff_token_writes_a_private_file_the_server_accepts() {
    let home = Home::new();
    let run = home.sealpass(&["staff-token", "alice", "-o", "alice.token"], "");
    run.expect(0);
    assert!(run.stdout.is_empty(), "the token is not on stdout: {}", run.stdout);
    let token = std::fs::read_to_string(home.path("alice.token")).unwrap();
    let mode = std::fs::metadata(home.path("alice.token")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let hash = data_encoding::HEXLOWER.encode(&<sha2::Sha256 as sha2::Digest>::digest(token.trim().as_bytes()));
    assert!(run.stderr.contains(&hash), "the snippet holds the token's hash: {}", run.stderr);
    // Never overwritten.
    home.sealpass(&["staff-token", "alice", "-o", "alice.token"], "").expect(1);
    assert_eq!(std::fs::read_to_string(home.path("alice.token")).unwrap(), token);
}

#[test]
fn paths_the_user_gave_are_not_created_but_sealpass_makes_its_own_directories() {
    let home = Home::new();
    let refused = home.sealpass(&["keygen", "-o", "no/such/dir/x.key"], "");
    refused.expect(1);
    assert!(refused.stderr.contains("no/such/dir does not exist; create it first"), "{}", refused.stderr);
    assert!(!home.path("no").exists(), "nothing was created");
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    std::fs::write(home.path("s.toml"), format!("recipients = [\"{recipient}\"]\n")).unwrap();
    let store = format!("sqlite://{}", home.path("typo/drops.db").display());
    let serve = home.sealpass(&["serve", "--listen", "127.0.0.1:0", "--config", "s.toml", "--store", &store], "");
    serve.expect(1);
    assert!(serve.stderr.contains("typo does not exist"), "{}", serve.stderr);
    assert!(!home.path("typo").exists());
    // `..` cannot climb out of sealpass's own directories to have one made elsewhere.
    let climb = home.sealpass(&["keygen", "-o", "data/sealpass/../../escaped/x.key"], "");
    climb.expect(1);
    assert!(!home.path("escaped").exists(), "{}", climb.stderr);
    // The default identity goes into sealpass's own data directory, made on first use.
    home.sealpass(&["keygen"], "").expect(0);
    assert!(home.path("data/sealpass/identity.txt").exists());
}

#[test]
fn messages_say_the_right_next_step() {
    let home = Home::new();
    let r = home.keygen("v.key");
    // A GUID where an Entra client secret's value belongs: fix it, never --allow-weak.
    let guid = home.sealpass(
        &[
            "seal",
            "--kind",
            "entra-client-secret",
            "--to",
            &r,
            "--field",
            "tenant_id=0f8fad5b-d9cb-469f-a165-70867728950e",
            "--field",
            "client_id=7c9e6679-7425-40de-944b-e07fc1f90ae7",
        ],
        "0f8fad5b-d9cb-469f-a165-70867728950e\n",
    );
    guid.expect(3);
    assert!(guid.stderr.contains("not its value") && !guid.stderr.contains("--allow-weak"), "{}", guid.stderr);
    // A missing tenant id does not mention --username.
    let missing = home
        .sealpass(&["seal", "--kind", "entra-client-secret", "--to", &r], "abc8Q~defghijklmnopqrstuvwxyz0123456789.\n");
    missing.expect(2);
    assert!(missing.stderr.contains("tenant_id") && !missing.stderr.contains("--username"), "{}", missing.stderr);
    // Receiving without an identity: give the right one (a new key could not open it).
    let no_key = home.sealpass(&["open", "-i", "nope.key", "x.age"], "");
    no_key.expect(1);
    assert!(no_key.stderr.contains("-i FILE") && !no_key.stderr.contains("keygen"), "{}", no_key.stderr);
    // A receipt's fields are never echoed raw, even in the refusal.
    let evil = serde_json::json!({
        "sealpass_receipt": 1, "server": "\u{1b}[2Jevil", "id": "abcdefghijklmnopqrstuvwxyz",
        "pickup_url": "https://x.example/d/abcdefghijklmnopqrstuvwxyz", "label": null, "kind": "generic",
        "created_at": "2026-12-01T00:00:00Z", "expires_at": "2026-12-02T00:00:00Z", "manage_token": "m".repeat(43)
    });
    std::fs::write(home.path("evil.json"), evil.to_string()).unwrap();
    let receipt = home.sealpass(&["status", "--receipt", "evil.json"], "");
    receipt.expect(2);
    assert!(!receipt.stderr.contains('\u{1b}') && receipt.stderr.contains("not a URL"), "{:?}", receipt.stderr);
    // A script that asked for JSON gets its failure as JSON on stdout.
    let json = home.sealpass(&["inbox", "--json", "--server", "http://127.0.0.1:1"], "");
    json.expect(6);
    let v = json.json();
    assert_eq!(v["exit"], 6);
    assert!(v["error"].as_str().unwrap().contains("sealpass login"), "{v}");
}

#[test]
fn rules_that_cannot_be_met_say_which_rule_and_os_errors_are_said_once() {
    let one_char = sealpass(&["generate", "--rules", "allowed: [a]; minlength: 30; max-consecutive: 2"], "");
    one_char.expect(2);
    assert!(one_char.stderr.contains("only one character may be generated"), "{}", one_char.stderr);
    assert!(!one_char.stderr.contains("make it longer"), "{}", one_char.stderr);
    let crowded = sealpass(
        &[
            "generate",
            "--rules",
            "minlength: 4; maxlength: 4; required: upper; required: lower; required: digit; required: [-]; required: [!]",
        ],
        "",
    );
    crowded.expect(2);
    assert!(crowded.stderr.contains("classes but a 4-character password holds at most 4"), "{}", crowded.stderr);
    let home = Home::new();
    let denied = home.sealpass(&["keygen", "-o", "/proc/sealpass-test.key"], "");
    denied.expect(1);
    assert_eq!(denied.stderr.matches("(os error").count(), 1, "said once: {}", denied.stderr);
}
