//! Staff signed in with a real, certified OpenID Provider (npm's `oidc-provider`, started on
//! loopback by web/tools/oidc-provider.mjs): its access tokens are accepted for the roles their
//! groups map to, and refused — wrong audience, wrong issuer, expired, `alg: none`, signed by
//! another key — with a reason; a key rotation at the provider is picked up without a restart.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::server_support::{TestServer, call, is_error};
use sealpass_core::access::{Role, Roles};
use sealpass_server::config::OidcSettings;

/// A running identity provider.
pub struct Idp {
    child: Child,
    pub issuer: String,
    pub port: u16,
}

impl Idp {
    /// Start one on `port` (0: any) whose signing key has id `kid`, read from (or first written
    /// to) `key_file` when given.
    pub fn start(port: u16, kid: &str, key_file: Option<&std::path::Path>) -> Idp {
        Idp::start_with(port, kid, key_file, &[])
    }

    /// [`Idp::start`] with more of the script's options (`--ttl SECONDS`).
    pub fn start_with(port: u16, kid: &str, key_file: Option<&std::path::Path>, more: &[&str]) -> Idp {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert!(
            web.join("node_modules/oidc-provider").is_dir(),
            "the identity provider for these tests is npm's oidc-provider: run (cd web && npm ci)"
        );
        let mut cmd = Command::new("node");
        cmd.arg("tools/oidc-provider.mjs").args(["--port", &port.to_string(), "--kid", kid]);
        if let Some(file) = key_file {
            cmd.arg("--key-file").arg(file);
        }
        cmd.args(more);
        cmd.current_dir(web).stdout(Stdio::piped()).stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("node runs");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Whatever it says later (warnings of its development pages) must not meet a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the provider said {line:?}"));
        let issuer = started["issuer"].as_str().unwrap().to_owned();
        let port = issuer.rsplit(':').next().unwrap().parse().unwrap();
        Idp { child, issuer, port }
    }

