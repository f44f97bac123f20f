//! The trust root from the clients' side (SPEC §11): links and pins naming the vendor key
//! (`sp4-`) survive every rotation the vendor re-signs (a certificate, a recipient, the receipt
//! key, the vendor key itself through a cross-signature), while a rollback, a server or a front
//! door serving keys the vendor did not sign, and an expired manifest are refused by customers
//! and by staff alike. Real binary, real servers on fixed loopback ports (a manifest names its
//! URL), a real reverse proxy in front.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use serde_json::Value;

use crate::helpers::{Home, Run};
use crate::serve_cli::Served;

const SECRET: &str = "Zq8!kR2#mW9$vB4%tN7^";

/// A free loopback port (a server needs its public URL, hence its port, before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An operator with an offline vendor key, staff alice (whose client config names the vendor
/// key), and a drop server on a fixed port serving a manifest that key signed.
struct Vendor {
    home: Home,
    port: u16,
    /// Where customers reach it: the server itself, or a proxy in front.
    url: String,
    token: String,
    recipients: Vec<String>,
    certificates: Vec<&'static str>,
    receipt_key: &'static str,
    sp4: String,
    server: Option<Served>,
}

impl Vendor {
    fn new(public_url: Option<&str>) -> Vendor {
        let home = Home::new();
        let made = home.sealpass(&["vendor-key", "new", "-o", "vendor.key"], "");
        made.expect(0);
        let recipient = home.keygen("data/sealpass/identity.txt");
        let token = home.sealpass(&["staff-token", "alice"], "");
        token.expect(0);
        let staff: String = token.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
        std::fs::write(home.path("staff.toml"), staff).unwrap();
        let port = free_port();
        let url = public_url.map_or_else(|| format!("http://127.0.0.1:{port}"), str::to_owned);
        let sp4 = made.stdout.trim().to_owned();
        std::fs::create_dir_all(home.path("config/sealpass")).unwrap();
        std::fs::write(home.path("config/sealpass/config.toml"), format!("vendor_key = \"{sp4}\"\n")).unwrap();
        let mut vendor = Vendor {
            home,
            port,
            url,
            token: token.stdout.trim().to_owned(),
            recipients: vec![recipient],
            certificates: Vec::new(),
            receipt_key: "receipt.key",
            sp4,
            server: None,
        };
        vendor.sign().expect(0);
        vendor.serve();
        vendor
    }

    /// The server's config as it stands.
    fn write_config(&self) {
        let quoted: Vec<String> = self.recipients.iter().map(|r| format!("\"{r}\"")).collect();
        let mut config = format!(
            "recipients = [{}]\npublic_url = \"{}\"\nreceipt_key = \"{}\"\nmanifest_file = \"manifest.json\"\n",
            quoted.join(", "),
            self.url,
            self.home.path(self.receipt_key).display()
        );
        config.push_str(&std::fs::read_to_string(self.home.path("staff.toml")).unwrap());
        config.push('\n');
        for name in &self.certificates {
            config.push_str(&format!("[[certificates]]\nname = \"{name}\"\nfile = \"{name}.crt\"\n"));
        }
        std::fs::write(self.home.path("server.toml"), config).unwrap();
    }

    /// `manifest sign` over the config as it stands (the serial grows).
    fn sign_with(&self, extra: &[&str]) -> Run {
        self.write_config();
        let mut args = vec!["manifest", "sign", "--config", "server.toml", "-o", "manifest.json"];
        args.extend(extra);
        self.home.sealpass(&args, "")
    }

    fn sign(&self) -> Run {
        self.sign_with(&["--vendor-key", "vendor.key"])
    }

    /// (Re)start the server on the same port and store.
    fn serve(&mut self) {
        drop(self.server.take());
        let listen = format!("127.0.0.1:{}", self.port);
        let args = ["--listen", &listen, "--config", "server.toml", "--store", "sqlite://drops.db"];
        self.server = Some(Served::start(&self.home, &args, &[]));
    }

    /// A staff command as alice against `url`.
    fn staff_at(&self, url: &str, args: &[&str]) -> Run {
        self.home.sealpass_env(args, "", &[("SEALPASS_STAFF_TOKEN", &self.token), ("SEALPASS_SERVER", url)])
    }

    fn staff(&self, args: &[&str]) -> Run {
        self.staff_at(&self.url, args)
    }

