//! keygen, recipient, seal and open through the real binary: files, round trips for every
//! kind, policy before sealing, and secrets that stay out of reports.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::{Home, run};

const SF_PASSWORD: &str = "5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_0600_whatever_the_umask_and_never_overwrites() {
    let home = Home::new();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask 000; '{}' keygen -o k.txt", env!("CARGO_BIN_EXE_sealpass")))
        .current_dir(home.dir.path());
    let first = run(cmd, b"");
    first.expect(0);
    assert_eq!(mode(&home.path("k.txt")), 0o600);
    let before = std::fs::read(home.path("k.txt")).unwrap();
    let again = home.sealpass(&["keygen", "-o", "k.txt"], "");
    again.expect(1);
    assert!(again.stderr.contains("already exists") && again.stderr.contains("never overwrites"), "{}", again.stderr);
    assert_eq!(std::fs::read(home.path("k.txt")).unwrap(), before, "untouched");
    assert!(!first.mentions("AGE-SECRET-KEY"), "the secret key is never printed");
    let lines: Vec<&str> = first.stdout.lines().collect();
    assert!(
        lines[0].starts_with("age1") && lines[1].starts_with("recipients-only fingerprint: sp1-"),
        "{}",
        first.stdout
    );
    assert!(first.stderr.contains("sealpass vendor-key show"), "says which value customers confirm: {}", first.stderr);
}

#[test]
fn keygen_defaults_to_the_xdg_data_dir_and_recipient_reads_it() {
    let home = Home::new();
    let made = home.sealpass(&["keygen", "--json"], "");
    made.expect(0);
    let info = made.json();
    let path = home.path("data/sealpass/identity.txt");
    assert_eq!(info["identity_file"], path.display().to_string());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&home.path("data/sealpass")), 0o700, "sealpass's own directory is private");
    let shown = home.sealpass(&["recipient", "--json"], "");
    shown.expect(0);
    assert_eq!(shown.json()["recipients"], info["recipients"]);
    assert_eq!(shown.json()["fingerprint"], info["fingerprint"]);
}

