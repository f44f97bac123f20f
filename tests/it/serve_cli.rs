//! `sealpass serve` and `sealpass staff-token` as processes: durability across `kill -9`,
//! graceful shutdown, logs without secrets, TLS, the printed default config.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::Home;

/// A `sealpass serve` child process, its address, and everything it logged.
pub struct Served {
    pub child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    pub fn start(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Served {
        Served::start_with(home, Command::new(env!("CARGO_BIN_EXE_sealpass")), args, env)
    }

    /// Like [`Served::start`], with `cmd` (the binary, or a wrapper such as strace that runs it).
    pub fn start_with(home: &Home, mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> Served {
        cmd.arg("serve");
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(args);
        if !args.contains(&"--config") {
            // A server needs the vendor's recipients; give it some.
            let (_, recipient) = sealpass_core::crypto::generate_identity("test");
            std::fs::write(home.path("auto.toml"), format!("recipients = [\"{recipient}\"]\n")).unwrap();
            cmd.args(["--config", "auto.toml"]);
        }
        cmd.current_dir(home.dir.path())
            .env("HOME", home.dir.path())
            .env("XDG_DATA_HOME", home.path("data"))
            .env_remove("SEALPASS_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A group of its own, so dropping it ends everything it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut served = Served { child, url: String::new(), log };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => {
                served.url = url;
                served
            }
            // Dropped here, so even a server that failed to start in time is ended.
            Err(_) => panic!("no listening line: {}", served.log()),
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The whole process group: a wrapper such as strace leaves its tracee running when only
        // the wrapper is killed.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn upload(http: &reqwest::Client, url: &str, ciphertext: &str) -> (String, String) {
    let r = http.post(format!("{url}/v1/drops")).json(&json!({"ciphertext": ciphertext})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.unwrap();
    (v["id"].as_str().unwrap().to_owned(), v["manage_token"].as_str().unwrap().to_owned())
}

fn armored() -> String {
    let (_, r) = sealpass_core::crypto::generate_identity("t");
    sealpass_core::crypto::seal(&[b' '; 1024], &[r]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_uploads_survive_kill_9() {
    let home = Home::new();
    let store = format!("sqlite://{}", home.path("drops.db").display());
    let http = reqwest::Client::new();
    let server = Served::start(&home, &["--store", &store], &[]);
    let mut uploaded = Vec::new();
    for _ in 0..25 {
        let ciphertext = armored();
        let (id, _) = upload(&http, &server.url, &ciphertext).await;
        uploaded.push((id, ciphertext));
    }
    let mut server = server;
    // SIGKILL right after the last 201: no shutdown, no flush, no checkpoint.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let restarted = Served::start(&home, &["--store", &store, "--insecure-open-claims"], &[]);
    for (id, ciphertext) in &uploaded {
        let r = http.post(format!("{}/v1/drops/{id}/claim", restarted.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{id} was lost");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["ciphertext"].as_str(), Some(ciphertext.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_and_debug_logs_hold_no_secrets() {
    let home = Home::new();
    let token = home.sealpass(&["staff-token", "alice"], "");
    token.expect(0);
    let staff_token = token.stdout.trim().to_owned();
    assert!(staff_token.starts_with("sps_") && staff_token.len() >= 40);
    let snippet = token.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
    assert!(snippet.contains("name = \"alice\"") && !snippet.contains(&staff_token), "{}", token.stderr);
    assert!(snippet.ends_with("roles = [\"requester\", \"receiver\"]"), "{snippet}");
    let auditor = home.sealpass(&["staff-token", "audrey", "--role", "auditor", "--role", "admin"], "");
    assert!(auditor.expect(0).stderr.contains("roles = [\"auditor\", \"admin\"]"), "{}", auditor.stderr);
    home.sealpass(&["staff-token", "x", "--role", "root"], "").expect(2);
    // A config from before roles: the token may do everything, and the server says so.
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    let before_roles: Vec<&str> = snippet.lines().filter(|l| !l.starts_with("roles")).collect();
    let config = format!("recipients = [\"{recipient}\"]\n{}\n", before_roles.join("\n"));
    std::fs::write(home.path("server.toml"), config).unwrap();

    let store = format!("sqlite://{}", home.path("drops.db").display());
    let server = Served::start(&home, &["--store", &store, "--config", "server.toml"], &[("SEALPASS_LOG", "debug")]);
    let http = reqwest::Client::new();
    let ciphertext = armored();
    let (id, manage) = upload(&http, &server.url, &ciphertext).await;
    let status = http.get(format!("{}/v1/drops/{id}", server.url)).bearer_auth(&manage).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let anonymous = http.post(format!("{}/v1/drops/{id}/claim", server.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "the configured staff are required");
    let claim =
        http.post(format!("{}/v1/drops/{id}/claim", server.url)).bearer_auth(&staff_token).send().await.unwrap();
    assert_eq!(claim.status(), StatusCode::OK);
    let _ =
        http.post(format!("{}/v1/drops", server.url)).body("{\"ciphertext\": \"garbage-body-marker\"}").send().await;

    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    std::thread::sleep(Duration::from_millis(100));
    let log = server.log();
    assert!(log.contains("route=/v1/drops/{id}/claim"), "debug logs every request: {log}");
    assert!(log.contains("stopped"));
    assert_eq!(log.matches("[[staff]] without roles may do everything").count(), 1, "warned once: {log}");
    assert!(log.contains("everything (as before roles existed): alice;"), "{log}");
    for secret in [staff_token.as_str(), manage.as_str(), "garbage-body-marker"] {
        assert!(!log.contains(secret), "the log holds a secret: {log}");
    }
    for line in ciphertext.lines().skip(1).take(3) {
        assert!(!log.contains(line), "the log holds ciphertext");
    }
}

#[test]
fn the_printed_default_config_is_accepted() {
    let home = Home::new();
    let printed = home.sealpass(&["serve", "--print-default-config"], "");
    printed.expect(0);
    assert!(printed.stdout.contains("[[staff]]") && printed.stdout.contains("max_ttl"));
    // Every table a server may have, with an example (issue 19).
    for example in [
        "# [[certificates]]",
        "# [[webhooks]]",
        "# metrics_token_sha256",
        "# metrics_listen",
        "# receipt_key",
        "# [oidc]",
    ] {
        assert!(printed.stdout.contains(example), "{example} missing from the default config");
    }
    // Uncommented, the examples are a config the server reads (files aside).
    let paths = home.sealpass(&["paths", "--json"], "");
    paths.expect(0);
    let config = paths.json()["config"].as_str().unwrap().to_owned();
    assert_eq!(std::path::Path::new(&config), home.path("config/sealpass/config.toml"));
    assert!(home.sealpass(&["--help"], "").stdout.contains("sealpass paths"));
    let recipient = home.keygen("v.key");
    let config = printed.stdout.replace("recipients = []", &format!("recipients = [\"{recipient}\"]"));
    std::fs::write(home.path("default.toml"), config).unwrap();
    let empty = home.sealpass(&["serve", "--config", "/dev/null"], "");
    empty.expect(2);
    assert!(empty.stderr.contains("recipients: none configured"), "{}", empty.stderr);
    let server = Served::start(&home, &["--config", "default.toml"], &[]);
    assert!(server.url.starts_with("http://127.0.0.1:"));
}

#[test]
fn bad_settings_are_refused_before_listening() {
    let home = Home::new();
    let open = home.sealpass(&["serve", "--listen", "0.0.0.0:0", "--public-url", "https://drop.example.com"], "");
    open.expect(2);
    assert!(open.stderr.contains("no [[staff]] or [oidc] are configured"), "{}", open.stderr);
    let proxied = home.sealpass(&["serve", "--insecure-open-claims", "--trusted-proxy", "127.0.0.1"], "");
    proxied.expect(2);
    assert!(proxied.stderr.contains("behind a proxy"), "{}", proxied.stderr);
    std::fs::write(home.path("bad.toml"), "colour = \"blue\"\n").unwrap();
    let bad = home.sealpass(&["serve", "--config", "bad.toml"], "");
    bad.expect(2);
    assert!(bad.stderr.contains("unknown field"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_directly() {
    let home = Home::new();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"]) // a server certificate, not a CA
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(home.dir.path())
        .output()
        .expect("openssl is installed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // A key others can read gets a warning at start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.path("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Served::start(&home, &["--tls-cert", "cert.pem", "--tls-key", "key.pem"], &[]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    assert!(server.log().contains("readable by everyone (mode 644): chmod 600 it"), "{}", server.log());
    let out = Command::new("curl")
        .args(["-sS", "--cacert", "cert.pem", &format!("{}/healthz", server.url)])
        .current_dir(home.dir.path())
        .output()
        .expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&out.stdout), r#"{"status":"ok"}"#, "{}", String::from_utf8_lossy(&out.stderr));
    // The client says what is wrong with a certificate it does not trust, and how to trust it.
    let home2 = Home::new();
    let untrusted = home2.sealpass(&["init", "--server", &server.url], "");
    untrusted.expect(7);
    assert!(untrusted.stderr.contains("TLS certificate is not trusted"), "{}", untrusted.stderr);
    assert!(
        !untrusted.stderr.contains("Unsupported") && !untrusted.stderr.contains("Unknown"),
        "plain words: {}",
        untrusted.stderr
    );
    assert!(untrusted.stderr.contains("SSL_CERT_FILE"), "{}", untrusted.stderr);
    let ca = [("SSL_CERT_FILE", home.path("cert.pem").to_str().unwrap().to_owned())];
    let ca: Vec<(&str, &str)> = ca.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shown = home2.sealpass_env(&["init", "--server", &server.url], "", &ca);
    shown.expect(2); // trusted now; no terminal to confirm on
    let fingerprint = shown.stderr.lines().find_map(|l| l.strip_prefix("fingerprint: ")).unwrap().to_owned();
    let pinned = home2.sealpass_env(&["init", "--server", &server.url, "--fingerprint", &fingerprint], "", &ca);
    pinned.expect(0);
    // The receipt key to keep is shown, and pinned with the recipients.
    let key = pinned.stderr.split("signs receipts with key ").nth(1).map(|rest| rest[..64].to_owned());
    let key = key.unwrap_or_else(|| panic!("no receipt key shown: {}", pinned.stderr));
    let config = std::fs::read_to_string(home2.path("config/sealpass/config.toml")).unwrap();
    assert!(config.contains(&format!("receipt_key = \"{key}\"")), "{config}");
    let plain =
        Command::new("curl").args(["-sS", "--max-time", "5", &server.url.replace("https", "http")]).output().unwrap();
    assert!(!plain.status.success(), "plain HTTP is not served on the TLS port");
}

/// `openssl req -x509` in `home`: a self-signed certificate `NAME.pem` and key `NAME.key`,
/// with `extra` arguments.
fn openssl_cert(home: &Home, name: &str, extra: &[&str]) {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(extra)
        .args(["-keyout", &format!("{name}.key"), "-out", &format!("{name}.pem")])
        .current_dir(home.dir.path())
        .output()
        .expect("openssl is installed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
}

#[test]
fn tls_settings_are_checked_before_anything_starts_regression() {
    let home = Home::new();
    openssl_cert(&home, "leaf", &["-addext", "basicConstraints=critical,CA:FALSE"]);
    openssl_cert(&home, "other", &["-addext", "basicConstraints=critical,CA:FALSE"]);
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    std::fs::write(home.path("s.toml"), format!("recipients = [\"{recipient}\"]\n")).unwrap();
    let store = format!("sqlite://{}", home.path("drops.db").display());
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--config", "s.toml", "--store", &store];
        args.extend(extra);
        home.sealpass(&args, "")
    };
    for (cert, key, says) in [
        ("leaf.pem", "missing.key", "tls_key"),
        ("missing.pem", "leaf.key", "tls_cert"),
        ("leaf.pem", "other.key", "is not the key of the certificate"),
        ("leaf.key", "leaf.key", "tls_cert"),
    ] {
        let run = serve(&["--tls-cert", cert, "--tls-key", key]);
        run.expect(2);
        assert!(run.stderr.contains(says), "{cert} {key}: {}", run.stderr);
        assert!(!run.stderr.contains("listening") && !run.stderr.contains("KeyMismatch"), "{}", run.stderr);
        assert!(!home.path("drops.db").exists(), "nothing is created before the TLS files are checked");
    }
    // An https server handing out http:// links is refused too.
    let mismatch = serve(&["--tls-cert", "leaf.pem", "--tls-key", "leaf.key", "--public-url", "http://127.0.0.1:1"]);
    mismatch.expect(2);
    assert!(mismatch.stderr.contains("links must start with https://"), "{}", mismatch.stderr);
    // A CA certificate as the server's own (what `openssl req -x509` makes by default): a warning
    // at start, and clients say what is wrong in plain words.
    openssl_cert(&home, "ca", &[]);
    let server = Served::start(&home, &["--tls-cert", "ca.pem", "--tls-key", "ca.key"], &[]);
    assert!(server.log().contains("is a CA certificate"), "{}", server.log());
    let ca = [("SSL_CERT_FILE", home.path("ca.pem").to_str().unwrap().to_owned())];
    let ca: Vec<(&str, &str)> = ca.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = Home::new().sealpass_env(&["init", "--server", &server.url], "", &ca);
    refused.expect(7);
    assert!(refused.stderr.contains("a CA certificate used as the server's own"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("CaUsedAsEndEntity"), "{}", refused.stderr);
}

#[test]
fn a_store_that_does_not_answer_stops_the_start_and_only_its_password_is_hidden() {
    let home = Home::new();
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    std::fs::write(home.path("s.toml"), format!("recipients = [\"{recipient}\"]\n")).unwrap();
    let run = home.sealpass(
        &["serve", "--listen", "127.0.0.1:0", "--config", "s.toml", "--store", "redis://kore:s3cretpw@127.0.0.1:1/3"],
        "",
    );
    run.expect(1);
    assert!(run.stderr.contains("redis://kore:***@127.0.0.1:1/3 does not answer"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cretpw") && !run.stderr.contains("listening"), "{}", run.stderr);
}

/// Issue 23: SIGHUP applies a new config without a restart — staff added and removed take effect,
/// requests in flight finish — and a config that does not validate is refused, the running one
/// kept. Under load all along: not one request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_staff_under_load_and_a_broken_config_keeps_the_running_one() {
    let home = Home::new();
    let token = |name: &str| {
        let run = home.sealpass(&["staff-token", name, "--role", "receiver"], "");
        run.expect(0);
        let snippet = run.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
        (run.stdout.trim().to_owned(), snippet)
    };
    let (carol, carol_block) = token("carol");
    let (alice, alice_block) = token("alice");
    let (bob, bob_block) = token("bob");
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    let head =
        format!("recipients = [\"{recipient}\"]\nrate_limit_create_per_minute = 0\nrate_limit_claim_per_minute = 0\n");
    let config =
        |blocks: &[&str]| std::fs::write(home.path("server.toml"), format!("{head}{}\n", blocks.join("\n"))).unwrap();
    config(&[&carol_block, &alice_block]);
    let store = format!("sqlite://{}", home.path("drops.db").display());
    let server = Served::start(&home, &["--store", &store, "--config", "server.toml"], &[]);
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let pid = server.child.id().to_string();
    let hangup = || assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let inbox_status = |token: String| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(format!("{url}/v1/drops?state=waiting")).bearer_auth(token).send().await.unwrap().status() }
    };
    let until = |token: &str, wanted: StatusCode| {
        let inbox_status = &inbox_status;
        let token = token.to_owned();
        async move {
            for _ in 0..100 {
                if inbox_status(token.clone()).await == wanted {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the reload did not take effect within 5 s");
        }
    };
    assert_eq!(inbox_status(bob.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(inbox_status(alice.clone()).await, StatusCode::OK);

    // Load: whole hand-overs by carol, who stays in every config, from four clients at once.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (http, url, carol, stop) = (http.clone(), url.clone(), carol.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let ciphertext = armored();
            let (mut cycles, mut failures) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let created =
                    http.post(format!("{url}/v1/drops")).json(&json!({"ciphertext": ciphertext})).send().await;
                let Ok(created) = created.map_err(|e| failures.push(e.to_string())) else { continue };
                if created.status() != StatusCode::CREATED {
                    failures.push(format!("upload {}", created.status()));
                    continue;
                }
                let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                for step in ["claim", "ack"] {
                    let answer = http.post(format!("{url}/v1/drops/{id}/{step}")).bearer_auth(&carol).send().await;
                    match answer {
                        Ok(r) if r.status() == StatusCode::OK => {}
                        Ok(r) => failures.push(format!("{step} {}", r.status())),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                cycles += 1;
            }
            (cycles, failures)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // bob in, alice out.
    config(&[&carol_block, &bob_block]);
    hangup();
    until(&bob, StatusCode::OK).await;
    assert_eq!(inbox_status(alice.clone()).await, StatusCode::UNAUTHORIZED, "a removed token stops working");

    // Broken configs are refused, each naming why; the running config stays.
    std::fs::write(home.path("server.toml"), "recipients = [\n").unwrap();
    hangup();
    let bad_role = format!("{head}{}\n", carol_block.replace("\"receiver\"", "\"root\""));
    let waited = Instant::now();
    while !server.log().contains("config reload refused") {
        assert!(waited.elapsed() < Duration::from_secs(5), "no refusal logged: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(home.path("server.toml"), &bad_role).unwrap();
    hangup();
    while server.log().matches("config reload refused").count() < 2 {
        assert!(waited.elapsed() < Duration::from_secs(5), "no second refusal logged: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(inbox_status(bob.clone()).await, StatusCode::OK, "the running config stayed");
    assert_eq!(inbox_status(alice.clone()).await, StatusCode::UNAUTHORIZED);
    // --check-config says the same before anyone sends SIGHUP.
    let checked = home.sealpass(&["serve", "--check-config", "--config", "server.toml"], "");
    checked.expect(2);
    assert!(checked.stderr.contains("unknown role \"root\""), "{}", checked.stderr);
    config(&[&carol_block, &bob_block]);
    let checked = home.sealpass(&["serve", "--check-config", "--config", "server.toml"], "");
    checked.expect(0);
    assert!(checked.stderr.contains("the config is valid: 2 staff, 1 recipient(s)"), "{}", checked.stderr);
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut cycles = 0;
    for task in load {
        let (done, failures) = task.await.unwrap();
        assert!(failures.is_empty(), "requests failed across the reloads: {failures:?}");
        cycles += done;
    }
    assert!(cycles > 20, "the load ran ({cycles} hand-overs)");
    let log = server.log();
    assert!(log.contains("config reloaded: 2 staff, 1 recipient(s)"), "{log}");
    assert!(log.contains("unknown role \"root\""), "the refusal says why: {log}");
    assert!(!log.contains(&bob) && !log.contains(&carol), "no token in the log");
    eprintln!("{cycles} hand-overs across two reloads and two refusals, none failed");
}
