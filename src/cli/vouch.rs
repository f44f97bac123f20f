//! What staff hold their server to before trusting it with anything (a request link it makes,
//! their company sign-in): the vendor key's signed manifest, or a pin of its keys (SPEC §11).

use sealpass_client::exit::{Exit, Failure};
use sealpass_core::link;
use sealpass_core::text::shown;

use super::settings::{ClientConfig, Pin};

/// The values a link from the server may carry, once the server is vouched for by what staff
/// hold it to; refused (`doing` is what would have been done) when nothing vouches for it.
pub(crate) async fn accepted(
    client: &sealpass_client::http::Client,
    config: &ClientConfig,
    printer: &crate::output::Printer,
    doing: &str,
) -> Result<Vec<String>, Failure> {
    match held_to(config, client.server())? {
        Held::VendorKey(key) => {
            let vouched = vendor_vouched(client, &key, config, printer, doing).await?;
            Ok(std::iter::once(key).chain(vouched.manifest.and_then(|m| m.moved_to)).collect())
        }
        Held::Pin(pin) => hash_pinned(client, &pin, doing).await,
        Held::Nothing => Err(Failure::usage(format!(
            "nothing to hold {server} to, so sealpass will not {doing}: set vendor_key = \"sp4-…\" in your client \
             config (`sealpass paths`) as the vendor publishes it, or pin the server once (`sealpass init --server \
             {server}`). Otherwise a server that is not your vendor's could pass for it",
            server = client.server(),
        ))),
    }
}

/// What staff hold their server to.
pub(crate) enum Held {
    /// The vendor key: the config's `vendor_key`, else an `sp4-` pin.
    VendorKey(String),
    /// A pin of the hash of the server's keys (a server without a manifest).
    Pin(Pin),
    /// Nothing: the server's word.
    Nothing,
}

/// What staff hold `server` to: the config's `vendor_key`, else their pin for it.
pub(crate) fn held_to(config: &ClientConfig, server: &str) -> Result<Held, Failure> {
    if let Some(key) = &config.vendor_key {
        let key = key.trim();
        if !(sealpass_core::trust::is_vendor_key(key) && link::is_fingerprint(key)) {
            return Err(Failure::usage(format!(
                "the client config's vendor_key {} is not a vendor key's value (sp4-…, as the vendor publishes it)",
                shown(key)
            )));
        }
        return Ok(Held::VendorKey(key.to_owned()));
    }
    Ok(match config.pin(server) {
        Some(pin) if sealpass_core::trust::is_vendor_key(&pin.fingerprint) => Held::VendorKey(pin.fingerprint.clone()),
        Some(pin) => Held::Pin(pin.clone()),
        None => Held::Nothing,
    })
}

/// A server without a manifest, pinned by the hash of its keys: it must serve what the pin
/// vouches for; a link may carry that pin's value or the hash of what is served now.
async fn hash_pinned(client: &sealpass_client::http::Client, pin: &Pin, doing: &str) -> Result<Vec<String>, Failure> {
    let served = sealpass_client::handover::Served::fetch(client).await.map_err(Failure::of)?;
    served.vouch(pin.anchor(), client.server()).map_err(|why| refusing(doing, &why, &pin.fingerprint))?;
    Ok(vec![pin.fingerprint.clone(), served.fingerprint])
}

/// Staff refusing `doing` because `value` does not vouch for what the server serves.
fn refusing(doing: &str, why: &sealpass_core::trust::TrustError, value: &str) -> Failure {
    Failure::new(Exit::Error, anyhow::anyhow!("REFUSING to {doing}: {why}. {}", why.what_to_do(value)))
}

/// The server's manifest must be signed by `key` (no older than a pin has seen), and what it
/// serves exactly what the manifest vouches for: else nothing is done (`doing`). A cross-signed
/// move to a new vendor key is accepted, and said.
pub(crate) async fn vendor_vouched(
    client: &sealpass_client::http::Client,
    key: &str,
    config: &ClientConfig,
    printer: &crate::output::Printer,
    doing: &str,
) -> Result<sealpass_core::trust::Vouched, Failure> {
    let served = sealpass_client::handover::Served::fetch(client).await.map_err(Failure::of)?;
    let current = config.pin(client.server());
    let pin = current.filter(|p| p.fingerprint == key);
    // Serials run on across a vendor key's rotation: any pin's holds.
    let anchor =
        sealpass_core::trust::Anchor { fingerprint: key, min_serial: current.and_then(|p| p.serial).unwrap_or(0) };
    let vouched = served.vouch(anchor, client.server()).map_err(|why| refusing(doing, &why, key))?;
    match (pin, &vouched.manifest) {
        (Some(_), _) => ClientConfig::remember(client.server(), Some(&vouched), printer)?,
        // The vendor key from the config: pinned for this server now, so that from here on an
        // older manifest (a rollback) is refused.
        (None, Some(verified)) => {
            let mut saved = ClientConfig::load()?;
            saved.pins.retain(|p| p.server != client.server());
            let pin = Pin::of_manifest(client.server(), key, verified);
            let pinned = pin.fingerprint.clone();
            saved.pins.push(pin);
            saved.save()?;
            printer.note(&format!(
                "pinned {pinned} for {} at manifest serial {}: an older manifest is refused from now on",
                client.server(),
                verified.body.serial
            ));
        }
        (None, None) => {}
    }
    let moved = vouched.manifest.as_ref().and_then(|m| m.moved_to.as_deref());
    if let Some(new) = moved.filter(|_| config.vendor_key.as_deref() == Some(key)) {
        printer.warn(&format!(
            "the vendor moved to a new signing key {new}, cross-signed by {key}: set vendor_key = \"{new}\" in your \
             client config once the vendor confirms it"
        ));
    }
    Ok(vouched)
}