    fn request(&self) -> String {
        let run = self.staff(&["request", "--label", "Acme CRM", "--kind", "generic"]);
        run.expect(0);
        assert!(!run.stderr.contains("WARNING") && !run.stderr.contains("no vendor key"), "{}", run.stderr);
        run.stdout.trim().to_owned()
    }

    fn inbox_len(&self) -> usize {
        let run = self.staff(&["inbox", "--json"]);
        run.expect(0);
        run.json()["drops"].as_array().unwrap().len()
    }
}

/// What a customer's config pins for `server`.
fn pin(customer: &Home, server: &str) -> toml::Value {
    let text = std::fs::read_to_string(customer.path("config/sealpass/config.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    let pins = config["pinned"].as_array().unwrap();
    pins.iter().find(|p| p["server"].as_str() == Some(server)).unwrap().clone()
}

/// A customer answering `link`; the run, expected to say nothing alarming when it succeeds.
fn answer(customer: &Home, link: &str) -> Run {
    let run = customer.sealpass(&["send", link], SECRET);
    if run.code == 0 {
        assert!(!run.stderr.contains("WARNING") && !run.stderr.contains("substitut"), "{}", run.stderr);
    }
    run
}

fn pickup(run: &Run) -> String {
    run.stdout.lines().next().unwrap().trim().to_owned()
}

#[test]
fn links_and_pins_naming_the_vendor_key_survive_every_rotation_and_refuse_a_rollback() {
    let mut vendor = Vendor::new(None);
    let customer = Home::new();
    let url = vendor.url.clone();
    let links: Vec<String> = (0..5).map(|_| vendor.request()).collect();
    assert!(links[0].ends_with(&format!(".{}", vendor.sp4)), "links name the vendor key: {}", links[0]);
    let pinned = customer.sealpass(&["init", "--server", &url, "--fingerprint", &vendor.sp4], "");
    pinned.expect(0);
    assert!(pinned.stderr.contains(&format!("vendor key: {}", vendor.sp4)), "{}", pinned.stderr);
    assert_eq!(pin(&customer, &url)["serial"].as_integer(), Some(1));
    // An older link's value (the hash of what is served) still means exactly that.
    let info = crate::helpers::get_json(&format!("{url}/v1/info"));
    let sp3 = info["fingerprint"].as_str().unwrap().to_owned();
    let sp4 = vendor.sp4.clone();
    let legacy = |link: &String| link.replace(&sp4, &sp3);

    // 1. A certificate added, re-signed, restarted: the first link and the pin work.
    vendor.home.sealpass(&["cert", "new", "--name", "kore", "--days", "30"], "").expect(0);
    vendor.certificates.push("kore");
    vendor.sign().expect(0);
    vendor.serve();
    let first = answer(&customer, &links[0]);
    first.expect(0);
    assert_eq!(pin(&customer, &url)["serial"].as_integer(), Some(2), "the newer manifest raised the pin");
    // An sp3- link made before still vouches for the recipients and receipt key, as before.
    answer(&customer, &legacy(&links[3])).expect(0);

    // 2. A recipient added: the second link works, and staff receive both drops (the stanza count
    // checked against the signed manifest's recipients).
    let second_identity = vendor.home.keygen("second.identity");
    vendor.recipients.push(second_identity);
    vendor.sign().expect(0);
    vendor.serve();
    let second = answer(&customer, &links[1]);
    second.expect(0);
    // An sp3- link names exactly the keys it hashed: with a recipient added, refused as before.
    let stale = answer(&customer, &legacy(&links[4]));
    stale.expect(1);
    assert!(stale.stderr.contains("are not the ones") && stale.stderr.contains("Nothing was sent"), "{}", stale.stderr);
    for sent in [&first, &second] {
        let got = vendor.staff(&["receive", &pickup(sent), "-o", &format!("got-{}", vendor.inbox_len())]);
        got.expect(0);
        assert!(!got.stderr.contains("WARNING"), "{}", got.stderr);
    }

    // 3. The receipt key replaced: the third link works, and `status` verifies the receipts of
    // drops sent before (signed by the new key, which the vendor key's newest manifest names).
    vendor.receipt_key = "receipt-2.key";
    vendor.sign().expect(0);
    vendor.serve();
    answer(&customer, &links[2]).expect(0);
    let status = customer.sealpass(&["status", "--json"], "");
    status.expect(0);
    let lines = status.json_lines();
    let received: Vec<&Value> = lines.iter().filter(|l| l["state"] == "received").collect();
    assert_eq!(received.len(), 2, "{}", status.stdout);
    assert_eq!(lines.len(), 4, "{}", status.stdout);
    for line in received {
        assert_eq!(line["receipt_check"], "verified", "{line}");
    }
    let new_key = crate::helpers::get_json(&format!("{url}/v1/info"))["receipt_key"].clone();
    assert_eq!(pin(&customer, &url)["receipt_key"].as_str(), new_key.as_str(), "status raised the pin");
    assert_eq!(pin(&customer, &url)["serial"].as_integer(), Some(4));

    // 4. A rollback: the server brought back with the first manifest and the config it vouched
    // for (serial 1 cannot be re-signed: an attacker restores the copy the server served then).
    // Staff (pinned at their first request) and the pinned customer both refuse it.
    vendor.certificates.clear();
    vendor.recipients.truncate(1);
    vendor.receipt_key = "receipt.key";
    vendor.sign_with(&["--vendor-key", "vendor.key", "--serial", "1"]).expect(2);
    std::fs::write(vendor.home.path("manifest.json"), serde_json::to_string(&info["manifest"]).unwrap()).unwrap();
    vendor.write_config();
    vendor.serve();
    let staff = vendor.staff(&["request", "--label", "x", "--kind", "generic"]);
    staff.expect(1);
    assert!(staff.stdout.is_empty() && staff.stderr.contains("rolled back"), "{}", staff.stderr);
    let replayed = answer(&customer, &links[4]);
    replayed.expect(1);
    assert!(
        replayed.stderr.contains("rolled back") && replayed.stderr.contains("Nothing was sent"),
        "{}",
        replayed.stderr
    );
    assert_eq!(pin(&customer, &url)["serial"].as_integer(), Some(4), "never lowered");
}

#[derive(Clone)]
enum Rewrite {
    Nothing,
    /// Serve these recipients instead of the vendor's.
    Recipients(Vec<String>),
    /// Serve this as the manifest (another key's, an expired one, none).
    Manifest(Value),
    /// Make request links name this value instead.
    Link(String),
}

/// A reverse proxy in front of the vendor's server, at the URL its manifest names, that an
/// attacker controls: it forwards everything and rewrites `/v1/info` as told.
struct FrontDoor {
    rewrite: Arc<Mutex<Rewrite>>,
    _runtime: tokio::runtime::Runtime,
}

impl FrontDoor {
    fn bind() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    fn start(listener: std::net::TcpListener, upstream: String) -> FrontDoor {
        let rewrite = Arc::new(Mutex::new(Rewrite::Nothing));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let state = (upstream, rewrite.clone(), reqwest::Client::new());
        listener.set_nonblocking(true).unwrap();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(forward).with_state(Arc::new(state));
            axum::serve(listener, app).await
        });
        FrontDoor { rewrite, _runtime: runtime }
    }

    fn set(&self, rewrite: Rewrite) {
        *self.rewrite.lock().unwrap() = rewrite;
    }
}

