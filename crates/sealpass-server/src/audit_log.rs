//! The server's side of the audit log (SPEC §10) that is not a handler: the receipt key that signs
//! what it records (made on first start, kept 0600, never printed), and the background loop that
//! keeps the log settled and its length in the metrics.

use std::path::Path;
use std::time::Duration;

use super::AppState;
use sealpass_core::audit::Head;
use sealpass_core::receipt::Signer;

/// How often pending events are chained (Redis) when nothing else reads the log.
const SETTLE_EVERY: Duration = Duration::from_millis(200);

/// The receipt signer: the key at `path` (made there, 0600, if there is none yet), or a key
/// for this process only.
pub fn receipt_signer(path: Option<&Path>) -> Result<Signer, String> {
    let Some(path) = path else {
        return Signer::generate().map(|(_, signer)| signer);
    };
    let at = |e: &dyn std::fmt::Display| format!("receipt key {}: {e}", path.display());
    if path.symlink_metadata().is_err() {
        let (pkcs8, _) = Signer::generate().map_err(|e| at(&e))?;
        match sealpass_client::files::write_new_private(path, &pkcs8) {
            // Another server sharing the directory made it first: use theirs.
            Ok(()) | Err(sealpass_client::files::FileError::Exists(_)) => {}
            Err(e) => return Err(at(&e)),
        }
    }
    let pkcs8 = sealpass_client::files::read_private(path, 4096).map_err(|e| at(&e))?;
    Signer::from_pkcs8(&pkcs8).map_err(|e| at(&e))
}

/// How many settling rounds between two readings of the log's length for the metrics.
const MEASURE_EVERY: u32 = 10;

/// How many settling rounds between two signed checkpoints in the server's log (while the head
/// moves): 30 s.
const CHECKPOINT_EVERY: u32 = 150;

/// Chain pending events on a timer until the server stops; every few seconds, put the log's
/// length in the metrics; every 30 s while the log grows, write a signed checkpoint of its head
/// to the server's log, a copy kept outside the store (`audit verify --witness`).
pub async fn settle_forever(state: AppState) {
    let (store, metrics) = (&state.store, &state.metrics);
    let mut tick = tokio::time::interval(SETTLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut signed: Option<Head> = None;
    for round in 0u32.. {
        tick.tick().await;
        if let Err(e) = store.settle().await {
            tracing::debug!(error = %e, "could not settle the audit log");
        }
        if round % MEASURE_EVERY == 0 {
            if let Ok(head) = store.audit_head().await {
                metrics.audit_length(head.length);
                if round % CHECKPOINT_EVERY == 0 && head.length > 0 && signed.as_ref() != Some(&head) {
                    let at = crate::rfc3339(crate::now());
                    let checkpoint =
                        sealpass_core::checkpoint::sign(&state.signer, &state.settings.public_url, &head, at);
                    let json = serde_json::to_string(&checkpoint).unwrap_or_default();
                    tracing::info!(checkpoint = %json, "audit checkpoint");
                    signed = Some(head);
                }
            }
        }
    }
}
