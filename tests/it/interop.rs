//! Interoperability with the reference Go `age` CLI, both ways, armored and binary, CRLF armor,
//! several recipients; and hostile inputs that must end in exit 5 with a clear message.

use crate::helpers::{Home, age};

const SECRET: &str = "Zq8!kR2#mW9$vB4%tN7^xL3&";

/// A valid v1 envelope, padded, as age-encrypted plaintext.
fn envelope_json(v: u64) -> String {
    envelope_with(v, "generic", SECRET, "strong", "")
}

fn envelope_with(v: u64, kind: &str, secret: &str, policy: &str, extra: &str) -> String {
    let json = format!(
        r#"{{"v":{v},"kind":"{kind}","secret":"{secret}","fields":{{}},"policy":"{policy}","request":null,"created_at":"2026-11-27T12:00:00Z"{extra}}}"#
    );
    format!("{json:<1024}")
}

#[test]
fn our_armored_output_opens_with_age() {
    let home = Home::new();
    let r = home.keygen_classic("v.key");
    let sealed = home.sealpass(&["seal", "--to", &r], SECRET);
    sealed.expect(0);
    let plain = age(&["-d", "-i", "v.key"], sealed.stdout.as_bytes(), home.dir.path());
    plain.expect(0);
    assert_eq!(plain.stdout.len() % 512, 0, "padded");
    let envelope: serde_json::Value = serde_json::from_str(plain.stdout.trim_end()).unwrap();
    assert_eq!(envelope["v"], 1);
    assert_eq!(envelope["secret"], SECRET);
}

#[test]
fn age_output_armored_and_binary_opens_with_sealpass() {
    let home = Home::new();
    let r = home.keygen_classic("v.key");
    for armor in [true, false] {
        let mut args = vec!["-r", r.as_str()];
        if armor {
            args.insert(0, "-a");
        }
        let sealed = age(&args, envelope_json(1).as_bytes(), home.dir.path());
        sealed.expect(0);
        let opened = home.sealpass(&["open", "-i", "v.key", "--json", "--reveal"], &sealed.raw_stdout);
        opened.expect(0);
        assert_eq!(opened.json()["secret"], SECRET);
        assert_eq!(opened.json()["sealing"], "classical");
    }
}

#[test]
fn crlf_armor_opens() {
    let home = Home::new();
    let r = home.keygen_classic("v.key");
    let sealed = home.sealpass(&["seal", "--to", &r], SECRET);
    let crlf = sealed.stdout.replace('\n', "\r\n");
    home.sealpass(&["open", "-i", "v.key"], crlf).expect(0);
}

#[test]
fn several_recipients_mixing_our_keys_and_age_keygen_keys() {
    let home = Home::new();
    let ours = home.keygen_classic("ours.key");
    let out = std::process::Command::new("age-keygen").arg("-o").arg(home.path("theirs.key")).output().unwrap();
    assert!(out.status.success());
    let theirs_text = std::fs::read_to_string(home.path("theirs.key")).unwrap();
    let theirs = theirs_text.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap().to_owned();
    let sealed = home.sealpass(&["seal", "--to", &ours, "--to", &theirs], SECRET);
    sealed.expect(0);
    home.sealpass(&["open", "-i", "ours.key"], &sealed.stdout).expect(0);
    age(&["-d", "-i", "theirs.key"], sealed.stdout.as_bytes(), home.dir.path()).expect(0);
    home.sealpass(&["open", "-i", "theirs.key"], &sealed.stdout).expect(0);
    // A post-quantum key of ours beside their classical one: age never mixes them, nor do we.
    let pq = home.keygen("pq.key");
    let mixed = home.sealpass(&["seal", "--to", &pq, "--to", &theirs], SECRET);
    mixed.expect(2);
    assert!(mixed.stderr.contains("mix post-quantum (age1pq1…, 1) and classical (age1…, 1)"), "{}", mixed.stderr);
    assert!(mixed.stdout.is_empty(), "nothing sealed: {}", mixed.stdout);
}

