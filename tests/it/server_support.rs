//! A real server on 127.0.0.1:0 in this process (`sealpass_server::launch` and `serve`, what
//! `sealpass serve` runs once it has checked its TLS files and manifest), over a real SQLite
//! file, with known staff tokens.

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use sealpass_core::access::{Role, Roles};
use sealpass_server::config::{ServerSettings, StaffMember, StoreUrl};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const STAFF: [&str; 8] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];

/// Staff with one role each, on every test server besides `STAFF` (who hold every role).
pub const ROLE_HOLDERS: [(&str, Role); 4] =
    [("rita", Role::Requester), ("rex", Role::Receiver), ("audrey", Role::Auditor), ("ada", Role::Admin)];

pub fn staff_token(name: &str) -> String {
    format!("sps_test-token-of-{name}")
}

pub struct TestServer {
    pub url: String,
    pub client: Client,
    _dir: tempfile::TempDir,
    pub recipients: Vec<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The settings it runs with, and where new ones go (as `sealpass serve` sends at SIGHUP).
    settings: ServerSettings,
    reloads: tokio::sync::mpsc::Sender<Result<ServerSettings, String>>,
}

/// The bearer token test servers accept for `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token";

impl TestServer {
    /// Start a server with eight staff and the settings `tweak` leaves.
    pub async fn start(tweak: impl FnOnce(&mut ServerSettings)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = ServerSettings::for_tests(StoreUrl::Sqlite(dir.path().join("drops.db")));
        let every = STAFF.iter().map(|n| (*n, Roles::ALL));
        let limited = ROLE_HOLDERS.iter().map(|(n, role)| (*n, Roles::of([*role])));
        settings.staff = every
            .chain(limited)
            .map(|(n, roles)| StaffMember {
                name: n.to_owned(),
                token_sha256: Sha256::digest(staff_token(n).as_bytes()).into(),
                roles,
                roles_given: true,
            })
            .collect();
        let (_, recipient) = sealpass_core::crypto::generate_identity("test");
        settings.recipients = vec![recipient.to_string()];
        settings.sweep_interval = std::time::Duration::from_secs(3600);
        settings.metrics_token_sha256 = Some(Sha256::digest(METRICS_TOKEN.as_bytes()).into());
        tweak(&mut settings);
        // What `sealpass serve` runs: bound on 127.0.0.1:0, the store answering, the URL fixed.
        let mut launched = sealpass_server::launch(settings).await.unwrap();
        let url = launched.settings.public_url.clone();
        let recipients = launched.settings.recipients.clone();
        let (reloads, received) = tokio::sync::mpsc::channel(4);
        launched.reloads = Some(received);
        let running = launched.settings.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(launched.serve(async {
            let _ = rx.await;
        }));
        let client = Client::builder().pool_max_idle_per_host(64).build().unwrap();
        TestServer {
            url,
            client,
            _dir: dir,
            recipients,
            shutdown: Some(tx),
            task: Some(task),
            settings: running,
            reloads,
        }
    }

    /// Hand the running server new settings, its own changed by `tweak`, as a SIGHUP does
    /// (applied a moment later).
    pub async fn reload(&self, tweak: impl FnOnce(&mut ServerSettings)) {
        let mut settings = self.settings.clone();
        tweak(&mut settings);
        self.reloads.send(Ok(settings)).await.unwrap();
    }

    /// Stop gracefully and wait.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// The store's directory (the SQLite file and its WAL).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The server's socket address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// The metrics, as a scraper with the metrics token reads them.
    pub async fn metrics(&self) -> String {
        let answer = self.req(Method::GET, "/metrics").bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
        answer.text().await.unwrap()
    }

    pub fn staff(&self, method: Method, path: &str, name: &str) -> RequestBuilder {
        self.req(method, path).bearer_auth(staff_token(name))
    }

    /// A real armored age file (of an arbitrary envelope-sized plaintext).
    pub fn ciphertext(&self) -> String {
        let r: sealpass_core::crypto::Recipient = self.recipients[0].parse().unwrap();
        sealpass_core::crypto::seal(&[b' '; 1024], &[r]).unwrap()
    }

    /// Upload; returns (id, manage token).
    pub async fn upload(&self) -> (String, String) {
        let body = serde_json::json!({"ciphertext": self.ciphertext(), "ttl_seconds": 600});
        let (status, v) = call(self.req(Method::POST, "/v1/drops").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        (v["id"].as_str().unwrap().to_owned(), v["manage_token"].as_str().unwrap().to_owned())
    }
}

/// Send and read the JSON answer (errors must be JSON too).
pub async fn call(request: RequestBuilder) -> (StatusCode, Value) {
    let response: Response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, value)
}

/// Assert an error answer: status and code.
#[track_caller]
pub fn is_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], code, "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// A TCP connection to `addr` from the loopback address `from` (any of 127.0.0.0/8).
pub async fn connect_from(addr: std::net::SocketAddr, from: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Send raw bytes on a fresh connection and read the whole answer (until the server closes or
/// `within` passes): its status and its body as JSON, if it has one.
pub async fn raw(addr: std::net::SocketAddr, bytes: &[u8], within: std::time::Duration) -> (u16, Option<Value>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, body)
}

/// Raise this process's open-file limit as far as it goes: tests open many sockets.
pub fn raise_fd_limit() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum },
    );
}
