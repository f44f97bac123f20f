//! The CLI's settings on this machine: `config.toml` in the XDG config dir (default server,
//! pinned fingerprints and vendor keys, the staff token file), and where the staff token comes from.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_client::login::Sessions;
use sealpass_core::trust::{Anchor, Vouched};

/// A server's recipients, confirmed by the user against the fingerprint the vendor published.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pin {
    /// Server base URL.
    pub server: String,
    /// The confirmed fingerprint.
    pub fingerprint: String,
    /// The recipients it covers.
    pub recipients: Vec<String>,
    /// The server's receipt key, when the fingerprint covers one (`sp3-`): what receipts from
    /// this server must be signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_key: Option<String>,
    /// For a vendor key (`sp4-`): the highest manifest serial seen; a lower one is refused as a
    /// rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

impl Pin {
    /// A pin of the vendor key `expected` for `server`, from the manifest it verified: the key
    /// it handed over to, if it did, and what the manifest signs, at its serial.
    pub fn of_manifest(server: &str, expected: &str, verified: &sealpass_core::manifest::Verified) -> Pin {
        Pin {
            server: server.to_owned(),
            fingerprint: verified.moved_to.clone().unwrap_or_else(|| expected.to_owned()),
            recipients: verified.body.recipients.clone(),
            receipt_key: Some(verified.body.receipt_key.to_ascii_lowercase()),
            serial: Some(verified.body.serial),
        }
    }

    /// What the pin vouches with.
    pub fn anchor(&self) -> Anchor<'_> {
        Anchor { fingerprint: &self.fingerprint, min_serial: self.serial.unwrap_or(0) }
    }
}

/// `config.toml` in the XDG config dir.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Default server for `send`, `request`, `inbox`, `receive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Where staff keep their token (a 0600 file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_token_file: Option<PathBuf>,
    /// Staff: the vendor key's `sp4-` value, as the vendor publishes it. `sealpass request`
    /// refuses a server whose manifest it did not sign and links that do not name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_key: Option<String>,
    /// Confirmed recipient sets, like ssh's known_hosts.
    #[serde(default, rename = "pinned")]
    pub pins: Vec<Pin>,
}

fn config_file() -> Result<PathBuf, Failure> {
    files::config_dir()
        .map(|d| d.join("config.toml"))
        .ok_or_else(|| Failure::usage("no config directory ($XDG_CONFIG_HOME and $HOME are unset)"))
}

impl ClientConfig {
    /// The config, or the default when there is none.
    pub fn load() -> Result<ClientConfig, Failure> {
        let path = config_file()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
            Err(e) => Err(Failure::new(Exit::Error, anyhow::anyhow!("{}: {e}", path.display()))),
        }
    }

    /// Write it back (0600).
    pub fn save(&self) -> Result<PathBuf, Failure> {
        let path = config_file()?;
        let text = toml::to_string(self).map_err(|e| anyhow::anyhow!("{e}"))?;
        files::replace_private(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The pin for `server`.
    pub fn pin(&self, server: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.server == server.trim_end_matches('/'))
    }

    /// Raise `server`'s vendor-key pin to what `vouched` verified: its serial (never lowered),
    /// recipients and receipt key, and, through a manifest the pinned key handed over in, the
    /// new vendor key (never staff's `vendor_key`: people change that). What moved, for the
    /// user; `None`: nothing changed.
    pub fn raise(&mut self, server: &str, vouched: &Vouched) -> Option<Vec<String>> {
        let verified = vouched.manifest.as_ref()?;
        let pin = self.pins.iter_mut().find(|p| p.server == server.trim_end_matches('/'))?;
        if !sealpass_core::trust::is_vendor_key(&pin.fingerprint) || pin.fingerprint != verified.vendor_key {
            return None;
        }
        let before = pin.clone();
        pin.serial = Some(pin.serial.unwrap_or(0).max(verified.body.serial));
        pin.recipients.clone_from(&verified.body.recipients);
        pin.receipt_key = Some(verified.body.receipt_key.to_ascii_lowercase());
        let mut notes = Vec::new();
        if let Some(new) = &verified.moved_to {
            notes.push(format!(
                "the vendor moved to a new signing key: {new} (its manifest is signed by {} too, the key you pinned); \
                 your pin for {server} now names {new}",
                pin.fingerprint
            ));
            pin.fingerprint.clone_from(new);
        }
        (*pin != before).then_some(notes)
    }

    /// [`ClientConfig::raise`] on the config as saved now, written back when it changed; notes
    /// go to `printer`.
    pub fn remember(server: &str, vouched: Option<&Vouched>, printer: &crate::output::Printer) -> Result<(), Failure> {
        let Some(vouched) = vouched else { return Ok(()) };
        let mut config = ClientConfig::load()?;
        if let Some(notes) = config.raise(server, vouched) {
            config.save()?;
            for note in notes {
                printer.note(&note);
            }
        }
        Ok(())
    }

    /// Every pin on `server`'s host (any scheme, port or path), the one for `server` itself
    /// first: a link to another path or port of a pinned host is held to those pins too.
    pub fn pins_on_host(&self, server: &str) -> Vec<&Pin> {
        let host = |s: &str| url::Url::parse(s).ok().and_then(|u| u.host_str().map(str::to_owned));
        let wanted = host(server);
        let mut pins: Vec<&Pin> = self.pins.iter().filter(|p| wanted.is_some() && host(&p.server) == wanted).collect();
        pins.sort_by_key(|p| p.server != server.trim_end_matches('/'));
        pins
    }

    /// The server to use: the flag's, else the config's; a well-formed base URL.
    pub fn server(&self, flag: Option<&str>) -> Result<String, Failure> {
        let (text, from) = match (flag, &self.server) {
            (Some(flag), _) => (flag.to_owned(), "--server"),
            (None, Some(configured)) => (configured.clone(), "the config's server"),
            (None, None) => {
                return Err(Failure::usage(
                    "which server? give --server URL (or set `server` with `sealpass init --server URL`)",
                ));
            }
        };
        sealpass_core::link::server_base(&text).map_err(|e| Failure::usage(format!("{from} {e}")))
    }
}

