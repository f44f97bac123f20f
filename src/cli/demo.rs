//! `sealpass demo`: the whole hand-over on loopback — an embedded server over SQLite in a
//! temporary directory, throwaway keys and staff token — narrated step by step. It runs the
//! real commands' code: the hand-over in `handover` (keys checked against the link, envelope
//! checked, sealed, uploaded; claimed, checked, opened, acknowledged). Exit 0, nothing left behind.

use std::time::Instant;

use secrecy::ExposeSecret;

use secrecy::SecretString;

use crate::output::Printer;
use sealpass_client::exit::{Exit, Exits, Failure};
use sealpass_client::handover::{self, Intake};
use sealpass_client::http::{Client, ClientError};
use sealpass_core::crypto::{self, Identities};
use sealpass_core::envelope::Kind;
use sealpass_core::generate::Generator;
use sealpass_core::policy::Policy;
use sealpass_server::config::{ServerSettings, StaffMember, StoreUrl};

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {}

struct Narrator<'a> {
    printer: &'a Printer,
    step: usize,
}

impl Narrator<'_> {
    // The narration is the demo's output: stdout.
    fn step(&mut self, who: &str, what: &str, command: &str) {
        self.step += 1;
        let _ = self.printer.lines(&format!("\n{}. {who}: {what}\n   $ {command}", self.step));
    }
    fn say(&self, text: &str) {
        let _ = self.printer.lines(&format!("   {text}"));
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(Exit::Error, anyhow::anyhow!("demo: {what}: {e}"))
}

