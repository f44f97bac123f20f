//! The command line: one file a subcommand, each with its clap arguments and its `run`. This is
//! the only layer that glues the pure modules to terminals, files and (later) the network.

mod args;
mod audit;
mod cert;
mod check;
mod common;
#[cfg(feature = "server")]
mod demo;
mod generate;
mod init;
pub mod input;
mod intake;
mod keys;
mod ledger;
mod login;
mod manage;
mod open;
mod opened;
mod policies;
mod seal;
mod send;
#[cfg(feature = "server")]
mod serve;
mod settings;
mod staff;
mod status;
mod usage;
mod vendor;
mod vouch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub(crate) use common::{Context, PolicyArgs, block_on, block_on_quiet, identity_path, now_rfc3339};
use usage::{quotes_user_input, redacted};

use sealpass_client::exit::{Exit, Failure};

/// sealpass: hand a CRM service-account credential to a vendor without anyone seeing it.
#[derive(Debug, Parser)]
#[command(
    name = "sealpass",
    version,
    about = "Generate, check and hand over CRM service-account credentials, sealed with age",
    long_about = "Generate, check and hand over CRM service-account credentials, sealed with age.\n\n\
        Secrets are read from stdin or a hidden prompt, never from the command line.\n\
        Exit codes: 0 ok, 1 error, 2 usage, 3 policy violation, 4 drop unavailable,\n\
        5 cannot decrypt, 6 not authorised, 7 server unreachable.",
    after_help = "Examples:\n  \
        sealpass generate --policy salesforce\n  \
        sealpass check --policy salesforce --username kore@acme.example < password.txt\n  \
        sealpass policies\n\n\
        Your settings (default server, pinned keys) live in config.toml; `sealpass paths` shows where."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate compliant passwords (uniformly random, exact entropy)
    Generate(generate::GenerateArgs),
    /// Check one secret, read from stdin, against a policy
    Check(check::CheckArgs),
    /// List the built-in policies and their rules
    Policies(policies::PoliciesArgs),
    /// Make a new age identity (0600) and print its recipient and fingerprint
    Keygen(keys::KeygenArgs),
    /// Print the recipient(s) and fingerprint of an identity, as text or a QR code
    Recipient(keys::RecipientShowArgs),
    /// Offline: check a secret and seal it in a typed envelope to age recipients
    Seal(seal::SealArgs),
    /// Offline: decrypt a sealed envelope, validate the secret, report
    Open(open::OpenArgs),
    /// Vendor: make or inspect the certificate customers register instead of sending a secret
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Vendor: the offline key whose sp4- fingerprint customers check, and that signs the manifest
    #[command(subcommand)]
    VendorKey(vendor::VendorKeyCommand),
    /// Vendor: sign the manifest of what the drop server may serve
    #[cfg(feature = "server")]
    #[command(subcommand)]
    Manifest(vendor::ManifestCommand),
    /// Customer: confirm and pin a drop server's keys (like ssh known_hosts)
    Init(init::InitArgs),
    /// Customer: check, seal and upload a credential; prints the pickup link
    Send(send::SendArgs),
    /// Customer: what happened to what you sent (claimed by whom, when)
    Status(status::StatusArgs),
    /// Customer: burn a drop you sent
    Revoke(status::RevokeArgs),
    /// Staff: sign in with your company's identity provider (a code to type, or --browser)
    Login(login::LoginArgs),
    /// Staff: forget your sign-in on this machine and end it at the identity provider
    Logout(login::LogoutArgs),
    /// Staff: a request link for a customer
    Request(staff::RequestArgs),
    /// Staff: drops waiting to be received
    Inbox(staff::InboxArgs),
    /// Staff: claim, decrypt, validate, hand on, then acknowledge
    Receive(staff::ReceiveArgs),
    /// Staff: the requests you made (all of them, as an auditor or admin); --cancel one
    Requests(manage::RequestsArgs),
    /// Staff: give up a claim you cannot finish (an admin: anyone's); the drop waits again
    Release(manage::ReleaseArgs),
    /// Staff: the server's tamper-evident log of every hand-over; `audit verify` checks it
    Audit(audit::AuditArgs),
    /// Check a receipt (the server's signed word that a drop was received) offline
    #[command(subcommand)]
    Receipt(audit::ReceiptCommand),
    /// The whole hand-over on loopback, narrated: embedded server, throwaway keys
    #[cfg(feature = "server")]
    Demo(demo::DemoArgs),
    /// Where this machine keeps sealpass's files: your config, your identity, what you sent
    Paths {
        /// {"config","identity","sent","logins"}
        #[arg(long)]
        json: bool,
    },
    /// Shell completions on stdout, e.g. `sealpass completions bash > /etc/bash_completion.d/sealpass`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// The man pages (roff): the top one on stdout (`sealpass man | man -l -`), all with --dir
    Man {
        /// Write sealpass.1 and a page for every command (sealpass-generate.1, …) into DIR,
        /// which must exist
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Operator: run the drop server (HTTP API v1, SQLite or Redis)
    #[cfg(feature = "server")]
    Serve(serve::ServeArgs),
    /// Operator: print a fresh staff token and its config snippet
    #[cfg(feature = "server")]
    StaffToken(serve::StaffTokenArgs),
    /// Operator: check the configured webhooks
    #[cfg(feature = "server")]
    #[command(subcommand)]
    Webhook(serve::WebhookCommand),
}