#[test]
fn identity_readable_by_others_is_refused_with_the_fix() {
    let home = Home::new();
    home.keygen("k.txt");
    std::fs::set_permissions(home.path("k.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = home.sealpass(&["recipient", "-i", "k.txt"], "");
    run.expect(1);
    assert!(run.stderr.contains("chmod 600 k.txt"), "{}", run.stderr);
    let run = home.sealpass(&["open", "-i", "k.txt"], "x");
    run.expect(1);
    assert!(run.stderr.contains("chmod 600"));
}

#[test]
fn age_keygen_files_with_comments_and_several_keys_are_accepted() {
    let home = Home::new();
    let out = std::process::Command::new("age-keygen").output().expect("age-keygen (Debian's age) is installed");
    let theirs = String::from_utf8(out.stdout).unwrap();
    let ours = home.keygen("ours.txt");
    let both = format!("{theirs}\n# ours\n{}", std::fs::read_to_string(home.path("ours.txt")).unwrap());
    home.private_file("both.txt", &both);
    let run = home.sealpass(&["recipient", "-i", "both.txt"], "");
    run.expect(0);
    let their_recipient = theirs.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap();
    assert!(run.stdout.contains(their_recipient) && run.stdout.contains(&ours), "{}", run.stdout);
}

/// Seal `secret` as `kind` with `extra` arguments to a fresh key; return (home, sealed file).
fn sealed(kind: &str, extra: &[&str], secret: &str) -> (Home, String) {
    let home = Home::new();
    let recipient = home.keygen("vendor.key");
    let mut args = vec!["seal", "--to", &recipient, "--kind", kind, "-o", "cred.age"];
    args.extend_from_slice(extra);
    home.sealpass(&args, format!("{secret}\n")).expect(0);
    assert_eq!(mode(&home.path("cred.age")), 0o600);
    (home, "cred.age".into())
}

#[test]
fn every_kind_round_trips_through_the_binary() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "salesforce-password",
            &["-u", "kore@acme.example", "--field", "instance_url=https://acme.my.salesforce.com"],
            SF_PASSWORD,
        ),
        (
            "salesforce-client-credentials",
            &[
                "--field",
                "consumer_key=3MVG9fTLmJ60pJ5JnY9ZxsxDq1Hh4bFbD.FoNzxmHJmbjTNp3hKzMH8R_tM2vR5L4xK",
                "--field",
                "instance_url=https://acme.my.salesforce.com",
            ],
            "Zq8!kR2#mW9$vB4%tN7^",
        ),
        ("dynamics-app-password", &["-u", "kore@acme.example"], "qhdmxwzkplrtbvns"),
        (
            "dynamics-password",
            &["-u", "kore@acme.example", "--field", "environment_url=https://acme.crm.dynamics.com"],
            "Zq8!kR2#mW9$vB4%",
        ),
        (
            "entra-client-secret",
            &[
                "--field",
                "tenant_id=0f8fad5b-d9cb-469f-a165-70867728950e",
                "--field",
                "client_id=7c9e6679-7425-40de-944b-e07fc1f90ae7",
            ],
            "abc8Q~defghijklmnopqrstuvwxyz0123456789.",
        ),
        ("generic", &["--field", "system=sftp", "--note", "rotate in May"], "Zq8!kR2#mW9$vB4%tN7^"),
    ];
    for (kind, extra, secret) in cases {
        let (home, file) = sealed(kind, extra, secret);
        let opened = home.sealpass(&["open", "-i", "vendor.key", &file, "--json"], "");
        opened.expect(0);
        let report = opened.json();
        assert_eq!(report["kind"], *kind);
        assert_eq!(report["compliant"], true, "{report}");
        assert!(report.get("secret").is_none(), "no secret without --reveal");
        assert!(!opened.mentions(secret));
        let revealed = home.sealpass(&["open", "-i", "vendor.key", &file, "--json", "--reveal"], "");
        assert_eq!(revealed.json()["secret"], *secret);
        let plain = home.sealpass(&["open", "-i", "vendor.key", &file, "--reveal"], "");
        plain.expect(0);
        assert_eq!(plain.stdout, format!("{secret}\n"), "only the secret on stdout");
        assert!(plain.stderr.contains(kind), "the report goes to stderr: {}", plain.stderr);
    }
}

#[test]
fn open_writes_the_secret_to_a_private_file() {
    let (home, file) = sealed("generic", &[], SF_PASSWORD);
    let run = home.sealpass(&["open", "-i", "vendor.key", &file, "-o", "secret.txt"], "");
    run.expect(0);
    assert!(!run.mentions(SF_PASSWORD));
    assert_eq!(std::fs::read_to_string(home.path("secret.txt")).unwrap(), SF_PASSWORD);
    assert_eq!(mode(&home.path("secret.txt")), 0o600);
    home.sealpass(&["open", "-i", "vendor.key", &file, "-o", "secret.txt"], "").expect(1);
}

#[test]
fn a_non_compliant_secret_is_not_sealed_unless_allowed() {
    let home = Home::new();
    let r = home.keygen("vendor.key");
    let weak = "Password123!Password123!Password1";
    let args = ["seal", "--to", &r, "--kind", "salesforce-password", "-u", "kore@acme.example", "-o", "c.age"];
    let refused = home.sealpass(&args, weak);
    refused.expect(3);
    assert!(refused.stderr.contains("nothing was sealed") && refused.stderr.contains("looks-random"));
    assert!(!home.path("c.age").exists(), "nothing written");
    assert!(!refused.mentions(weak));
    let refused_stdout = home.sealpass(&args[..7], weak);
    refused_stdout.expect(3);
    assert!(refused_stdout.stdout.is_empty());

    let mut allowed = args.to_vec();
    allowed.push("--allow-weak");
    home.sealpass(&allowed, weak).expect(0);
    let opened = home.sealpass(&["open", "-i", "vendor.key", "c.age", "--json"], "");
    opened.expect(3);
    let report = opened.json();
    assert_eq!(report["allow_weak"], true);
    assert!(report["warnings"].to_string().contains("--allow-weak"));
}