type Door = Arc<(String, Arc<Mutex<Rewrite>>, reqwest::Client)>;

async fn forward(State(door): State<Door>, request: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = door.2.request(parts.method.clone(), format!("{}{path}", door.0)).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    if parts.uri.path() == "/v1/info" {
        let mut info: Value = serde_json::from_slice(&bytes).unwrap();
        match door.1.lock().unwrap().clone() {
            Rewrite::Nothing => {}
            Rewrite::Recipients(r) => info["recipients"] = serde_json::json!(r),
            Rewrite::Manifest(m) => info["manifest"] = m,
            Rewrite::Link(_) => {}
        }
        bytes = serde_json::to_vec(&info).unwrap();
    }
    if let (Rewrite::Link(value), "/v1/requests") = (door.1.lock().unwrap().clone(), parts.uri.path()) {
        let mut created: Value = serde_json::from_slice(&bytes).unwrap();
        let link = created["link"].as_str().unwrap().to_owned();
        let (before, _) = link.rsplit_once('.').unwrap();
        created["link"] = Value::String(format!("{before}.{value}"));
        bytes = serde_json::to_vec(&created).unwrap();
    }
    let mut out = axum::response::Response::builder().status(status);
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name, value);
        }
    }
    out.body(Body::from(bytes)).unwrap()
}

