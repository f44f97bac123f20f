//! clap's usage errors, minus whatever was typed that could be a secret pasted in the wrong
//! place; typos that cannot be secrets are left as clap says them.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Arguments whose values are never secrets: a bad one is shown, with the valid choices.
const PLAIN_ARGS: &[&str] = &["--count", "--length", "<SHELL>", "--policy", "--kind", "--ttl", "--days", "--listen"];

/// Whether clap's error would quote something typed on the command line that could be a secret
/// pasted in the wrong place (a Salesforce password starts with `-` one time in 70): such errors
/// are re-rendered without it. A typo that cannot be a secret — a value for a flag like
/// `--count` or a shell name, a number, a near miss of a flag or command name — is shown as
/// clap says it.
pub(super) fn quotes_user_input(err: &clap::Error) -> bool {
    let arg = context_strings(err, ContextKind::InvalidArg).pop().unwrap_or_default();
    // A near miss of one of our own names (clap suggests the name) is a typo, not a secret.
    let near_miss = |word: &str, suggestion: ContextKind| {
        !context_strings(err, suggestion).is_empty()
            && (1..=40).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let number = arg.starts_with('-') && arg.parse::<i64>().is_ok();
            !(number || (arg.starts_with("--") && near_miss(&arg, ContextKind::SuggestedArg)))
        }
        ErrorKind::InvalidSubcommand => {
            let typed = context_strings(err, ContextKind::InvalidSubcommand).pop().unwrap_or_default();
            !near_miss(&typed, ContextKind::SuggestedSubcommand)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            !PLAIN_ARGS.iter().any(|plain| arg == *plain || arg.starts_with(&format!("{plain} ")))
        }
        ErrorKind::TooManyValues | ErrorKind::NoEquals | ErrorKind::InvalidUtf8 => true,
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
    for kind in [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg] {
        if let Some(s) = context_strings(err, kind).first() {
            text.push_str(&format!(" Did you mean `{s}`?"));
        }
    }
    text.push_str(
        "\nsealpass never takes secrets on the command line, where shell history and the process list \
         keep them: pipe them on stdin instead. See `sealpass --help`.",
    );
    text
}
