//! The only place that writes to stdout and stderr: data on stdout, diagnostics on stderr,
//! `--json` as one object a line, colour only on a terminal and never when `NO_COLOR` is set.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use zeroize::Zeroize;

use crate::policy::{Report, RuleResult};

/// How to print: human or JSON, with or without colour.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    json: bool,
    color: bool,
}

/// Whether the environment asks for no colour (<https://no-color.org>: set and not empty).
fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Printer {
    /// A printer for this process: colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn new(json: bool) -> Printer {
        Printer { json, color: !json && io::stdout().is_terminal() && !no_color_requested() }
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
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// A diagnostic on stderr.
    pub fn note(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{text}");
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        let color = io::stderr().is_terminal() && !no_color_requested();
        let label = if color { "\x1b[33mwarning:\x1b[0m" } else { "warning:" };
        let _ = writeln!(io::stderr().lock(), "{label} {text}");
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
        let verdict =
            if report.compliant { self.paint("32", "compliant") } else { self.paint("31;1", "NOT compliant") };
        let mut text = format!("policy {}: {verdict}\n", report.policy);
        for RuleResult { rule, ok, detail } in &report.rules {
            let mark = if *ok { self.paint("32", "ok  ") } else { self.paint("31;1", "FAIL") };
            text.push_str(&format!("  {mark} {rule:<16} {detail}\n"));
        }
        for warning in &report.warnings {
            text.push_str(&format!("  {} {warning}\n", self.paint("33", "note")));
        }
        text.push_str(&format!("  estimated strength: {:.0} bits\n", report.entropy_estimate_bits));
        self.lines(&text)
    }
}

/// Buffered stdout for secrets: the buffer is zeroed each time it is written out and on drop,
/// so generated passwords do not linger in freed memory.
pub struct SecretSink {
    buf: Vec<u8>,
}

impl SecretSink {
    const CAPACITY: usize = 64 * 1024;

    fn drain(&mut self) -> io::Result<()> {
        let result = io::stdout().lock().write_all(&self.buf);
        self.buf.zeroize();
        self.buf.reserve(Self::CAPACITY);
        result
    }
}

impl Write for SecretSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > Self::CAPACITY && !self.buf.is_empty() {
            self.drain()?;
        }
        // Never let the Vec reallocate: that would leave an unwiped copy behind.
        if data.len() > self.buf.capacity() - self.buf.len() {
            let mut out = io::stdout().lock();
            return out.write_all(data).map(|()| data.len());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        io::stdout().lock().flush()
    }
}

impl Drop for SecretSink {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}
