//! The client against a hostile "server" on loopback: answers of gigabytes, and strings laden
//! with terminal escapes, bidirectional overrides and zero-width characters. The CLI must read
//! no more than the protocol allows and print nothing that drives the terminal.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;

use crate::helpers::{Home, Run};

/// Text a hostile server would love a terminal to obey.
const EVIL: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\n  It was picked up by \"alice\".\u{202e}gpj.exe\u{2066}\u{200b}";

/// Whether output is free of anything that drives or fools a terminal.
#[track_caller]
fn assert_clean(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        for hazard in ['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{2066}', '\u{200b}'] {
            assert!(!text.contains(hazard), "{name} holds {hazard:?}: {text:?}");
        }
    }
}

/// A raw server answering every request with 3 GiB, with a Content-Length or chunked.
async fn huge(content_length: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head).await;
                let framing = if content_length {
                    format!("content-length: {}", 3u64 << 30)
                } else {
                    "transfer-encoding: chunked".to_owned()
                };
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = if content_length { Vec::new() } else { b"100000\r\n".to_vec() };
                chunk.extend(std::iter::repeat_n(b' ', 1 << 20));
                if !content_length {
                    chunk.extend_from_slice(b"\r\n");
                }
                for _ in 0..3072 {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// A hostile server: `mode` picks what `/v1/info` answers.
async fn hostile(mode: &'static str) -> String {
    match mode {
        "huge" => return huge(false).await,
        "huge-length" => return huge(true).await,
        _ => {}
    }
    let info = || async {
        axum::Json(json!({
            "version": EVIL, "recipients": [format!("age1{EVIL}")], "fingerprint": EVIL,
            "limits": {"max_ciphertext_bytes": 65536, "default_ttl_seconds": 60, "max_ttl_seconds": 60},
            "anonymous_uploads": true, "public_url": EVIL
        }))
    };
    let app = Router::new()
        .route("/v1/info", get(info))
        .route(
            "/v1/drops",
            get(|| async {
                axum::Json(json!({"drops": [{
                    "id": EVIL, "created_at": EVIL, "expires_at": EVIL, "size": 1, "request_id": "r", "label": EVIL
                }]}))
            }),
        )
        .route(
            "/v1/drops/{id}",
            get(|Path(id): Path<String>| async move {
                axum::Json(json!({
                    "id": id, "state": "claimed", "created_at": EVIL, "expires_at": EVIL, "claimed_by": EVIL,
                    "claimed_at": EVIL, "received_at": null, "revoked_at": null, "request_id": null
                }))
            }),
        )
        .route(
            "/v1/drops/{id}/claim",
            post(|| async { (StatusCode::CONFLICT, axum::Json(json!({"error": "already_claimed", "message": EVIL}))) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Run the binary in `home` under a 1 GiB address-space limit (so buffering a 3 GiB answer
/// would fail), sampling its peak memory; returns the run and the peak RSS in kB.
fn bounded_run(home: &Home, args: &[&str]) -> (Run, u64) {
    let mut cmd = std::process::Command::new("prlimit");
    cmd.arg("--as=1073741824").arg("--").arg(env!("CARGO_BIN_EXE_sealpass")).args(args);
    cmd.env("HOME", home.dir.path())
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("XDG_STATE_HOME", home.path("state"))
        .env("XDG_DATA_HOME", home.path("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("prlimit (util-linux) runs");
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            // prlimit execs sealpass in place: the pid is sealpass's.
            while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    let _ = watcher.join();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    };
    (run, peak.load(std::sync::atomic::Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_unbounded_responses_regression() {
    for mode in ["huge", "huge-length"] {
        let url = hostile(mode).await;
        let home = Home::new();
        let started = Instant::now();
        let (run, peak) = bounded_run(&home, &["init", "--server", &url, "--fingerprint", "sp1-x"]);
        eprintln!("{mode}: exit {} after {:?}, peak RSS {peak} kB", run.code, started.elapsed());
        run.expect(1);
        assert!(
            run.stderr.contains("larger than") && run.stderr.contains("bytes the protocol allows"),
            "{}",
            run.stderr
        );
        assert!(peak < 64 * 1024, "peak RSS {peak} kB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escape_injection_regression() {
    let url = hostile("escapes").await;
    let home = Home::new();
    // init: what the server calls recipients is refused before anything is shown.
    let run = home.sealpass(&["init", "--server", &url, "--fingerprint", "sp1-x"], "");
    run.expect(1);
    assert!(run.stderr.contains("not an age recipient"), "{}", run.stderr);
    assert_clean(&run);
    // inbox: ids, labels and times from the server.
    let staff = [("SEALPASS_STAFF_TOKEN", "sps_x"), ("SEALPASS_SERVER", url.as_str())];
    let run = home.sealpass_env(&["inbox"], "", &staff);
    run.expect(0);
    assert!(run.stdout.contains("\\u{1b}[2J"), "shown, not obeyed: {}", run.stdout);
    assert_clean(&run);
    // receive: the server's error message.
    let pickup = format!("{url}/d/abcdefghijklmnopqrstuvwxyz");
    let key = home.keygen("v.key");
    assert!(key.starts_with("age1"));
    let run = home.sealpass_env(&["receive", &pickup, "-i", "v.key", "--reveal"], "", &staff);
    run.expect(4);
    assert_clean(&run);
    // status: who claimed it, and when, as the server tells it.
    let state = home.path("state/sealpass");
    std::fs::create_dir_all(&state).unwrap();
    let record = json!([{
        "server": url, "id": "abcdefghijklmnopqrstuvwxyz", "manage_token": "t", "label": EVIL,
        "kind": "generic", "created_at": "2026-12-01T00:00:00Z", "expires_at": EVIL
    }]);
    home.private_file("state/sealpass/sent.json", &record.to_string());
    let run = home.sealpass(&["status"], "");
    run.expect(0);
    assert!(run.stdout.contains("claimed by"), "{}", run.stdout);
    let warnings = run.stderr.lines().filter(|l| l.trim_start().starts_with("If a name above is not")).count();
    assert_eq!(warnings, 1, "one warning line, not a forged second: {}", run.stderr);
    assert_clean(&run);
}

#[test]
fn envelope_fields_with_bidi_and_zero_width_characters_are_shown_not_obeyed() {
    let home = Home::new();
    let recipient = home.keygen("v.key");
    let note = "invoice\u{202e}fdp.exe\u{2066}\u{200b}";
    let sealed = home.sealpass(
        &[
            "seal",
            "--to",
            &recipient,
            "--kind",
            "generic",
            "--field",
            &format!("label={note}"),
            "--note",
            note,
            "-o",
            "c.age",
        ],
        "Zq7#Lm2$Rv9!Xp4&Tb6^\n",
    );
    sealed.expect(0);
    let opened = home.sealpass(&["open", "-i", "v.key", "c.age"], "");
    opened.expect(0);
    assert!(opened.stdout.contains("\\u{202e}"), "{}", opened.stdout);
    assert_clean(&opened);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_pickup_link_is_refused_but_the_drop_stays_revocable() {
    const ID: &str = "abcdefghijklmnopqrstuvwxyz";
    let app = Router::new().route(
        "/v1/drops",
        post(|| async {
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "id": ID, "manage_token": "m".repeat(43), "expires_at": "2026-12-02T00:00:00Z",
                    "pickup_url": format!("https://evil.example/d/{ID}")
                })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let home = Home::new();
    let recipient = home.keygen("v.key");
    let run = tokio::task::spawn_blocking(move || {
        let run = home.sealpass(&["send", "--server", &url, "--to", &recipient], "Zq8!kR2#mW9$vB4%tN7^\n");
        (home, url, run)
    });
    let (home, url, run) = run.await.unwrap();
    run.expect(1);
    assert!(run.stderr.contains(&format!("revoke it with `sealpass revoke {url}/d/{ID}`")), "{}", run.stderr);
    assert!(!run.stdout.contains("evil.example"), "the refused link is not passed on: {}", run.stdout);
    // The drop is in the record with its manage token, so that revoke can work.
    let record = std::fs::read_to_string(home.path("state/sealpass/sent.json")).unwrap();
    assert!(record.contains(ID) && record.contains(&"m".repeat(43)), "{record}");
}
