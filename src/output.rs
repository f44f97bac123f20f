//! The only place that writes to stdout and stderr: data on stdout, diagnostics on stderr,
//! `--json` as one object a line, colour only on a terminal and never when `NO_COLOR` is set.
//! Text that came from elsewhere (a server, an envelope) is shown through [`shown`], and every
//! human line is scrubbed once more on its way out, so no one else can drive the terminal.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use zeroize::Zeroize;

use sealpass_core::policy::{Report, RuleResult};
use sealpass_core::text::{scrub, shown};

/// How to print: human or JSON, with or without colour.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    json: bool,
    color: bool,
}

/// The lines a person reads about a certificate.
pub fn certificate_text(c: &sealpass_core::cert::Certificate) -> String {
    let now = time::OffsetDateTime::now_utc();
    let state = if c.not_after < now {
        "  EXPIRED"
    } else if c.not_before > now {
        "  not yet valid"
    } else {
        ""
    };
    format!(
        "subject:    {}\nvalid:      {} to {}{state}\nkey:        {}\nsha256:     {}\nthumbprint: {} (SHA-1, as Entra ID shows it)",
        sealpass_core::text::shown(&c.subject),
        sealpass_core::cert::rfc3339(c.not_before),
        sealpass_core::cert::rfc3339(c.not_after),
        c.key,
        c.sha256,
        c.sha1_thumbprint
    )
}

/// Whether the environment asks for no colour (<https://no-color.org>: set and not empty).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Printer {
    /// A printer for this process: colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn new(json: bool) -> Printer {
        Printer::with(json, io::stdout().is_terminal(), no_color_requested())
    }

    /// A printer for the given circumstances: colour only for humans, on a terminal, without
    /// `NO_COLOR`.
    pub fn with(json: bool, stdout_is_terminal: bool, no_color: bool) -> Printer {
        Printer { json, color: !json && stdout_is_terminal && !no_color }
    }

    /// Whether machine output was asked for.
    pub fn json(&self) -> bool {
        self.json
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// One JSON object on its own line on stdout.
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Lines of data on stdout.
    pub fn lines(&self, text: &str) -> io::Result<()> {
        let text = scrub(text);
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// A diagnostic on stderr.
    pub fn note(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{}", scrub(text));
    }

    /// A question on stderr, the answer to be typed on the same line.
    pub fn prompt(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = write!(err, "{}", scrub(text));
        let _ = err.flush();
    }

    /// A warning on stderr: something to know that does not fail the command.
    pub fn warn(&self, text: &str) {
        let color = io::stderr().is_terminal() && !no_color_requested();
        let label = if color { "\x1b[33mwarning:\x1b[0m" } else { "warning:" };
        let _ = writeln!(io::stderr().lock(), "{label} {}", scrub(text));
    }

    /// A failure on stderr, for commands that report it and go on to exit non-zero.
    pub fn error(&self, text: &str) {
        let color = io::stderr().is_terminal() && !no_color_requested();
        let label = if color { "\x1b[31merror:\x1b[0m" } else { "error:" };
        let _ = writeln!(io::stderr().lock(), "{label} {}", scrub(text));
    }

    /// Show text with a secret in it once to the person at the terminal (stderr).
    pub fn show_once(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "\n{text}");
    }

    /// One JSON object on its own line on stdout, for objects that may hold a secret:
    /// serialised into wiped memory and written through the wiped sink.
    pub fn secret_json_line<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        let mut line = zeroize::Zeroizing::new(Vec::with_capacity(4096));
        serde_json::to_writer(&mut *line, value)?;
        line.push(b'\n');
        self.secret_sink_write(&line)
    }

    /// Write secret bytes to stdout through a wiped buffer, and flush.
    pub fn secret_sink_write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut sink = self.secret_sink();
        sink.write_all(bytes)?;
        sink.flush()
    }

    /// A writer to stdout for secrets: buffered in memory that is wiped after every flush.
    pub fn secret_sink(&self) -> SecretSink {
        SecretSink { buf: Vec::with_capacity(SecretSink::CAPACITY) }
    }

    /// A check report: JSON as one object, or one line a rule.
    pub fn report(&self, report: &Report) -> io::Result<()> {
        if self.json {
            return self.json_line(report);
        }
        self.lines(&self.report_text(report))
    }

    /// The human form of a report.
    pub fn report_text(&self, report: &Report) -> String {
        let verdict =
            if report.compliant { self.paint("32", "compliant") } else { self.paint("31;1", "NOT compliant") };
        // Key files and identifiers are checked by their structure, not against a password policy.
        let structural = matches!(report.policy.as_str(), "identifiers" | "key-file");
        let what = match report.policy.as_str() {
            "identifiers" => "the identifiers".to_owned(),
            "key-file" => "the key file".to_owned(),
            policy => format!("policy {policy}"),
        };
        let mut text = format!("{what}: {verdict}\n");
        for RuleResult { rule, ok, detail } in &report.rules {
            let mark = if *ok { self.paint("32", "ok  ") } else { self.paint("31;1", "FAIL") };
            // Details and warnings can quote a username or a policy name from an envelope.
            text.push_str(&format!("  {mark} {rule:<16} {}\n", shown(detail)));
        }
        for warning in &report.warnings {
            text.push_str(&format!("  {} {}\n", self.paint("33", "note"), shown(warning)));
        }
        if !structural {
            text.push_str(&format!("  estimated strength: {:.0} bits\n", report.entropy_estimate_bits));
        }
        text
    }
}

/// A spinner on stderr while a slow call runs, only when stderr is a terminal; cleared when
/// dropped. Silent in pipes and scripts.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// Start spinning with `message` (after a short delay, so quick calls show nothing).
    pub fn start(message: &str) -> Spinner {
        if !io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// Buffered stdout for secrets: the buffer is zeroed each time it is written out and on drop,
/// so generated passwords do not linger in freed memory. Only whole lines are handed to stdout,
/// whose own line buffer would otherwise keep a partial password.
pub struct SecretSink {
    buf: Vec<u8>,
}

impl SecretSink {
    const CAPACITY: usize = 64 * 1024;

    /// Write out the whole lines in the buffer, keep the partial one, wipe the rest.
    fn drain_lines(&mut self) -> io::Result<()> {
        let Some(end) = self.buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1) else {
            return Ok(());
        };
        let result = io::stdout().lock().write_all(&self.buf[..end]);
        self.buf.copy_within(end.., 0);
        let rest = self.buf.len() - end;
        self.buf[rest..].zeroize();
        self.buf.truncate(rest);
        result
    }
}

impl Write for SecretSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > Self::CAPACITY {
            self.drain_lines()?;
        }
        // Never let the Vec reallocate: that would leave an unwiped copy behind. A single line
        // longer than the buffer (not something sealpass writes) goes straight through.
        if data.len() > self.buf.capacity() - self.buf.len() {
            let mut out = io::stdout().lock();
            out.write_all(&self.buf)?;
            self.buf.zeroize();
            return out.write_all(data).map(|()| data.len());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let result = out.write_all(&self.buf).and_then(|()| out.flush());
        self.buf.zeroize();
        result
    }
}

impl Drop for SecretSink {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpass_core::policy::Policy;

    #[test]
    fn colour_only_for_humans_on_a_terminal_without_no_color() {
        let report = Policy::preset("salesforce").unwrap().check("short", None);
        assert!(Printer::with(false, true, false).report_text(&report).contains("\x1b["));
        for (json, tty, no_color) in [(false, true, true), (false, false, false), (true, true, false)] {
            assert!(!Printer::with(json, tty, no_color).report_text(&report).contains('\x1b'));
        }
    }
}
