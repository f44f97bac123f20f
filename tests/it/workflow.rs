//! The hand-over as users meet it, through the real binary against a real `sealpass serve`:
//! request flow, anonymous flow with pinned keys, key substitution, weak secrets, second
//! receives, revokes, bad tokens, a server that is down, --exec, and secrets kept out of the
//! server's log and the sender's state file.

use crate::helpers::{Home, Run};
use crate::serve_cli::Served;

const WEAK: &str = "Password123!Password123!Password1";

/// A vendor (key, staff token for alice, server) and a separate customer home.
struct World {
    vendor: Home,
    customer: Home,
    server: Served,
    staff_token: String,
    fingerprint: String,
}

impl World {
    fn new() -> World {
        World::with_staff(&[]).0
    }

    /// A world whose server also has these staff (name, role), with their tokens.
    fn with_staff(extra: &[(&str, &str)]) -> (World, Vec<String>) {
        let vendor = Home::new();
        let recipient = vendor.keygen("data/sealpass/identity.txt");
        let token = vendor.sealpass(&["staff-token", "alice"], "");
        token.expect(0);
        let block = |run: &Run| run.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
        let mut snippet = block(&token);
        let mut tokens = Vec::new();
        for (name, role) in extra {
            let run = vendor.sealpass(&["staff-token", name, "--role", role], "");
            run.expect(0);
            snippet = format!("{snippet}\n{}", block(&run));
            tokens.push(run.stdout.trim().to_owned());
        }
        std::fs::write(vendor.path("server.toml"), format!("recipients = [\"{recipient}\"]\n{snippet}\n")).unwrap();
        let store = format!("sqlite://{}", vendor.path("drops.db").display());
        let server =
            Served::start(&vendor, &["--store", &store, "--config", "server.toml"], &[("SEALPASS_LOG", "debug")]);
        let info = crate::helpers::get_json(&format!("{}/v1/info", server.url));
        let fingerprint = info["fingerprint"].as_str().unwrap().to_owned();
        crate::helpers::pin_own_server(&vendor, &server.url);
        let world =
            World { vendor, customer: Home::new(), server, staff_token: token.stdout.trim().to_owned(), fingerprint };
        (world, tokens)
    }

    /// A staff command as alice (token from the environment), against the server.
    fn staff(&self, args: &[&str], stdin: &str) -> Run {
        self.vendor.sealpass_env(
            args,
            stdin,
            &[("SEALPASS_STAFF_TOKEN", &self.staff_token), ("SEALPASS_SERVER", &self.server.url)],
        )
    }

    fn request_link(&self, kind: &str) -> String {
        let run = self.staff(&["request", "--label", "Acme", "--kind", kind], "");
        run.expect(0);
        run.stdout.trim().to_owned()
    }

    fn inbox_len(&self) -> usize {
        let run = self.staff(&["inbox", "--json"], "");
        run.expect(0);
        run.json()["drops"].as_array().unwrap().len()
    }
}

