//! The trust root (SPEC §11), the operator's side: the vendor key made and shown, a manifest
//! signed over what the server's config serves (the serial growing on every re-signing), served
//! in `/v1/info` and verifiable under the key's `sp4-` value, and a server that refuses to start
//! with a manifest that does not vouch for it or has expired.

use crate::helpers::Home;
use crate::serve_cli::Served;

/// The vendor key in `path`, as `vendor-key new` wrote it.
pub fn vendor_signer(home: &Home, name: &str) -> sealpass_core::receipt::Signer {
    let text = std::fs::read_to_string(home.path(name)).unwrap();
    let encoded: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    let pkcs8 = data_encoding::BASE64.decode(encoded.trim().as_bytes()).unwrap();
    sealpass_core::receipt::Signer::from_pkcs8(&pkcs8).unwrap()
}

/// A server config with one recipient, a staff member, its public URL and a receipt key file.
fn config(home: &Home, url: &str, extra: &str) {
    let recipient = home.keygen("vendor.identity");
    let token = home.sealpass(&["staff-token", "alice"], "");
    token.expect(0);
    let staff: String = token.stderr.lines().skip_while(|l| *l != "[[staff]]").collect::<Vec<_>>().join("\n");
    let text = format!(
        "recipients = [\"{recipient}\"]\npublic_url = \"{url}\"\nreceipt_key = \"{}\"\n{extra}\n{staff}\n",
        home.path("receipt.key").display()
    );
    std::fs::write(home.path("server.toml"), text).unwrap();
}

#[test]
fn the_vendor_key_signs_a_manifest_the_server_serves_and_checks() {
    let home = Home::new();
    let made = home.sealpass(&["vendor-key", "new", "-o", "vendor.key"], "");
    made.expect(0);
    let sp4 = made.stdout.trim().to_owned();
    assert!(sp4.starts_with("sp4-") && sp4.len() == 36, "{sp4}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(home.path("vendor.key")).unwrap().permissions().mode() & 0o777, 0o600);
    let again = home.sealpass(&["vendor-key", "new", "-o", "vendor.key"], "");
    assert_ne!(again.code, 0, "never overwritten");
    let shown = home.sealpass(&["vendor-key", "show", "--vendor-key", "vendor.key", "--json"], "");
    shown.expect(0);
    assert_eq!(shown.json()["fingerprint"], sp4.as_str());

    let url = "https://drop.kore.example";
    config(&home, url, "");
    let sign = |extra: &[&str]| {
        let mut args = vec!["manifest", "sign", "--vendor-key", "vendor.key", "--config", "server.toml"];
        args.extend(extra);
        home.sealpass(&args, "")
    };
    sign(&["-o", "manifest.json"]).expect(0);
    let second = sign(&["-o", "manifest.json"]);
    second.expect(0);
    assert!(second.stderr.contains("wrote manifest serial 2"), "re-signing takes the next serial: {}", second.stderr);
    let lower = sign(&["-o", "manifest.json", "--serial", "1"]);
    lower.expect(2);
    assert!(lower.stderr.contains("serials only grow"), "{}", lower.stderr);

    // The server serves it, and says which value to publish.
    let text = std::fs::read_to_string(home.path("server.toml")).unwrap();
    std::fs::write(home.path("server.toml"), format!("manifest_file = \"manifest.json\"\n{text}")).unwrap();
    let server = Served::start(&home, &["--config", "server.toml", "--store", "sqlite://drops.db"], &[]);
    assert!(
        server.log().contains(&format!("vendor key {sp4} signs this server's manifest (serial 2")),
        "{}",
        server.log()
    );
    let info = crate::helpers::get_json(&format!("{}/v1/info", server.url));
    let signed: sealpass_core::manifest::SignedManifest = serde_json::from_value(info["manifest"].clone()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expect = sealpass_core::manifest::Expect { vendor_key: &sp4, server: url, now, min_serial: 2 };
    let verified = sealpass_core::manifest::verify(&signed, expect).unwrap();
    assert_eq!(
        verified.body.recipients,
        info["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect::<Vec<_>>()
    );
    assert_eq!(Some(verified.body.receipt_key.as_str()), info["receipt_key"].as_str());
    drop(server);

    // A config that changed since the manifest was signed: the server does not start.
    let (_, extra) = sealpass_core::crypto::generate_identity("extra");
    let changed = std::fs::read_to_string(home.path("server.toml")).unwrap().replacen(
        "recipients = [",
        &format!("recipients = [\"{extra}\", "),
        1,
    );
    std::fs::write(home.path("server.toml"), &changed).unwrap();
    let refused = home
        .sealpass(&["serve", "--listen", "127.0.0.1:0", "--config", "server.toml", "--store", "sqlite://drops.db"], "");
    refused.expect(2);
    assert!(
        refused.stderr.contains("manifest_file: it does not vouch") && refused.stderr.contains(&extra.to_string()),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("listening"), "{}", refused.stderr);
    // Re-signed, it starts again.
    sign(&["-o", "manifest.json"]).expect(0);
    drop(Served::start(&home, &["--config", "server.toml", "--store", "sqlite://drops.db"], &[]));

    // An expired manifest, signed by the right key: refused, saying what to do.
    let vendor = vendor_signer(&home, "vendor.key");
    let mut body: sealpass_core::manifest::ManifestBody = serde_json::from_str(
        &serde_json::from_str::<sealpass_core::manifest::SignedManifest>(
            &std::fs::read_to_string(home.path("manifest.json")).unwrap(),
        )
        .unwrap()
        .manifest,
    )
    .unwrap();
    body.expires_at = "2026-01-01T00:00:00Z".into();
    let expired = sealpass_core::manifest::sign(&body, &vendor, None);
    std::fs::write(home.path("manifest.json"), serde_json::to_string(&expired).unwrap()).unwrap();
    let stale = home
        .sealpass(&["serve", "--listen", "127.0.0.1:0", "--config", "server.toml", "--store", "sqlite://drops.db"], "");
    stale.expect(2);
    assert!(stale.stderr.contains("expired") && stale.stderr.contains("sealpass manifest sign"), "{}", stale.stderr);
}
