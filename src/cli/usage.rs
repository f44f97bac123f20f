//! clap's usage errors, minus whatever was typed that could be a secret pasted in the wrong
//! place; typos that cannot be secrets are left as clap says them.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Arguments whose values are never secrets: a bad one is shown, with the valid choices.
const PLAIN_ARGS: &[&str] =
    &["--count", "--length", "<SHELL>", "--policy", "--kind", "--ttl", "--days", "--listen", "--state", "--role"];

/// Whether clap's error would quote something typed on the command line that could be a secret
/// pasted in the wrong place (a Salesforce password starts with `-` one time in 70): such errors
/// are re-rendered without it, keeping clap's suggestion ("did you mean `generate`?") and the
/// valid choices. Shown as clap says them: a negative number where a count belongs, and a bad
/// value of a flag whose values are never secrets (`--count`, a shell name, `--policy`…) when it
/// was typed as its own argument (`--count 0`, `--count=0`), not glued to a short flag
/// (`-pR7kq…`), where it may be the tail of a secret.
pub(super) fn quotes_user_input(err: &clap::Error, argv: &[OsString]) -> bool {
    let arg = context_strings(err, ContextKind::InvalidArg).pop().unwrap_or_default();
    let standalone = |value: &str| {
        argv.iter()
            .filter_map(|a| a.to_str())
            .any(|a| a == value || a.split_once('=').is_some_and(|(k, v)| k.starts_with("--") && v == value))
    };
    match err.kind() {
        ErrorKind::UnknownArgument => !(arg.starts_with('-') && arg.parse::<i64>().is_ok() && standalone(&arg)),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = context_strings(err, ContextKind::InvalidValue).pop().unwrap_or_default();
            let plain = PLAIN_ARGS.iter().any(|plain| arg == *plain || arg.starts_with(&format!("{plain} ")));
            !(plain && standalone(&value))
        }
        ErrorKind::InvalidSubcommand | ErrorKind::TooManyValues | ErrorKind::NoEquals | ErrorKind::InvalidUtf8 => true,
        _ => false,
    }
}

fn context_strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(list)) => list.clone(),
        _ => vec![],
    }
}

/// clap's error, minus whatever the user typed: which flag, what is valid, what was meant.
pub(super) fn redacted(err: &clap::Error) -> String {
    let mut text = match err.kind() {
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand => {
            "error: unexpected argument (not shown, in case it is a secret).".to_owned()
        }
        _ => {
            let flag = context_strings(err, ContextKind::InvalidArg).pop().unwrap_or_else(|| "an argument".into());
            format!("error: invalid value for {flag} (not shown, in case it is a secret).")
        }
    };
    let valid = context_strings(err, ContextKind::ValidValue);
    if !valid.is_empty() {
        text.push_str(&format!(" Possible values: {}.", valid.join(", ")));
    }
    // clap lists its suggestions from the least to the most similar: the last is the best.
    for kind in [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg] {
        if let Some(s) = context_strings(err, kind).last() {
            text.push_str(&format!(" Did you mean `{s}`?"));
        }
    }
    text.push_str(
        "\nsealpass never takes secrets on the command line, where shell history and the process list \
         keep them: pipe them on stdin instead. See `sealpass --help`.",
    );
    text
}