#[test]
fn the_receivers_policy_wins_over_the_senders() {
    let (home, file) = sealed("generic", &[], "Zq8!kR2#mW9$vB4%tN7^");
    let strict = home.sealpass(&["open", "-i", "vendor.key", &file, "--policy", "salesforce", "--json"], "");
    strict.expect(3);
    let report = strict.json();
    assert_eq!(report["policy"], "salesforce");
    assert!(report["warnings"].to_string().contains("the sender checked against strong"));
}

#[test]
fn fields_are_checked_and_secret_fields_stay_off_argv_and_out_of_reports() {
    let home = Home::new();
    let r = home.keygen("vendor.key");
    let missing = home.sealpass(&["seal", "--to", &r, "--kind", "salesforce-password"], SF_PASSWORD);
    missing.expect(2);
    assert!(missing.stderr.contains("needs field(s): username"), "{}", missing.stderr);
    let bad_guid = home.sealpass(
        &[
            "seal",
            "--to",
            &r,
            "--kind",
            "entra-client-secret",
            "--field",
            "tenant_id=nope",
            "--field",
            "client_id=nope",
        ],
        "x",
    );
    // A value of the wrong shape is a policy violation: exit 3, naming the shape.
    bad_guid.expect(3);
    assert!(bad_guid.stderr.contains("GUID like 00000000"));
    let on_argv = home.sealpass(
        &[
            "seal",
            "--to",
            &r,
            "--kind",
            "salesforce-password",
            "-u",
            "k@x.example",
            "--field",
            "security_token=TOKEN9876",
        ],
        SF_PASSWORD,
    );
    on_argv.expect(2);
    assert!(on_argv.stderr.contains("--field-file security_token=") && !on_argv.mentions("TOKEN9876"));

    home.private_file("token.txt", "TOKEN9876\n");
    home.sealpass(
        &[
            "seal",
            "--to",
            &r,
            "--kind",
            "salesforce-password",
            "-u",
            "k@x.example",
            "--field-file",
            "security_token=token.txt",
            "-o",
            "c.age",
        ],
        SF_PASSWORD,
    )
    .expect(0);
    let report = home.sealpass(&["open", "-i", "vendor.key", "c.age"], "");
    report.expect(0);
    assert!(report.stdout.contains("security_token") && !report.mentions("TOKEN9876"), "{}", report.stdout);
    let json = home.sealpass(&["open", "-i", "vendor.key", "c.age", "--json"], "");
    assert!(!json.mentions("TOKEN9876"));
    let revealed = home.sealpass(&["open", "-i", "vendor.key", "c.age", "--json", "--reveal"], "");
    assert_eq!(revealed.json()["fields"]["security_token"], "TOKEN9876");
    let to_stdout = home.sealpass(&["open", "-i", "vendor.key", "c.age", "--reveal"], "");
    to_stdout.expect(0);
    assert_eq!(to_stdout.stdout, format!("{SF_PASSWORD}\n"));
    assert!(!to_stdout.stderr.contains("TOKEN9876"), "the report on stderr keeps secret fields hidden");
}

#[test]
fn generate_and_print_for_a_script_then_open_gets_the_same_password() {
    let home = Home::new();
    let r = home.keygen("vendor.key");
    let made = home.sealpass(
        &[
            "seal",
            "--to",
            &r,
            "--kind",
            "salesforce-password",
            "-u",
            "kore@acme.example",
            "--generate",
            "--print-generated",
            "-o",
            "c.age",
        ],
        "",
    );
    made.expect(0);
    let password = made.stdout.trim();
    assert_eq!(password.len(), 32);
    let opened = home.sealpass(&["open", "-i", "vendor.key", "c.age", "--reveal"], "");
    opened.expect(0);
    assert_eq!(opened.stdout.trim(), password);

    let no_file = home.sealpass(&["seal", "--to", &r, "--generate", "--print-generated"], "");
    no_file.expect(2);
    assert!(no_file.stderr.contains("needs -o FILE"));
    let no_tty = home.sealpass(&["seal", "--to", &r, "--generate"], "");
    no_tty.expect(2);
    assert!(no_tty.stderr.contains("--print-generated"));
    let external = home.sealpass(
        &[
            "seal",
            "--to",
            &r,
            "--kind",
            "dynamics-app-password",
            "-u",
            "k@x.example",
            "--generate",
            "--print-generated",
            "-o",
            "d.age",
        ],
        "",
    );
    external.expect(2);
    assert!(
        external.stderr.contains("Microsoft issues the secret") && external.stderr.contains("App password"),
        "{}",
        external.stderr
    );
}