/// `signer`'s signature over the body of `signed`, as the first signature of a manifest.
fn resigned_signature(signed: &Value, signer: &sealpass_core::receipt::Signer) -> Value {
    let text = signed["manifest"].as_str().unwrap();
    let body: sealpass_core::manifest::ManifestBody = serde_json::from_str(text).unwrap();
    let mine = sealpass_core::manifest::sign(&body, signer, None);
    assert_eq!(mine.manifest, text, "canonical");
    serde_json::to_value(&mine.signatures[0]).unwrap()
}

/// The vendor's manifest as served, re-signed with `body` changed by `change`, by `signer`.
fn resigned(
    vendor: &Vendor,
    signer: &sealpass_core::receipt::Signer,
    change: impl FnOnce(&mut sealpass_core::manifest::ManifestBody),
) -> Value {
    let text = std::fs::read_to_string(vendor.home.path("manifest.json")).unwrap();
    let signed: sealpass_core::manifest::SignedManifest = serde_json::from_str(&text).unwrap();
    let mut body: sealpass_core::manifest::ManifestBody = serde_json::from_str(&signed.manifest).unwrap();
    change(&mut body);
    serde_json::to_value(sealpass_core::manifest::sign(&body, signer, None)).unwrap()
}

#[test]
fn a_compromised_front_door_gets_neither_customers_nor_staff_to_use_its_keys() {
    let (listener, door_url) = FrontDoor::bind();
    let vendor = Vendor::new(Some(&door_url));
    let upstream = format!("http://127.0.0.1:{}", vendor.port);
    let door = FrontDoor::start(listener, upstream);
    let customer = Home::new();
    let links: Vec<String> = (0..7).map(|_| vendor.request()).collect();
    assert!(links[0].starts_with(&door_url), "{}", links[0]);
    answer(&customer, &links[0]).expect(0);

    let attacker = Home::new();
    let attacker_key = attacker.keygen("attacker.identity");
    let other_vendor = sealpass_core::receipt::Signer::generate().unwrap().1;
    let own = crate::trust_root::vendor_signer(&vendor.home, "vendor.key");
    // The vendor's genuine signature grafted next to one by the attacker's key, as if the vendor
    // key had handed over to it (found in review): no hand-over, no move.
    let mut grafted: Value = resigned(&vendor, &other_vendor, |b| b.recipients = vec![attacker_key.clone()]);
    let genuine: Value =
        serde_json::from_str(&std::fs::read_to_string(vendor.home.path("manifest.json")).unwrap()).unwrap();
    grafted["manifest"] = genuine["manifest"].clone();
    let genuine_signature = genuine["signatures"][0].clone();
    grafted["signatures"] = serde_json::json!([resigned_signature(&genuine, &other_vendor), genuine_signature]);
    let cases = [
        (Rewrite::Recipients(vec![attacker_key.clone()]), "does not vouch"),
        (Rewrite::Manifest(grafted), "altered"),
        (
            Rewrite::Manifest(resigned(&vendor, &other_vendor, |b| b.recipients = vec![attacker_key.clone()])),
            "not signed by the vendor key",
        ),
        (Rewrite::Manifest(Value::Null), "serves no manifest"),
        (Rewrite::Manifest(resigned(&vendor, &own, |b| b.expires_at = "2026-01-01T00:00:00Z".into())), "expired"),
    ];
    let before = vendor.inbox_len();
    for (i, (rewrite, says)) in cases.into_iter().enumerate() {
        door.set(rewrite);
        let refused = answer(&customer, &links[i + 1]);
        refused.expect(1);
        assert!(
            refused.stderr.contains(says) && refused.stderr.contains("Nothing was sent"),
            "{says}: {}",
            refused.stderr
        );
        assert!(!refused.stderr.contains("ask the vendor for a new link"), "{}", refused.stderr);
        if says != "expired" {
            assert!(refused.stderr.contains(&format!("Compare {}", vendor.sp4)), "{}", refused.stderr);
        } else {
            assert!(refused.stderr.contains("sealpass manifest sign"), "{}", refused.stderr);
        }
        // Staff, who hold the vendor key, print no link through it either.
        let request = vendor.staff_at(&door_url, &["request", "--label", "x", "--kind", "generic"]);
        request.expect(1);
        assert!(request.stdout.is_empty() && request.stderr.contains("REFUSING"), "{says}: {}", request.stderr);
    }
    assert_eq!(vendor.inbox_len(), before, "nothing was uploaded");

    // /v1/info left alone, the link the server makes rewritten: staff refuse to print it.
    let attacker_sp4 = sealpass_core::manifest::fingerprint(&other_vendor.public_key());
    door.set(Rewrite::Link(attacker_sp4.clone()));
    let rewritten = vendor.staff_at(&door_url, &["request", "--label", "x", "--kind", "generic"]);
    rewritten.expect(1);
    assert!(
        rewritten.stdout.is_empty()
            && rewritten.stderr.contains(&format!("REFUSING the link the server made: it names {attacker_sp4}")),
        "{}",
        rewritten.stderr
    );

    // A customer who pinned the vendor key refuses the front door's keys on a pinned send too,
    // and a certificate it would have them register is never shown.
    door.set(Rewrite::Nothing);
    customer.sealpass(&["init", "--server", &door_url, "--fingerprint", &vendor.sp4], "").expect(0);
    door.set(Rewrite::Recipients(vec![attacker_key]));
    let pinned = customer.sealpass(&["send", "--kind", "generic"], SECRET);
    pinned.expect(1);
    assert!(
        pinned.stderr.contains("the value you pinned") && pinned.stderr.contains("sealpass init"),
        "{}",
        pinned.stderr
    );
}

