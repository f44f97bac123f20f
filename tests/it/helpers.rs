//! Shared helpers: run the real binary with stdin in a scratch home, capture everything; run the
//! reference `age` CLI.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    /// stdout parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }
    /// The one JSON object on stdout.
    pub fn json(&self) -> serde_json::Value {
        let mut all = self.json_lines();
        assert_eq!(all.len(), 1, "one JSON object expected: {}", self.stdout);
        all.remove(0)
    }
    /// Fail with everything we know unless the exit code is `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// Whether `text` appears anywhere in the output.
    pub fn mentions(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }
}

/// Run `sealpass ARGS` with `stdin` piped in, a clean environment for our variables.
pub fn sealpass(args: &[&str], stdin: &str) -> Run {
    sealpass_env(args, stdin, &[])
}

/// Like [`sealpass`] with extra environment variables.
pub fn sealpass_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealpass"));
    cmd.args(args).env_remove("SEALPASS_POLICY").env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, stdin.as_bytes())
}

/// Run a prepared command with `stdin`, capturing its output.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the command runs");
    let mut input = child.stdin.take().unwrap();
    // A command may exit before reading stdin (a usage error); that is not a test failure.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    }
}

/// A scratch home: its own XDG directories and working directory.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sealpass ARGS` in this home, with `stdin`.
    pub fn sealpass(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Run {
        self.sealpass_env(args, stdin, &[])
    }

    /// Like [`Home::sealpass`] with extra environment variables.
    pub fn sealpass_env(&self, args: &[&str], stdin: impl AsRef<[u8]>, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd, stdin.as_ref())
    }

    /// `sealpass ARGS` in this home, to run as the caller likes (in the background, say).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealpass"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env_remove("SEALPASS_POLICY")
            .env_remove("SEALPASS_STAFF_TOKEN")
            .env_remove("SEALPASS_SERVER")
            .env_remove("NO_COLOR");
        cmd
    }

    /// `sealpass ARGS` in this home on a terminal of its own (util-linux `script` gives it a
    /// pseudo-terminal), typing `typed` at it. The transcript (prompts, and what was typed
    /// before a prompt hid it) comes back as stdout.
    pub fn on_terminal(&self, args: &[&str], typed: &str) -> Run {
        self.on_terminal_env(args, typed, &[])
    }

    /// Like [`Home::on_terminal`] with extra environment variables.
    pub fn on_terminal_env(&self, args: &[&str], typed: &str, env: &[(&str, &str)]) -> Run {
        let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
        let line = std::iter::once(env!("CARGO_BIN_EXE_sealpass").to_owned())
            .chain(args.iter().map(|a| quote(a)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("NO_COLOR", "1")
            .env_remove("SEALPASS_POLICY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd, typed.as_bytes())
    }

    /// A new identity file `name`; returns its recipient.
    pub fn keygen(&self, name: &str) -> String {
        let run = self.sealpass(&["keygen", "-o", name], "");
        run.expect(0);
        run.stdout.lines().next().unwrap().to_owned()
    }

    /// A classical X25519 key (`keygen --classic`): what Debian's age CLI (1.1) can seal to and
    /// open, which post-quantum keys it cannot.
    pub fn keygen_classic(&self, name: &str) -> String {
        let run = self.sealpass(&["keygen", "--classic", "-o", name], "");
        run.expect(0);
        run.stdout.lines().next().unwrap().to_owned()
    }

    /// Write a private (0600) file.
    pub fn private_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

/// The reference age CLI (Debian's `age`), which scripts/test.sh installs. Missing is a failure.
pub fn age(args: &[&str], stdin: &[u8], dir: &Path) -> Run {
    let mut cmd = Command::new("age");
    cmd.args(args).current_dir(dir);
    assert!(
        Command::new("age").arg("--version").output().is_ok(),
        "the age CLI is missing: run scripts/test.sh, which installs Debian's age"
    );
    run(cmd, stdin)
}

/// GET `url` and read its JSON (from a test that is not async).
pub fn get_json(url: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
}

/// Staff confirm their own server once, as the staff guide says (`sealpass init --fingerprint`
/// with the value its operator gave them): `request` and `receive` hold the server to that pin.
pub fn pin_own_server(home: &Home, url: &str) {
    let info = get_json(&format!("{url}/v1/info"));
    let value = info["fingerprint"].as_str().unwrap().to_owned();
    home.sealpass(&["init", "--server", url, "--fingerprint", &value], "").expect(0);
}
