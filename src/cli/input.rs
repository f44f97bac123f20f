//! Reading a secret: from stdin when it is piped, from a hidden prompt when it is a terminal;
//! never from argv or the environment. The secret goes straight into zeroizing memory.

use std::io::{self, IsTerminal, Read};

use secrecy::SecretString;
use zeroize::Zeroizing;

use sealpass_client::exit::{Exit, Failure};

/// What an empty secret is called.
const NO_SECRET: &str = "no secret on stdin";

/// Largest secret accepted on stdin (the envelope's limit, SPEC §3).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Read exactly one secret from `reader`: one trailing newline (`\n` or `\r\n`) is stripped;
/// anything else that is not a single non-empty line of UTF-8 is refused.
pub fn read_one_secret(reader: impl Read) -> Result<SecretString, Failure> {
    // Room for the whole limit up front: a growing Vec would leave unwiped copies behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_SECRET_BYTES + 1));
    reader
        .take(MAX_SECRET_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!("could not read the secret from stdin: {e}")))?;
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(Failure::new(
            Exit::Error,
            anyhow::anyhow!("the secret on stdin is larger than {} KiB; pipe in one secret", MAX_SECRET_BYTES / 1024),
        ));
    }
    let mut end = bytes.len();
    if bytes[..end].ends_with(b"\n") {
        end -= 1;
        if bytes[..end].ends_with(b"\r") {
            end -= 1;
        }
    }
    let line = &bytes[..end];
    if line.contains(&b'\n') {
        return Err(Failure::new(
            Exit::Error,
            anyhow::anyhow!(
                "stdin holds more than one line; pipe in exactly one secret (one trailing newline is fine)"
            ),
        ));
    }
    if line.is_empty() {
        return Err(Failure::new(Exit::Error, anyhow::anyhow!("{NO_SECRET}")));
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| Failure::new(Exit::Error, anyhow::anyhow!("the secret on stdin is not UTF-8 text")))?;
    Ok(SecretString::from(text))
}

/// Read one secret from stdin, prompting without echo when stdin is a terminal. `check` asks
/// once (nothing is stored, so a typo costs nothing); commands that seal a typed secret ask twice.
/// `command` names the command in messages (`send`, `check`).
pub fn secret_from_stdin_or_prompt(prompt: &str, command: &str) -> Result<SecretString, Failure> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return piped_secret(command);
    }
    let typed = hidden(prompt)?;
    read_one_secret(typed.as_bytes())
}

/// The secret piped on stdin, for `command`: an empty stdin says how to pipe one into it.
pub fn piped_secret(command: &str) -> Result<SecretString, Failure> {
    read_one_secret(io::stdin().lock()).map_err(|f| {
        if f.error.to_string().starts_with(NO_SECRET) {
            Failure::new(
                f.exit,
                anyhow::anyhow!("{NO_SECRET}; pipe one into `sealpass {command}` (… < secret.txt), or run it on a terminal to be asked"),
            )
        } else {
            f
        }
    })
}

/// A line typed without echo at `prompt`. Ctrl-D (end of input) cancels.
pub fn hidden(prompt: &str) -> Result<Zeroizing<String>, Failure> {
    match rpassword::prompt_password(prompt) {
        Ok(typed) => Ok(Zeroizing::new(typed)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(Failure::new(Exit::Error, anyhow::anyhow!("cancelled: nothing was sent or sealed")))
        }
        Err(e) => Err(Failure::new(Exit::Error, anyhow::anyhow!("could not read from the terminal: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn one_trailing_newline_is_stripped() {
        assert_eq!(read_one_secret(&b"abc\n"[..]).unwrap().expose_secret(), "abc");
        assert_eq!(read_one_secret(&b"abc\r\n"[..]).unwrap().expose_secret(), "abc");
        assert_eq!(read_one_secret(&b"abc"[..]).unwrap().expose_secret(), "abc");
        assert_eq!(read_one_secret(&b" abc \n"[..]).unwrap().expose_secret(), " abc ");
    }

    #[test]
    fn more_than_one_line_empty_binary_and_huge_are_refused() {
        assert!(read_one_secret(&b"abc\n\n"[..]).unwrap_err().to_string().contains("more than one line"));
        assert!(read_one_secret(&b"a\nb"[..]).is_err());
        assert!(read_one_secret(&b"\n"[..]).unwrap_err().to_string().contains("no secret"));
        assert!(read_one_secret(&b"\xff\xfe"[..]).unwrap_err().to_string().contains("UTF-8"));
        let huge = vec![b'a'; MAX_SECRET_BYTES + 1];
        assert!(read_one_secret(&huge[..]).unwrap_err().to_string().contains("KiB"));
    }
}
