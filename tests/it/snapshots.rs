//! What people read, held still so it cannot change unnoticed, with the tools the ecosystem
//! reviews such changes with:
//!
//! - help texts and usage errors are [trycmd] cases, `tests/cmd/NAME.toml` with the expected
//!   `NAME.stdout`/`NAME.stderr` beside it, run against the real binary with only what the runner
//!   sets in its environment. After an intended change: `TRYCMD=overwrite cargo test --test it
//!   snapshots`, review the diff, commit.
//! - human reports (the demo's narration, a check report, the policy list) are [insta] snapshots,
//!   `tests/snapshots/*.snap`, with ports, ids, keys, times and timings masked. After an intended
//!   change: `cargo insta review` (or `INSTA_UPDATE=always cargo test --test it snapshots` and
//!   review the diff), commit.
//!
//! [trycmd]: https://docs.rs/trycmd
//! [insta]: https://docs.rs/insta

use std::path::PathBuf;

use crate::helpers::{Home, Run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn snapshots_help_and_usage_errors() {
    trycmd::TestCases::new()
        .register_bin("sealpass", PathBuf::from(env!("CARGO_BIN_EXE_sealpass")))
        // Help text wraps to the terminal's width; no file of the person running the tests is read.
        .env("COLUMNS", "100")
        .env("HOME", "/nonexistent/sealpass-cmd-home")
        .env("XDG_CONFIG_HOME", "/nonexistent/sealpass-cmd-home/config")
        .env("XDG_DATA_HOME", "/nonexistent/sealpass-cmd-home/data")
        .env("XDG_STATE_HOME", "/nonexistent/sealpass-cmd-home/state")
        .case(root().join("tests/cmd/*.toml"));
}

/// trycmd compares with paths normalised (`\` as `/`): what it cannot see, said here.
#[test]
fn snapshots_keep_backslashes_trycmd_normalises() {
    let send = Home::new().sealpass_env(&["send", "--help"], "", &[("COLUMNS", "100")]);
    assert!(send.stdout.contains(r#"printf '%s\n%s\n' "$LINK" "$SECRET""#), "{}", send.stdout);
}

/// Every command's name, from the top help.
fn commands() -> Vec<String> {
    let help = Home::new().sealpass_env(&["--help"], "", &[("COLUMNS", "100")]);
    help.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            l.strip_prefix("  ").filter(|r| !r.starts_with(' '))?.split_whitespace().next().map(str::to_owned)
        })
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn snapshots_cover_every_command_help() {
    let all = commands();
    assert!(all.len() >= 19, "{all:?}");
    for command in ["help".to_owned()].into_iter().chain(all.iter().map(|c| format!("help-{c}"))) {
        let case = root().join(format!("tests/cmd/{command}.toml"));
        assert!(case.exists(), "no trycmd case {}: add it (see tests/it/snapshots.rs)", case.display());
    }
}

/// What varies from run to run, replaced by a placeholder.
fn masked(text: &str) -> String {
    let rules = [
        (r"age1pq1[02-9ac-hj-np-z]{17}…", "AGE1PQ1…"),
        (r"age1[02-9ac-hj-np-z]{58}", "AGE1…"),
        (r"sp1-[a-z2-7]{4}(-[a-z2-7]{4}){5}-[a-z2-7]{2}", "SP1-FINGERPRINT"),
        (r"sp3-[a-z2-7]{4}(-[a-z2-7]{4}){5}-[a-z2-7]{2}", "SP3-FINGERPRINT"),
        (r"sp4-[a-z2-7]{4}(-[a-z2-7]{4}){5}-[a-z2-7]{2}", "SP4-VENDOR-KEY"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"\b[a-z2-7]{26}\b", "ID"),
        (r"\d+(\.\d+)? ms\b", "N ms"),
        (r"\d+\.\d bits", "N bits"),
        (r"/tmp/\S+", "/tmp/…"),
    ];
    let mut out = text.to_owned();
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern).unwrap().replace_all(&out, with).into_owned();
    }
    out
}

fn both(run: &Run) -> String {
    format!("exit {}\n--- stdout\n{}--- stderr\n{}", run.code, run.stdout, run.stderr)
}

/// `text`, masked, against `tests/snapshots/NAME.snap`.
fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => root().join("tests/snapshots"), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, masked(text));
    });
}

#[test]
fn snapshots_of_the_demo_and_reports() {
    let home = Home::new();
    let demo = home.sealpass(&["demo"], "");
    demo.expect(0);
    snapshot("demo", &demo.stdout);
    let check_report = home.sealpass(&["check", "--policy", "salesforce"], "Password123!Password123!Password1\n");
    snapshot("check-weak-salesforce", &both(&check_report));
    let policies = home.sealpass(&["policies"], "");
    snapshot("policies", &policies.stdout);
}