#[test]
fn hostile_inputs_exit_5_with_a_clear_message() {
    let home = Home::new();
    let r = home.keygen_classic("v.key");
    home.keygen("other.key");
    let sealed = home.sealpass(&["seal", "--to", &r], SECRET).stdout;

    let wrong = home.sealpass(&["open", "-i", "other.key"], &sealed);
    wrong.expect(5);
    assert!(wrong.stderr.contains("none of the identities"), "{}", wrong.stderr);

    let binary = age(&["-r", &r], envelope_json(1).as_bytes(), home.dir.path()).raw_stdout;
    let mut flipped = binary.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x01;
    let run = home.sealpass(&["open", "-i", "v.key"], &flipped);
    run.expect(5);
    assert!(run.stderr.contains("corrupt, truncated or has been tampered with"), "{}", run.stderr);

    let mut armored_flip = sealed.clone().into_bytes();
    let at = armored_flip.len() - 60;
    armored_flip[at] = if armored_flip[at] == b'A' { b'B' } else { b'A' };
    home.sealpass(&["open", "-i", "v.key"], &armored_flip).expect(5);
    let mut mac_flip = binary.clone();
    let mac = mac_flip.windows(4).position(|w| w == b"--- ").unwrap() + 6;
    mac_flip[mac] = if mac_flip[mac] == b'A' { b'B' } else { b'A' };
    let run = home.sealpass(&["open", "-i", "v.key"], &mac_flip);
    run.expect(5);

    let truncated = &binary[..binary.len() - 100];
    home.sealpass(&["open", "-i", "v.key"], truncated).expect(5);
    let cut_armor: String = sealed.lines().take(4).collect::<Vec<_>>().join("\n");
    home.sealpass(&["open", "-i", "v.key"], cut_armor).expect(5);

    let not_age = home.sealpass(&["open", "-i", "v.key"], "hello, this is not age\n");
    not_age.expect(5);
    assert!(not_age.stderr.contains("not an age file"), "{}", not_age.stderr);

    let future = age(&["-r", &r], envelope_json(2).as_bytes(), home.dir.path()).raw_stdout;
    let run = home.sealpass(&["open", "-i", "v.key"], &future);
    run.expect(5);
    assert!(run.stderr.contains("version 2") && run.stderr.contains("upgrade"), "{}", run.stderr);

    let not_envelope = age(&["-r", &r], b"just some text", home.dir.path()).raw_stdout;
    let run = home.sealpass(&["open", "-i", "v.key"], &not_envelope);
    run.expect(5);
    assert!(run.stderr.contains("not a sealpass envelope"), "{}", run.stderr);

    for (envelope, says) in [
        (envelope_with(1, "ftp-password", SECRET, "strong", ""), "unknown credential kind"),
        (format!("{:<1024}", r#"{"v":1,"kind":"generic","created_at":"2026-11-27T12:00:00Z"}"#), "no secret"),
        (format!("{}{}", envelope_json(1), " ".repeat(90_200)), "larger than 88 KiB"),
    ] {
        let sealed = age(&["-r", &r], envelope.as_bytes(), home.dir.path()).raw_stdout;
        let run = home.sealpass(&["open", "-i", "v.key"], &sealed);
        run.expect(5);
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }

    for run in [&wrong, &not_age] {
        assert!(!run.stderr.contains("panicked"));
    }
}

#[test]
fn a_sender_cannot_lower_the_bar_with_its_own_rules() {
    let home = Home::new();
    let r = home.keygen_classic("v.key");
    let weak = envelope_with(1, "generic", "abc", "custom", r#","rules":"minlength: 1""#);
    let sealed = age(&["-r", &r], weak.as_bytes(), home.dir.path()).raw_stdout;
    let run = home.sealpass(&["open", "-i", "v.key", "--json"], &sealed);
    run.expect(3);
    let report = run.json();
    assert_eq!(report["policy"], "strong", "the kind's default, not the sender's rules");
    assert!(report["warnings"].to_string().contains("the sender checked against custom"));
}
