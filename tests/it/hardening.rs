//! Regression tests for the hardening issue, against a real server on loopback through real
//! sockets: slow bodies and heads, idle and flooding connections, hyper's own error answers,
//! proxies in front of an open server, TTL rounding, acknowledgement after expiry, the WAL, the
//! flooded inbox. Each is named after the attack or fault it pins.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server_support::{TestServer, call, connect_from, is_error, raise_fd_limit, raw};

/// Whether the server closed `stream` within `within` (a read returns end-of-file or an error).
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_uploads_stall_every_route_regression() {
    raise_fd_limit();
    // Production limits (per-address caps on), a short body timeout to keep the test quick.
    let s = TestServer::start(|s| {
        s.max_requests_per_ip = 16;
        s.connections.max_connections_per_ip = 64;
        s.body_timeout = Duration::from_secs(3);
    })
    .await;
    let addr = s.addr();
    // 600 uploads announcing 60,000 bytes and sending one, from 20 addresses.
    let mut slow = Vec::new();
    for i in 0..600u32 {
        slow.push(tokio::spawn(async move {
            let mut stream = connect_from(addr, [127, 0, 0, 2 + (i % 20) as u8]).await;
            let head = "POST /v1/drops HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{";
            stream.write_all(head.as_bytes()).await.unwrap();
            let started = Instant::now();
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
            let text = String::from_utf8_lossy(&answer).into_owned();
            (text.get(9..12).unwrap_or("---").to_owned(), started.elapsed(), text.contains("\"error\""))
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Health answers at once, and a real upload from another address goes through.
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let (status, _) = call(s.req(Method::GET, "/healthz")).await;
        assert_eq!(status, StatusCode::OK);
        worst = worst.max(started.elapsed());
    }
    assert!(worst < Duration::from_millis(500), "healthz took {worst:?} under 600 slow uploads");
    let started = Instant::now();
    let http = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 100])).build().unwrap();
    let body = json!({"ciphertext": s.ciphertext(), "ttl_seconds": 600});
    let created = http.post(format!("{}/v1/drops", s.url)).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(started.elapsed() < Duration::from_secs(2), "an upload took {:?}", started.elapsed());
    eprintln!("slow uploads: healthz worst {worst:?}, a real upload {:?}", started.elapsed());
    // Every slow upload is answered: 429 beyond 16 in flight per address, 408 when its body
    // does not arrive in time; JSON either way, and none held on past the body timeout.
    let (mut timed_out, mut refused) = (0, 0);
    for task in slow {
        let (status, took, json) = task.await.unwrap();
        match status.as_str() {
            "408" => timed_out += 1,
            "429" => refused += 1,
            other => panic!("a slow upload got {other}"),
        }
        assert!(json, "{status} carries a JSON error");
        assert!(took < Duration::from_secs(8), "{status} after {took:?}");
    }
    assert_eq!(timed_out, 20 * 16, "16 in flight from each of 20 addresses waited for their bodies");
    assert_eq!(refused, 600 - 20 * 16);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_header_timeout_idle_timeout_or_connection_cap_regression() {
    raise_fd_limit();
    let s = TestServer::start(|s| {
        s.connections.header_timeout = Duration::from_secs(1);
        s.connections.idle_timeout = Duration::from_secs(2);
        s.connections.max_connections_per_ip = 5;
    })
    .await;
    let addr = s.addr();
    // An idle connection is closed after the idle timeout.
    let mut idle = connect_from(addr, [127, 0, 1, 1]).await;
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await, "idle connection still open");
    assert!(started.elapsed() >= Duration::from_millis(1900), "closed early: {:?}", started.elapsed());
    // A head sent a line at a time is closed after the header timeout, however busy it looks.
    let mut slow = connect_from(addr, [127, 0, 1, 2]).await;
    slow.write_all(b"POST /v1/drops HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(format!("X-Slow-{i}: x\r\n").as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(6), trickle).await;
    assert!(closed_within(&mut slow, Duration::from_secs(1)).await, "trickled head still open");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    // At most 5 connections from one address; the sixth is closed at once, another address is not.
    let mut five = Vec::new();
    for _ in 0..5 {
        five.push(connect_from(addr, [127, 0, 1, 3]).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut sixth = connect_from(addr, [127, 0, 1, 3]).await;
    assert!(closed_within(&mut sixth, Duration::from_millis(500)).await, "a sixth connection was kept");
    let mut other = connect_from(addr, [127, 0, 1, 4]).await;
    other.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 12];
    other.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    drop(five);
    s.stop().await;
}

#[tokio::test]
async fn malformed_heads_get_json_errors_regression() {
    let s = TestServer::start(|s| s.connections.max_header_bytes = 1024 * 1024).await;
    let small = TestServer::start(|_| {}).await;
    let within = Duration::from_secs(5);
    // A head over the limit: 431 with our JSON body.
    let big = format!("GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let (status, body) = raw(small.addr(), big.as_bytes(), within).await;
    assert_eq!(status, 431);
    assert_eq!(body.unwrap()["error"], "headers_too_large");
    // A URL over hyper's limit, within a generous head limit: 414.
    let long = format!("GET /v1/info?{} HTTP/1.1\r\nHost: x\r\n\r\n", "q".repeat(70_000));
    let (status, body) = raw(s.addr(), long.as_bytes(), within).await;
    assert_eq!(status, 414);
    assert_eq!(body.unwrap()["error"], "uri_too_long");
    // A path of 100 KB on a server with the default head limit: 414 too, not 431.
    let path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(100_000));
    let (status, body) = raw(small.addr(), path.as_bytes(), within).await;
    assert_eq!(status, 414, "a URL too long is 414");
    assert_eq!(body.unwrap()["error"], "uri_too_long");
    // Conflicting Content-Length headers: 400.
    let dup = "POST /v1/drops HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}";
    let (status, body) = raw(small.addr(), dup.as_bytes(), within).await;
    assert_eq!(status, 400);
    assert_eq!(body.unwrap()["error"], "bad_request");
    // A garbled request line: 400, JSON.
    let (status, body) = raw(small.addr(), b"GET\x01 / HTTP/1.1\r\n\r\n", within).await;
    assert_eq!(status, 400);
    assert!(body.is_some());
    s.stop().await;
    small.stop().await;
}

#[tokio::test]
async fn open_server_reached_through_a_proxy_regression() {
    // No staff and no --insecure-open-claims: staff calls are refused for everyone, proxy headers
    // or not (a plain proxy_pass adds none, so headers cannot tell a local call).
    let s = TestServer::start(|s| s.staff.clear()).await;
    let (id, _) = s.upload().await;
    let through_proxy = s.req(Method::POST, &format!("/v1/drops/{id}/claim")).header("X-Forwarded-For", "203.0.113.7");
    is_error(&call(through_proxy).await, StatusCode::FORBIDDEN, "open_claims_refused");
    let plain_proxy = s.req(Method::POST, &format!("/v1/drops/{id}/claim"));
    is_error(&call(plain_proxy).await, StatusCode::FORBIDDEN, "open_claims_refused");
    for (method, path) in [
        (Method::GET, "/v1/drops".to_owned()),
        (Method::GET, "/v1/audit".into()),
        (Method::POST, format!("/v1/drops/{id}/ack")),
    ] {
        is_error(&call(s.req(method, &path)).await, StatusCode::FORBIDDEN, "open_claims_refused");
    }
    s.stop().await;
    // With the flag (tests, the demo), anyone is staff, whatever the headers.
    let open = TestServer::start(|s| {
        s.staff.clear();
        s.insecure_open_claims = true;
    })
    .await;
    let (id, _) = open.upload().await;
    let forwarded = open.req(Method::POST, &format!("/v1/drops/{id}/claim")).header("X-Forwarded-For", "203.0.113.7");
    let (status, claimed) = call(forwarded).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    open.stop().await;
}

#[tokio::test]
async fn short_ttls_expire_early_regression() {
    let s = TestServer::start(|_| {}).await;
    let started = std::time::SystemTime::now();
    let body = json!({"ciphertext": s.ciphertext(), "ttl_seconds": 2});
    let (status, v) = call(s.req(Method::POST, "/v1/drops").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let expires =
        time::OffsetDateTime::parse(v["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let asked = time::OffsetDateTime::from(started) + time::Duration::seconds(2);
    assert!(expires >= asked, "expires {expires} before the 2 s asked for ({asked})");
    // Still there 1.9 s on.
    let id = v["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1900).saturating_sub(started.elapsed().unwrap())).await;
    let (status, _) = call(s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
    assert_eq!(status, StatusCode::OK, "claimable before its TTL is up");
    s.stop().await;
}

#[tokio::test]
async fn a_claimed_drop_that_expired_is_not_acknowledged_regression() {
    let s = TestServer::start(|_| {}).await;
    let body = json!({"ciphertext": s.ciphertext(), "ttl_seconds": 1});
    let (_, v) = call(s.req(Method::POST, "/v1/drops").json(&body)).await;
    let id = v["id"].as_str().unwrap();
    let (status, _) = call(s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    is_error(&call(s.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "alice")).await, StatusCode::GONE, "expired");
    let (_, state) = call(s.staff(Method::GET, &format!("/v1/drops/{id}"), "alice")).await;
    assert_eq!(state["state"], "expired");
    s.stop().await;
}

/// Every armored line of `ciphertext` (but the fixed first and last) found in any file of `dir`.
fn armor_hits(dir: &std::path::Path, ciphertexts: &[String]) -> Vec<(String, usize)> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = ciphertexts
            .iter()
            .flat_map(|c| c.lines().filter(|l| l.len() == 64))
            .filter(|line| bytes.windows(line.len()).any(|w| w == line.as_bytes()))
            .count();
        if found > 0 {
            hits.push((path.file_name().unwrap().to_string_lossy().into_owned(), found));
        }
    }
    hits
}

#[tokio::test]
async fn wiped_ciphertext_stays_in_the_wal_regression() {
    let s = TestServer::start(|s| s.sweep_interval = Duration::from_secs(1)).await;
    let (mut gone, mut waiting) = (Vec::new(), Vec::new());
    for n in 0..12 {
        let ciphertext = s.ciphertext();
        let ttl = if n % 4 == 3 { 1 } else { 600 };
        let (_, v) =
            call(s.req(Method::POST, "/v1/drops").json(&json!({"ciphertext": ciphertext, "ttl_seconds": ttl}))).await;
        let (id, token) = (v["id"].as_str().unwrap().to_owned(), v["manage_token"].as_str().unwrap().to_owned());
        match n % 4 {
            0 => {
                call(s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
                call(s.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "alice")).await;
                gone.push(ciphertext);
            }
            1 => {
                call(s.req(Method::DELETE, &format!("/v1/drops/{id}")).bearer_auth(token)).await;
                gone.push(ciphertext);
            }
            2 => waiting.push(ciphertext),
            _ => gone.push(ciphertext),
        }
    }
    assert!(!armor_hits(s.dir(), &waiting).is_empty(), "the grep finds what is stored");
    // Expiry (1 s), the sweep (every second), then the WAL truncation that follows a wipe.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let hits = armor_hits(s.dir(), &gone);
    assert!(hits.is_empty(), "wiped ciphertext still on disk: {hits:?}");
    assert!(!armor_hits(s.dir(), &waiting).is_empty(), "what waits is kept");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_flooding_regression() {
    let s = TestServer::start(|_| {}).await;
    let ciphertext = s.ciphertext();
    let body = json!({"ciphertext": ciphertext, "ttl_seconds": 600});
    let mut uploads = Vec::new();
    for _ in 0..1000 {
        let request = s.req(Method::POST, "/v1/drops").json(&body);
        uploads.push(tokio::spawn(async move { call(request).await.0 }));
    }
    for u in uploads {
        assert_eq!(u.await.unwrap(), StatusCode::CREATED);
    }
    // A request answered after the flood.
    let (_, req) =
        call(s.staff(Method::POST, "/v1/requests", "bob").json(&json!({"label": "Acme", "kind": "generic"}))).await;
    let request_id = req["id"].as_str().unwrap().to_owned();
    let upload = json!({"ciphertext": ciphertext, "request_id": request_id});
    let token = req["upload_token"].as_str().unwrap();
    assert_eq!(call(s.req(Method::POST, "/v1/drops").bearer_auth(token).json(&upload)).await.0, StatusCode::CREATED);
    let (_, page) = call(s.staff(Method::GET, "/v1/drops?state=waiting", "alice")).await;
    assert_eq!(page["drops"][0]["id"], request_id.as_str(), "the requested drop comes first");
    assert_eq!(page["drops"][0]["label"], "Acme");
    assert_eq!(page["drops"].as_array().unwrap().len(), 100, "a page");
    // Following the pages lists every drop once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/drops?state=waiting&limit=500&cursor={c}"),
            None => "/v1/drops?state=waiting&limit=500".to_owned(),
        };
        let (status, page) = call(s.staff(Method::GET, &path, "alice")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for d in page["drops"].as_array().unwrap() {
            assert!(seen.insert(d["id"].as_str().unwrap().to_owned()), "listed twice");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1001);
    is_error(&call(s.staff(Method::GET, "/v1/drops?cursor=zzz", "alice")).await, StatusCode::BAD_REQUEST, "bad_cursor");
    is_error(
        &call(s.staff(Method::GET, "/v1/drops?limit=100000", "alice")).await,
        StatusCode::BAD_REQUEST,
        "bad_limit",
    );
    s.stop().await;
}
