//! The hardening issue's attacks, as a measurement: run them against a running `sealpass serve`
//! (or, for the client, serve a hostile answer) and report what the issue asks for. See
//! docs/performance.md for the figures and how they were made.
//!
//! - `siege slow-uploads URL`: 600 uploads announcing 60,000 bytes and sending one, from 20
//!   loopback addresses; reports the slowest of 10 `GET /healthz` meanwhile.
//! - `siege slow-headers URL PID`: 1,000 connections from 20 addresses pushing 390 KB of a head
//!   that never ends; reports the server's RSS before and at its peak.
//! - `siege huge-answer -- COMMAND…`: serves 3 GiB to every request on a free port, runs COMMAND
//!   with `{}` replaced by its URL, and reports the command's exit code and peak RSS.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn connect_from(addr: std::net::SocketAddr, from: [u8; 4]) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").trim_end_matches('/').parse().expect("an http://IP:PORT URL")
}

async fn slow_uploads(url: &str) {
    let target = addr(url);
    for i in 0..600u32 {
        tokio::spawn(async move {
            let Ok(mut s) = connect_from(target, [127, 0, 0, 2 + (i % 20) as u8]).await else { return };
            let head = "POST /v1/drops HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{";
            let _ = s.write_all(head.as_bytes()).await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(120), s.read_to_end(&mut sink)).await;
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 200])).build().unwrap();
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(60), http.get(format!("{url}/healthz")).send()).await;
        let took = started.elapsed();
        worst = worst.max(took);
        println!("healthz: {:?} after {took:?}", answer.map(|r| r.map(|r| r.status().as_u16())));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("600 slow uploads from 20 addresses: slowest healthz {worst:?}");
}

async fn slow_headers(url: &str, pid: u32) {
    let target = addr(url);
    let before = rss_kib(pid, "VmRSS:");
    let chunk = format!("X-Filler: {}\r\n", "a".repeat(4000));
    let mut tasks = Vec::new();
    for t in 0..20u8 {
        for _ in 0..50 {
            let chunk = chunk.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut c) = connect_from(target, [127, 0, 2, 1 + t]).await else { return };
                let _ = c.write_all(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n").await;
                for _ in 0..(390_000 / chunk.len()) {
                    let sent = tokio::time::timeout(Duration::from_secs(2), c.write_all(chunk.as_bytes())).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                // Hold the connection, as the attack does.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }));
        }
    }
    let mut peak = before;
    while tasks.iter().any(|t| !t.is_finished()) {
        peak = peak.max(rss_kib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "1,000 connections with 390 KB of unfinished heads: server RSS {before} kB before, peak {peak} kB, {} kB after",
        rss_kib(pid, "VmRSS:")
    );
}

async fn huge_answer(command: &[String]) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = s.read(&mut head).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3221225472\r\n\r\n",
                    )
                    .await;
                let chunk = vec![b' '; 1 << 20];
                for _ in 0..3072 {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let args: Vec<String> = command.iter().map(|a| a.replace("{}", &url)).collect();
    let mut child = std::process::Command::new(&args[0]).args(&args[1..]).spawn().expect("the command runs");
    let pid = child.id();
    let mut peak = 0;
    let started = Instant::now();
    let status = loop {
        peak = peak.max(rss_kib(pid, "VmHWM:"));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!("against a 3 GiB answer: {status} after {:?}, peak RSS {peak} kB", started.elapsed());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("slow-uploads") => slow_uploads(&args[1]).await,
        Some("slow-headers") => slow_headers(&args[1], args[2].parse().expect("a pid")).await,
        Some("huge-answer") => huge_answer(&args[args.iter().position(|a| a == "--").map_or(1, |i| i + 1)..]).await,
        _ => eprintln!("usage: siege slow-uploads URL | slow-headers URL PID | huge-answer -- COMMAND… ({{}} = URL)"),
    }
}