#[test]
fn staff_hold_their_server_to_something_and_customers_hold_a_pinned_host_to_its_pin() {
    let vendor = Vendor::new(None);
    let customer = Home::new();
    customer.sealpass(&["init", "--server", &vendor.url, "--fingerprint", &vendor.sp4], "").expect(0);
    // Staff with neither a vendor key nor a pin print no link on the server's word.
    let bare = Home::new();
    let run = bare.sealpass_env(
        &["request", "--label", "x", "--kind", "generic"],
        "",
        &[("SEALPASS_STAFF_TOKEN", &vendor.token), ("SEALPASS_SERVER", &vendor.url)],
    );
    run.expect(2);
    assert!(run.stdout.is_empty() && run.stderr.contains("vendor_key = \"sp4-"), "{}", run.stderr);
    // Another server on the host the customer pinned (another port), under a vendor key of its
    // own: its link is refused, as the customer's pin for that host does not vouch for it.
    let impostor = Vendor::new(None);
    let link = impostor.request();
    let refused = answer(&customer, &link);
    refused.expect(1);
    assert!(
        refused.stderr.contains("the value you pinned") && refused.stderr.contains(&vendor.sp4),
        "{}",
        refused.stderr
    );
    assert_eq!(impostor.inbox_len(), 0);
    // A customer with no pin there would have to compare the value: it names the impostor's key.
    assert!(link.ends_with(&impostor.sp4));
}

#[test]
fn moving_the_vendor_key_itself_takes_a_cross_signature() {
    let mut vendor = Vendor::new(None);
    let customer = Home::new();
    let url = vendor.url.clone();
    let old_sp4 = vendor.sp4.clone();
    let links: Vec<String> = (0..3).map(|_| vendor.request()).collect();
    customer.sealpass(&["init", "--server", &url, "--fingerprint", &old_sp4], "").expect(0);

    // A new vendor key, cross-signed by the old one: the pin moves, and says so.
    let made = vendor.home.sealpass(&["vendor-key", "new", "-o", "vendor-2.key"], "");
    made.expect(0);
    let new_sp4 = made.stdout.trim().to_owned();
    vendor.sign_with(&["--vendor-key", "vendor-2.key", "--previous-key", "vendor.key"]).expect(0);
    vendor.serve();
    let moved = answer(&customer, &links[0]);
    moved.expect(0);
    assert!(moved.stderr.contains(&format!("now names {new_sp4}")), "{}", moved.stderr);
    assert_eq!(pin(&customer, &url)["fingerprint"].as_str(), Some(new_sp4.as_str()));
    // Staff whose config names the old key are told to update it; new links name the new key.
    let told = vendor.staff(&["request", "--label", "x", "--kind", "generic"]);
    told.expect(0);
    assert!(
        told.stdout.trim().ends_with(&new_sp4) && told.stderr.contains(&format!("vendor_key = \"{new_sp4}\"")),
        "{}",
        told.stderr
    );

    // A manifest signed only by a key nobody vouched for moves nothing.
    let made = vendor.home.sealpass(&["vendor-key", "new", "-o", "vendor-3.key"], "");
    made.expect(0);
    vendor.sign_with(&["--vendor-key", "vendor-3.key"]).expect(0);
    vendor.serve();
    let refused = answer(&customer, &links[1]);
    refused.expect(1);
    assert!(refused.stderr.contains("not signed by the vendor key"), "{}", refused.stderr);
    assert_eq!(pin(&customer, &url)["fingerprint"].as_str(), Some(new_sp4.as_str()), "the pin did not move");
    let staff = vendor.staff(&["request", "--label", "x", "--kind", "generic"]);
    staff.expect(1);
    assert!(staff.stdout.is_empty(), "{}", staff.stdout);
}