/// `sealpass paths`: where the client's own files are (they need not exist yet).
pub(crate) fn paths(ctx: &super::Context) -> Result<Exit, Failure> {
    #[derive(Serialize)]
    struct Paths {
        config: Option<PathBuf>,
        identity: Option<PathBuf>,
        sent: Option<PathBuf>,
        logins: Option<PathBuf>,
    }
    let paths = Paths {
        config: config_file().ok(),
        identity: files::default_identity(),
        sent: super::ledger::state_file().ok(),
        logins: Sessions::path().ok(),
    };
    if ctx.printer.json() {
        ctx.printer.json_line(&paths)?;
        return Ok(Exit::Ok);
    }
    let shown = |p: &Option<PathBuf>| p.as_ref().map_or("(no home directory)".into(), |p| p.display().to_string());
    ctx.printer.lines(&format!(
        "config    {}  (default server, pinned keys, staff_token_file)\nidentity  {}  (staff: your age identity, \
         the default for receive and open)\nsent      {}  (customers: what send recorded, for status and revoke)\n\
         logins    {}  (staff: what sealpass login keeps; sealpass logout forgets it)",
        shown(&paths.config),
        shown(&paths.identity),
        shown(&paths.sent),
        shown(&paths.logins)
    ))?;
    Ok(Exit::Ok)
}

/// The staff token for `server`: `SEALPASS_STAFF_TOKEN`, else `--staff-token-file`, else the
/// access token of your `sealpass login` to `server` (refreshed first when it is about to run
/// out), else the config's `staff_token_file`. Never a flag value.
pub fn staff_token(flag_file: Option<&PathBuf>, config: &ClientConfig, server: &str) -> Result<SecretString, Failure> {
    if let Ok(token) = std::env::var("SEALPASS_STAFF_TOKEN") {
        if !token.trim().is_empty() {
            return Ok(SecretString::from(token.trim()));
        }
    }
    if flag_file.is_none() {
        match super::block_on_quiet(async { Sessions::access_token(server).await.map_err(Failure::of) }) {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            // A sign-in the provider ended gives way to the configured token file, if any.
            Err(failure) if failure.exit == Exit::Unauthorized && config.staff_token_file.is_some() => {
                crate::output::Printer::new(false)
                    .warn(&format!("{failure}; using staff_token_file from the config instead"));
            }
            Err(failure) => return Err(failure),
        }
    }
    let Some(path) = flag_file.or(config.staff_token_file.as_ref()) else {
        return Err(Failure::new(
            Exit::Unauthorized,
            anyhow::anyhow!(
                "staff commands need you signed in: run `sealpass login`, or (for automation) set \
                 SEALPASS_STAFF_TOKEN, pass --staff-token-file FILE, or set staff_token_file in the config"
            ),
        ));
    };
    // Room for an identity provider's access token (a JWT listing many groups), not only `sps_…`.
    let bytes = files::read_private(path, 16 * 1024)?;
    let token = super::input::read_one_secret(&bytes[..])?;
    Ok(SecretString::from(token.expose_secret().trim()))
}