#[test]
fn recipients_come_from_flags_and_files_and_are_validated() {
    let home = Home::new();
    let a = home.keygen("a.key");
    let b = home.keygen("b.key");
    std::fs::write(home.path("team.txt"), format!("# the vendor team\n{b}\n\n")).unwrap();
    home.sealpass(&["seal", "--to", &a, "-R", "team.txt", "-o", "c.age"], SF_PASSWORD).expect(0);
    for key in ["a.key", "b.key"] {
        home.sealpass(&["open", "-i", key, "c.age"], "").expect(0);
    }
    let none = home.sealpass(&["seal"], SF_PASSWORD);
    none.expect(2);
    assert!(none.stderr.contains("--to"), "{}", none.stderr);
    let ssh = home.sealpass(&["seal", "--to", "ssh-ed25519 AAAAC3Nz"], SF_PASSWORD);
    ssh.expect(2);
    assert!(ssh.stderr.contains("SSH recipients are not supported"));
}

#[test]
fn a_secret_on_argv_is_refused_by_seal() {
    let home = Home::new();
    let r = home.keygen("v.key");
    let run = home.sealpass(&["seal", "--to", &r, "Hunter2Secret"], "");
    run.expect(2);
    assert!(!run.mentions("Hunter2Secret"));
}

#[test]
fn qr_file_decodes_to_the_recipient() {
    let home = Home::new();
    let r = home.keygen("v.key");
    home.sealpass(&["recipient", "-i", "v.key", "--qr-file", "r.png"], "").expect(0);
    assert_eq!(qr_in_png(&home.path("r.png")), r);
    home.sealpass(&["recipient", "-i", "v.key", "--qr-file", "r.svg"], "").expect(0);
    assert!(std::fs::read_to_string(home.path("r.svg")).unwrap().contains("<svg"));
    // A post-quantum recipient is too large for a code scanned off a terminal: the code there
    // holds its fingerprint, and a note says so.
    let terminal = home.sealpass(&["recipient", "-i", "v.key", "--qr"], "");
    terminal.expect(0);
    assert!(terminal.stdout.contains('█'));
    let fingerprint = sealpass_core::crypto::fingerprint(std::slice::from_ref(&r));
    assert!(terminal.stderr.contains("too large for a code a phone scans off a terminal"), "{}", terminal.stderr);
    assert!(terminal.stderr.contains(&format!("holds the recipients-only fingerprint {fingerprint}")));
    home.sealpass(&["recipient", "-i", "v.key", "--qr-file", "r.gif"], "").expect(2);
    // Two post-quantum recipients fit no QR code at all: the picture holds the fingerprint.
    home.keygen("w.key");
    let both = format!(
        "{}{}",
        std::fs::read_to_string(home.path("v.key")).unwrap(),
        std::fs::read_to_string(home.path("w.key")).unwrap()
    );
    home.private_file("both.key", &both);
    let two = home.sealpass(&["recipient", "-i", "both.key", "--qr-file", "two.png", "--json"], "");
    two.expect(0);
    assert!(two.stderr.contains("do not fit in one QR code"), "{}", two.stderr);
    assert_eq!(qr_in_png(&home.path("two.png")), two.json()["fingerprint"].as_str().unwrap());
}

/// The text of the one QR code in a PNG file.
fn qr_in_png(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let w = info.width as usize;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, info.height as usize, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code in {}", path.display());
    grids[0].decode().unwrap().1
}

