//! After passwords (SPEC §9), through the real binary, a real `sealpass serve` and `openssl`:
//! the vendor's certificate as openssl reads it, published and fingerprinted by the server, a
//! swapped certificate refused, hand-overs with no secret at all, identifiers of the wrong shape,
//! an Entra thumbprint that is not the vendor's, and key files byte for byte.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::helpers::{Home, Run, get_json, run};
use crate::serve_cli::Served;

const CONSUMER_KEY: &str = "3MVG9fTLmJ60pJ5JnY9ZxsxDq1Hh4bFbD.FoNzxmHJmbjTNp3hKzMH8R_tM2vR5L4xKcZYkDq3eZp6WnXoAbCdEf";
const TENANT: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const CLIENT: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// `openssl ARGS` in `dir`; missing is a failure (scripts/test.sh installs it).
fn openssl(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("openssl");
    cmd.args(args).current_dir(dir);
    let out = run(cmd, b"");
    out.expect(0);
    out
}

/// openssl's `SHA1 Fingerprint=AB:CD:…` as Entra writes it: `ABCD…`.
fn openssl_fingerprint(dir: &std::path::Path, file: &str, digest: &str) -> String {
    let out = openssl(dir, &["x509", "-in", file, "-noout", "-fingerprint", digest]);
    out.stdout.trim().split('=').nth(1).unwrap().replace(':', "").to_ascii_uppercase()
}

/// A vendor with a key, staff alice, a certificate `kore` and a server publishing it.
struct Vendor {
    home: Home,
    server: Option<Served>,
    token: String,
    recipient: String,
}

impl Vendor {
    fn new(certificates: &[&str]) -> Vendor {
        let home = Home::new();
        let recipient = home.keygen("data/sealpass/identity.txt");
        for name in certificates {
            home.sealpass(&["cert", "new", "--name", name, "--days", "30"], "").expect(0);
        }
        let token = home.sealpass(&["staff-token", "alice"], "");
        token.expect(0);
        let snippet: String = token.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
        std::fs::write(home.path("staff.toml"), snippet).unwrap();
        let mut vendor = Vendor { home, server: None, token: token.stdout.trim().to_owned(), recipient };
        vendor.serve(certificates);
        vendor
    }

    /// (Re)start the server on the same store, publishing `certificates` (their names).
    fn serve(&mut self, certificates: &[&str]) {
        drop(self.server.take());
        let staff = std::fs::read_to_string(self.home.path("staff.toml")).unwrap();
        let mut config = format!("recipients = [\"{}\"]\n{staff}\n", self.recipient);
        for name in certificates {
            config.push_str(&format!("[[certificates]]\nname = \"{name}\"\nfile = \"{name}.crt\"\n"));
        }
        std::fs::write(self.home.path("server.toml"), config).unwrap();
        let store = format!("sqlite://{}", self.home.path("drops.db").display());
        self.server = Some(Served::start(&self.home, &["--store", &store, "--config", "server.toml"], &[]));
        crate::helpers::pin_own_server(&self.home, &self.url());
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url.clone()
    }

    fn staff(&self, args: &[&str]) -> Run {
        self.home.sealpass_env(args, "", &[("SEALPASS_STAFF_TOKEN", &self.token), ("SEALPASS_SERVER", &self.url())])
    }

    fn request(&self, kind: &str) -> String {
        let run = self.staff(&["request", "--label", "Acme integration", "--kind", kind]);
        run.expect(0);
        run.stdout.trim().to_owned()
    }

    fn inbox_len(&self) -> usize {
        let run = self.staff(&["inbox", "--json"]);
        run.expect(0);
        run.json()["drops"].as_array().unwrap().len()
    }
}

