//! Regression tests for the hardening issue that need the real `sealpass serve` process: its
//! memory under a flood of slow heads, shutdown with a half-sent request, fsync per answered
//! upload (seen with strace), a full disk (a small tmpfs), Redis's durability warning and
//! outage, and what the SQLite file holds after a soak.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::Home;
use crate::redis_support::Redis;
use crate::serve_cli::Served;
use crate::server_support::{TestServer, call, is_error, raise_fd_limit};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

fn recipients_config(home: &Home, extra: &str) -> &'static str {
    let (_, recipient) = sealpass_core::crypto::generate_identity("test");
    std::fs::write(home.path("server.toml"), format!("recipients = [\"{recipient}\"]\n{extra}\n")).unwrap();
    "server.toml"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_flood_memory_regression() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raise_fd_limit();
    let home = Home::new();
    let config = recipients_config(&home, "");
    let server = Served::start(&home, &["--config", config], &[]);
    let target = addr(&server.url);
    let pid = server.child.id();
    let before = rss_kib(pid);
    // 1,000 connections from 20 addresses, each pushing 390 KB of a head that never ends.
    let chunk = format!("X-Filler: {}\r\n", "a".repeat(4000));
    let mut tasks = Vec::new();
    for t in 0..20u8 {
        for _ in 0..50 {
            let chunk = chunk.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = crate::server_support::connect_from(target, [127, 0, 2, 1 + t]).await;
                let _ = c.write_all(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n").await;
                for _ in 0..(390_000 / chunk.len()) {
                    let sent = tokio::time::timeout(Duration::from_millis(500), c.write_all(chunk.as_bytes())).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                }
                let mut answer = Vec::new();
                // Generous: on a loaded 2-core machine 1,000 answers can take a while.
                let closed = tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut answer)).await;
                // 431 once the head is too large; on a loaded machine the head timeout may come
                // first and the server just closes. Either way it refused the head and let go.
                answer.starts_with(b"HTTP/1.1 431") || (answer.is_empty() && matches!(closed, Ok(Ok(_))))
            }));
        }
    }
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watch = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut refused = 0;
    for t in tasks {
        refused += usize::from(t.await.unwrap());
    }
    watch.abort();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("slow-header flood: server RSS {before} kB before, peak {peak} kB under 1,000 connections");
    assert!(refused > 900, "{refused} of 1000 heads were refused (431, or closed at the head timeout)");
    assert!(peak < before + 100 * 1024, "RSS grew from {before} to {peak} kB");
    // It still serves.
    let mut c = TcpStream::connect(target).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn shutdown_hangs_on_a_half_sent_request_regression() {
    let home = Home::new();
    let config = recipients_config(&home, "");
    let mut server = Served::start(&home, &["--config", config], &[]);
    let mut half = TcpStream::connect(addr(&server.url)).unwrap();
    half.write_all(b"POST /v1/drops HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut idle = TcpStream::connect(addr(&server.url)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "still running {:?} after SIGTERM", started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines strace printed for fsync/fdatasync on the WAL while `act` ran.
fn wal_syncs_during(home: &Home, extra: &str, act: impl FnOnce(&str)) -> usize {
    let config = recipients_config(home, extra);
    let store = format!("sqlite://{}", home.path("drops.db").display());
    let trace = home.path("strace.txt");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o"]).arg(&trace);
    cmd.arg(env!("CARGO_BIN_EXE_sealpass"));
    let server = Served::start_with(home, cmd, &["--config", config, "--store", &store], &[]);
    std::thread::sleep(Duration::from_millis(300));
    let before = std::fs::read_to_string(&trace).unwrap_or_default().matches("drops.db-wal").count();
    act(&server.url);
    std::thread::sleep(Duration::from_millis(300));
    let after = std::fs::read_to_string(&trace).unwrap_or_default().matches("drops.db-wal").count();
    after - before
}

#[test]
fn answered_uploads_are_fsynced_regression() {
    let upload = |url: &str| {
        let (_, recipient) = sealpass_core::crypto::generate_identity("t");
        let body = json!({"ciphertext": sealpass_core::crypto::seal(&[b' '; 1024], &[recipient]).unwrap()}).to_string();
        for _ in 0..5 {
            let mut c = TcpStream::connect(addr(url)).unwrap();
            let head = format!(
                "POST /v1/drops HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            c.write_all(head.as_bytes()).unwrap();
            c.write_all(body.as_bytes()).unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        }
    };
    let durable = wal_syncs_during(&Home::new(), "", upload);
    assert!(durable >= 5, "each answered upload is fsynced to the WAL: {durable} syncs for 5 uploads");
    let relaxed = wal_syncs_during(&Home::new(), "sqlite_synchronous = \"normal\"", upload);
    eprintln!("WAL syncs for 5 uploads: {durable} with synchronous=full, {relaxed} with normal");
    assert!(relaxed <= 1, "the opt-in weaker mode does not sync per commit: {relaxed}");
}

/// A small tmpfs, unmounted when dropped. Mounting needs root, as the tests run in CI.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (the test needs root, as in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_fails_everything_regression() {
    let fs = Tmpfs::mount("24m");
    let db = fs.dir.path().join("drops.db");
    let s = TestServer::start(|s| {
        s.store = sealpass_server::config::StoreUrl::Sqlite(db.clone());
        s.min_free_bytes = 8 << 20;
    })
    .await;
    let (waiting, _) = s.upload().await;
    let (claimed, _) = s.upload().await;
    let (revocable, token) = s.upload().await;
    assert_eq!(call(s.staff(Method::POST, &format!("/v1/drops/{claimed}/claim"), "alice")).await.0, StatusCode::OK);
    // Fill the file system until less than the 8 MiB floor is left (4 MiB).
    let filler = fs.dir.path().join("filler");
    let free = rustix::fs::statvfs(fs.dir.path()).map(|s| s.f_bavail * s.f_frsize).unwrap();
    std::fs::write(&filler, vec![0u8; (free - (4 << 20)) as usize]).unwrap();
    let answer = call(s.req(Method::POST, "/v1/drops").json(&json!({"ciphertext": s.ciphertext()}))).await;
    is_error(&answer, StatusCode::SERVICE_UNAVAILABLE, "storage_full");
    is_error(&call(s.req(Method::GET, "/readyz")).await, StatusCode::SERVICE_UNAVAILABLE, "storage_full");
    let request = s.staff(Method::POST, "/v1/requests", "bob").json(&json!({"label": "x", "kind": "generic"}));
    is_error(&call(request).await, StatusCode::SERVICE_UNAVAILABLE, "storage_full");
    // What waits can still be received and revoked.
    assert_eq!(call(s.staff(Method::POST, &format!("/v1/drops/{waiting}/claim"), "bob")).await.0, StatusCode::OK);
    assert_eq!(call(s.staff(Method::POST, &format!("/v1/drops/{waiting}/ack"), "bob")).await.0, StatusCode::OK);
    assert_eq!(call(s.staff(Method::POST, &format!("/v1/drops/{claimed}/ack"), "alice")).await.0, StatusCode::OK);
    let revoke = s.req(Method::DELETE, &format!("/v1/drops/{revocable}")).bearer_auth(&token);
    assert_eq!(call(revoke).await.0, StatusCode::OK);
    // Space comes back: uploads resume without a restart.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(call(s.req(Method::GET, "/readyz")).await.0, StatusCode::OK);
    s.upload().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_drop_keeps_its_page_regression() {
    // A soak: 20,000 hand-overs straight through the store, then a sweep. The file must hold
    // tombstones, not a page per drop.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drops.db");
    let store = std::sync::Arc::new(sealpass_server::store::sqlite::SqliteStore::open(&path).unwrap());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ciphertext = "x".repeat(1800);
    let n = 20_000;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (store, ciphertext) = (store.clone(), ciphertext.clone());
        tasks.push(tokio::spawn(async move {
            use sealpass_server::store::{NewDrop, Origin, Store};
            for i in (t..n).step_by(16) {
                let id = format!("soak{i:022}");
                let drop = NewDrop {
                    id: id.clone(),
                    manage_hash: [1; 32],
                    ciphertext: ciphertext.clone(),
                    created_at: now,
                    expires_at: now + 600,
                    request_id: None,
                };
                store.create_drop(drop, &Origin::at(now)).await.unwrap();
                store.claim(&id, "alice", &Origin::at(now)).await.unwrap();
                store.ack(&id, "alice", &Origin::at(now)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    use sealpass_server::store::Store;
    store.sweep(now).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let size: u64 = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    let per_drop = size / n as u64;
    eprintln!("soak: {n} received drops, {size} bytes on disk, {per_drop} bytes a drop");
    // What stays: the tombstone (~250 bytes) and the drop's three audit entries (created,
    // claimed, received: ~240 bytes each), which are kept for good. A wiped drop's ciphertext
    // page left behind would add 1 KiB or more.
    assert!(per_drop < 1200, "{per_drop} bytes a received drop (tombstone and audit entries should be ~960)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_always_fsync_is_warned_about() {
    let redis = Redis::start_with(true, "everysec");
    let home = Home::new();
    let config = recipients_config(&home, "");
    let server = Served::start(&home, &["--config", config, "--store", &redis.url()], &[]);
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(log.contains("appendfsync everysec") && log.contains("two staff members"), "{log}");
    let always = Redis::start(true);
    let quiet = Served::start(&home, &["--config", config, "--store", &always.url()], &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!quiet.log().contains("appendfsync"), "{}", quiet.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_makes_every_request_wait_regression() {
    let mut redis = Redis::start(true);
    let url = redis.url();
    let s = TestServer::start(|c| c.store = sealpass_server::config::StoreUrl::Redis(url.clone())).await;
    let (id, token) = s.upload().await;
    redis.kill();
    // The first call finds it down; every call after that is answered at once.
    let _ = call(s.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&token)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let answer = call(s.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&token)).await;
        is_error(&answer, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
        worst = worst.max(started.elapsed());
    }
    eprintln!("redis down: slowest 503 took {worst:?}");
    assert!(worst < Duration::from_millis(100), "a 503 took {worst:?}");
    redis.restart();
    let started = Instant::now();
    while call(s.req(Method::GET, "/readyz")).await.0 != StatusCode::OK {
        assert!(started.elapsed() < Duration::from_secs(5), "not back within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(call(s.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&token)).await.0, StatusCode::OK);
    s.stop().await;
}
