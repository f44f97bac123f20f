//! `sealpass vendor-key` and `sealpass manifest sign` (SPEC §11): the vendor's offline signing
//! key, whose `sp4-` fingerprint is the one value a vendor publishes, and the signed manifest of
//! what its drop server may serve.

use std::path::{Path, PathBuf};

use serde::Serialize;

use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::manifest;
use sealpass_core::receipt::Signer;

/// Largest vendor key file read.
const MAX_KEY_BYTES: usize = 4096;

/// The first line of a vendor key file.
const HEADER: &str = "# sealpass vendor key (Ed25519, PKCS #8): keep it offline";

#[derive(Debug, clap::Subcommand)]
pub(crate) enum VendorKeyCommand {
    /// Make a new vendor signing key (0600, never overwritten) and print its sp4- fingerprint,
    /// the value to publish
    New(VendorKeyNewArgs),
    /// Print a vendor key's sp4- fingerprint
    Show(VendorKeyShowArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "The vendor key signs the manifest of what your drop server may serve. Keep it \
    offline (your machine, a vault), never on the drop server. Publish its fingerprint (sp4-…) where \
    customers can check it: your website, the contract, a phone call.")]
pub(crate) struct VendorKeyNewArgs {
    /// Where to write the key (mode 0600; an existing file is never overwritten; default:
    /// $XDG_DATA_HOME/sealpass/vendor.key)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// {"fingerprint","public_key","key_file"}
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VendorKeyShowArgs {
    /// The key file (default: $XDG_DATA_HOME/sealpass/vendor.key)
    #[arg(short = 'i', long = "vendor-key", value_name = "FILE")]
    input: Option<PathBuf>,
    /// {"fingerprint","public_key","key_file"}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ShownKey<'a> {
    fingerprint: String,
    public_key: String,
    key_file: &'a Path,
}

fn default_key() -> Result<PathBuf, Failure> {
    files::data_dir()
        .map(|d| d.join("sealpass").join("vendor.key"))
        .ok_or_else(|| Failure::usage("no data directory ($XDG_DATA_HOME and $HOME are unset): give the file"))
}

/// Read a vendor key file (refused if group or others can read it).
pub(crate) fn read_key(path: &Path) -> Result<Signer, Failure> {
    let bytes = files::read_private(path, MAX_KEY_BYTES)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Failure::usage(format!("{}: not a vendor key", path.display())))?;
    let encoded = zeroize::Zeroizing::new(text.lines().filter(|l| !l.starts_with('#')).collect::<String>());
    let pkcs8 = zeroize::Zeroizing::new(data_encoding::BASE64.decode(encoded.trim().as_bytes()).map_err(|_| {
        Failure::usage(format!("{}: not a vendor key (sealpass vendor-key new makes one)", path.display()))
    })?);
    Signer::from_pkcs8(&pkcs8).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

fn show(ctx: &super::Context, signer: &Signer, path: &Path, json: bool) -> Result<(), Failure> {
    let public_key = signer.public_key();
    let shown = ShownKey { fingerprint: manifest::fingerprint(&public_key), public_key, key_file: path };
    if json || ctx.printer.json() {
        ctx.printer.json_line(&shown)?;
    } else {
        ctx.printer.lines(&shown.fingerprint)?;
    }
    Ok(())
}

pub(crate) fn vendor_key(command: VendorKeyCommand, ctx: &super::Context) -> Result<Exit, Failure> {
    match command {
        VendorKeyCommand::New(args) => {
            let path = args.output.map_or_else(default_key, Ok)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            }
            let (pkcs8, signer) = Signer::generate().map_err(|e| anyhow::anyhow!("could not make a key: {e}"))?;
            let text = zeroize::Zeroizing::new(format!("{HEADER}\n{}\n", data_encoding::BASE64.encode(&pkcs8)));
            files::write_new_private(&path, text.as_bytes())?;
            show(ctx, &signer, &path, args.json)?;
            if !args.json {
                ctx.printer.note(&format!(
                    "wrote the vendor key to {} (mode 0600). Keep it offline; publish the fingerprint above where \
                     customers can check it (website, contract), and sign your server's manifest with `sealpass \
                     manifest sign`",
                    path.display()
                ));
            }
        }
        VendorKeyCommand::Show(args) => {
            let path = args.input.map_or_else(default_key, Ok)?;
            show(ctx, &read_key(&path)?, &path, args.json)?;
        }
    }
    Ok(Exit::Ok)
}

#[cfg(feature = "server")]
pub(crate) use sign::{ManifestCommand, manifest};

/// `manifest sign` reads the server's config, so it comes with the server.
#[cfg(feature = "server")]
mod sign {
    use std::path::PathBuf;

    use super::read_key;
    use sealpass_client::exit::{Exit, Failure};
    use sealpass_core::manifest::{self, ManifestBody, SignedManifest};
    use sealpass_server::config::{Overrides, ServerSettings};

    #[derive(Debug, clap::Subcommand)]
    pub(crate) enum ManifestCommand {
        /// Sign what the server's config says it serves (recipients, certificates, receipt key,
        /// public URL) with the vendor key
        Sign(SignArgs),
    }