#[test]
fn cert_new_makes_what_openssl_reads_and_never_overwrites_the_key() {
    let home = Home::new();
    let made = home.sealpass(&["cert", "new", "--name", "kore-integration", "--days", "90", "--json"], "");
    made.expect(0);
    let out = made.json();
    let dir = home.dir.path();
    let key_mode = std::fs::metadata(home.path("kore-integration.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    let text = openssl(dir, &["x509", "-in", "kore-integration.crt", "-noout", "-text"]).stdout;
    assert!(text.contains("Public-Key: (3072 bit)") && text.contains("sha256WithRSAEncryption"), "{text}");
    let subject = openssl(dir, &["x509", "-in", "kore-integration.crt", "-noout", "-subject"]).stdout;
    assert!(subject.contains("CN = kore-integration"), "{subject}");
    // The key is the certificate's: the same modulus.
    let key = openssl(dir, &["rsa", "-in", "kore-integration.key", "-noout", "-modulus"]).stdout;
    let cert = openssl(dir, &["x509", "-in", "kore-integration.crt", "-noout", "-modulus"]).stdout;
    assert_eq!(key, cert);
    openssl(dir, &["rsa", "-in", "kore-integration.key", "-check", "-noout"]);
    let sha1 = openssl_fingerprint(dir, "kore-integration.crt", "-sha1");
    let sha256 = openssl_fingerprint(dir, "kore-integration.crt", "-sha256");
    assert_eq!(out["sha1_thumbprint"], sha1.as_str());
    assert_eq!(out["sha256"].as_str().unwrap().to_ascii_uppercase(), sha256);
    let shown = home.sealpass(&["cert", "show", "kore-integration.crt"], "");
    shown.expect(0);
    assert!(shown.stdout.contains(&sha1) && shown.stdout.contains("RSA 3072"), "{}", shown.stdout);

    // A DER copy (Windows .cer) shows the same.
    openssl(dir, &["x509", "-in", "kore-integration.crt", "-outform", "DER", "-out", "k.cer"]);
    let der = home.sealpass(&["cert", "show", "--json", "k.cer"], "");
    der.expect(0);
    assert_eq!(der.json()["sha1_thumbprint"], sha1.as_str());

    let before = std::fs::read(home.path("kore-integration.key")).unwrap();
    let again = home.sealpass(&["cert", "new", "--name", "kore-integration"], "");
    again.expect(1);
    assert!(again.stderr.contains("never overwrites"), "{}", again.stderr);
    assert_eq!(std::fs::read(home.path("kore-integration.key")).unwrap(), before);
    let key_shown = home.sealpass(&["cert", "show", "kore-integration.key"], "");
    key_shown.expect(2);
    assert!(key_shown.stderr.contains("private key") && !key_shown.mentions("MII"), "{}", key_shown.stderr);
    home.sealpass(&["cert", "new", "--name", "../x"], "").expect(2);
}

#[test]
fn the_server_publishes_its_certificates_and_refuses_a_private_key() {
    let vendor = Vendor::new(&["kore"]);
    let info = get_json(&format!("{}/v1/info", vendor.url()));
    let cert = &info["certificates"][0];
    assert_eq!(cert["name"], "kore");
    assert_eq!(cert["pem"], std::fs::read_to_string(vendor.home.path("kore.crt")).unwrap().as_str());
    assert_eq!(cert["sha1_thumbprint"], openssl_fingerprint(vendor.home.dir.path(), "kore.crt", "-sha1").as_str());
    assert!(info["fingerprint"].as_str().unwrap().starts_with("sp3-"), "{info}");
    assert!(vendor.request("salesforce-jwt").contains(info["fingerprint"].as_str().unwrap()));

    // A private key among the certificates stops the server before it listens.
    let home = &vendor.home;
    std::fs::write(
        home.path("bad.toml"),
        format!("recipients = [\"{}\"]\n[[certificates]]\nname = \"k\"\nfile = \"kore.key\"\n", vendor.recipient),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealpass"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config", "bad.toml"]).current_dir(home.dir.path());
    let refused = run(cmd, b"");
    refused.expect(2);
    assert!(refused.stderr.contains("holds a private key") && !refused.mentions("MII"), "{}", refused.stderr);

    // Without certificates there is nothing to register: such requests are refused.
    let plain = Vendor::new(&[]);
    let no_cert = plain.staff(&["request", "--label", "x", "--kind", "entra-certificate"]);
    no_cert.expect(1);
    assert!(no_cert.stderr.contains("publishes none"), "{}", no_cert.stderr);
}

#[test]
fn a_jwt_request_is_answered_without_a_secret_and_received_as_json() {
    let vendor = Vendor::new(&["kore"]);
    let link = vendor.request("salesforce-jwt");
    let customer = Home::new();
    std::fs::create_dir(customer.path("certs")).unwrap();
    let fields = [
        "--field",
        &format!("consumer_key={CONSUMER_KEY}"),
        "--username",
        "kore-integration@acme.example",
        "--field",
        "instance_url=https://acme.my.salesforce.com",
    ];
    let mut args = vec!["send", &link, "--certificate-dir", "certs", "--json"];
    args.extend(fields);
    let sent = customer.sealpass(&args, "");
    sent.expect(0);
    // It showed the certificate to register, saved as the server published it, and the steps.
    let saved = std::fs::read_to_string(customer.path("certs/kore.crt")).unwrap();
    assert_eq!(saved, std::fs::read_to_string(vendor.home.path("kore.crt")).unwrap());
    let thumbprint = openssl_fingerprint(vendor.home.dir.path(), "kore.crt", "-sha1");
    assert!(sent.stderr.contains(&thumbprint) && sent.stderr.contains("JWT bearer flow"), "{}", sent.stderr);
    assert!(sent.stderr.contains("No secret leaves"), "{}", sent.stderr);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();

    let received = vendor.staff(&["receive", &pickup, "-o", "ids.json", "--json"]);
    received.expect(0);
    let handed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vendor.home.path("ids.json")).unwrap()).unwrap();
    assert_eq!(handed["kind"], "salesforce-jwt");
    assert_eq!(handed["fields"]["consumer_key"], CONSUMER_KEY);
    assert_eq!(handed["fields"]["username"], "kore-integration@acme.example");
    assert_eq!(handed["fields"]["instance_url"], "https://acme.my.salesforce.com");
    let report = received.json();
    assert_eq!(report["compliant"], true);
    assert!(report.get("secret").is_none(), "{report}");
    assert_eq!(report["fields"]["consumer_key"], CONSUMER_KEY);
}