#[test]
fn core_dumps_are_off_while_a_secret_is_held() {
    let home = Home::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sealpass"))
        .arg("check")
        .current_dir(home.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let mut core_line = String::new();
    for _ in 0..100 {
        core_line = std::fs::read_to_string(&limits)
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or_default()
            .to_owned();
        let fields: Vec<&str> = core_line.split_whitespace().collect();
        if fields.len() > 5 && fields[4..6] == ["0", "0"] {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(child.stdin.take());
    child.wait().unwrap();
    let fields: Vec<&str> = core_line.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core_line}");
}

#[test]
fn recipient_qr_with_json_keeps_stdout_json() {
    let home = Home::new();
    home.keygen("v.key");
    let run = home.sealpass(&["recipient", "-i", "v.key", "--qr", "--json"], "");
    run.expect(0);
    run.json();
    assert!(run.stderr.contains('█'));
}

#[test]
fn a_secret_key_given_as_recipient_is_never_echoed() {
    let home = Home::new();
    home.keygen("v.key");
    let key = std::fs::read_to_string(home.path("v.key")).unwrap();
    let secret = key.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap().to_owned();
    let lower = secret.to_lowercase();
    std::fs::write(home.path("r.txt"), format!("{lower}\n")).unwrap();
    for args in
        [vec!["seal", "--to", secret.as_str()], vec!["seal", "--to", lower.as_str()], vec!["seal", "-R", "r.txt"]]
    {
        let run = home.sealpass(&args, SF_PASSWORD);
        run.expect(2);
        assert!(run.stderr.contains("secret key"), "{}", run.stderr);
        assert!(!run.stderr.to_lowercase().contains(&lower[15..]), "echoed: {}", run.stderr);
    }
}

/// Issue 19: a thumbprint as certificate viewers show it (lower case, colons, spaces) is
/// accepted and sealed as 40 upper-case hex digits.
#[test]
fn thumbprints_as_viewers_show_them_are_normalised_regression() {
    let shown = "c3:4e 43:84:0c:42:0a:c6:ac:7d:ba:cf:11:7c:2d:f9:f6:b8:ad:b9";
    let (home, file) = sealed(
        "entra-certificate",
        &[
            "--field",
            "tenant_id=72f988bf-86f1-41af-91ab-2d7cd011db47",
            "--field",
            "client_id=11111111-2222-3333-4444-555555555555",
            "--field",
            "environment_url=https://acme.crm4.dynamics.com",
            "--field",
            &format!("thumbprint={shown}"),
        ],
        "",
    );
    let opened = home.sealpass(&["open", "-i", "vendor.key", &file, "--json"], "");
    opened.expect(0);
    assert_eq!(opened.json()["fields"]["thumbprint"], "C34E43840C420AC6AC7DBACF117C2DF9F6B8ADB9", "{}", opened.stdout);
}

/// Issue 19: at a prompt, a typo in the confirmation asks again, a secret that fails the policy
/// is refused before the confirmation, and Ctrl-D says "cancelled".
#[test]
fn prompts_ask_again_check_first_and_cancel_cleanly_regression() {
    let home = Home::new();
    let recipient = home.keygen("vendor.key");
    let secret = "Zq8kR2mW9vB4tN7xL3Zq8kR2";
    let retyped = home.on_terminal(
        &["seal", "--to", &recipient, "--kind", "generic", "-o", "a.age"],
        &format!("{secret}\nWRONG-{secret}\n{secret}\n{secret}\n"),
    );
    retyped.expect(0);
    assert!(retyped.stdout.contains("The two entries differ; type it again (2 tries left)"), "{}", retyped.stdout);
    assert!(home.path("a.age").exists());
    let opened = home.sealpass(&["open", "-i", "vendor.key", "a.age", "--reveal"], "");
    assert_eq!(opened.stdout.trim(), secret);

    let weak = home.on_terminal(
        &["seal", "--to", &recipient, "--kind", "dynamics-password", "-u", "svc@acme.example", "-o", "b.age"],
        "Password123!\n",
    );
    weak.expect(3);
    assert!(!weak.stdout.contains("Once more"), "refused before the confirmation: {}", weak.stdout);
    assert!(weak.stdout.contains("looks-random"), "{}", weak.stdout);
    assert!(!home.path("b.age").exists());

    let cancelled = home.on_terminal(&["seal", "--to", &recipient, "--kind", "generic", "-o", "c.age"], "\u{4}");
    cancelled.expect(1);
    assert!(cancelled.stdout.contains("cancelled") && !cancelled.stdout.contains("os error"), "{}", cancelled.stdout);
    assert!(!home.path("c.age").exists());
}
