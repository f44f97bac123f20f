//! The sender's record of the drops sent from this machine, with their manage tokens (0600, in
//! the XDG state dir), so `status` and `revoke` can follow them; and follow-up files from the web page
//! added to it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;

/// A drop this machine sent.
#[derive(Clone, Serialize, Deserialize)]
pub struct SentDrop {
    /// Server base URL.
    pub server: String,
    /// Drop id.
    pub id: String,
    /// The manage token (status, revoke). Kept only here.
    pub manage_token: String,
    /// The request's label, or the note.
    pub label: Option<String>,
    /// Credential kind.
    pub kind: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The server's receipt key, when the fingerprint the sender trusted vouched for it: what
    /// this drop's receipt must be signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_key: Option<String>,
    /// The vendor key (`sp4-`) that vouched for the server's keys when it was sent: a receipt
    /// signed by a rotated receipt key is accepted when that key's newest manifest names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_key: Option<String>,
    /// To which kind of keys it was sealed (unknown for drops recorded before, or sent from the
    /// web page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<sealpass_core::crypto::Sealing>,
}

impl std::fmt::Debug for SentDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SentDrop({}/d/{})", self.server, self.id)
    }
}

impl SentDrop {
    /// Its pickup link.
    pub fn pickup(&self) -> String {
        format!("{}/d/{}", self.server, self.id)
    }
}

/// Where the record of sent drops is kept.
pub(crate) fn state_file() -> Result<PathBuf, Failure> {
    files::state_dir()
        .map(|d| d.join("sent.json"))
        .ok_or_else(|| Failure::usage("no state directory ($XDG_STATE_HOME and $HOME are unset)"))
}

/// Every drop recorded on this machine.
pub fn sent() -> Result<Vec<SentDrop>, Failure> {
    let path = state_file()?;
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = files::read_private(&path, 16 * 1024 * 1024)?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!("{}: {e}", path.display())))
}

/// Add a drop to the record.
pub fn record(drop: SentDrop) -> Result<(), Failure> {
    let mut all = sent()?;
    all.push(drop);
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&all)?);
    files::replace_private(&state_file()?, &bytes)?;
    Ok(())
}

/// Remove these (server, id) drops from the record; returns how many were removed.
pub fn forget(drops: &[(String, String)]) -> Result<usize, Failure> {
    let mut all = sent()?;
    let before = all.len();
    all.retain(|d| !drops.iter().any(|(server, id)| *server == d.server && *id == d.id));
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&all)?);
    files::replace_private(&state_file()?, &bytes)?;
    Ok(before - all.len())
}

/// The follow-up file the web sender page offers for download (docs/protocol.md): a drop sent from a
/// browser, to follow and revoke from here. Everything in it is checked: it is a file from a
/// download folder.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowUpFile {
    sealpass_receipt: u32,
    server: String,
    id: String,
    pickup_url: String,
    label: Option<String>,
    kind: String,
    created_at: String,
    expires_at: String,
    manage_token: String,
}

/// Largest follow-up file read.
const MAX_RECEIPT: usize = 16 * 1024;

/// Add the drop a follow-up file describes to this machine's record (once), and return it.
pub fn import_receipt(path: &std::path::Path) -> Result<SentDrop, Failure> {
    let bad = |why: &str| Failure::usage(format!("{}: not a sealpass follow-up file ({why})", path.display()));
    let bytes = zeroize::Zeroizing::new(files::read_public(path, MAX_RECEIPT)?);
    let receipt: FollowUpFile = serde_json::from_slice(&bytes).map_err(|_| bad("not the follow-up file's JSON"))?;
    if receipt.sealpass_receipt != 1 {
        return Err(bad("an unknown version"));
    }
    let server = sealpass_core::link::server_base(&receipt.server)
        .map_err(|_| bad("its server is not a URL like https://host"))?;
    let pickup =
        sealpass_core::link::parse_pickup(&receipt.pickup_url, None).map_err(|_| bad("its pickup link is not one"))?;
    if pickup.server != server || pickup.id != receipt.id {
        return Err(bad("its pickup link does not match its server and id"));
    }
    if !sealpass_core::link::is_token(&receipt.manage_token) {
        return Err(bad("its manage token is malformed"));
    }
    if sealpass_core::envelope::Kind::from_name(&receipt.kind).is_none() {
        return Err(bad("an unknown kind"));
    }
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    for time in [&receipt.created_at, &receipt.expires_at] {
        time::OffsetDateTime::parse(time, rfc3339).map_err(|_| bad("a time that is not RFC 3339"))?;
    }
    if receipt.label.as_deref().is_some_and(|l| l.chars().any(char::is_control) || l.len() > 512) {
        return Err(bad("a label with control characters"));
    }
    let drop = SentDrop {
        server,
        id: pickup.id,
        manage_token: receipt.manage_token,
        label: receipt.label,
        kind: receipt.kind,
        created_at: receipt.created_at,
        expires_at: receipt.expires_at,
        receipt_key: None,
        vendor_key: None,
        sealing: None,
    };
    if !sent()?.iter().any(|d| d.server == drop.server && d.id == drop.id) {
        record(drop.clone())?;
    }
    Ok(drop)
}