#[test]
fn identifiers_of_the_wrong_shape_exit_3_naming_the_shape_and_nothing_is_sent() {
    let vendor = Vendor::new(&["kore"]);
    let customer = Home::new();
    let jwt = vendor.request("salesforce-jwt");
    let entra = vendor.request("entra-certificate");
    let sf = |key: &str, user: &str, url: &str| {
        customer.sealpass(
            &[
                "send",
                &jwt,
                "--field",
                &format!("consumer_key={key}"),
                "-u",
                user,
                "--field",
                &format!("instance_url={url}"),
            ],
            "",
        )
    };
    for (run, says) in [
        (sf("abc123", "kore@acme.example", "https://acme.my.salesforce.com"), "starts with 3MVG"),
        (sf(CONSUMER_KEY, "kore@acme.example", "https://login.salesforce.com"), "My Domain URL"),
        (sf(CONSUMER_KEY, "kore", "https://acme.my.salesforce.com"), "email address"),
    ] {
        run.expect(3);
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    // Nothing given and no terminal to ask on: a usage error naming what is needed.
    let bare = customer.sealpass(&["send", &jwt], "");
    bare.expect(2);
    assert!(
        bare.stderr.contains("needs consumer_key, username, instance_url") && bare.stderr.contains("--field"),
        "{}",
        bare.stderr
    );
    let guid = customer.sealpass(
        &["send", &entra, "--field", "tenant_id=acme.onmicrosoft.com", "--field", &format!("client_id={CLIENT}")],
        "",
    );
    guid.expect(3);
    assert!(guid.stderr.contains("must be a GUID like 00000000-0000"), "{}", guid.stderr);
    let dataverse =
        customer.sealpass(&["send", &entra, "--field", "environment_url=https://acme.dynamics.example"], "");
    dataverse.expect(3);
    assert!(dataverse.stderr.contains("https://ORG.crm.dynamics.com"), "{}", dataverse.stderr);
    // Client credentials: the consumer key and My Domain are checked too.
    let cc = vendor.request("salesforce-client-credentials");
    let bad = customer.sealpass(
        &["send", &cc, "--field", "consumer_key=3MVG9", "--field", "instance_url=https://acme.my.salesforce.com"],
        "Zq8!kR2#mW9$vB4%tN7^",
    );
    bad.expect(3);
    assert!(bad.stderr.contains("starts with 3MVG"), "{}", bad.stderr);
    assert_eq!(vendor.inbox_len(), 0);
}

#[test]
fn an_entra_answer_must_name_a_thumbprint_the_vendor_publishes() {
    let vendor = Vendor::new(&["kore"]);
    let customer = Home::new();
    let thumbprint = openssl_fingerprint(vendor.home.dir.path(), "kore.crt", "-sha1");
    let send = |link: &str, thumbprint: &str| {
        customer.sealpass(
            &[
                "send",
                link,
                "--field",
                &format!("tenant_id={TENANT}"),
                "--field",
                &format!("client_id={CLIENT}"),
                "--field",
                "environment_url=https://acme.crm4.dynamics.com",
                "--field",
                &format!("thumbprint={thumbprint}"),
                "--json",
            ],
            "",
        )
    };
    let link = vendor.request("entra-certificate");
    let unknown = send(&link, &"AB".repeat(20));
    unknown.expect(3);
    assert!(unknown.stderr.contains("not the thumbprint of a certificate the vendor publishes"), "{}", unknown.stderr);
    assert_eq!(vendor.inbox_len(), 0);
    let sent = send(&link, &thumbprint.to_ascii_lowercase());
    sent.expect(0);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    let received = vendor.staff(&["receive", &pickup, "--reveal"]);
    received.expect(0);
    let handed: serde_json::Value = serde_json::from_str(received.stdout.trim()).unwrap();
    assert_eq!(handed["fields"]["tenant_id"], TENANT);

    // A sender that skips the CLI's check: the receiver refuses it, unacknowledged.
    let envelope = vendor.home.sealpass(
        &[
            "seal",
            "--to",
            &vendor.recipient,
            "--kind",
            "entra-certificate",
            "--field",
            &format!("tenant_id={TENANT}"),
            "--field",
            &format!("client_id={CLIENT}"),
            "--field",
            "environment_url=https://acme.crm.dynamics.com",
            "--field",
            &format!("thumbprint={}", "CD".repeat(20)),
        ],
        "",
    );
    envelope.expect(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let created: serde_json::Value = rt.block_on(async {
        let body = serde_json::json!({"ciphertext": envelope.stdout});
        let answer =
            reqwest::Client::new().post(format!("{}/v1/drops", vendor.url())).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201);
        answer.json().await.unwrap()
    });
    let id = created["id"].as_str().unwrap();
    let refused = vendor.staff(&["receive", id, "-o", "entra.json"]);
    refused.expect(3);
    assert!(
        refused.stderr.contains("is not the thumbprint") && refused.stderr.contains("not acknowledged"),
        "{}",
        refused.stderr
    );
    assert!(!vendor.home.path("entra.json").exists());
    let status = vendor.staff(&["inbox", "--json"]);
    assert!(!status.stdout.contains(id), "a claimed drop leaves the inbox: {}", status.stdout);
}

#[test]
fn a_swapped_certificate_breaks_the_link_and_an_old_link_vouches_for_keys_only() {
    let mut vendor = Vendor::new(&["kore", "other"]);
    vendor.serve(&[]);
    // A link from before certificates were published: recipients and receipt key only.
    let mut old = vendor.request("salesforce-password");
    assert!(old.contains(".sp3-"), "{old}");
    // Each start listens on a new port: links follow the server there (the same store).
    let restart = |vendor: &mut Vendor, certs: &[&str], links: &mut [&mut String]| {
        let before = vendor.url();
        vendor.serve(certs);
        for link in links.iter_mut() {
            **link = link.replace(&before, &vendor.url());
        }
    };
    restart(&mut vendor, &["kore"], &mut [&mut old]);
    let mut jwt = vendor.request("salesforce-jwt");
    let customer = Home::new();
    let answer = |link: &str| {
        customer.sealpass(
            &[
                "send",
                link,
                "--field",
                &format!("consumer_key={CONSUMER_KEY}"),
                "-u",
                "kore@acme.example",
                "--field",
                "instance_url=https://acme.my.salesforce.com",
            ],
            "",
        )
    };
    // The same recipients, another certificate: the link's sp2 fingerprint no longer matches.
    std::fs::copy(vendor.home.path("other.crt"), vendor.home.path("kore.crt")).unwrap();
    restart(&mut vendor, &["kore"], &mut [&mut old, &mut jwt]);
    let swapped = answer(&jwt);
    swapped.expect(1);
    assert!(
        swapped.stderr.contains("are not the ones") && swapped.stderr.contains("in your link"),
        "{}",
        swapped.stderr
    );
    assert_eq!(vendor.inbox_len(), 0);
    // The old link still works for what it vouches for: the recipients.
    let password =
        customer.sealpass(&["send", &old, "-u", "kore@acme.example", "--generate", "--print-generated", "--json"], "");
    password.expect(0);
    // But it cannot vouch for a certificate: an sp1 fingerprint on a certificate request is refused.
    let jwt_now = vendor.request("salesforce-jwt");
    let (base, _) = jwt_now.rsplit_once('.').unwrap();
    let sp1 = sealpass_core::crypto::fingerprint(&[vendor.recipient.as_str()]);
    let downgraded = answer(&format!("{base}.{sp1}"));
    downgraded.expect(1);
    assert!(downgraded.stderr.contains("predates certificates"), "{}", downgraded.stderr);
    assert_eq!(vendor.inbox_len(), 1);
}

#[test]
fn key_files_survive_send_and_receive_byte_for_byte() {
    let vendor = Vendor::new(&[]);
    let customer = Home::new();
    let dir = customer.dir.path();
    let subj = "/CN=acme-integration";
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "2",
            "-subj", subj,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k2.pem",
            "-out",
            "c2.pem",
            "-days",
            "2",
            "-subj",
            subj,
        ],
    );
    openssl(
        dir,
        &["pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "id.pfx", "-passout", "pass:hunter2"],
    );
    let cat = |out: &str, parts: &[&str]| {
        let bytes: Vec<u8> = parts.iter().flat_map(|p| std::fs::read(customer.path(p)).unwrap()).collect();
        std::fs::write(customer.path(out), bytes).unwrap();
    };
    cat("pair.pem", &["k.pem", "c.pem"]);
    cat("ec-pair.pem", &["k2.pem", "c2.pem"]);
    cat("mismatch.pem", &["k.pem", "c2.pem"]);
    let url = vendor.url();
    let send = |file: &str| {
        customer.sealpass(&["send", "--server", &url, "--to", &vendor.recipient, "--file", file, "--json"], "")
    };
    for (file, format) in [("pair.pem", "pem"), ("ec-pair.pem", "pem"), ("id.pfx", "pkcs12")] {
        let sent = send(file);
        sent.expect(0);
        let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
        let out = format!("{file}.out");
        let received = vendor.staff(&["receive", &pickup, "-o", &out, "--json"]);
        received.expect(0);
        let report = received.json();
        assert_eq!(report["kind"], "key-file");
        assert_eq!(report["fields"]["filename"], file);
        assert_eq!(report["fields"]["format"], format);
        assert_eq!(std::fs::read(vendor.home.path(&out)).unwrap(), std::fs::read(customer.path(file)).unwrap());
        let mode = std::fs::metadata(vendor.home.path(&out)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        if format == "pem" {
            let rules = report["rules"].as_array().unwrap();
            assert!(rules.iter().any(|r| r["rule"] == "key-matches-certificate" && r["ok"] == true), "{report}");
        }
    }
    // --exec gets the exact bytes on stdin.
    let sent = send("id.pfx");
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    vendor.staff(&["receive", &pickup, "--exec", "cat > exec.pfx"]).expect(0);
    assert_eq!(std::fs::read(vendor.home.path("exec.pfx")).unwrap(), std::fs::read(customer.path("id.pfx")).unwrap());

    let mismatch = send("mismatch.pem");
    mismatch.expect(3);
    assert!(mismatch.stderr.contains("does not belong to any certificate"), "{}", mismatch.stderr);
    std::fs::write(customer.path("notes.txt"), "hunter2").unwrap();
    let text = send("notes.txt");
    text.expect(3);
    assert!(text.stderr.contains("PEM") && !text.mentions("hunter2"), "{}", text.stderr);
    std::fs::write(customer.path("big.pem"), vec![b'A'; 48 * 1024 + 1]).unwrap();
    send("big.pem").expect(2);
    assert_eq!(vendor.inbox_len(), 0);
}

#[test]
fn legacy_kinds_name_their_successor() {
    let policies = crate::helpers::sealpass(&["policies"], "");
    policies.expect(0);
    assert!(policies.stdout.contains("legacy: use salesforce-jwt"), "{}", policies.stdout);
    assert!(policies.stdout.contains("Summer '27"), "{}", policies.stdout);
    let vendor = Vendor::new(&[]);
    let request = vendor.staff(&["request", "--label", "x", "--kind", "dynamics-app-password"]);
    request.expect(0);
    assert!(request.stderr.contains("prefer entra-certificate"), "{}", request.stderr);
    let link = request.stdout.trim();
    let sent = Home::new().sealpass(&["send", link, "-u", "kore@acme.example"], "abcdefghijklmnop");
    sent.expect(0);
    assert!(sent.stderr.contains("legacy kind") && sent.stderr.contains("per-user MFA"), "{}", sent.stderr);
}

#[test]
fn a_server_stating_another_certificate_s_hashes_is_refused() {
    // The fingerprint and the stated hashes are certificate A's, the PEM is B's: a server that
    // hopes clients trust its hashes instead of hashing what they are shown.
    let home = Home::new();
    for name in ["a", "b"] {
        home.sealpass(&["cert", "new", "--name", name, "--days", "5"], "").expect(0);
    }
    let shown = |name: &str| home.sealpass(&["cert", "show", "--json", &format!("{name}.crt")], "").json();
    let (a, b_pem) = (shown("a"), std::fs::read_to_string(home.path("b.crt")).unwrap());
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    let recipient = recipient.to_string();
    let fingerprint =
        sealpass_core::crypto::server_fingerprint(&[recipient.as_str()], &[a["sha256"].as_str().unwrap()], None);
    let info = serde_json::json!({
        "version": "1", "recipients": [recipient], "fingerprint": fingerprint,
        "limits": {"max_ciphertext_bytes": 131072, "default_ttl_seconds": 60, "max_ttl_seconds": 60},
        "anonymous_uploads": true, "public_url": "http://x",
        "certificates": [{"name": "kore", "pem": b_pem, "sha256": a["sha256"], "sha1_thumbprint": a["sha1_thumbprint"],
                          "not_after": "2030-01-01T00:00:00Z"}]
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(async {
        let app = axum::Router::new().route("/v1/info", axum::routing::get(move || async move { axum::Json(info) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    });
    let link = format!("{url}/r/{}#{}.{fingerprint}", "a".repeat(26), "T".repeat(43));
    let sent = home.sealpass(&["send", &link, "--field", &format!("consumer_key={CONSUMER_KEY}")], "");
    sent.expect(1);
    assert!(
        sent.stderr.contains("not the certificate's") && sent.stderr.contains("nothing was sent"),
        "{}",
        sent.stderr
    );
    let init = home.sealpass(&["init", "--server", &url, "--fingerprint", &fingerprint], "");
    init.expect(1);
    assert!(init.stderr.contains("not the certificate's"), "{}", init.stderr);
}

#[test]
fn a_request_answered_with_another_kind_is_refused_unacknowledged() {
    // An entra-certificate request answered with a key-file whose bytes are the JSON line a
    // genuine answer would hand on: without the kind check, it would skip the thumbprint check.
    let vendor = Vendor::new(&["kore"]);
    let link = vendor.request("entra-certificate");
    let (head, fragment) = link.split_once('#').unwrap();
    let id = head.rsplit('/').next().unwrap();
    let token = fragment.rsplit_once('.').unwrap().0;
    let fake = format!(
        r#"{{"fields":{{"client_id":"{CLIENT}","environment_url":"https://evil.example","tenant_id":"{TENANT}","thumbprint":"{}"}},"kind":"entra-certificate"}}"#,
        "AB".repeat(20)
    ) + "\n";
    let secret = data_encoding::BASE64.encode(fake.as_bytes());
    let envelope = format!(
        r#"{{"v":1,"kind":"key-file","secret":"{secret}","fields":{{"filename":"ids.json","format":"json"}},"policy":"key-file","request":"{id}","created_at":"2026-12-01T12:00:00Z"}}"#
    );
    let padded = format!("{envelope:<2048}");
    // Sealed directly (not by `sealpass send`, which would refuse the mismatch).
    let to: sealpass_core::crypto::Recipient = vendor.recipient.parse().unwrap();
    let sealed = sealpass_core::crypto::seal(padded.as_bytes(), &[to]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let created: serde_json::Value = rt.block_on(async {
        let body = serde_json::json!({"ciphertext": sealed, "request_id": id});
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/drops", vendor.url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        answer.json().await.unwrap()
    });
    let drop = created["id"].as_str().unwrap();
    let refused = vendor.staff(&["receive", drop, "-o", "ids.json"]);
    refused.expect(5);
    assert!(
        refused.stderr.contains("asks for entra-certificate but the envelope holds a key-file"),
        "{}",
        refused.stderr
    );
    assert!(!vendor.home.path("ids.json").exists());
}