/// Parse arguments, run the command, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    crate::harden::disable_core_dumps();
    let args: Vec<OsString> = std::env::args_os().collect();
    let parsed = Cli::command().try_get_matches_from(&args).and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) if quotes_user_input(&err, &args) => {
            eprintln!("{}", redacted(&err));
            return Exit::Usage.into();
        }
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    // A script that asked for JSON gets its failures as JSON too, on stdout.
    let json = asked_for_json(&matches);
    match run(cli, &Context::new(json)) {
        Ok(exit) => exit.into(),
        Err(failure) if is_broken_pipe(&failure) => Exit::Ok.into(),
        Err(failure) => {
            // Failures can quote what a server or a file said: printed scrubbed, like all output.
            let text = sealpass_core::text::scrub(&failure.to_string()).into_owned();
            eprintln!("error: {text}");
            if json {
                let line = serde_json::json!({"error": text, "exit": failure.exit as u8});
                println!("{line}");
            }
            failure.exit.into()
        }
    }
}

/// Whether the command that was parsed (however deep: `audit verify`, `cert show`) has `--json`
/// and it was given. Each command that prints something a program reads has its own `--json`,
/// documented with the shape it prints; one that does not refuses the flag instead of ignoring it.
fn asked_for_json(matches: &clap::ArgMatches) -> bool {
    let given = |m: &clap::ArgMatches| matches!(m.try_get_one::<bool>("json"), Ok(Some(true)));
    let mut here = matches;
    let mut json = given(here);
    while let Some((_, sub)) = here.subcommand() {
        here = sub;
        json |= given(here);
    }
    json
}

/// `sealpass generate | head -1` closes the pipe early; that is not an error.
fn is_broken_pipe(failure: &Failure) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    failure.error.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
        || failure.error.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind) == broken
}

/// Run a parsed command line.
/// Run one parsed command with the context it shares with every other.
pub(crate) fn run(cli: Cli, ctx: &Context) -> Result<Exit, Failure> {
    match cli.command {
        Command::Generate(args) => generate::run(args, ctx),
        Command::Check(args) => check::run(args, ctx),
        Command::Policies(args) => policies::run(args, ctx),
        Command::Keygen(args) => keys::keygen(args, ctx),
        Command::Recipient(args) => keys::recipient(args, ctx),
        Command::Seal(args) => seal::run(args, ctx),
        Command::Open(args) => open::run(args, ctx),
        Command::Cert(command) => cert::run(command, ctx),
        Command::VendorKey(command) => vendor::vendor_key(command, ctx),
        #[cfg(feature = "server")]
        Command::Manifest(command) => vendor::manifest(command, ctx),
        Command::Init(args) => init::init(args, ctx),
        Command::Send(args) => send::send(args, ctx),
        Command::Status(args) => status::status(args, ctx),
        Command::Revoke(args) => status::revoke(args, ctx),
        Command::Login(args) => login::login(args, ctx),
        Command::Logout(args) => login::logout(args, ctx),
        Command::Request(args) => staff::request(args, ctx),
        Command::Inbox(args) => staff::inbox(args, ctx),
        Command::Receive(args) => staff::receive(args, ctx),
        Command::Requests(args) => manage::requests(args, ctx),
        Command::Release(args) => manage::release(args, ctx),
        Command::Audit(args) => audit::audit(args, ctx),
        Command::Receipt(command) => audit::receipt(command, ctx),
        #[cfg(feature = "server")]
        Command::Demo(args) => demo::run(args, ctx),
        Command::Paths { .. } => settings::paths(ctx),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sealpass", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Man { dir } => {
            let Some(dir) = dir else {
                clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
                return Ok(Exit::Ok);
            };
            if !dir.is_dir() {
                return Err(Failure::usage(format!("{} is not a directory (create it first)", dir.display())));
            }
            clap_mangen::generate_to(Cli::command(), &dir)
                .map_err(|e| anyhow::anyhow!("could not write the man pages to {}: {e}", dir.display()))?;
            let mut pages: Vec<String> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("sealpass") && n.ends_with(".1"))
                .collect();
            pages.sort();
            ctx.printer.note(&format!("wrote {} pages to {}: {}", pages.len(), dir.display(), pages.join(" ")));
            Ok(Exit::Ok)
        }
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::serve(args, ctx),
        #[cfg(feature = "server")]
        Command::StaffToken(args) => serve::staff_token(args, ctx),
        #[cfg(feature = "server")]
        Command::Webhook(command) => serve::webhook(command, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn json(argv: &[&str]) -> bool {
        asked_for_json(&Cli::command().try_get_matches_from(argv).unwrap())
    }

    #[test]
    fn json_is_read_from_the_parsed_command_at_any_depth() {
        assert!(json(&["sealpass", "policies", "--json"]));
        assert!(json(&["sealpass", "cert", "show", "vendor.pem", "--json"]));
        assert!(json(&["sealpass", "audit", "--json", "verify"]));
        assert!(!json(&["sealpass", "audit", "verify"]));
        // A value that happens to be "--json" is a value, not the flag.
        assert!(!json(&["sealpass", "check", "--username=--json"]));
        assert!(!json(&["sealpass", "completions", "bash"]));
    }
}