    /// An access token for the machine client `client` (standing for a person in its groups),
    /// for `resource`.
    pub async fn token(&self, client: &str, resource: &str) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("secret-{client}")))
            .form(&[("grant_type", "client_credentials"), ("resource", resource), ("scope", "sealpass")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap_or_else(|| panic!("no token: {answer}")).to_owned()
    }

    /// Stop it and wait until it has.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // Its group: node and anything it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "TERM", "--", &group]).status();
        for _ in 0..40 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The `[oidc]` of these tests: groups of the provider's machine clients mapped to roles.
pub fn settings(issuer: &str) -> OidcSettings {
    let roles: BTreeMap<String, Roles> = [
        ("kore-requesters", Role::Requester),
        ("kore-receivers", Role::Receiver),
        ("kore-auditors", Role::Auditor),
        ("kore-admins", Role::Admin),
    ]
    .into_iter()
    .map(|(group, role)| (group.to_owned(), Roles::of([role])))
    .collect();
    OidcSettings {
        issuer: issuer.to_owned(),
        audience: "sealpass".into(),
        client_id: "sealpass-cli".into(),
        groups_claim: "groups".into(),
        name_claim: "preferred_username".into(),
        leeway_seconds: 0,
        roles,
        scope: "openid offline_access sealpass".into(),
        resource: Some(SEALPASS.into()),
    }
}

const SEALPASS: &str = "https://sealpass.test";

fn with(server: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    server.req(method, path).bearer_auth(token)
}

#[track_caller]
fn refused(answer: &(StatusCode, Value), says: &str) {
    is_error(answer, StatusCode::UNAUTHORIZED, "unauthorized");
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_the_identity_provider_and_each_role_does_its_part() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("signing.jwk");
    let idp = Idp::start(0, "k1", Some(&key));
    let issuer = idp.issuer.clone();
    let server = TestServer::start(move |s| s.oidc = Some(settings(&issuer))).await;

    // A requester asks; a receiver receives; an auditor reads; each is refused the rest.
    let requester = idp.token("ci-requester", SEALPASS).await;
    let body = json!({"label": "Acme prod", "kind": "generic"});
    let (status, request) = call(with(&server, Method::POST, "/v1/requests", &requester).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let receiver = idp.token("ci-receiver", SEALPASS).await;
    let auditor = idp.token("ci-auditor", SEALPASS).await;
    let nobody = idp.token("ci-nobody", SEALPASS).await;
    let (id, _) = server.upload().await;
    let claim = format!("/v1/drops/{id}/claim");
    let forbidden = call(with(&server, Method::POST, &claim, &requester)).await;
    is_error(&forbidden, StatusCode::FORBIDDEN, "forbidden");
    assert!(forbidden.1["message"].as_str().unwrap().contains("ci-requester has requester"), "{}", forbidden.1);
    let (status, claimed) = call(with(&server, Method::POST, &claim, &receiver)).await;
    assert_eq!((status, claimed["claimed_by"].as_str()), (StatusCode::OK, Some("ci-receiver")), "{claimed}");
    let (status, _) = call(with(&server, Method::POST, &format!("/v1/drops/{id}/ack"), &receiver)).await;
    assert_eq!(status, StatusCode::OK);
    is_error(
        &call(with(&server, Method::POST, "/v1/requests", &auditor).json(&body)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let no_role = call(with(&server, Method::GET, "/v1/drops?state=waiting", &nobody)).await;
    is_error(&no_role, StatusCode::FORBIDDEN, "forbidden");
    assert!(no_role.1["message"].as_str().unwrap().contains("ci-nobody has none"), "{}", no_role.1);

    // The audit log says which person, of which issuer, under which role.
    let (status, page) = call(with(&server, Method::GET, "/v1/audit", &auditor)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events: Vec<&Value> = page["entries"].as_array().unwrap().iter().map(|e| &e["event"]).collect();
    let find = |kind: &str| *events.iter().find(|e| e["kind"] == kind).unwrap();
    let person = |sub: &str, role: &str| json!({"role": role, "issuer": idp.issuer, "subject": sub});
    assert_eq!(find("request.created")["credential"], person("ci-requester", "requester"));
    assert_eq!(find("request.created")["actor"]["name"], "ci-requester");
    assert_eq!(find("drop.received")["credential"], person("ci-receiver", "receiver"));
    // The CLI takes the access token as its staff token, and its audit view says who signed in.
    let home = crate::helpers::Home::new();
    let token_file = home.private_file("auditor.token", &auditor);
    let (url, file) = (server.url.clone(), token_file.to_str().unwrap().to_owned());
    let listed = tokio::task::spawn_blocking(move || {
        home.sealpass(&["audit", "--server", &url, "--staff-token-file", &file], "")
    })
    .await
    .unwrap();
    listed.expect(0);
    let says = format!("by ci-requester as requester (signed in with {})", idp.issuer);
    assert!(listed.stdout.contains(&says), "{}", listed.stdout);

    // Refused, each with its reason: another service's token, an expired one, alg none.
    let other = idp.token("ci-receiver", "https://other.test").await;
    refused(&call(with(&server, Method::GET, "/v1/drops?state=waiting", &other)).await, "meant for another service");
    let short = idp.token("ci-receiver", "https://short.test").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused(&call(with(&server, Method::GET, "/v1/drops?state=waiting", &short)).await, "it expired");
    let payload = receiver.split('.').nth(1).unwrap();
    let header = data_encoding::BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
    let unsigned = format!("{header}.{payload}.");
    refused(&call(with(&server, Method::GET, "/v1/drops?state=waiting", &unsigned)).await, "not a signed JWT");
    // Tampered: the payload of one person with the signature of another.
    let mut parts: Vec<&str> = receiver.split('.').collect();
    let admin = idp.token("ci-admin", SEALPASS).await;
    let admin_payload = admin.split('.').nth(1).unwrap().to_owned();
    parts[1] = &admin_payload;
    refused(&call(with(&server, Method::GET, "/v1/audit", &parts.join("."))).await, "signature does not verify");

    // Another issuer with the very same key and kid: signature fine, issuer wrong.
    let impostor = Idp::start(0, "k1", Some(&key));
    let theirs = impostor.token("ci-admin", SEALPASS).await;
    refused(&call(with(&server, Method::GET, "/v1/audit", &theirs)).await, "issued by another identity provider");
    impostor.stop();
    // The same kid, another key: the signature does not verify.
    let forger = Idp::start(0, "k1", None);
    let forged = forger.token("ci-admin", SEALPASS).await;
    refused(&call(with(&server, Method::GET, "/v1/audit", &forged)).await, "signature does not verify");
    // A kid the provider never published.
    let stranger = Idp::start(0, "k-unknown", None);
    let unknown = stranger.token("ci-admin", SEALPASS).await;
    refused(
        &call(with(&server, Method::GET, "/v1/audit", &unknown)).await,
        "a key the identity provider does not publish",
    );
    forger.stop();
    stranger.stop();

    // The provider rotates its key (restarted on its port with a new one): new tokens are taken
    // without restarting sealpass, once it fetched the keys again.
    let port = idp.port;
    idp.stop();
    let rotated = Idp::start(port, "k2", None);
    let fresh = rotated.token("ci-auditor", SEALPASS).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _) = call(with(&server, Method::GET, "/v1/audit", &fresh)).await;
    assert_eq!(status, StatusCode::OK, "a rotated key is fetched");
    // Service tokens still work beside it.
    let (status, _) = call(server.staff(Method::GET, "/v1/audit", "audrey")).await;
    assert_eq!(status, StatusCode::OK);
    rotated.stop();
    server.stop().await;
}