pub(crate) fn run(_: DemoArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let started = Instant::now();
    let mut n = Narrator { printer: &ctx.printer, step: 0 };
    let dir = tempfile::Builder::new().prefix("sealpass-demo-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = runtime.block_on(demo(&mut n, dir.path()));
    drop(runtime);
    dir.close()?;
    result?;
    n.printer.lines(&format!("\nDone in {} ms. Nothing was left behind.", started.elapsed().as_millis()))?;
    Ok(Exit::Ok)
}

async fn demo(n: &mut Narrator<'_>, dir: &std::path::Path) -> Result<(), Failure> {
    let _ = n
        .printer
        .lines("sealpass demo: a vendor (KORE) receives a Salesforce service-account password from a customer.");

    // The vendor's side: a key, a staff token, a server.
    n.step("Vendor", "makes an age key; senders seal to its recipient", "sealpass keygen");
    let (identity_text, recipient) = crypto::generate_identity(&super::now_rfc3339());
    let identities = Identities::parse(identity_text.expose_secret().as_bytes()).map_err(|e| failed("key", e))?;
    let text = recipient.to_string();
    n.say(&format!(
        "recipient {}… ({} characters: post-quantum, ML-KEM-768 with X25519)",
        text.chars().take(24).collect::<String>(),
        text.len()
    ));

    n.step("Operator", "starts the drop server with staff member alice", "sealpass serve --config config.toml");
    let alice = "sps_demo-token-for-alice".to_owned();
    let mut settings = ServerSettings::for_tests(StoreUrl::Sqlite(dir.join("drops.db")));
    settings.recipients = vec![recipient.to_string()];
    settings.staff = vec![StaffMember {
        name: "alice".into(),
        token_sha256: sealpass_server::auth::hash(&alice),
        roles: sealpass_core::access::Roles::of([
            sealpass_core::access::Role::Requester,
            sealpass_core::access::Role::Receiver,
        ]),
        roles_given: true,
    }];
    let mut launched = sealpass_server::launch(settings).await.map_err(|e| failed("server", e))?;
    let server = launched.settings.public_url.clone();
    // The server's receipt key, made now so the vendor's manifest can name it.
    let key_path = dir.join("receipt.key");
    let receipt_key =
        sealpass_server::audit_log::receipt_signer(Some(&key_path)).map_err(|e| failed("key", e))?.public_key();
    launched.settings.receipt_key = Some(key_path);
    // The vendor key (offline, in real life) signs what the server may serve; its sp4- value is
    // what the vendor publishes, and what links and pins name.
    let vendor_key = sealpass_core::receipt::Signer::generate().map_err(|e| failed("vendor key", e))?.1;
    let body = launched.settings.manifest_body(vec![server.clone()], 1, 90, receipt_key);
    launched.settings.manifest = Some(sealpass_core::manifest::sign(&body, &vendor_key, None));
    let fingerprint = sealpass_core::manifest::fingerprint(&vendor_key.public_key());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(launched.serve(async {
        let _ = stopped.await;
    }));
    n.say(&format!(
        "listening on {server} (SQLite in a temporary directory)\n   vendor key {fingerprint} signs its keys, \
         certificates and receipt key (sealpass manifest sign); the vendor publishes this value"
    ));
    let client = Client::new(&server).map_err(Failure::of)?;

    let outcome = walk(n, &client, &alice, &identities, &recipient.to_string(), &fingerprint).await;
    let _ = stop.send(());
    let _ = serving.await;
    outcome
}

async fn walk(
    n: &mut Narrator<'_>,
    client: &Client,
    alice: &str,
    identities: &Identities,
    recipient: &str,
    fingerprint: &str,
) -> Result<(), Failure> {
    n.step(
        "Staff (alice)",
        "asks the customer for the credential",
        "sealpass request --label 'Acme Salesforce' --kind salesforce-password",
    );
    let request = client
        .create_request(
            alice,
            &sealpass_core::api::CreateRequest {
                label: "Acme Salesforce".into(),
                kind: "salesforce-password".into(),
                ttl_seconds: Some(3600),
                require: Vec::new(),
                drop_ttl_seconds: None,
            },
        )
        .await
        .map_err(Failure::of)?;
    n.say(&format!("request link: {}/r/{}#…", client.server(), request.id));

    n.step(
        "Customer",
        "opens the link; the CLI checks the server's keys against the vendor key the link names",
        "sealpass send '<link>' --generate -u kore@acme.example",
    );
    let link = sealpass_core::link::parse_request(&request.link).map_err(|e| failed("link", e))?;
    let to = handover::answering(link, &[]).await.map_err(Failure::of)?;
    if to.fingerprint != fingerprint {
        return Err(failed("fingerprint", "the server's keys are not the vendor's"));
    }
    let asked = to.asked.as_ref().ok_or_else(|| failed("request", "no request"))?;
    n.say(&format!(
        "the vendor key {} in the link signed the server's keys; answering {} ({})",
        to.fingerprint, asked.label, asked.kind
    ));
    let policy = Policy::preset(asked.kind.default_policy().unwrap_or("strong")).map_err(Failure::usage)?;
    let generator = Generator::new(&policy, None).map_err(Failure::usage)?;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::try_from_os_rng().map_err(|e| failed("rng", e))?;
    let username = "kore@acme.example";
    let password = generator
        .generate_where(&mut rng, |p| policy.check(p, Some(username)).rules.iter().find(|r| !r.ok).map(|r| r.rule))
        .map_err(Failure::usage)?;
    n.say(&format!(
        "generated a {}-character password, {:.1} bits (a real run shows it once, to set on the account)",
        generator.length(),
        generator.entropy_bits()
    ));
    let intake = Intake {
        kind: asked.kind,
        secret: SecretString::from(password.as_str()),
        fields: [("username".to_owned(), SecretString::from(username))].into_iter().collect(),
        policy: Some(policy),
        note: None,
        sender: None,
        allow_weak: false,
    };
    let (envelope, _) = handover::envelope(intake, Some(asked.link.id.clone()), None).map_err(Failure::of)?;
    let drop = handover::send(&to, &envelope, Some(3600)).await.map_err(Failure::of)?;
    n.say(&format!("sealed and uploaded: {}", drop.pickup_url));

    n.step("Staff (alice)", "sees it waiting", "sealpass inbox");
    let inbox = client.inbox(alice, None).await.map_err(Failure::of)?;
    for d in &inbox.drops {
        n.say(&format!("{}  {}", d.id, d.label.as_deref().unwrap_or("")));
    }

    n.step(
        "Staff (alice)",
        "receives it: claim, decrypt, validate, hand on, acknowledge",
        "sealpass receive <pickup link> -o password.txt",
    );
    let received = handover::receive(client, alice, &drop.id, identities, None, |opened, _| {
        let policy = Policy::preset(opened.kind.default_policy().unwrap_or("strong"))
            .map_err(|e| handover::HandOnError::before(Failure::usage(e)))?;
        let report = policy.check(opened.secret.expose_secret(), Some(username));
        Ok((report, opened.secret.expose_secret() == password.as_str()))
    })
    .await
    .map_err(Failure::of)?;
    let (report, same) = received.handed;
    n.say(&format!(
        "decrypted {} for {username}; policy {}: {}; identical to what the customer sealed: {same}",
        handover::a(received.envelope.kind),
        report.policy,
        if report.compliant { "compliant" } else { "NOT compliant" }
    ));
    n.say("acknowledged: the server wiped its copy");

    n.step("Customer", "checks what happened to it", "sealpass status");
    let status = client.drop_status(&drop.id, drop.manage_token.expose_secret()).await.map_err(Failure::of)?;
    n.say(&format!(
        "{}: {} by {} at {}",
        drop.pickup_url,
        status.state.as_str(),
        status.claimed_by.as_deref().unwrap_or("?"),
        status.received_at.as_deref().unwrap_or("?")
    ));
    let receipt = client.receipt(&drop.id, drop.manage_token.expose_secret()).await.map_err(Failure::of)?;
    let key = to.receipt_key.as_deref().ok_or_else(|| failed("receipt", "the link vouches for no receipt key"))?;
    sealpass_core::receipt::verify(&receipt, Some(key)).map_err(|e| failed("receipt", e))?;
    n.say(&format!(
        "receipt: signed by the server's receipt key (covered by the link), audit entry #{}",
        receipt.claims.audit_seq
    ));

    n.step("Anyone", "tries to claim it again", "sealpass receive <pickup link> …");
    expect_refusal(n, client.claim(&drop.id, alice).await)?;

    n.step(
        "Customer",
        "sends another without a request, then revokes it before pickup",
        "sealpass send --server … ; sealpass revoke <pickup link>",
    );
    let anonymous =
        handover::pinned(client.server(), sealpass_core::trust::Anchor::link(fingerprint), &[recipient.to_owned()])
            .await
            .map_err(Failure::of)?;
    let intake = Intake {
        kind: Kind::Generic,
        secret: SecretString::from(password.as_str()),
        fields: Default::default(),
        policy: Some(Policy::preset("strong").map_err(Failure::usage)?),
        note: Some("sent by mistake".into()),
        sender: None,
        allow_weak: false,
    };
    let (mistake, _) = handover::envelope(intake, None, None).map_err(Failure::of)?;
    let second = handover::send(&anonymous, &mistake, Some(600)).await.map_err(Failure::of)?;
    client.revoke(&second.id, second.manage_token.expose_secret()).await.map_err(Failure::of)?;
    n.say("revoked");
    expect_refusal(n, client.claim(&second.id, alice).await)?;
    if !(report.compliant && same) {
        return Err(failed("check", "the received secret did not validate"));
    }
    Ok(())
}

fn expect_refusal<T>(n: &Narrator, result: Result<T, ClientError>) -> Result<(), Failure> {
    match result {
        Err(e @ ClientError::Unavailable { .. }) => {
            n.say(&format!("refused, as it should be: {e} (exit {})", e.exit() as u8));
            Ok(())
        }
        Err(e) => Err(Failure::of(e)),
        Ok(_) => Err(failed("claim", "a second claim was accepted")),
    }
}