#[test]
fn a_vendor_moves_from_classical_to_post_quantum_keys_and_waiting_drops_still_open() {
    let mut vendor = Vendor::new(None);
    // Before: a vendor whose only key is classical (X25519), as keygen made them until now.
    let classical = vendor.home.keygen_classic("classical.identity");
    let old_identity = std::fs::read_to_string(vendor.home.path("classical.identity")).unwrap();
    std::fs::write(vendor.home.path("data/sealpass/identity.txt"), &old_identity).unwrap();
    vendor.recipients = vec![classical.clone()];
    vendor.sign().expect(0);
    vendor.serve();
    assert!(vendor.server.as_ref().unwrap().log().contains("classical (X25519) only"), "warned at start");
    let customer = Home::new();
    let before = answer(&customer, &vendor.request());
    before.expect(0);
    assert!(before.stderr.contains("(classical keys)"), "{}", before.stderr);

    // The move: a post-quantum key beside the classical one (one identity file holds both),
    // the manifest re-signed, the server restarted. Links name the vendor key, so they survive.
    let pq = vendor.home.keygen("pq.identity");
    let pq_identity = std::fs::read_to_string(vendor.home.path("pq.identity")).unwrap();
    vendor.home.private_file("data/sealpass/identity.txt", &format!("{old_identity}{pq_identity}"));
    vendor.recipients.push(pq.clone());
    vendor.sign().expect(0);
    vendor.serve();
    let log = vendor.server.as_ref().unwrap().log();
    assert!(log.contains("1 post-quantum and 1 classical: senders (the CLI and the page) seal new drops"), "{log}");
    let after = answer(&customer, &vendor.request());
    after.expect(0);
    assert!(after.stderr.contains("(post-quantum keys)"), "{}", after.stderr);
    assert!(after.stderr.contains("also publishes 1 classical key(s)"), "{}", after.stderr);

    // The sender's side says which kind sealed each; the drop waiting from before still opens.
    let status = customer.sealpass(&["status", "--json"], "");
    status.expect(0);
    let sealings: Vec<String> =
        status.json_lines().iter().map(|l| l["sealing"].as_str().unwrap_or("?").to_owned()).collect();
    assert_eq!(sealings, ["classical", "post-quantum"], "{}", status.stdout);
    for (sent, sealing, file) in [(&before, "classical", "got-before"), (&after, "post-quantum", "got-after")] {
        let got = vendor.staff(&["receive", &pickup(sent), "--json", "-o", file]);
        got.expect(0);
        assert_eq!(got.json()["sealing"], sealing, "{}", got.stdout);
        assert_eq!(std::fs::read_to_string(vendor.home.path(file)).unwrap(), SECRET);
        let said = got.stderr.contains("sealed to the vendor's classical (X25519) key: before the move");
        assert_eq!(said, sealing == "classical", "{}", got.stderr);
    }
    // What was sealed after the move does not open with the classical key alone.
    let third = answer(&customer, &vendor.request());
    third.expect(0);
    vendor.home.private_file("data/sealpass/identity.txt", &old_identity);
    let refused = vendor.staff(&["receive", &pickup(&third), "-o", "got-third"]);
    refused.expect(5);
    assert!(refused.stderr.contains("none of the identities"), "{}", refused.stderr);
}
