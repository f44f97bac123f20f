//! Events (SPEC §10) against real servers on SQLite and Redis and a real HTTP receiver on
//! loopback: every event arrives signed and in order, a failing receiver gets it on the third
//! try, `kill -9` loses nothing queued, a stuck receiver does not slow claims, `audit verify`
//! catches an edit made in the store itself, and receipts verify offline while edited ones do not.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sealpass_server::config::{StoreUrl, Webhook};
use serde_json::{Value, json};

use crate::helpers::Home;
use crate::redis_support::Redis;
use crate::server_support::{TestServer, call, staff_token};

pub const SECRET: &str = "whsec_0123456789abcdef0123456789";

/// One delivery as the receiver got it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub signature: String,
    pub id: String,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1:0: records every request; fails the first `fail` with 500,
/// and hangs every request while `hang` is set.
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Delivery>>>,
    pub fail: Arc<AtomicUsize>,
    pub hang: Arc<AtomicBool>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let mut receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    state.got.lock().unwrap().push(Delivery {
                        signature: header("sealpass-signature"),
                        id: header("sealpass-delivery"),
                        body: body.to_vec(),
                        at: Instant::now(),
                    });
                    if state.hang.load(Ordering::Acquire) {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let failing = state.fail.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
                    if failing.is_ok() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until `n` deliveries arrived (or fail after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.deliveries();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "only {} of {n} deliveries within {within:?}: {got:?}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every delivery is signed with [`SECRET`] over its exact body.
#[track_caller]
pub fn assert_signed(deliveries: &[Delivery]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for d in deliveries {
        sealpass_core::webhook::verify(SECRET.as_bytes(), &d.signature, &d.body, now).unwrap();
        assert_eq!(d.json()["id"], d.id.as_str(), "the header's delivery id is the body's");
        let mut forged = d.body.clone();
        forged[5] ^= 1;
        assert!(sealpass_core::webhook::verify(SECRET.as_bytes(), &d.signature, &forged, now).is_err());
    }
}

/// A webhook to `receiver` for every event.
fn hook(receiver: &Receiver, dir: &std::path::Path) -> Webhook {
    let secret = dir.join("hook.secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config = format!(
        "recipients = [\"{}\"]\n[[webhooks]]\nname = \"hooks\"\nurl = \"{}\"\nsecret_file = \"{}\"\n",
        sealpass_core::crypto::generate_identity("t").1,
        receiver.url,
        secret.display()
    );
    std::fs::write(dir.join("hooks.toml"), config).unwrap();
    let settings =
        sealpass_server::config::ServerSettings::load(Default::default(), Some(&dir.join("hooks.toml"))).unwrap();
    settings.webhooks[0].clone()
}

async fn server(store: StoreUrl, hooks: Vec<Webhook>) -> TestServer {
    TestServer::start(move |s| {
        s.store = store;
        s.webhooks = hooks;
    })
    .await
}

/// A request, its upload, claim and receipt, and an anonymous drop revoked: seven events.
/// Returns when each API call answered, the request's drop id and manage token.
async fn hand_over(server: &TestServer) -> (Vec<Instant>, String, String) {
    let mut answered = Vec::new();
    let (status, created) = call(
        server
            .staff(Method::POST, "/v1/requests", "alice")
            .json(&json!({"label": "Acme prod", "kind": "salesforce-password"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    answered.push(Instant::now());
    let (id, upload) =
        (created["id"].as_str().unwrap().to_owned(), created["upload_token"].as_str().unwrap().to_owned());
    let body = json!({"ciphertext": server.ciphertext(), "request_id": id});
    let (status, drop) = call(server.req(Method::POST, "/v1/drops").bearer_auth(&upload).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{drop}");
    answered.extend([Instant::now(), Instant::now()]);
    let manage = drop["manage_token"].as_str().unwrap().to_owned();
    // Claimed, given back (drop.released), claimed again.
    for step in ["claim", "release", "claim"] {
        let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/{step}"), "bob")).await;
        assert_eq!(status, StatusCode::OK, "{step}");
        answered.push(Instant::now());
    }
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "bob")).await;
    assert_eq!(status, StatusCode::OK);
    answered.push(Instant::now());
    let (other, other_token) = server.upload().await;
    answered.push(Instant::now());
    let (status, _) = call(server.req(Method::DELETE, &format!("/v1/drops/{other}")).bearer_auth(&other_token)).await;
    assert_eq!(status, StatusCode::OK);
    answered.push(Instant::now());
    // A request sent to the wrong person, cancelled.
    let body = json!({"label": "Wrong person", "kind": "generic"});
    let (status, wrong) = call(server.staff(Method::POST, "/v1/requests", "alice").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED);
    answered.push(Instant::now());
    let wrong = wrong["id"].as_str().unwrap();
    let (status, _) = call(server.staff(Method::DELETE, &format!("/v1/requests/{wrong}"), "alice")).await;
    assert_eq!(status, StatusCode::OK);
    answered.push(Instant::now());
    (answered, id, manage)
}

const KINDS: [&str; 11] = [
    "request.created",
    "drop.created",
    "request.fulfilled",
    "drop.claimed",
    "drop.released",
    "drop.claimed",
    "drop.received",
    "drop.created",
    "drop.revoked",
    "request.created",
    "request.cancelled",
];

async fn every_event_arrives(store: StoreUrl) {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(store, vec![hook(&receiver, dir.path())]).await;
    let (answered, id, manage) = hand_over(&server).await;
    let got = receiver.wait_for(KINDS.len(), Duration::from_secs(10)).await;
    assert_signed(&got);
    let kinds: Vec<String> = got.iter().map(|d| d.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, KINDS, "every event, in order");
    let ids: HashSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), KINDS.len(), "a delivery id each");
    let mut lateness = Vec::new();
    for (d, answered) in got.iter().zip(&answered) {
        let late = d.at.saturating_duration_since(*answered);
        assert!(late < Duration::from_secs(1), "{} arrived {late:?} after its change", d.json()["type"]);
        lateness.push(late);
    }
    eprintln!("delivery after the change's answer: {lateness:?}");
    let received = got[6].json();
    assert_eq!(received["event"]["actor"], json!({"type": "staff", "name": "bob"}));
    assert_eq!(received["event"]["label"], "Acme prod");
    assert_eq!(received["event"]["client"], "127.0.0.1");
    for d in &got {
        let text = String::from_utf8_lossy(&d.body);
        assert!(!text.contains(&manage) && !text.contains("BEGIN AGE"), "no token or ciphertext: {text}");
    }

    // The log holds the same events, chained; staff see its head.
    let (status, page) = call(server.staff(Method::GET, "/v1/audit", "carol")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let page: sealpass_core::api::AuditPage = serde_json::from_value(page).unwrap();
    assert_eq!(page.head.length, KINDS.len() as u64);
    assert_eq!(
        sealpass_core::audit::verify_records(&sealpass_core::audit::Head::empty(), &page.entries).unwrap(),
        page.head
    );
    assert_eq!(page.entries[6].hash, received["audit"]["hash"].as_str().unwrap());
    let (status, _) = call(server.req(Method::GET, "/v1/audit").bearer_auth(&manage)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the audit log is for staff");

    // The sender's receipt: signed by the key /v1/info publishes, naming the receipt's entry.
    let (_, info) = call(server.req(Method::GET, "/v1/info")).await;
    let key = info["receipt_key"].as_str().unwrap().to_owned();
    assert!(info["fingerprint"].as_str().unwrap().starts_with("sp3-"));
    let (status, value) = call(server.req(Method::GET, &format!("/v1/drops/{id}/receipt")).bearer_auth(&manage)).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    let receipt: sealpass_core::receipt::Receipt = serde_json::from_value(value).unwrap();
    sealpass_core::receipt::verify(&receipt, Some(&key)).unwrap();
    assert_eq!((receipt.claims.received_by.as_str(), receipt.claims.audit_seq), ("bob", 7));
    assert_eq!(receipt.claims.label.as_deref(), Some("Acme prod"));
    let mut edited = receipt.clone();
    edited.claims.received_by = "mallory".into();
    assert!(sealpass_core::receipt::verify(&edited, Some(&key)).is_err());
    let (status, _) = call(server.req(Method::GET, &format!("/v1/drops/{id}/receipt")).bearer_auth("nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (other, other_token) = server.upload().await;
    let not_yet = call(server.req(Method::GET, &format!("/v1/drops/{other}/receipt")).bearer_auth(&other_token)).await;
    crate::server_support::is_error(&not_yet, StatusCode::CONFLICT, "not_received");

    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"sealpass_webhook_deliveries_total{webhook="hooks",result="delivered"} 11"#),
        "{metrics}"
    );
    assert!(metrics.contains("sealpass_audit_chain_length"), "{metrics}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_signed_and_in_order_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    every_event_arrives(StoreUrl::Sqlite(dir.path().join("drops.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_signed_and_in_order_on_redis() {
    let redis = Redis::start(false);
    every_event_arrives(StoreUrl::Redis(redis.url())).await;
}

async fn third_try(store: StoreUrl) {
    let receiver = Receiver::start().await;
    receiver.fail.store(2, Ordering::Release);
    let dir = tempfile::tempdir().unwrap();
    let server = server(store, vec![hook(&receiver, dir.path())]).await;
    let (status, _) = call(
        server
            .staff(Method::POST, "/v1/requests", "alice")
            .json(&json!({"label": "Acme", "kind": "salesforce-password"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_signed(&got);
    assert!(got.iter().all(|d| d.id == got[0].id && d.json()["event"] == got[0].json()["event"]), "the same delivery");
    let gaps = [got[1].at - got[0].at, got[2].at - got[1].at];
    assert!(gaps[0] >= Duration::from_millis(400) && gaps[1] >= Duration::from_millis(900), "backing off: {gaps:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.deliveries().len(), 3, "delivered once it answered 2xx");
    let metrics = server.metrics().await;
    assert!(metrics.contains(r#"webhook="hooks",result="retried"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"webhook="hooks",result="delivered"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"sealpass_webhook_queue_depth{webhook="hooks"} 0"#), "{metrics}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_try_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    third_try(StoreUrl::Sqlite(dir.path().join("drops.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_try_redis() {
    let redis = Redis::start(false);
    third_try(StoreUrl::Redis(redis.url())).await;
}

/// The median of `n` claim latencies on `server` (each on a fresh drop).
async fn median_claim(server: &TestServer, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let (id, _) = server.upload().await;
        let started = Instant::now();
        let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
        times.push(started.elapsed());
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "alice")).await;
        assert_eq!(status, StatusCode::OK);
    }
    times.sort();
    times[n / 2]
}

/// Claims on a server whose only webhook never answers, against one without webhooks.
async fn a_hanging_receiver_does_not_slow(stores: [StoreUrl; 2]) {
    let receiver = Receiver::start().await;
    receiver.hang.store(true, Ordering::Release);
    let dir = tempfile::tempdir().unwrap();
    let [stuck_store, plain_store] = stores;
    let stuck = server(stuck_store, vec![hook(&receiver, dir.path())]).await;
    let plain = server(plain_store, Vec::new()).await;
    // Warm both up, then interleave the measurements.
    median_claim(&stuck, 5).await;
    median_claim(&plain, 5).await;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with.push(median_claim(&stuck, 15).await);
        without.push(median_claim(&plain, 15).await);
    }
    with.sort();
    without.sort();
    assert!(!receiver.deliveries().is_empty(), "the receiver is being held");
    assert!(
        with[1] <= without[1] * 3 + Duration::from_millis(5),
        "claims under a stuck webhook took {:?}, without {:?}",
        with[1],
        without[1]
    );
    stuck.stop().await;
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_receiver_does_not_slow_claims_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_hanging_receiver_does_not_slow([
        StoreUrl::Sqlite(dir.path().join("stuck.db")),
        StoreUrl::Sqlite(dir.path().join("plain.db")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_receiver_does_not_slow_claims_on_redis() {
    let (stuck, plain) = (Redis::start(false), Redis::start(false));
    a_hanging_receiver_does_not_slow([StoreUrl::Redis(stuck.url()), StoreUrl::Redis(plain.url())]).await;
}

/// `sealpass audit verify` against `server`, as carol.
fn verify(home: &Home, server: &TestServer, extra: &[&str]) -> crate::helpers::Run {
    let token = home.private_file("carol.token", &staff_token("carol"));
    let mut args = vec!["audit", "verify", "--server", &server.url];
    let token = token.to_str().unwrap().to_owned();
    args.extend(["--staff-token-file", &token]);
    args.extend(extra);
    home.sealpass(&args, "")
}

async fn some_events(server: &TestServer) {
    for _ in 0..3 {
        let (id, _) = server.upload().await;
        let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_verify_catches_an_entry_edited_or_removed_in_sqlite() {
    let server = TestServer::start(|_| {}).await;
    some_events(&server).await;
    // Without any webhook, the metrics still follow the log's length.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = server.metrics().await;
        if metrics.contains("\nsealpass_audit_chain_length 6\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let home = Home::new();
    let ok = tokio::task::block_in_place(|| verify(&home, &server, &["--json"]));
    ok.expect(0);
    let head = ok.json()["head"].clone();
    assert_eq!(head["length"], 6);
    let recorded = format!("{}:{}", head["length"], head["hash"].as_str().unwrap());
    let listed = tokio::task::block_in_place(|| {
        home.sealpass(
            &["audit", "--server", &server.url, "--staff-token-file", home.path("carol.token").to_str().unwrap()],
            "",
        )
    });
    listed.expect(0);
    assert!(
        listed.stdout.contains("drop.claimed")
            && listed.stdout.contains("by alice as receiver (service token) from 127.0.0.1"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.trim_end().ends_with(&format!("head {recorded}")), "{}", listed.stdout);

    let db = rusqlite::Connection::open(server.dir().join("drops.db")).unwrap();
    db.execute("UPDATE audit SET event = replace(event, 'alice', 'mallory') WHERE seq = 4", []).unwrap();
    let edited = tokio::task::block_in_place(|| verify(&home, &server, &[]));
    edited.expect(1);
    assert!(edited.stderr.contains("entry 4 was altered"), "{}", edited.stderr);
    db.execute("UPDATE audit SET event = replace(event, 'mallory', 'alice') WHERE seq = 4", []).unwrap();
    tokio::task::block_in_place(|| verify(&home, &server, &[])).expect(0);

    db.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
    let removed = tokio::task::block_in_place(|| verify(&home, &server, &[]));
    removed.expect(1);
    assert!(removed.stderr.contains("entry 2 is missing or out of place"), "{}", removed.stderr);

    // Truncation verifies on its own, but not against the head recorded before.
    db.execute("DELETE FROM audit WHERE seq >= 2", []).unwrap();
    tokio::task::block_in_place(|| verify(&home, &server, &[])).expect(0);
    let truncated = tokio::task::block_in_place(|| verify(&home, &server, &["--head", &recorded]));
    truncated.expect(1);
    assert!(truncated.stderr.contains("truncated or rewritten"), "{}", truncated.stderr);
    server.stop().await;
}

/// Delete entry `gone` of the SQLite audit log and recompute the whole chain after it, as
/// someone who can write the store would: the log then verifies on its own.
fn delete_and_rehash(db: &rusqlite::Connection, gone: u64) {
    let rows: Vec<String> = db
        .prepare("SELECT event FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    db.execute("DELETE FROM audit", []).unwrap();
    let mut head = sealpass_core::audit::Head::empty();
    for (i, text) in rows.iter().enumerate() {
        if i as u64 + 1 == gone {
            continue;
        }
        let event: sealpass_core::events::Event = serde_json::from_str(text).unwrap();
        let entry = sealpass_core::audit::next(&head, event);
        let hex = |h: &str| data_encoding::HEXLOWER.decode(h.as_bytes()).unwrap();
        db.execute(
            "INSERT INTO audit (seq, prev, event, hash) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![entry.seq as i64, hex(&entry.prev), text, hex(&entry.hash)],
        )
        .unwrap();
        head = entry.head();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_verify_with_witnesses_catches_an_entry_deleted_and_the_chain_recomputed() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = vec![hook(&receiver, dir.path())];
    let server = TestServer::start(move |s| s.webhooks = hooks).await;
    some_events(&server).await;
    let got = receiver.wait_for(6, Duration::from_secs(10)).await;
    let home = Home::new();
    // Every delivery carries the server's signed checkpoint of the chain up to its entry.
    let (_, info) = call(server.req(Method::GET, "/v1/info")).await;
    let key = info["receipt_key"].as_str().unwrap().to_owned();
    let fifth = got.iter().find(|d| d.json()["audit"]["seq"] == 5).unwrap();
    let checkpoint: sealpass_core::checkpoint::Checkpoint =
        serde_json::from_value(fifth.json()["checkpoint"].clone()).unwrap();
    sealpass_core::checkpoint::verify(&checkpoint, Some(&key)).unwrap();
    assert_eq!(
        (checkpoint.checkpoint.length, checkpoint.checkpoint.hash.as_str()),
        (5, fifth.json()["audit"]["hash"].as_str().unwrap())
    );
    std::fs::write(home.path("delivery.json"), &fifth.body).unwrap();
    // A checkpoint of the head, saved by a verification.
    let saved = tokio::task::block_in_place(|| verify(&home, &server, &["--save-checkpoint", "head.json"]));
    saved.expect(0);
    assert!(saved.stderr.contains("saved the server's signed checkpoint"), "{}", saved.stderr);
    let with = tokio::task::block_in_place(|| verify(&home, &server, &["--witness", "head.json", "delivery.json"]));
    with.expect(0);
    assert!(with.stdout.contains("agrees with 2 signed witness(es)"), "{}", with.stdout);

    // Entry 2 deleted and every hash after it recomputed: the chain alone still verifies...
    let db = rusqlite::Connection::open(server.dir().join("drops.db")).unwrap();
    delete_and_rehash(&db, 2);
    tokio::task::block_in_place(|| verify(&home, &server, &[])).expect(0);
    // ...but not against what the server signed before.
    for witness in ["head.json", "delivery.json"] {
        let caught = tokio::task::block_in_place(|| verify(&home, &server, &["--witness", witness]));
        caught.expect(1);
        assert!(caught.stderr.contains("is not what") && caught.stderr.contains(witness), "{}", caught.stderr);
        assert!(caught.stderr.starts_with("error:"), "a failure is an error, not a warning: {}", caught.stderr);
    }
    // A witness the server's key did not sign is refused, not trusted.
    let (_, other) = sealpass_core::receipt::Signer::generate().unwrap();
    let forged = sealpass_core::checkpoint::sign(
        &other,
        &server.url,
        &sealpass_core::audit::Head::empty(),
        "2026-12-01T00:00:00Z".into(),
    );
    std::fs::write(home.path("forged.json"), serde_json::to_string(&forged).unwrap()).unwrap();
    let refused = tokio::task::block_in_place(|| verify(&home, &server, &["--witness", "forged.json"]));
    refused.expect(1);
    assert!(refused.stderr.contains("not by the server's"), "{}", refused.stderr);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_verify_catches_an_entry_edited_or_reordered_in_redis() {
    let redis = Redis::start(false);
    let server = TestServer::start(|s| s.store = StoreUrl::Redis(redis.url())).await;
    some_events(&server).await;
    let home = Home::new();
    tokio::task::block_in_place(|| verify(&home, &server, &[])).expect(0);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = "sealpass:{audit}:log";
    let third: String = redis::cmd("LINDEX").arg(key).arg(2).query_async(&mut conn).await.unwrap();
    let forged = third.replace("127.0.0.1", "203.0.113.9");
    assert_ne!(forged, third);
    let () = redis::cmd("LSET").arg(key).arg(2).arg(&forged).query_async(&mut conn).await.unwrap();
    let edited = tokio::task::block_in_place(|| verify(&home, &server, &[]));
    edited.expect(1);
    assert!(edited.stderr.contains("entry 3 was altered"), "{}", edited.stderr);
    // Put it back, then swap two entries.
    let () = redis::cmd("LSET").arg(key).arg(2).arg(&third).query_async(&mut conn).await.unwrap();
    tokio::task::block_in_place(|| verify(&home, &server, &[])).expect(0);
    let second: String = redis::cmd("LINDEX").arg(key).arg(1).query_async(&mut conn).await.unwrap();
    let () = redis::cmd("LSET").arg(key).arg(1).arg(&third).query_async(&mut conn).await.unwrap();
    let () = redis::cmd("LSET").arg(key).arg(2).arg(&second).query_async(&mut conn).await.unwrap();
    let swapped = tokio::task::block_in_place(|| verify(&home, &server, &[]));
    swapped.expect(1);
    assert!(swapped.stderr.contains("entry 2 is missing or out of place"), "{}", swapped.stderr);
    server.stop().await;
}

/// A config for `sealpass serve` with staff alice and a webhook to `receiver`.
fn served_config(home: &Home, receiver: &Receiver, extra: &str) {
    home.private_file("hook.secret", SECRET);
    let (_, recipient) = sealpass_core::crypto::generate_identity("t");
    let token = sha2::Sha256::digest(staff_token("alice").as_bytes());
    let config = format!(
        "recipients = [\"{recipient}\"]\n{extra}\n[[staff]]\nname = \"alice\"\ntoken_sha256 = \"{}\"\n\
         [[webhooks]]\nname = \"ops\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n",
        data_encoding::HEXLOWER.encode(&token),
        receiver.url
    );
    std::fs::write(home.path("server.toml"), config).unwrap();
}
use sha2::Digest as _;

async fn kill_9_then_restart(store: &str) {
    let receiver = Receiver::start().await;
    receiver.fail.store(usize::MAX, Ordering::Release);
    let home = Home::new();
    served_config(&home, &receiver, "");
    let args = ["--store", store, "--config", "server.toml"];
    let mut server = crate::serve_cli::Served::start(&home, &args, &[]);
    let http = reqwest::Client::new();
    let sealed = {
        let info: Value = http.get(format!("{}/v1/info", server.url)).send().await.unwrap().json().await.unwrap();
        let r: sealpass_core::crypto::Recipient = info["recipients"][0].as_str().unwrap().parse().unwrap();
        sealpass_core::crypto::seal(b"x", &[r]).unwrap()
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r =
            http.post(format!("{}/v1/drops", server.url)).json(&json!({"ciphertext": sealed})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    // The receiver is failing: the first event is being retried, nothing is delivered.
    receiver.wait_for(1, Duration::from_secs(10)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let attempts = receiver.deliveries().len();
    receiver.fail.store(0, Ordering::Release);
    let restarted = crate::serve_cli::Served::start(&home, &args, &[]);
    // On Redis the dead server's delivery lease (30 s) runs out first.
    let got = receiver.wait_for(attempts + 3, Duration::from_secs(50)).await;
    let delivered = &got[attempts..];
    assert_signed(delivered);
    let drops: Vec<String> =
        delivered.iter().map(|d| d.json()["event"]["drop_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(drops, ids, "every queued event, in order, after the restart");
    assert_eq!(delivered[0].id, got[0].id, "the event being retried keeps its delivery id");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.deliveries().len(), attempts + 3, "and each once");
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_queued_delivery_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kill_9_then_restart(&format!("sqlite://{}", dir.path().join("drops.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_queued_delivery_on_redis() {
    let redis = Redis::start(true);
    kill_9_then_restart(&redis.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_test_sends_a_signed_test_delivery_and_says_when_it_fails() {
    let receiver = Receiver::start().await;
    let home = Home::new();
    served_config(&home, &receiver, "");
    let run = tokio::task::block_in_place(|| home.sealpass(&["webhook", "test", "--config", "server.toml"], ""));
    run.expect(0);
    assert!(run.stdout.contains("ops: delivered (dlv_"), "{}", run.stdout);
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_signed(&got);
    assert_eq!(got[0].json()["test"], true);
    assert_eq!(got[0].json()["type"], "drop.received");
    receiver.fail.store(1, Ordering::Release);
    let failed = tokio::task::block_in_place(|| home.sealpass(&["webhook", "test", "--config", "server.toml"], ""));
    failed.expect(7);
    assert!(failed.stderr.contains("error: ops: not delivered: HTTP 500"), "{}", failed.stderr);
    let none = tokio::task::block_in_place(|| {
        home.sealpass(&["webhook", "test", "--config", "server.toml", "--name", "nope"], "")
    });
    none.expect(2);
    assert!(!run.mentions(&receiver.url) && !failed.mentions(&receiver.url), "the URL may hold a token: never shown");
    // Nothing listening there: the innermost cause, in plain words (issue 19).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = std::fs::read_to_string(home.path("server.toml")).unwrap();
    std::fs::write(home.path("server.toml"), config.replace(&receiver.url, &format!("http://{closed}/hook"))).unwrap();
    let refused = tokio::task::block_in_place(|| home.sealpass(&["webhook", "test", "--config", "server.toml"], ""));
    refused.expect(7);
    assert!(refused.stderr.contains("not delivered: connection refused"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("error sending request"), "{}", refused.stderr);
}

#[test]
fn bad_webhook_configs_stop_the_server_naming_the_problem() {
    let home = Home::new();
    home.private_file("hook.secret", SECRET);
    std::fs::write(home.path("open.secret"), SECRET).unwrap();
    std::fs::write(home.path("short.secret"), "short").unwrap();
    std::fs::set_permissions(home.path("short.secret"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (_, recipient) = sealpass_core::crypto::generate_identity("t");
    let cases = [
        ("url = \"http://hooks.example/x\"\nsecret_file = \"hook.secret\"", "must be https://"),
        ("url = \"https://hooks.example/x\"\nsecret_file = \"open.secret\"", "open.secret"),
        ("url = \"https://hooks.example/x\"\nsecret_file = \"short.secret\"", "at least 16 characters"),
        (
            "url = \"https://hooks.example/x\"\nsecret_file = \"hook.secret\"\nevents = [\"drop.eaten\"]",
            "unknown event",
        ),
        ("url = \"https://hooks.example/x\"\nsecret_file = \"hook.secret\"\nformat = \"irc\"", "format"),
        ("url = \"https://hooks.example/x\"\nsecret_file = \"hook.secret\"\nretry_for = \"10m\"", "at least 1h"),
        ("url = \"https://u:p@hooks.example/x\"\nsecret_file = \"hook.secret\"", "user or password"),
        // A syntax error is reported by line, never by quoting it: the URL holds a token.
        ("url = \"https://hooks.slack.com/services/T0/B0/TOKEN42\nsecret_file = 1", "line 4"),
    ];
    for (hook, why) in cases {
        std::fs::write(
            home.path("bad.toml"),
            format!("recipients = [\"{recipient}\"]\n[[webhooks]]\nname = \"ops\"\n{hook}\n"),
        )
        .unwrap();
        let run = home.sealpass(&["serve", "--config", "bad.toml", "--listen", "127.0.0.1:0"], "");
        run.expect(2);
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
        assert!(why == "line 4" || run.stderr.contains("webhooks: ops"), "{}", run.stderr);
        assert!(!run.stderr.contains("u:p@") && !run.stderr.contains("TOKEN42"), "{}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_webhook_gets_what_happens_from_now_on_not_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreUrl::Sqlite(dir.path().join("drops.db"));
    let before = server(store.clone(), Vec::new()).await;
    before.upload().await;
    before.upload().await;
    before.stop().await;
    let receiver = Receiver::start().await;
    let after = server(store, vec![hook(&receiver, dir.path())]).await;
    let (id, _) = after.upload().await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.deliveries();
    assert_eq!(got.len(), 1, "only the new event: {got:?}");
    assert_eq!(got[0].json()["event"]["drop_id"], id.as_str());
    assert_eq!(got[0].json()["audit"]["seq"], 3, "the history is still in the log");
    after.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_whose_event_cannot_be_written_is_not_stored_either() {
    let server = TestServer::start(|_| {}).await;
    let (id, _) = server.upload().await;
    let db = rusqlite::Connection::open(server.dir().join("drops.db")).unwrap();
    db.execute_batch("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no audit'); END;")
        .unwrap();
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, drop) = call(server.staff(Method::GET, &format!("/v1/drops/{id}"), "alice")).await;
    assert_eq!(drop["state"], "waiting", "no claim without its event: {drop}");
    db.execute_batch("DROP TRIGGER no_audit").unwrap();
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = call(server.staff(Method::GET, "/v1/audit", "alice")).await;
    let page: sealpass_core::api::AuditPage = serde_json::from_value(page).unwrap();
    assert_eq!(page.head.length, 2, "created, then claimed: nothing lost, no gap");
    sealpass_core::audit::verify_records(&sealpass_core::audit::Head::empty(), &page.entries).unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_gets_only_the_events_it_asked_for_and_passes_the_rest() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut only_received = hook(&receiver, dir.path());
    only_received.events = vec![sealpass_core::events::EventKind::DropReceived];
    let server = server(StoreUrl::Sqlite(dir.path().join("drops.db")), vec![only_received]).await;
    let (_, id, _) = hand_over(&server).await;
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_signed(&got);
    assert_eq!(got[0].json()["type"], "drop.received");
    assert_eq!(got[0].json()["event"]["drop_id"], id.as_str());
    // Everything after it (the anonymous drop and its revocation) is passed over, and counted so.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = server.metrics().await;
        if metrics.contains(r#"sealpass_webhook_queue_depth{webhook="hooks"} 0"#) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.deliveries().len(), 1);
    server.stop().await;
}

/// Issue 23: a webhook added by a reload (SIGHUP) delivers what happens from then on; the
/// reload changes /v1/info's keys at once and a removed webhook stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_adds_a_webhook_and_changes_the_published_keys() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(StoreUrl::Sqlite(dir.path().join("drops.db")), Vec::new()).await;
    let (before, _) = server.upload().await;
    let hook = hook(&receiver, dir.path());
    let (_, rotated) = sealpass_core::crypto::generate_identity("rotated");
    let rotated = rotated.to_string();
    let published = rotated.clone();
    server
        .reload(move |s| {
            s.webhooks = vec![hook];
            s.recipients.push(published);
            // Not reloadable: the running limit stays, and /v1/info keeps saying it.
            s.max_ciphertext_bytes = 1024;
        })
        .await;
    let waited = Instant::now();
    loop {
        let (_, info) = call(server.req(Method::GET, "/v1/info")).await;
        if info["recipients"].as_array().unwrap().iter().any(|r| r == rotated.as_str()) {
            assert_eq!(info["limits"]["max_ciphertext_bytes"], 131_072, "{info}");
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(5), "the reload did not take effect: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (after, _) = server.upload().await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["event"]["drop_id"], after.as_str(), "from the reload on, not {before}");
    let metrics = server.metrics().await;
    assert!(metrics.contains(r#"sealpass_config_reloads_total{result="applied"} 1"#), "{metrics}");

    // Removed again: nothing more is delivered.
    server.reload(|s| s.webhooks.clear()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.upload().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.wait_for(1, Duration::from_millis(10)).await.len(), 1, "a removed webhook stops");
    server.stop().await;
}
