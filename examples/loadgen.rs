//! Load generator for the drop server: full create → claim → ack cycles at a fixed concurrency
//! over keep-alive connections, reporting cycles/s, cycle latency percentiles and (with --pid)
//! the server's memory. See docs/performance.md for how the published figures were made:
//!
//! `cargo run --release --example loadgen -- --url http://127.0.0.1:8427 --concurrency 32 --seconds 10`
//!
//! `--peer` runs the same hand-over against a peer's API instead, with the same ciphertext, for
//! `bench/peers.sh`: Cryptgeon (create a one-view note, then read it, which deletes it) and
//! snappass 1.6 from PyPI (its page's form, answered as JSON, then the reveal its page posts,
//! which deletes it). Their hand-over is two
//! requests where ours is three (upload, claim, acknowledge).

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Base URL of a running `sealpass serve`.
    #[arg(long)]
    url: String,
    /// Cycles in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to run (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// File holding a staff bearer token (`sealpass staff-token NAME -o FILE`), when the server
    /// has staff configured: never the token itself on the command line or in the environment.
    #[arg(long, value_name = "FILE")]
    staff_token_file: Option<std::path::PathBuf>,
    /// The token, read from `staff_token_file`.
    #[arg(skip)]
    staff_token: Option<String>,
    /// The server's process id, to report its memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Seal the uploaded ciphertext to a post-quantum key (3.8 KB armored) instead of an X25519
    /// one (1.8 KB, what every figure in docs/performance.md before post-quantum sealing used).
    #[arg(long)]
    post_quantum: bool,
    /// Whose API: sealpass, cryptgeon or snappass.
    #[arg(long, default_value = "sealpass")]
    peer: String,
}

/// POST `body` as JSON, and the JSON answer (an error for a status that is not success).
async fn post_json(http: &reqwest::Client, url: String, body: &serde_json::Value) -> Result<serde_json::Value, String> {
    let response = http.post(url).json(body).send().await.map_err(|e| e.to_string())?;
    let response = response.error_for_status().map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

/// Send `request` and read its whole answer; an error for a status that is not success.
async fn drain(request: reqwest::RequestBuilder, what: &str) -> Result<(), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{what}: {status}"));
    }
    Ok(())
}

/// One hand-over on a peer: store the ciphertext for one reader, then read it once.
async fn peer_cycle(http: &reqwest::Client, args: &Args, ciphertext: &str) -> Result<(), String> {
    match args.peer.as_str() {
        "cryptgeon" => {
            let note = json!({"meta": "{}", "contents": ciphertext, "views": 1});
            let created = post_json(http, format!("{}/api/notes/", args.url), &note).await?;
            let id = created["id"].as_str().ok_or("no id")?;
            drain(http.delete(format!("{}/api/notes/{id}", args.url)), "read").await
        }
        "snappass" => {
            // snappass 1.6 (PyPI): the form its page posts, answered as JSON when asked.
            let form = format!(
                "password={}&ttl=hour",
                url::form_urlencoded::byte_serialize(ciphertext.as_bytes()).collect::<String>()
            );
            let created: serde_json::Value = http
                .post(format!("{}/", args.url))
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(form)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .error_for_status()
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let link = created["link"].as_str().ok_or("no link")?;
            // Reading it: the POST its "reveal" button makes, which deletes it.
            drain(http.post(link), "read").await
        }
        other => Err(format!("unknown peer {other}: sealpass, cryptgeon or snappass")),
    }
}

fn rss(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).map(|l| l[name.len()..].trim().to_owned());
    format!("RSS {} (peak {})", field("VmRSS:").unwrap_or_default(), field("VmHWM:").unwrap_or_default())
}

async fn cycle(http: &reqwest::Client, args: &Args, body: &serde_json::Value) -> Result<(), String> {
    if args.peer != "sealpass" {
        return peer_cycle(http, args, body["ciphertext"].as_str().unwrap_or_default()).await;
    }
    let created = post_json(http, format!("{}/v1/drops", args.url), body).await?;
    let id = created["id"].as_str().ok_or("no id")?;
    for step in ["claim", "ack"] {
        let mut request = http.post(format!("{}/v1/drops/{id}/{step}", args.url));
        if let Some(token) = &args.staff_token {
            request = request.bearer_auth(token);
        }
        drain(request, step).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if let Some(path) = &args.staff_token_file {
        let text = std::fs::read_to_string(path).expect("the staff token file is readable");
        args.staff_token = Some(text.trim().to_owned());
    }
    let args = std::sync::Arc::new(args);
    let (_, recipient) = if args.post_quantum {
        sealpass_core::crypto::generate_identity("loadgen")
    } else {
        sealpass_core::crypto::generate_classic_identity("loadgen")
    };
    // A ciphertext the size of a real envelope (1024 bytes padded), armored.
    let ciphertext = sealpass_core::crypto::seal(&[b' '; 1024], &[recipient]).expect("seal");
    let body = std::sync::Arc::new(json!({"ciphertext": ciphertext, "ttl_seconds": 3600}));
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build().expect("client");
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, args, body) = (http.clone(), args.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let result = cycle(&http, &args, &body).await;
                if started >= warmup {
                    match result {
                        Ok(()) => latencies.push(started.elapsed().as_micros() as u64),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("error: {e}");
                            }
                            errors += 1;
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (l, e) = w.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{} {} cycles in {} s at concurrency {}: {:.0} cycles/s ({:.0} requests/s); cycle latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} errors",
        args.peer,
        all.len(),
        args.seconds,
        args.concurrency,
        all.len() as f64 / args.seconds as f64,
        if args.peer == "sealpass" { 3.0 } else { 2.0 } * all.len() as f64 / args.seconds as f64,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        errors
    );
    if let Some(pid) = args.pid {
        println!("server {}", rss(pid));
    }
}