#[test]
fn the_request_flow_end_to_end() {
    let w = World::new();
    let link = w.request_link("salesforce-password");
    assert!(link.contains(&format!(".{}", w.fingerprint)), "{link}");

    // The scripted path: no terminal; the password is inside the JSON, not before it.
    let no_tty = w.customer.sealpass(&["send", &link, "-u", "kore@acme.example", "--generate", "--yes"], "");
    no_tty.expect(2);
    assert!(no_tty.stderr.contains("add --print-generated") && !no_tty.stderr.contains("-o FILE"), "{}", no_tty.stderr);
    let sent = w
        .customer
        .sealpass(&["send", &link, "-u", "kore@acme.example", "--generate", "--print-generated", "--json"], "");
    sent.expect(0);
    assert_eq!(sent.stdout.lines().count(), 1, "one JSON object: {}", sent.stdout);
    let info = sent.json();
    let password = info["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    assert_eq!(info["fingerprint"], w.fingerprint.as_str());
    let pickup = info["pickup_url"].as_str().unwrap().to_owned();

    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    status.expect(0);
    assert_eq!(status.json()["state"], "waiting");
    assert_eq!(w.inbox_len(), 1);
    let inbox = w.staff(&["inbox"], "");
    assert!(inbox.stdout.contains("Acme"), "{}", inbox.stdout);

    let received = w.staff(&["receive", &pickup, "-o", "password.txt"], "");
    received.expect(0);
    assert_eq!(std::fs::read_to_string(w.vendor.path("password.txt")).unwrap(), password);
    assert!(received.stdout.contains("compliant") && !received.mentions(&password));

    let status = w.customer.sealpass(&["status", &pickup], "");
    status.expect(0);
    assert!(status.stdout.contains("received by alice"), "{}", status.stdout);
    assert!(status.stderr.contains("receipt: signed by the server's key"), "{}", status.stderr);
    assert!(
        status.stderr.contains("(your link vouched for it), audit entry #"),
        "status shows the key: {}",
        status.stderr
    );

    // The receipt, checked against the key the link vouched for, then offline.
    let json = w.customer.sealpass(&["status", &pickup, "--json"], "");
    json.expect(0);
    assert_eq!(json.json()["receipt_check"], "verified");
    assert_eq!(json.json()["receipt"]["claims"]["received_by"], "alice");
    w.customer.sealpass(&["status", &pickup, "--save-receipt", "receipt.json"], "").expect(0);
    let key =
        crate::helpers::get_json(&format!("{}/v1/info", w.server.url))["receipt_key"].as_str().unwrap().to_owned();
    let verified = w.customer.sealpass(&["receipt", "verify", "receipt.json", "--key", &key], "");
    verified.expect(0);
    assert!(verified.stdout.contains("was received by alice"), "{}", verified.stdout);
    // Without --key, the sender's own record vouches: the key its link named.
    let unkeyed = w.customer.sealpass(&["receipt", "verify", "receipt.json"], "");
    unkeyed.expect(0);
    assert!(unkeyed.stderr.contains("the link you sent this drop with"), "{}", unkeyed.stderr);
    let text = std::fs::read_to_string(w.customer.path("receipt.json")).unwrap();
    // Elsewhere nothing vouches for the key: a receipt signed by anyone's key is not "valid".
    let elsewhere = Home::new();
    std::fs::write(elsewhere.path("receipt.json"), &text).unwrap();
    let unvouched = elsewhere.sealpass(&["receipt", "verify", "receipt.json", "--json"], "");
    unvouched.expect(1);
    let verdict = unvouched.json();
    assert_eq!(
        (verdict["ok"].as_bool(), verdict["signature"].as_str(), verdict["key"].as_str()),
        (Some(false), Some("valid"), Some("unknown"))
    );
    let mut forged: sealpass_core::receipt::Receipt = serde_json::from_str(&text).unwrap();
    forged.claims.received_by = "mallory".into();
    let (_, mallory) = sealpass_core::receipt::Signer::generate().unwrap();
    let forged = mallory.sign(forged.claims);
    std::fs::write(elsewhere.path("resigned.json"), serde_json::to_string(&forged).unwrap()).unwrap();
    let resigned = elsewhere.sealpass(&["receipt", "verify", "resigned.json"], "");
    resigned.expect(1);
    assert!(
        resigned.stderr.contains("nothing vouches for the key") && !resigned.stdout.contains("valid"),
        "{}",
        resigned.stderr
    );
    std::fs::write(w.customer.path("resigned.json"), serde_json::to_string(&forged).unwrap()).unwrap();
    let resigned = w.customer.sealpass(&["receipt", "verify", "resigned.json"], "");
    resigned.expect(1);
    assert!(
        resigned.stderr.contains("not by the server's"),
        "the customer's link names another key: {}",
        resigned.stderr
    );
    std::fs::write(w.customer.path("forged.json"), text.replace("\"alice\"", "\"mallory\"")).unwrap();
    let forged = w.customer.sealpass(&["receipt", "verify", "forged.json", "--key", &key], "");
    forged.expect(1);
    assert!(forged.stderr.contains("altered"), "{}", forged.stderr);
    let other = w.customer.sealpass(&["receipt", "verify", "receipt.json", "--key", &"ab".repeat(32)], "");
    other.expect(1);
    assert!(other.stderr.contains("not by the server's"), "{}", other.stderr);

    let again = w.staff(&["receive", &pickup, "--reveal"], "");
    again.expect(4);
    assert!(again.stderr.contains("already received"), "{}", again.stderr);
    // Each cause said once (issue 19: "no such request: no such request").
    let said = again.stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    let words: Vec<&str> = said.trim_start_matches("error: ").split(": ").collect();
    let mut unique = words.clone();
    unique.dedup();
    assert_eq!(words, unique, "a cause repeated: {said}");
    let reuse = w.customer.sealpass(&["send", &link, "-u", "kore@acme.example"], "Zq8!kR2#mW9$vB4%tN7^xL3&Zq8!kR2#");
    reuse.expect(4);

    // Nothing secret in the server's log or the customer's state file.
    let log = w.server.log();
    let state = std::fs::read_to_string(w.customer.path("state/sealpass/sent.json")).unwrap();
    for secret in [password.as_str(), w.staff_token.as_str()] {
        assert!(!log.contains(secret) && !state.contains(secret), "leaked");
    }
    let token = link.split('#').nth(1).unwrap().split('.').next().unwrap();
    assert!(!log.contains(token), "the upload token is not logged");
}

#[test]
fn the_anonymous_flow_with_pinned_keys() {
    let w = World::new();
    let no_pin = w.customer.sealpass(&["send", "--server", &w.server.url], "Zq8!kR2#mW9$vB4%tN7^");
    no_pin.expect(2);
    assert!(no_pin.stderr.contains("sealpass init"), "{}", no_pin.stderr);
    let malformed = w.customer.sealpass(&["init", "--server", &w.server.url, "--fingerprint", "sp1-aaaa-bbbb"], "");
    malformed.expect(2);
    let other = "sp3-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zz";
    let wrong = w.customer.sealpass(&["init", "--server", &w.server.url, "--fingerprint", other], "");
    wrong.expect(1);
    assert!(wrong.stderr.contains("nothing was pinned"), "{}", wrong.stderr);
    w.customer.sealpass(&["init", "--server", &w.server.url, "--fingerprint", &w.fingerprint], "").expect(0);
    let sent = w.customer.sealpass(&["send", "--kind", "generic", "--note", "ftp"], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();
    w.staff(&["receive", &pickup, "--exec", "cat > got.txt"], "").expect(0);
    assert_eq!(
        std::fs::read_to_string(w.vendor.path("got.txt")).unwrap(),
        "Zq8!kR2#mW9$vB4%tN7^",
        "--exec got exactly the secret on stdin"
    );
}

#[test]
fn key_substitution_is_refused_and_nothing_is_uploaded() {
    let w = World::new();
    let link = w.request_link("generic");
    let both = w
        .customer
        .sealpass(&["send", &link, "--to", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"], "x");
    both.expect(2);
    assert!(both.stderr.contains("drop --server, --to"), "{}", both.stderr);
    let forged = link.replace(&w.fingerprint, "sp1-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zz");
    let run = w.customer.sealpass(&["send", &forged], "Zq8!kR2#mW9$vB4%tN7^");
    run.expect(1);
    assert!(run.stderr.contains("substituting") && run.stderr.contains("Nothing was sent"), "{}", run.stderr);
    assert_eq!(w.inbox_len(), 0);
}

#[test]
fn a_weak_password_is_refused_before_upload() {
    let w = World::new();
    let link = w.request_link("salesforce-password");
    let run = w.customer.sealpass(&["send", &link, "-u", "kore@acme.example"], WEAK);
    run.expect(3);
    assert!(run.stderr.contains("looks-random") && !run.mentions(WEAK));
    assert_eq!(w.inbox_len(), 0, "nothing uploaded");
}

#[test]
fn revoke_then_receive_is_unavailable() {
    let w = World::new();
    let link = w.request_link("generic");
    let sent = w.customer.sealpass(&["send", &link], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();
    let revoked = w.customer.sealpass(&["revoke", &pickup], "");
    revoked.expect(0);
    assert!(revoked.stdout.contains("revoked"));
    let run = w.staff(&["receive", &pickup, "--reveal"], "");
    run.expect(4);
    assert!(run.stderr.contains("revoked"));
    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    assert_eq!(status.json()["state"], "revoked");
}

#[test]
fn a_wrong_staff_token_is_not_authorised_and_a_dead_server_unreachable() {
    let w = World::new();
    let bad = w.vendor.sealpass_env(
        &["inbox"],
        "",
        &[("SEALPASS_STAFF_TOKEN", "sps_wrong"), ("SEALPASS_SERVER", &w.server.url)],
    );
    bad.expect(6);
    let none = w.vendor.sealpass_env(&["inbox"], "", &[("SEALPASS_SERVER", &w.server.url)]);
    none.expect(6);
    assert!(none.stderr.contains("SEALPASS_STAFF_TOKEN"));
    let url = w.server.url.clone();
    drop(w.server);
    let down = w.customer.sealpass(&["init", "--server", &url, "--fingerprint", "sp1-x"], "");
    down.expect(7);
    assert!(down.stderr.contains("cannot reach"), "{}", down.stderr);
}

#[test]
fn the_demo_runs_and_leaves_nothing_behind() {
    let home = Home::new();
    std::fs::create_dir(home.path("tmp")).unwrap();
    let run = home.sealpass_env(&["demo"], "", &[("TMPDIR", home.path("tmp").to_str().unwrap())]);
    run.expect(0);
    for phrase in [
        "in the link signed the server's keys",
        "compliant",
        "received by alice",
        "refused, as it should be",
        "revoked",
    ] {
        assert!(run.stdout.contains(phrase), "{phrase}: {}", run.stdout);
    }
    assert_eq!(std::fs::read_dir(home.path("tmp")).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn nothing_is_acknowledged_when_the_hand_on_fails_and_the_token_stays_home() {
    let w = World::new();
    let link = w.request_link("generic");
    let sent = w.customer.sealpass(&["send", &link], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();

    // A failing --exec: not acknowledged, still claimed by alice, and the command saw no token.
    let failed = w.staff(&["receive", &pickup, "--exec", "env > env.txt; exit 1"], "");
    failed.expect(1);
    assert!(failed.stderr.contains("not acknowledged"), "{}", failed.stderr);
    let env = std::fs::read_to_string(w.vendor.path("env.txt")).unwrap();
    assert!(!env.contains(&w.staff_token), "the command got our token");
    let mut ours: Vec<&str> = env.lines().filter(|l| l.starts_with("SEALPASS_")).collect();
    ours.sort_unstable();
    assert_eq!(ours, ["SEALPASS_KIND=generic", "SEALPASS_LABEL=Acme"], "only what describes the credential: {env}");
    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    assert_eq!(status.json()["state"], "claimed");
    // The command may have kept the secret, so the claim is not given back by itself; the
    // message says how to.
    assert!(failed.stderr.contains("sealpass release"), "{}", failed.stderr);

    // Released by hand: the drop waits again, and the sender sees who released it.
    let released = w.staff(&["release", &pickup], "");
    released.expect(0);
    assert!(released.stderr.contains("waits in the inbox again"), "{}", released.stderr);
    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    assert_eq!(
        (status.json()["state"].as_str(), status.json()["released_by"].as_str()),
        (Some("waiting"), Some("alice"))
    );
    let human = w.customer.sealpass(&["status", &pickup], "");
    assert!(human.stdout.contains("waiting again: alice released a claim"), "{}", human.stdout);
    let twice = w.staff(&["release", &pickup], "");
    twice.expect(4);
    assert!(twice.stderr.contains("waiting, not claimed"), "{}", twice.stderr);

    // Someone tries again and it completes.
    w.staff(&["receive", &pickup, "-o", "ok.txt"], "").expect(0);
    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    assert_eq!(status.json()["state"], "received");

    // A link to another host never gets the staff token.
    let foreign = pickup.replace(&w.server.url, "http://127.0.0.1:9");
    let refused = w.staff(&["receive", &foreign, "--reveal"], "");
    refused.expect(1);
    assert!(refused.stderr.contains("refusing to send your staff token"), "{}", refused.stderr);
}

#[test]
fn the_secret_given_as_an_argument_is_never_echoed() {
    let w = World::new();
    let run = w.customer.sealpass(&["send", "Hunter2-SuperSecret-Pass"], "");
    run.expect(2);
    assert!(!run.mentions("Hunter2"), "{}", run.stderr);
}

/// A password that passes the salesforce policy.
const GOOD: &str = "5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ";

#[test]
fn the_upload_token_on_argv_regression() {
    let w = World::new();
    // The first line of stdin is the link, the next the secret.
    let link = w.request_link("salesforce-password");
    let sent = w
        .customer
        .sealpass(&["send", "--link-file", "-", "-u", "kore@acme.example", "--json"], format!("{link}\n{GOOD}\n"));
    sent.expect(0);
    assert!(sent.json()["pickup_url"].as_str().unwrap().contains("/d/"));
    // From a file, and from SEALPASS_LINK; never on the command line.
    let link = w.request_link("salesforce-password");
    w.customer.private_file("link.txt", &format!("{link}\n"));
    let sent =
        w.customer.sealpass(&["send", "--link-file", "link.txt", "-u", "kore@acme.example"], format!("{GOOD}\n"));
    sent.expect(0);
    let link = w.request_link("salesforce-password");
    let sent =
        w.customer.sealpass_env(&["send", "-u", "kore@acme.example"], format!("{GOOD}\n"), &[("SEALPASS_LINK", &link)]);
    sent.expect(0);
    assert!(sent.stderr.contains("You are answering: Acme (salesforce-password)"), "{}", sent.stderr);
    assert_eq!(w.inbox_len(), 3);
    // A stale SEALPASS_LINK never silently replaces the link given as the argument.
    let other = w.request_link("salesforce-password");
    let both = w.customer.sealpass_env(
        &["send", &other, "-u", "kore@acme.example"],
        format!("{GOOD}\n"),
        &[("SEALPASS_LINK", &link)],
    );
    both.expect(2);
    assert!(both.stderr.contains("SEALPASS_LINK holds a different link"), "{}", both.stderr);
    assert_eq!(w.inbox_len(), 3, "nothing was sent");
    let help = w.customer.sealpass(&["send", "--help"], "");
    assert!(help.stdout.contains("process list") && help.stdout.contains("SEALPASS_LINK"), "{}", help.stdout);
}

#[test]
fn a_link_with_a_user_and_password_is_refused_and_never_recorded() {
    let w = World::new();
    let link = w.request_link("salesforce-password");
    let with_userinfo = link.replacen("http://", "http://mallory:hunter2@", 1);
    let sent = w.customer.sealpass(&["send", &with_userinfo, "-u", "kore@acme.example"], format!("{GOOD}\n"));
    sent.expect(2);
    assert!(sent.stderr.contains("user name or password") && !sent.stderr.contains("hunter2"), "{}", sent.stderr);
    assert!(!w.customer.path("state/sealpass/sent.json").exists(), "nothing recorded");
    assert_eq!(w.inbox_len(), 0, "nothing sent");
    let server = w.customer.sealpass(&["send", "--server", "127.0.0.1:8427", "--to", "age1x"], "");
    server.expect(2);
    assert!(server.stderr.contains("http://127.0.0.1:8427"), "{}", server.stderr);
}

#[test]
fn revoke_between_claim_and_acknowledgement_says_what_happened() {
    let w = World::new();
    let link = w.request_link("salesforce-password");
    let sent = w.customer.sealpass(&["send", &link, "-u", "kore@acme.example", "--json"], format!("{GOOD}\n"));
    sent.expect(0);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    // The hand-on step revokes the drop as the customer, between the claim and the ack.
    let revoke = format!(
        "cat > /dev/null; env HOME={0} XDG_STATE_HOME={0}/state XDG_CONFIG_HOME={0}/config {1} revoke {2} > {0}/revoked.txt 2>&1",
        w.customer.dir.path().display(),
        env!("CARGO_BIN_EXE_sealpass"),
        pickup
    );
    let received = w.staff(&["receive", &pickup, "--exec", &revoke], "");
    received.expect(4);
    assert!(received.stderr.contains("revoked the drop after you claimed it"), "{}", received.stderr);
    assert!(!received.stderr.contains("run receive again"), "{}", received.stderr);
    let revoked = std::fs::read_to_string(w.customer.path("revoked.txt")).unwrap();
    assert!(revoked.contains("already delivered to alice"), "{revoked}");
}

#[test]
fn a_receipt_from_the_web_page_lets_the_cli_follow_and_revoke_the_drop() {
    let w = World::new();
    // A drop sent elsewhere (standing in for the browser): its manage token is only in the receipt.
    let browser = Home::new();
    let sent = browser.sealpass(&["send", &w.request_link("generic")], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(browser.path("state/sealpass/sent.json")).unwrap()).unwrap();
    let d = &record[0];
    let receipt = serde_json::json!({
        "sealpass_receipt": 1, "server": d["server"], "id": d["id"], "pickup_url": pickup,
        "label": "Acme", "kind": "generic", "created_at": d["created_at"], "expires_at": d["expires_at"],
        "manage_token": d["manage_token"],
    });
    let write = |name: &str, v: &serde_json::Value| {
        std::fs::write(w.customer.path(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
        name.to_owned()
    };
    // Not recorded here yet; then imported (twice: recorded once) and shown.
    w.customer.sealpass(&["status", &pickup], "").expect(2);
    let file = write("sealpass-drop.json", &receipt);
    for _ in 0..2 {
        let status = w.customer.sealpass(&["status", "--receipt", &file, "--json"], "");
        status.expect(0);
        assert_eq!(status.json()["state"], "waiting");
    }
    let all = w.customer.sealpass(&["status", "--json"], "");
    assert_eq!(all.json_lines().len(), 1, "{}", all.stdout);
    let revoked = w.customer.sealpass(&["revoke", &pickup], "");
    revoked.expect(0);
    assert_eq!(w.customer.sealpass(&["status", &pickup, "--json"], "").json()["state"], "revoked");

    // Damaged or forged receipts are refused, saying what is wrong, and nothing is recorded.
    let other = Home::new();
    for (change, why) in [
        (("pickup_url", serde_json::json!("http://127.0.0.1:1/d/aaaaaaaaaaaaaaaaaaaaaaaaaa")), "does not match"),
        (("manage_token", serde_json::json!("short")), "manage token"),
        (("kind", serde_json::json!("x")), "unknown kind"),
        (("sealpass_receipt", serde_json::json!(2)), "version"),
        (("extra", serde_json::json!(1)), "JSON"),
        (("label", serde_json::json!("a\u{1b}[2J")), "control"),
    ] {
        let mut bad = receipt.clone();
        bad[change.0] = change.1.clone();
        std::fs::write(other.path("r.json"), serde_json::to_vec(&bad).unwrap()).unwrap();
        let run = other.sealpass(&["status", "--receipt", "r.json"], "");
        run.expect(2);
        assert!(
            run.stderr.contains("not a sealpass follow-up file") && run.stderr.contains(why),
            "{change:?}: {}",
            run.stderr
        );
    }
    assert!(!other.path("state/sealpass/sent.json").exists());
}

#[test]
fn receive_checks_what_it_can_before_claiming() {
    let w = World::new();
    let sent = w.customer.sealpass(&["send", &w.request_link("generic")], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();
    std::fs::write(w.vendor.path("taken.txt"), "keep me").unwrap();
    for (output, why) in [("taken.txt", "exists"), ("no/such/dir/p.txt", "not a directory")] {
        let run = w.staff(&["receive", &pickup, "-o", output], "");
        run.expect(2);
        assert!(run.stderr.contains(why) && run.stderr.contains("nothing was claimed"), "{}", run.stderr);
    }
    let bad_policy = w.staff(&["receive", &pickup, "--rules", "minlength: x", "--reveal"], "");
    bad_policy.expect(2);
    assert_eq!(std::fs::read_to_string(w.vendor.path("taken.txt")).unwrap(), "keep me");
    // Still waiting: nothing was claimed, so the receive that follows works.
    assert_eq!(w.customer.sealpass(&["status", &pickup, "--json"], "").json()["state"], "waiting");
    w.staff(&["receive", &pickup, "-o", "new.txt"], "").expect(0);
    assert_eq!(std::fs::read_to_string(w.vendor.path("new.txt")).unwrap(), "Zq8!kR2#mW9$vB4%tN7^");
}

#[test]
fn status_shows_every_drop_even_when_a_server_is_down_and_forgets_finished_ones() {
    let w = World::new();
    let mut pickups = Vec::new();
    for _ in 0..2 {
        let sent = w.customer.sealpass(&["send", &w.request_link("generic")], "Zq8!kR2#mW9$vB4%tN7^");
        sent.expect(0);
        pickups.push(sent.stdout.trim().to_owned());
    }
    // A third record, on a server that is gone.
    let path = w.customer.path("state/sealpass/sent.json");
    let mut record: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut dead = record[0].clone();
    dead["server"] = "http://127.0.0.1:1".into();
    record.insert(0, dead);
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();

    let all = w.customer.sealpass(&["status", "--json"], "");
    all.expect(7);
    let lines = all.json_lines();
    assert_eq!(lines.len(), 3, "every drop is shown: {}", all.stdout);
    assert!(lines[0]["error"].as_str().unwrap().contains("cannot reach"), "{}", all.stdout);
    assert!(lines[1..].iter().all(|l| l["state"] == "waiting"), "{}", all.stdout);

    // A revoked drop is a state, not an error; finished drops can be forgotten.
    w.customer.sealpass(&["revoke", &pickups[0]], "").expect(0);
    let one = w.customer.sealpass(&["status", &pickups[0]], "");
    one.expect(0);
    assert!(one.stdout.contains("revoked at"), "{}", one.stdout);
    let forget = w.customer.sealpass(&["status", "--forget-finished"], "");
    forget.expect(7);
    assert!(forget.stderr.contains("forgot 1 finished drop"), "{}", forget.stderr);
    let left = w.customer.sealpass(&["status", "--json"], "");
    assert_eq!(left.json_lines().len(), 2, "{}", left.stdout);
}

#[test]
fn init_says_what_it_did_to_the_default_and_knows_a_server_that_is_not_ours() {
    let w = World::new();
    let not_ours = w.customer.sealpass(&["init", "--server", &format!("{}/elsewhere", w.server.url)], "");
    not_ours.expect(1);
    assert!(not_ours.stderr.contains("does not answer like a sealpass drop server"), "{}", not_ours.stderr);
    let a = w.server.url.clone();
    let b = a.replace("127.0.0.1", "localhost");
    w.customer.sealpass(&["init", "--server", &a, "--fingerprint", &w.fingerprint], "").expect(0);
    let second = w.customer.sealpass(&["init", "--server", &b, "--fingerprint", &w.fingerprint], "");
    second.expect(0);
    assert!(second.stderr.contains(&format!("the default server stays {a}")), "{}", second.stderr);
    let made = w.customer.sealpass(&["init", "--server", &b, "--fingerprint", &w.fingerprint, "--default"], "");
    made.expect(0);
    assert!(made.stderr.contains("is now the default server"), "{}", made.stderr);
    let config = std::fs::read_to_string(w.customer.path("config/sealpass/config.toml")).unwrap();
    assert!(config.contains(&format!("server = \"{b}\"")), "{config}");
}

#[test]
fn a_ttl_longer_than_the_server_allows_is_a_usage_error_naming_the_maximum() {
    let w = World::new();
    let run = w.staff(&["request", "--label", "Acme", "--kind", "generic", "--ttl", "30d"], "");
    run.expect(2);
    assert!(run.stderr.contains("--ttl 30d is longer than this server allows (at most 7d)"), "{}", run.stderr);
    let link = w.request_link("generic");
    let send = w.customer.sealpass(&["send", &link, "--ttl", "30d"], "Zq8!kR2#mW9$vB4%tN7^");
    send.expect(2);
    assert!(send.stderr.contains("at most 7d"), "{}", send.stderr);
    assert_eq!(w.inbox_len(), 0, "nothing was uploaded");
}

/// A drop sealed to the vendor's key and `also` (armored), uploaded anonymously to `server`.
async fn sealed_drop(server: &crate::server_support::TestServer, vendor: &Home, to: &[&str]) -> String {
    let mut args = vec!["seal", "--kind", "generic"];
    for r in to {
        args.extend(["--to", r]);
    }
    let sealed = tokio::task::block_in_place(|| vendor.sealpass(&args, "Zq8!kR2#mW9$vB4%tN7^xL3&Zq8!kR2#"));
    sealed.expect(0);
    let body = serde_json::json!({"ciphertext": sealed.stdout});
    let (status, v) = crate::server_support::call(server.req(reqwest::Method::POST, "/v1/drops").json(&body)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_sealed_to_more_keys_than_the_vendors_is_refused_regression() {
    // A server configured (or compromised) to publish an extra recipient: senders seal to it.
    let vendor = Home::new();
    let ours = vendor.keygen("data/sealpass/identity.txt");
    let (_, attacker) = sealpass_core::crypto::generate_identity("attacker");
    let attacker = attacker.to_string();
    let (mine, theirs) = (ours.clone(), attacker.clone());
    let server = crate::server_support::TestServer::start(move |s| s.recipients = vec![mine, theirs]).await;
    // The receiving staff member pinned the vendor's own key earlier (`sealpass init`).
    let fingerprint = sealpass_core::crypto::fingerprint(std::slice::from_ref(&ours));
    let config = format!(
        "server = \"{url}\"\n[[pinned]]\nserver = \"{url}\"\nfingerprint = \"{fingerprint}\"\nrecipients = [\"{ours}\"]\n",
        url = server.url
    );
    std::fs::create_dir_all(vendor.path("config/sealpass")).unwrap();
    std::fs::write(vendor.path("config/sealpass/config.toml"), config).unwrap();
    let token = crate::server_support::staff_token("alice");
    let receive = |id: &str| {
        let pickup = format!("{}/d/{id}", server.url);
        tokio::task::block_in_place(|| {
            vendor.sealpass_env(&["receive", &pickup, "--reveal"], "", &[("SEALPASS_STAFF_TOKEN", &token)])
        })
    };
    let both = sealed_drop(&server, &vendor, &[&ours, &attacker]).await;
    let refused = receive(&both);
    refused.expect(5);
    assert!(refused.stderr.contains("sealed to more keys than the vendor's"), "{}", refused.stderr);
    assert!(refused.stderr.contains("2 mlkem768x25519 stanza(s) where the vendor has 1"), "{}", refused.stderr);
    assert!(!refused.stdout.contains("Zq8!"), "nothing handed on: {}", refused.stdout);
    // Sealed to the vendor alone: received as ever.
    let alone = sealed_drop(&server, &vendor, &[&ours]).await;
    let received = receive(&alone);
    received.expect(0);
    assert!(received.stdout.contains("Zq8!kR2#"), "{}", received.stdout);
    server.stop().await;
}

/// Issue 19: what a newcomer hit on the staff side. `request` wants a kind, a label and a TTL
/// above zero before any call; the inbox shows each drop's kind.
#[test]
fn request_arguments_are_checked_before_any_call_and_the_inbox_shows_the_kind_regression() {
    let w = World::new();
    let no_kind = w.staff(&["request", "--label", "Acme"], "");
    no_kind.expect(2);
    assert!(no_kind.stderr.contains("--kind") && no_kind.stderr.contains("salesforce-jwt"), "{}", no_kind.stderr);
    for (args, says) in [
        (&["request", "--label", "", "--kind", "generic"][..], "--label must be"),
        (&["request", "--label", "  ", "--kind", "generic"][..], "--label must be"),
        (&["request", "--label", "Acme", "--kind", "generic", "--ttl", "0s"][..], "--ttl must be longer than 0s"),
        (&["request", "--label", "Acme", "--kind", "generic", "--drop-ttl", "0s"][..], "--drop-ttl must be longer"),
        (&["request", "--label", "Acme", "--kind", "generic", "--drop-ttl", "30d"][..], "--drop-ttl 30d is longer"),
        (&["request", "--label", "Acme", "--kind", "generic", "--require", "username"][..], "no such optional field"),
    ] {
        let run = w.staff(args, "");
        run.expect(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let link = w.request_link("dynamics-password");
    w.customer.sealpass(&["send", &link, "-u", "kore@acme.example", "--generate", "--print-generated"], "").expect(0);
    let inbox = w.staff(&["inbox"], "");
    inbox.expect(0);
    assert!(inbox.stdout.contains("Acme  dynamics-password  asked by alice  sent"), "{}", inbox.stdout);
    assert_eq!(w.staff(&["inbox", "--json"], "").json()["drops"][0]["kind"], "dynamics-password");
}

/// Issue 19: staff set how long the sent credential waits (`--drop-ttl`), apart from the link's
/// lifetime (`--ttl`), and make optional fields mandatory (`--require`).
#[test]
fn a_request_sets_the_drops_lifetime_and_the_fields_it_requires_regression() {
    let w = World::new();
    let run = w.staff(
        &["request", "--label", "Acme Dynamics", "--kind", "entra-client-secret", "--ttl", "48h", "--drop-ttl", "2h"]
            .iter()
            .chain(&["--require", "environment_url,expires_on", "--json"])
            .copied()
            .collect::<Vec<_>>(),
        "",
    );
    run.expect(0);
    let link = run.json()["link"].as_str().unwrap().to_owned();
    let secret = "abc8Q~0123456789abcdefghijklmnopqrstuvwx";
    let ids = [
        "--field",
        "tenant_id=72f988bf-86f1-41af-91ab-2d7cd011db47",
        "--field",
        "client_id=11111111-2222-3333-4444-555555555555",
    ];
    let mut args = vec!["send", &link];
    args.extend(ids);
    let missing = w.customer.sealpass(&args, secret);
    missing.expect(2);
    assert!(missing.stderr.contains("this request requires environment_url, expires_on"), "{}", missing.stderr);
    args.extend([
        "--field",
        "environment_url=https://acme.crm4.dynamics.com",
        "--field",
        "expires_on=2027-06-30",
        "--json",
    ]);
    // The sender may ask for less than the request's lifetime, never more.
    let longer: Vec<&str> = args.iter().copied().chain(["--ttl", "3h"]).collect();
    let refused = w.customer.sealpass(&longer, secret);
    refused.expect(2);
    assert!(refused.stderr.contains("--ttl 3h is longer than this request allows"), "{}", refused.stderr);
    assert!(refused.stderr.contains("at most 2h"), "{}", refused.stderr);
    let sent = w.customer.sealpass(&args, secret);
    sent.expect(0);
    let expires = sent.json()["expires_at"].as_str().unwrap().to_owned();
    let expires = time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339).unwrap();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left <= time::Duration::seconds(7202) && left > time::Duration::minutes(110), "the drop lives 2 h: {left}");
}

/// Issue 19: kinds whose secret the CRM issues get no generator; links pasted from a mail are
/// cleaned, and the wrong kind of link names the command that takes it; an empty stdin names
/// the command in use.
#[test]
fn newcomer_mistakes_with_links_and_secrets_get_clear_answers_regression() {
    let w = World::new();
    let link = w.request_link("salesforce-client-credentials");
    let fields = [
        "--field",
        "consumer_key=3MVG9A2kN3Bn17hsWsLDatw9xPq7RtY",
        "--field",
        "instance_url=https://acme.my.salesforce.com",
    ];
    let mut args = vec!["send", &link, "--generate", "--print-generated"];
    args.extend(fields);
    let generated = w.customer.sealpass(&args, "");
    generated.expect(2);
    assert!(
        generated.stderr.contains("Salesforce issues the secret") && generated.stderr.contains("Consumer Secret"),
        "{}",
        generated.stderr
    );
    assert_eq!(w.inbox_len(), 0, "nothing was uploaded");
    let mut args = vec!["send", &link];
    args.extend(fields);
    let empty = w.customer.sealpass(&args, "");
    empty.expect(1);
    assert!(empty.stderr.contains("`sealpass send`") && !empty.stderr.contains("sealpass check"), "{}", empty.stderr);
    // From a mail: <…>, a trailing period.
    let wrapped = format!("<{link}>.");
    let mut args = vec!["send", &wrapped, "--json"];
    args.extend(fields);
    let sent = w.customer.sealpass(&args, "Zq8kR2mW9vB4tN7xL3Zq8kR2mW9vB4tN7");
    sent.expect(0);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    let wrong = w.customer.sealpass(&["send", &pickup, "--kind", "generic"], "Zq8kR2mW9vB4tN7xL3Zq8kR2");
    wrong.expect(2);
    assert!(wrong.stderr.contains("pickup link") && wrong.stderr.contains("sealpass receive"), "{}", wrong.stderr);
    let other = w.request_link("generic");
    let wrong = w.staff(&["receive", &other, "--reveal"], "");
    wrong.expect(2);
    assert!(wrong.stderr.contains("request link") && wrong.stderr.contains("sealpass send"), "{}", wrong.stderr);
    let token = other.split('#').nth(1).unwrap().split('.').next().unwrap();
    assert!(!wrong.stderr.contains(token), "the upload token is never echoed");
    let received = w.staff(&["receive", &format!("({pickup})"), "--reveal"], "");
    received.expect(0);
}

/// Issue 19: --exec gets the fields that are not secrets in its environment, --exec-json the
/// whole envelope on stdin, so a vault keeps the username with the password.
#[test]
fn hand_over_commands_get_the_fields_too_regression() {
    let w = World::new();
    let link = w.request_link("salesforce-password");
    w.customer.private_file("token.txt", "SecurityTokenValue123");
    let args = ["send", &link, "-u", "kore@acme.example", "--field-file", "security_token=token.txt"];
    let sent = w.customer.sealpass(&[&args[..], &["--generate", "--print-generated", "--json"]].concat(), "");
    sent.expect(0);
    let (password, pickup) =
        (sent.json()["password"].as_str().unwrap().to_owned(), sent.json()["pickup_url"].as_str().unwrap().to_owned());
    let store = r#"printf '%s' "$SEALPASS_FIELD_USERNAME" > user.txt; cat > password.txt; env | grep ^SEALPASS_ | sort > env.txt"#;
    w.staff(&["receive", &pickup, "--exec", store], "").expect(0);
    assert_eq!(std::fs::read_to_string(w.vendor.path("user.txt")).unwrap(), "kore@acme.example");
    assert_eq!(std::fs::read_to_string(w.vendor.path("password.txt")).unwrap(), password);
    let env = std::fs::read_to_string(w.vendor.path("env.txt")).unwrap();
    assert!(!env.contains(&password), "never the secret in the environment: {env}");
    assert!(!env.contains("SecurityTokenValue123") && !env.contains("SECURITY_TOKEN"), "nor a secret field: {env}");
    // Not pinned on this machine: receive says its check rests on the server's word.
    let w2 = World::new();
    let link = w2.request_link("generic");
    let pickup = w2.customer.sealpass(&["send", &link], "Zq8!kR2#mW9$vB4%tN7^").stdout.trim().to_owned();
    std::fs::remove_file(w2.vendor.path("config/sealpass/config.toml")).unwrap();
    let unpinned = w2.staff(&["receive", &pickup, "-o", "x.txt"], "");
    unpinned.expect(0);
    assert!(unpinned.stderr.contains("not pinned on this machine"), "{}", unpinned.stderr);
    assert!(env.contains("SEALPASS_KIND=salesforce-password") && env.contains("SEALPASS_LABEL=Acme"), "{env}");

    let link = w.request_link("dynamics-password");
    let sent = w
        .customer
        .sealpass(&["send", &link, "-u", "svc@acme.example", "--generate", "--print-generated", "--json"], "");
    sent.expect(0);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    w.staff(&["receive", &pickup, "--exec-json", "cat > envelope.json"], "").expect(0);
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.vendor.path("envelope.json")).unwrap()).unwrap();
    assert_eq!(envelope["kind"], "dynamics-password");
    assert_eq!(envelope["fields"]["username"], "svc@acme.example");
    assert_eq!(envelope["secret"], sent.json()["password"]);
    assert_eq!(envelope["label"], "Acme");
}

/// Issue 19: a drop received before the server kept receipts has none: `status` says so and
/// exits 0, as for any other state (scripts broke after an upgrade).
#[test]
fn a_drop_without_a_receipt_is_a_state_not_a_failure_regression() {
    let w = World::new();
    let link = w.request_link("generic");
    let sent = w.customer.sealpass(&["send", &link, "--json"], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(0);
    let pickup = sent.json()["pickup_url"].as_str().unwrap().to_owned();
    w.staff(&["receive", &pickup, "-o", "got.txt"], "").expect(0);
    // As an upgraded database holds it: received, with no receipt entry.
    let db = rusqlite::Connection::open(w.vendor.path("drops.db")).unwrap();
    assert_eq!(db.execute("UPDATE drops SET received_seq = NULL", []).unwrap(), 1);
    let status = w.customer.sealpass(&["status", &pickup], "");
    status.expect(0);
    assert!(status.stderr.contains("receipt: none (received before the server kept receipts)"), "{}", status.stderr);
    assert!(!status.stderr.contains("error:"), "{}", status.stderr);
}

/// Issue 21: a failure while handing on keeps its exit code. `--reveal` of a binary key file on
/// a terminal is a usage error (exit 2), not exit 1, and the drop stays claimed, to receive again
/// with -o.
#[test]
fn a_hand_on_usage_error_keeps_exit_2_regression() {
    let w = World::new();
    let dir = w.customer.dir.path();
    let openssl = |args: &[&str]| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args(args).current_dir(dir);
        crate::helpers::run(cmd, b"").expect(0);
    };
    let subject = "/CN=kore-integration";
    let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem"];
    openssl(&[&["req", "-x509"][..], &key[..], &["-out", "c.pem", "-days", "2", "-subj", subject]].concat());
    openssl(&["pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "id.pfx", "-passout", "pass:hunter2"]);
    let recipient = w.vendor.sealpass(&["recipient"], "").stdout.lines().next().unwrap().to_owned();
    let sent = w.customer.sealpass(&["send", "--server", &w.server.url, "--to", &recipient, "--file", "id.pfx"], "");
    sent.expect(0);
    let pickup = sent.stdout.trim().to_owned();
    let env = [("SEALPASS_STAFF_TOKEN", w.staff_token.as_str()), ("SEALPASS_SERVER", w.server.url.as_str())];
    let shown = w.vendor.on_terminal_env(&["receive", &pickup, "--reveal"], "", &env);
    assert_eq!(shown.code, 2, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("would drive your terminal") && shown.stdout.contains("the claim was released"),
        "{}",
        shown.stdout
    );
    // Nothing left the process, so the claim was given back: the drop is in the inbox again.
    let status = w.customer.sealpass(&["status", &pickup, "--json"], "");
    assert_eq!(status.json()["state"], "waiting", "{}", status.stdout);
    assert_eq!(w.inbox_len(), 1);
    w.staff(&["receive", &pickup, "-o", "id.pfx"], "").expect(0);
    assert_eq!(std::fs::read(w.vendor.path("id.pfx")).unwrap(), std::fs::read(w.customer.path("id.pfx")).unwrap());
}

/// Issue 23: the requests a staff member made, listed and cancelled from the CLI; the customer's
/// CLI is told the link was cancelled.
#[test]
fn requests_are_listed_and_cancelled_from_the_cli() {
    let w = World::new();
    let link = w.request_link("generic");
    let other = w.request_link("salesforce-password");
    let listed = w.staff(&["requests", "--json"], "");
    listed.expect(0);
    let requests = listed.json()["requests"].as_array().unwrap().clone();
    assert_eq!(requests.len(), 2, "{}", listed.stdout);
    assert!(requests.iter().all(|r| r["state"] == "open" && r["created_by"] == "alice"));
    let human = w.staff(&["requests", "--state", "open"], "");
    human.expect(0);
    assert_eq!(human.stdout.lines().count(), 2, "{}", human.stdout);
    assert!(human.stdout.contains("open  Acme  salesforce-password  by alice"), "{}", human.stdout);
    // Cancelled by its id; a link (whose fragment holds the customer's upload token) is refused,
    // without quoting it.
    let by_link = w.staff(&["requests", "--cancel", &link], "");
    by_link.expect(2);
    let token = link.split_once('#').unwrap().1.split('.').next().unwrap();
    assert!(by_link.stderr.contains("not its link") && !by_link.stderr.contains(token), "{}", by_link.stderr);
    let id = link.split("/r/").nth(1).unwrap().split('#').next().unwrap();
    let cancelled = w.staff(&["requests", "--cancel", id], "");
    cancelled.expect(0);
    assert!(cancelled.stderr.contains("its link no longer works"), "{}", cancelled.stderr);
    let sent = w.customer.sealpass(&["send", &link], "Zq8!kR2#mW9$vB4%tN7^");
    sent.expect(4);
    assert!(sent.stderr.contains("the vendor cancelled this request"), "{}", sent.stderr);
    let gone = w.staff(&["requests", "--state", "cancelled", "--json"], "");
    assert_eq!(gone.json()["requests"].as_array().unwrap().len(), 1);
    assert_eq!(w.staff(&["requests", "--state", "done"], "").code, 2);
    assert_eq!(w.staff(&["requests", "--cancel", "not-an-id"], "").code, 2);
    // The other link still works.
    w.customer.sealpass(&["send", &other, "-u", "kore@acme.example", "--generate", "--print-generated"], "").expect(0);
    let answered = w.staff(&["requests", "--state", "fulfilled"], "");
    assert!(answered.stdout.contains(", its drop waiting"), "{}", answered.stdout);
    let inbox = w.staff(&["inbox"], "");
    assert!(inbox.stdout.contains("asked by alice"), "{}", inbox.stdout);
}

/// Issue 23 (review): a receiver who cannot read requests still receives a drop answering one —
/// the claim says the request's kind — and an auditor can follow it without changing anything.
#[test]
fn a_receiver_only_token_receives_what_a_requester_asked_for() {
    let (w, tokens) = World::with_staff(&[("rex", "receiver"), ("audrey", "auditor")]);
    let link = w.request_link("generic");
    w.customer.sealpass(&["send", &link], "Zq8!kR2#mW9$vB4%tN7^").expect(0);
    let as_rex = [("SEALPASS_STAFF_TOKEN", tokens[0].as_str()), ("SEALPASS_SERVER", w.server.url.as_str())];
    let inbox = w.vendor.sealpass_env(&["inbox", "--json"], "", &as_rex);
    inbox.expect(0);
    let pickup = format!("{}/d/{}", w.server.url, inbox.json()["drops"][0]["id"].as_str().unwrap());
    let received = w.vendor.sealpass_env(&["receive", &pickup, "-o", "got.txt"], "", &as_rex);
    received.expect(0);
    assert_eq!(std::fs::read_to_string(w.vendor.path("got.txt")).unwrap(), "Zq8!kR2#mW9$vB4%tN7^");
    let as_audrey = [("SEALPASS_STAFF_TOKEN", tokens[1].as_str()), ("SEALPASS_SERVER", w.server.url.as_str())];
    let listed = w.vendor.sealpass_env(&["requests", "--json"], "", &as_audrey);
    assert_eq!(listed.expect(0).json()["requests"][0]["drop_state"], "received");
    let refused = w.vendor.sealpass_env(&["request", "--label", "x", "--kind", "generic"], "", &as_audrey);
    refused.expect(6);
    assert!(refused.stderr.contains("needs the requester role"), "{}", refused.stderr);
}
