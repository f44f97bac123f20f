//! The sender's intake, shared by `seal` and `send`: the kind's fields from flags and files, the
//! secret from a hidden prompt, stdin or the generator (shown once, or printed for a script),
//! checked against its policy and built into an envelope by `handover::envelope`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::StdRng;
use secrecy::{ExposeSecret, SecretString};

use super::PolicyArgs;
use super::input::{MAX_SECRET_BYTES, read_one_secret};
use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_client::handover::{self, Intake, SendError};
use sealpass_core::envelope::{Envelope, EnvelopeError, FieldType, Kind, validate_field};
use sealpass_core::generate::Generator;
use sealpass_core::policy::Policy;
use sealpass_core::text::shown;

/// What goes into an envelope besides the secret: shared by `seal` and `send`.
#[derive(Debug, clap::Args)]
pub(crate) struct EnvelopeArgs {
    /// Credential kind (SPEC §2); decides the fields and the default policy [default: generic,
    /// or the request's]
    #[arg(long, value_parser = super::args::kinds())]
    pub(crate) kind: Option<Kind>,
    /// The account's username (the `username` field)
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// A field of the kind, e.g. --field instance_url=https://acme.my.salesforce.com (repeatable)
    #[arg(long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,
    /// A field read from a file, for secret fields such as security_token (repeatable)
    #[arg(long = "field-file", value_name = "KEY=FILE")]
    field_files: Vec<String>,
    /// A note for the receiver
    #[arg(long)]
    note: Option<String>,
    /// How the receiver can reach you (not authenticated)
    #[arg(long)]
    sender: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Generate the secret per the policy, show it once, and seal it
    #[arg(long)]
    pub(crate) generate: bool,
    /// With --generate: write the password to stdout for a script to set, instead of showing it
    /// on the terminal (seal: needs -o for the sealed output; send --json: inside the JSON)
    #[arg(long, requires = "generate")]
    pub(crate) print_generated: bool,
    /// With --generate: length (default: the policy's)
    #[arg(long, requires = "generate")]
    length: Option<usize>,
    /// Seal even if the secret fails the policy (recorded in the envelope)
    #[arg(long)]
    allow_weak: bool,
    /// Kind key-file: seal this file (PEM, PKCS #12/PFX or JSON key, up to 48 KiB) as the secret,
    /// byte for byte, with its name and format
    #[arg(long, value_name = "PATH", conflicts_with = "generate")]
    pub(crate) file: Option<PathBuf>,
}

impl EnvelopeArgs {
    /// The kind asked for, if any (`--file` alone means key-file).
    pub(crate) fn kind(&self) -> Result<Option<Kind>, Failure> {
        match (self.kind, &self.file) {
            (Some(kind), Some(_)) if kind != Kind::KeyFile => {
                Err(Failure::usage(format!("--file seals a key file: it goes with --kind key-file, not {kind}")))
            }
            (None, Some(_)) => Ok(Some(Kind::KeyFile)),
            (kind, _) => Ok(kind),
        }
    }
}

fn split_kv(arg: &str, flag: &str) -> Result<(String, String), Failure> {
    arg.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| Failure::usage(format!("{flag} takes KEY=VALUE, e.g. {flag} instance_url=https://…")))
}

