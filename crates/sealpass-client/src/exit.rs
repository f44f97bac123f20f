//! Exit codes (SPEC §6) and the error type that carries one to `main`, so every failure ends
//! with the code scripts rely on.

use std::fmt;

/// The process exit codes sealpass promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any other error.
    Error = 1,
    /// Wrong usage: bad flags or arguments.
    Usage = 2,
    /// The secret does not comply with the policy.
    Policy = 3,
    /// The drop is not available (not found, claimed by someone else, expired, revoked).
    Unavailable = 4,
    /// The ciphertext cannot be decrypted (no matching identity, corrupt, tampered).
    Decrypt = 5,
    /// The server refused our credentials.
    Unauthorized = 6,
    /// The server could not be reached.
    Unreachable = 7,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// An error that knows which exit code it ends the process with.
#[derive(Debug)]
pub struct Failure {
    /// The code to exit with.
    pub exit: Exit,
    /// What went wrong and what to do next.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure with a code.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
        Failure { exit, error: error.into() }
    }
    /// A usage error (exit 2).
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure::new(Exit::Usage, anyhow::anyhow!("{message}"))
    }
}

/// An error that knows the exit code (SPEC §6) it ends a command with: the client's, the
/// hand-over's. `Failure::of` turns one into the failure `main` exits with.
pub trait Exits {
    /// The exit code.
    fn exit(&self) -> Exit;
}

impl Failure {
    /// `e`, ending the process with the code it knows.
    pub fn of<E: Exits + Into<anyhow::Error>>(e: E) -> Failure {
        Failure::new(e.exit(), e)
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::new(Exit::Error, e)
    }
}

impl fmt::Display for Failure {
    /// The error and its causes, `: `-separated, each said once: a message that already quotes
    /// its cause (`no such request: …` over the client error saying the same) is not followed
    /// by it again.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        for cause in self.error.chain() {
            let said = cause.to_string();
            if said.is_empty() || text.contains(&said) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("no such request")]
    struct Inner;

    #[test]
    fn a_cause_already_quoted_is_not_printed_twice() {
        let failure = Failure::new(Exit::Unavailable, Outer(Inner));
        assert_eq!(failure.to_string(), "no such request");
        let plain = Failure::new(Exit::Error, anyhow::anyhow!("disk full").context("could not save"));
        assert_eq!(plain.to_string(), "could not save: disk full");
        let repeated =
            Failure::new(Exit::Error, anyhow::anyhow!("the sender revoked it").context("the sender revoked it"));
        assert_eq!(repeated.to_string(), "the sender revoked it");
    }
}