    #[derive(Debug, clap::Args)]
    #[command(after_help = "Re-signing over an existing manifest (-o naming it) replaces it with the next \
        serial; set the server's manifest_file to it and restart. Links and pins naming the vendor key's \
        sp4- value keep working through every change the vendor signs.\n\nExample:\n  sealpass manifest \
        sign --vendor-key vendor.key --config /etc/sealpass/config.toml -o /etc/sealpass/manifest.json")]
    pub(crate) struct SignArgs {
        /// The vendor key (sealpass vendor-key new)
        #[arg(long, value_name = "FILE")]
        vendor_key: PathBuf,
        /// While rotating the vendor key itself: the previous key, which signs too, so clients
        /// pinned to it move to the new one
        #[arg(long, value_name = "FILE")]
        previous_key: Option<PathBuf>,
        /// The server's config file
        #[arg(long, env = "SEALPASS_CONFIG", value_name = "FILE")]
        config: PathBuf,
        /// Where to write the manifest (default: stdout); an existing manifest there is replaced
        /// by one with the next serial
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The serial (default: the replaced manifest's + 1, else 1); never lower than it
        #[arg(long, value_name = "N")]
        serial: Option<u64>,
        /// How many days it vouches
        #[arg(long, value_name = "DAYS", default_value_t = manifest::DEFAULT_DAYS,
              value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: u64,
        /// Another URL the server is reached at (repeatable); the config's public_url is always in
        #[arg(long = "url", value_name = "URL")]
        urls: Vec<String>,
        /// The server's receipt key, public half (64 hex digits, as GET /v1/info shows it): to sign
        /// away from the server without copying its private receipt key (default: read the
        /// config's receipt_key file, made if missing)
        #[arg(long, value_name = "HEX")]
        receipt_key: Option<String>,
    }

    /// The serial of the manifest at `path`, if there is one.
    fn previous_serial(path: &std::path::Path) -> Result<Option<u64>, Failure> {
        let Ok(text) = std::fs::read(path) else { return Ok(None) };
        let signed: SignedManifest = serde_json::from_slice(&text).map_err(|e| {
            Failure::usage(format!("{}: not a sealpass manifest ({e}); nothing was written", path.display()))
        })?;
        let body: ManifestBody = serde_json::from_str(&signed.manifest)
            .map_err(|e| Failure::usage(format!("{}: not a sealpass manifest ({e})", path.display())))?;
        Ok(Some(body.serial))
    }

    pub(crate) fn manifest(command: ManifestCommand, ctx: &super::super::Context) -> Result<Exit, Failure> {
        let ManifestCommand::Sign(args) = command;
        let signer = read_key(&args.vendor_key)?;
        let previous = args.previous_key.as_deref().map(read_key).transpose()?;
        let settings =
            ServerSettings::load(Overrides { without_manifest: true, ..Overrides::default() }, Some(&args.config))
                .map_err(Failure::usage)?;
        let mut urls = Vec::new();
        // As clients name the server (lowercase host, no default port), or they would not match.
        if settings.public_url_given {
            urls.push(
                sealpass_core::link::server_base(&settings.public_url)
                    .map_err(|e| Failure::usage(format!("public_url {e}")))?,
            );
        }
        for url in &args.urls {
            urls.push(sealpass_core::link::server_base(url).map_err(|e| Failure::usage(format!("--url {url} {e}")))?);
        }
        if urls.is_empty() {
            return Err(Failure::usage(
                "the manifest names the server's URLs: set public_url in the config, or give --url",
            ));
        }
        urls.dedup();
        let replaced = args.output.as_deref().map(previous_serial).transpose()?.flatten();
        let serial = match (args.serial, replaced) {
            (Some(n), Some(old)) if n <= old => {
                return Err(Failure::usage(format!(
                    "--serial {n}: serials only grow, and the manifest there has {old}"
                )));
            }
            (Some(n), _) => n,
            (None, Some(old)) => old + 1,
            (None, None) => 1,
        };
        let receipt_key = match &args.receipt_key {
            Some(hex) if sealpass_core::receipt::valid_key(hex) => hex.trim().to_ascii_lowercase(),
            Some(hex) => {
                return Err(Failure::usage(format!(
                    "--receipt-key {}: not a receipt key (64 hex digits, as GET /v1/info shows it)",
                    sealpass_core::text::shown(hex)
                )));
            }
            None => {
                let path = settings.receipt_key.as_deref();
                let made = path.is_some_and(|p| p.symlink_metadata().is_err());
                let receipt = sealpass_server::audit_log::receipt_signer(path)
                    .map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!(e)))?;
                if let Some(path) = path.filter(|_| made) {
                    ctx.printer.warn(&format!(
                        "made a new receipt key at {}: the server must use this very file. Signing away from the \
                         server? Give --receipt-key with the key GET /v1/info shows instead",
                        path.display()
                    ));
                }
                receipt.public_key()
            }
        };
        let body = settings.manifest_body(urls, serial, args.days, receipt_key);
        let signed = manifest::sign(&body, &signer, previous.as_ref());
        let text = format!("{}\n", serde_json::to_string_pretty(&signed)?);
        let fingerprint = manifest::fingerprint(&signer.public_key());
        match &args.output {
            Some(path) => {
                // A manifest is public: replaced whole, readable by the server's user.
                let tmp = path.with_extension("json.tmp");
                std::fs::write(&tmp, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
                std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                ctx.printer.note(&format!(
                    "wrote manifest serial {serial} to {}, signed by {fingerprint}{}, good until {}: set manifest_file \
                     to it in the server's config and restart the server",
                    path.display(),
                    previous
                        .as_ref()
                        .map(|p| format!(" and the previous key {}", manifest::fingerprint(&p.public_key())))
                        .unwrap_or_default(),
                    body.expires_at
                ));
            }
            None => ctx.printer.lines(&text)?,
        }
        Ok(Exit::Ok)
    }
}