fn fields(kind: Kind, args: &EnvelopeArgs) -> Result<BTreeMap<String, SecretString>, Failure> {
    let mut out = BTreeMap::new();
    let mut put = |key: String, value: &str| -> Result<(), Failure> {
        let value = kind.field(&key).map_or_else(|| value.trim().to_owned(), |f| f.ty.normalise(value));
        validate_field(kind, &key, &value).map_err(|e| match e {
            EnvelopeError::Shape(_) => Failure::new(Exit::Policy, e),
            other => Failure::usage(other),
        })?;
        if out.insert(key.clone(), SecretString::from(value)).is_some() {
            return Err(Failure::usage(format!("field {key} is given twice")));
        }
        Ok(())
    };
    if let Some(u) = &args.username {
        put("username".into(), u)?;
    }
    for arg in &args.fields {
        let (key, value) = split_kv(arg, "--field")?;
        if kind.field(&key).is_some_and(|f| f.ty == FieldType::Secret) {
            return Err(Failure::usage(format!(
                "{key} is a secret: give it with --field-file {key}=FILE, not on the command line (not shown here)"
            )));
        }
        put(key, &value)?;
    }
    for arg in &args.field_files {
        let (key, path) = split_kv(arg, "--field-file")?;
        let path = PathBuf::from(path);
        let secret_field = kind.field(&key).is_some_and(|f| f.ty == FieldType::Secret);
        let bytes = if secret_field {
            files::read_private(&path, MAX_SECRET_BYTES)?
        } else {
            zeroize::Zeroizing::new(files::read_public(&path, MAX_SECRET_BYTES)?)
        };
        let value = read_one_secret(&bytes[..])
            .map_err(|f| Failure::new(f.exit, anyhow::anyhow!("{}: {}", path.display(), f.error)))?;
        put(key, value.expose_secret())?;
    }
    Ok(out)
}

/// How many times a person may type the confirmation wrong before the command stops.
const CONFIRM_TRIES: usize = 3;

/// Ask on the terminal, or read stdin (for `command`). On a terminal the first entry is checked
/// at once (`first_check`: the report of a failing policy, which stops here unless the caller
/// lets weak secrets through), then confirmed, up to three times.
fn typed_secret(command: &str, first_check: impl Fn(&str) -> Result<(), Failure>) -> Result<SecretString, Failure> {
    if !std::io::stdin().is_terminal() {
        return super::input::piped_secret(command);
    }
    for attempt in 1..=CONFIRM_TRIES {
        let first = super::input::hidden("Secret to seal (input hidden): ")?;
        let secret = read_one_secret(first.as_bytes())?;
        first_check(secret.expose_secret())?;
        let second = super::input::hidden("Once more to confirm: ")?;
        if *first == *second {
            return Ok(secret);
        }
        if attempt < CONFIRM_TRIES {
            eprintln!("The two entries differ; type it again ({} tries left).", CONFIRM_TRIES - attempt);
        }
    }
    Err(Failure::new(
        Exit::Error,
        anyhow::anyhow!("the two entries differed {CONFIRM_TRIES} times; nothing was sealed"),
    ))
}

/// Where the sealed result goes, and what to do after showing a generated password.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flow {
    /// The sealed output does not go to stdout (so --print-generated may use it).
    pub stdout_free: bool,
    /// Wait for "set it on the account, then press Enter" after showing a generated password.
    pub confirm_set: bool,
    /// A printed password goes into the caller's JSON, not on a line of its own.
    pub password_in_json: bool,
    /// The command, as messages name it (`send`, `seal`).
    pub command: &'static str,
}

/// Wait until the person confirms the generated password is set on the account.
fn wait_until_set() -> Result<(), Failure> {
    drop(super::input::hidden("Set it on the account now, then press Enter to send it (Ctrl-C to stop): ")?);
    Ok(())
}

