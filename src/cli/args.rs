//! Argument sets, and their checks, that several commands share: whom to seal to (`seal`,
//! `send`), which server and whose staff token (the staff commands), lifetimes (`send`,
//! `request`). Here so command files borrow from one place, never from each other.

use std::path::PathBuf;

use secrecy::SecretString;

use super::settings::{self, ClientConfig};
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_client::http::Client;
use sealpass_core::crypto::{self, Recipient};
use sealpass_core::link::{self, Pickup};

/// Whom to seal to: shared by `seal` and `send`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecipientArgs {
    /// Recipient to seal to, age1… (repeatable)
    #[arg(long = "to", short = 'r', value_name = "RECIPIENT")]
    to: Vec<String>,
    /// File of recipients, one a line, # comments (repeatable)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    files: Vec<PathBuf>,
}

impl RecipientArgs {
    /// Whether any recipient was given.
    pub(crate) fn given(&self) -> bool {
        !self.to.is_empty() || !self.files.is_empty()
    }

    /// The recipients given, sorted and de-duplicated; at least one.
    pub(crate) fn resolve(&self) -> Result<Vec<Recipient>, Failure> {
        recipients(&self.to, &self.files)
    }
}

/// Recipients from --to and -R, sorted and de-duplicated, all of one kind (post-quantum or
/// classical: age never mixes them in one file).
fn recipients(to: &[String], files_: &[PathBuf]) -> Result<Vec<Recipient>, Failure> {
    let mut all: Vec<Recipient> = to.iter().map(|r| r.parse()).collect::<Result<_, _>>().map_err(Failure::usage)?;
    for path in files_ {
        let text = files::read_public(path, 64 * 1024)?;
        let text = String::from_utf8(text).map_err(|_| anyhow::anyhow!("{} is not a text file", path.display()))?;
        all.extend(
            crypto::parse_recipients_file(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?,
        );
    }
    let set = crypto::recipient_set(all).map_err(Failure::usage)?;
    crypto::one_kind(&set).map_err(Failure::usage)?;
    Ok(set)
}

/// Which server and whose token: shared by the staff commands.
#[derive(Debug, clap::Args)]
pub(crate) struct StaffArgs {
    /// Drop server (default: the config's)
    #[arg(long, env = "SEALPASS_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,
    /// File holding your staff token (default: your `sealpass login`, else staff_token_file in
    /// the config; SEALPASS_STAFF_TOKEN wins over all)
    #[arg(long, value_name = "FILE")]
    staff_token_file: Option<PathBuf>,
}

impl StaffArgs {
    pub(crate) fn resolve(
        &self,
        server: Option<&str>,
        config: &ClientConfig,
    ) -> Result<(Client, SecretString), Failure> {
        let server = match server {
            Some(s) => s.to_owned(),
            None => config.server(self.server.as_deref())?,
        };
        let token = settings::staff_token(self.staff_token_file.as_ref(), config, &server)?;
        Ok((Client::new(&server).map_err(Failure::of)?, token))
    }

    /// A client for the server alone, for what anyone may read (no token looked for).
    pub(crate) fn public_client(&self, config: &ClientConfig) -> Result<Client, Failure> {
        Client::new(&config.server(self.server.as_deref())?).map_err(Failure::of)
    }

    /// Your server, and the drop a pickup link (or a bare id) names on it. Your staff token goes
    /// to your server only: never to whatever host a link names.
    pub(crate) fn own_pickup(&self, pickup: &str, config: &ClientConfig) -> Result<(String, Pickup), Failure> {
        let own = config.server(self.server.as_deref()).map_err(|_| {
            Failure::usage(
                "which is your server? set SEALPASS_SERVER or --server URL: your staff token is only ever sent there",
            )
        })?;
        let pickup = link::parse_pickup(pickup, Some(&own)).map_err(Failure::usage)?;
        if link::origin(&pickup.server) != link::origin(&own) {
            return Err(Failure::new(
                Exit::Error,
                anyhow::anyhow!(
                    "this link points at {}, not at your server {own}: refusing to send your staff token there",
                    pickup.server
                ),
            ));
        }
        Ok((own, pickup))
    }
}

/// `--ttl 24h` in seconds.
pub(crate) fn positive_ttl(flag: &str, ttl: Option<&str>) -> Result<Option<u64>, Failure> {
    let Some(text) = ttl else { return Ok(None) };
    let seconds = sealpass_core::duration::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| Failure::usage(format!("{flag} {e}")))?;
    if seconds == 0 {
        return Err(Failure::usage(format!("{flag} must be longer than 0s (e.g. 24h)")));
    }
    Ok(Some(seconds))
}

/// `--ttl` checked against what the server allows, before anything is created: too long is a
/// usage error that names the maximum. `known_max` when `/v1/info` was already read; else it is
/// asked for (only when a TTL was given).
pub(crate) async fn ttl_within(
    client: &Client,
    known_max: Option<u64>,
    (name, flag): (&str, Option<&str>),
    ttl: Option<u64>,
) -> Result<(), Failure> {
    let (Some(flag), Some(ttl)) = (flag, ttl) else { return Ok(()) };
    let max = match known_max {
        Some(max) => max,
        None => client.info().await.map_err(Failure::of)?.limits.max_ttl_seconds,
    };
    if ttl > max {
        let human = sealpass_core::duration::shortest(max);
        return Err(Failure::usage(format!("{name} {flag} is longer than this server allows (at most {human})")));
    }
    Ok(())
}

/// The credential kinds as clap values, named as everywhere else (the core stays free of clap).
pub(crate) fn kinds() -> impl clap::builder::TypedValueParser<Value = sealpass_core::envelope::Kind> {
    use clap::builder::TypedValueParser;
    use sealpass_core::envelope::Kind;
    clap::builder::PossibleValuesParser::new(Kind::ALL.map(Kind::name))
        .map(|name| Kind::from_name(&name).expect("every possible value names a kind"))
}
