//! Snapshots of what people read: `--help` of every command, usage errors, and the demo's
//! narration (ports, ids, keys, times and timings masked), compared with the files in
//! `tests/snapshots/`, so a help text or a report cannot change unnoticed. After an intended
//! change: `SNAPSHOTS=overwrite cargo test --test it snapshots`, then review the diff and commit.
//!
//! (A small harness instead of trycmd and insta: the same check, without two more dependency
//! trees to build in CI.)

use std::path::PathBuf;

use crate::helpers::{Home, Run};

/// The binary in a fresh home, at a fixed terminal width (help text wraps to it).
fn sealpass(args: &[&str], stdin: &str) -> Run {
    Home::new().sealpass_env(args, stdin, &[("COLUMNS", "100")])
}

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// What varies from run to run, replaced by a placeholder.
fn masked(text: &str) -> String {
    let rules = [
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

fn check(name: &str, actual: &str) {
    let path = snapshot_dir().join(format!("{name}.txt"));
    let actual = masked(actual);
    if std::env::var_os("SNAPSHOTS").is_some_and(|v| v == "overwrite") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("no snapshot {}: run SNAPSHOTS=overwrite cargo test --test it snapshots", path.display())
    });
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} changed (first at line {}):\n  was: {:?}\n  now: {:?}\nIf intended: SNAPSHOTS=overwrite cargo test --test it snapshots, review, commit.\n\n{actual}",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

fn both(run: &Run) -> String {
    format!("exit {}\n--- stdout\n{}--- stderr\n{}", run.code, run.stdout, run.stderr)
}

/// Every command's name, from the top help.
fn commands() -> Vec<String> {
    let help = sealpass(&["--help"], "");
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
fn snapshots_of_every_help_text() {
    let all = commands();
    assert!(all.len() >= 19, "{all:?}");
    check("help", &sealpass(&["--help"], "").stdout);
    for command in all {
        let run = sealpass(&[&command, "--help"], "");
        assert_eq!(run.code, 0, "{command}");
        check(&format!("help-{command}"), &run.stdout);
    }
}

#[test]
fn snapshots_of_usage_errors() {
    let home = Home::new();
    for (name, args) in [
        ("usage-no-command", vec![]),
        ("usage-typo-command", vec!["genrate"]),
        ("usage-secret-on-argv", vec!["check", "hunter2-correct-horse"]),
        ("usage-bad-count", vec!["generate", "--count", "0"]),
        ("usage-bad-shell", vec!["completions", "tcsh"]),
        ("usage-receive-nowhere", vec!["receive", "https://drop.example.com/d/abcdefghijklmnopqrstuvwxyz"]),
        ("usage-send-no-recipients", vec!["send", "--server", "https://drop.example.com"]),
        ("usage-server-no-scheme", vec!["init", "--server", "127.0.0.1:8427"]),
    ] {
        check(name, &both(&home.sealpass_env(&args, "", &[("COLUMNS", "100")])));
    }
}

#[test]
fn snapshots_of_the_demo_and_reports() {
    let home = Home::new();
    let demo = home.sealpass(&["demo"], "");
    demo.expect(0);
    check("demo", &demo.stdout);
    let check_report = home.sealpass(&["check", "--policy", "salesforce"], "Password123!Password123!Password1\n");
    check("check-weak-salesforce", &both(&check_report));
    let policies = home.sealpass(&["policies"], "");
    check("policies", &policies.stdout);
}