/// A generated secret: drawn until it passes the rules a generated password is checked against
/// ([`generated_rules`]), then shown once on the terminal or, with --print-generated, written to
/// stdout. Returns those rules too, for the envelope's check.
fn generated_secret(
    policy: &Policy,
    args: &EnvelopeArgs,
    username: Option<&str>,
    printer: &Printer,
    flow: Flow,
) -> Result<(SecretString, Policy), Failure> {
    if args.print_generated && !flow.stdout_free {
        return Err(Failure::usage(
            "--print-generated writes the password to stdout, so the sealed output needs -o FILE",
        ));
    }
    if !args.print_generated && !std::io::stderr().is_terminal() {
        let how = if flow.stdout_free && !flow.password_in_json {
            "add --print-generated to write it to stdout instead (send prints it before the pickup link; with --json \
             it is the \"password\" field)"
        } else if flow.password_in_json {
            "add --print-generated to get it in the JSON instead"
        } else {
            "add --print-generated -o FILE to write it to stdout and the sealed output to FILE instead"
        };
        return Err(Failure::usage(format!(
            "--generate shows the password once on a terminal, and there is none: {how}"
        )));
    }
    let generator = Generator::new(policy, args.length).map_err(Failure::usage)?;
    let mut rng = StdRng::try_from_os_rng()
        .map_err(|e| anyhow::anyhow!("the operating system's random number generator failed: {e}"))?;
    let rules = generated_rules(policy, generator.length());
    let password = generator
        .generate_where(&mut rng, |pw| rules.check(pw, username).rules.iter().find(|r| !r.ok).map(|r| r.rule))
        .map_err(Failure::usage)?;
    if args.print_generated {
        // For a script, which sets it on the account itself: nothing to wait for.
        if !flow.password_in_json {
            let mut line = zeroize::Zeroizing::new(password.as_bytes().to_vec());
            line.push(b'\n');
            printer.secret_sink_write(&line)?;
        }
    } else {
        printer.show_once(&zeroize::Zeroizing::new(format!(
            "Generated {} password (shown once; set it on the account now):\n\n    {}\n",
            policy.name,
            password.as_str()
        )));
        if flow.confirm_set {
            wait_until_set()?;
        }
    }
    Ok((SecretString::from(password.as_str()), rules))
}

/// The rules a password sealpass generated is checked against before it is sealed: the policy's,
/// minus the looks-random rule at lengths where the generator's uniform output never trips it
/// (docs/policies.md: 0 in 100,000 from 24 characters up; below that the generator runs the rule
/// itself). That keeps zxcvbn's dictionaries, most of the command's time, out of the way.
fn generated_rules(policy: &Policy, length: usize) -> Policy {
    let mut rules = policy.clone();
    rules.looks_random &= length < sealpass_core::generate::PATTERN_CHECK_BELOW;
    rules
}

/// The fields a kind without a secret still needs, asked for one by one on a terminal (they are
/// identifiers, not secrets: typed visibly). Without a terminal nothing is asked.
fn ask_missing_fields(
    kind: Kind,
    fields: &mut BTreeMap<String, SecretString>,
    printer: &Printer,
) -> Result<(), Failure> {
    if !person_at_terminal() {
        return Ok(());
    }
    for name in kind.missing_fields(fields) {
        let Some(spec) = kind.field(name) else { continue };
        let expected = spec.ty.shape().map(|(_, e)| format!(" ({e})")).unwrap_or_default();
        let value = ask_field(kind, spec, &format!("{}{expected}: ", spec.name), false, printer)?;
        fields.insert(spec.name.to_owned(), SecretString::from(value.unwrap_or_default()));
    }
    Ok(())
}

/// Whether a person can be asked: stdin and stderr are both a terminal.
fn person_at_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The optional fields a request makes mandatory: asked for on a terminal, else a usage error
/// naming them, before anything is sealed.
fn required_by_request(
    kind: Kind,
    require: &[String],
    fields: &mut BTreeMap<String, SecretString>,
    printer: &Printer,
) -> Result<(), Failure> {
    let missing: Vec<&str> = require.iter().map(String::as_str).filter(|n| !fields.contains_key(*n)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if person_at_terminal() {
        for name in &missing {
            let Some(spec) = kind.field(name) else { continue };
            let expected = spec.ty.shape().map(|(_, e)| format!(" ({e})")).unwrap_or_default();
            let value =
                ask_field(kind, spec, &format!("{name}, which this request requires{expected}: "), false, printer)?;
            fields.insert(spec.name.to_owned(), SecretString::from(value.unwrap_or_default()));
        }
        return Ok(());
    }
    Err(Failure::usage(format!(
        "this request requires {}: give them with --field KEY=VALUE (on a terminal you are asked for each)",
        missing.iter().map(|n| shown(n).into_owned()).collect::<Vec<_>>().join(", ")
    )))
}

/// Ask for one field on the terminal until its value has the field's shape; `optional`: Enter
/// skips it (`None`). Ctrl-D cancels.
fn ask_field(
    kind: Kind,
    spec: sealpass_core::envelope::FieldSpec,
    question: &str,
    optional: bool,
    printer: &Printer,
) -> Result<Option<String>, Failure> {
    loop {
        printer.prompt(question);
        let mut line = String::new();
        let read = std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!("could not read from the terminal: {e}")))?;
        if read == 0 {
            return Err(Failure::new(Exit::Error, anyhow::anyhow!("cancelled: nothing was sent or sealed")));
        }
        let value = spec.ty.normalise(&line);
        if value.is_empty() && optional {
            return Ok(None);
        }
        match validate_field(kind, spec.name, &value) {
            Ok(()) => return Ok(Some(value)),
            Err(e) if optional => printer.error(&format!("{e}; try again, or Enter to skip")),
            Err(e) => printer.error(&format!("{e}; try again (Ctrl-D stops)")),
        }
    }
}

/// The optional fields worth asking a person for, with what to say: an Entra client secret's
/// environment (where the vendor uses it) and expiry (when to ask for the next one).
fn worth_asking(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::EntraClientSecret => &[
            ("environment_url", "The Dynamics 365 environment URL (https://ORG.crm.dynamics.com; Enter to skip): "),
            ("expires_on", "When does the secret expire? (YYYY-MM-DD, the Expires column in Entra; Enter to skip): "),
        ],
        _ => &[],
    }
}

/// Ask on a terminal for the optional fields [`worth_asking`] names that were not given.
fn ask_optional_fields(
    kind: Kind,
    fields: &mut BTreeMap<String, SecretString>,
    printer: &Printer,
) -> Result<(), Failure> {
    if !person_at_terminal() {
        return Ok(());
    }
    for (name, question) in worth_asking(kind) {
        let Some(spec) = kind.field(name).filter(|_| !fields.contains_key(*name)) else { continue };
        if let Some(value) = ask_field(kind, spec, question, true, printer)? {
            fields.insert((*name).to_owned(), SecretString::from(value));
        }
    }
    Ok(())
}

/// A key file read for sealing: its bytes as the secret, its name and detected format as fields.
fn key_file(path: &std::path::Path, fields: &mut BTreeMap<String, SecretString>) -> Result<SecretString, Failure> {
    let limit = sealpass_core::envelope::MAX_KEY_FILE_BYTES;
    let bytes = zeroize::Zeroizing::new(files::read_public(path, limit).map_err(|e| match e {
        files::FileError::TooLarge(..) => {
            Failure::usage(format!("{}: a key file may be at most {} KiB", path.display(), limit / 1024))
        }
        other => Failure::new(Exit::Error, other),
    })?);
    let format = sealpass_core::keyfile::detect(&bytes)
        .map_err(|e| Failure::new(Exit::Policy, anyhow::anyhow!("{}: {e}", path.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Failure::usage(format!("{}: the file's name must be text", path.display())))?;
    for (key, value) in [("filename", name), ("format", format.name())] {
        if fields.insert(key.to_owned(), SecretString::from(value)).is_some() {
            return Err(Failure::usage(format!("--file sets the {key} field itself: drop --field {key}=…")));
        }
    }
    Ok(sealpass_core::envelope::key_file_secret(&bytes))
}

/// Build the checked envelope from the arguments: shared by `seal` and `send`. `request`: the
/// request it answers and the optional fields that request makes mandatory. `certificates` are
/// the vendor's, when the destination publishes them (an Entra thumbprint is checked against
/// them).
pub(crate) fn build_envelope(
    args: &EnvelopeArgs,
    kind: Kind,
    (request, require): (Option<String>, &[String]),
    flow: Flow,
    printer: &Printer,
    certificates: Option<&[sealpass_core::cert::Certificate]>,
) -> Result<Envelope, Failure> {
    let mut fields = fields(kind, args)?;
    required_by_request(kind, require, &mut fields, printer)?;
    let policy = match kind.default_policy() {
        Some(default) => Some(args.policy.resolve_or(Some(default))?),
        None if args.policy.given() => {
            return Err(Failure::usage(format!(
                "--policy and --rules check secrets; {} is checked by its {} instead",
                handover::a(kind),
                if kind == Kind::KeyFile { "structure" } else { "identifiers' shapes" }
            )));
        }
        None => None,
    };
    if args.file.is_some() && kind != Kind::KeyFile {
        return Err(Failure::usage(format!("--file seals a key file, and this is {}", handover::a(kind))));
    }
    if let Some(issuer) = kind.issued_by().filter(|_| args.generate) {
        return Err(Failure::usage(format!(
            "{} issues the secret of {}, so sealpass does not generate one: {}. Then run this again without \
             --generate and paste it at the prompt (or pipe it on stdin)",
            issuer.who,
            handover::a(kind),
            issuer.copy_from
        )));
    }
    if args.generate && policy.is_none() {
        return Err(Failure::usage(format!("--generate makes passwords; {} holds none", handover::a(kind))));
    }
    let username = fields.get("username").map(|u| u.expose_secret().to_owned());
    let (secret, policy) = match (&policy, kind) {
        (_, Kind::KeyFile) => {
            let path = args.file.as_deref().ok_or_else(|| {
                Failure::usage("a key-file is sealed from a file: give --file PATH (PEM, PKCS #12/PFX or JSON key)")
            })?;
            (key_file(path, &mut fields)?, None)
        }
        (None, _) => {
            ask_missing_fields(kind, &mut fields, printer)?;
            let missing = kind.missing_fields(&fields);
            if !missing.is_empty() {
                return Err(Failure::usage(format!(
                    "{} needs {}: give them with --field KEY=VALUE{} (on a terminal you are asked for each)",
                    handover::a(kind),
                    missing.join(", "),
                    if missing.contains(&"username") { " or --username" } else { "" }
                )));
            }
            (SecretString::from(""), None)
        }
        (Some(policy), _) if args.generate => {
            let (secret, rules) = generated_secret(policy, args, username.as_deref(), printer, flow)?;
            (secret, Some(rules))
        }
        (Some(policy), _) => {
            let first_check = |typed: &str| {
                let report = policy.check(typed, username.as_deref());
                if report.compliant || args.allow_weak {
                    return Ok(());
                }
                printer.note(&printer.report_text(&report));
                Err(Failure::of(SendError::Weak { report: Box::new(report) }))
            };
            (typed_secret(flow.command, first_check)?, Some(policy.clone()))
        }
    };
    ask_optional_fields(kind, &mut fields, printer)?;
    let intake = Intake {
        kind,
        secret,
        fields,
        policy,
        note: args.note.clone(),
        sender: args.sender.clone(),
        allow_weak: args.allow_weak,
    };
    match handover::envelope(intake, request, certificates) {
        Ok((envelope, report)) => {
            if !report.compliant {
                printer.note(&printer.report_text(&report));
                printer.warn("sealing a secret that fails the policy, as --allow-weak asked; the envelope records it");
            }
            Ok(envelope)
        }
        Err(e @ (SendError::Weak { .. } | SendError::Invalid { .. })) => {
            if let SendError::Weak { report } | SendError::Invalid { report } = &e {
                printer.note(&printer.report_text(report));
            }
            Err(Failure::of(e))
        }
        Err(SendError::Envelope(e)) => {
            let username =
                matches!(&e, EnvelopeError::MissingFields { names, .. } if names.iter().any(|n| n == "username"));
            let how = if username { "--field KEY=VALUE or --username" } else { "--field KEY=VALUE" };
            Err(Failure::usage(format!("{e} (give them with {how})")))
        }
        Err(e) => Err(Failure::of(e)),
    }
}
