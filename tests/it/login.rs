//! `sealpass login` and `logout` against the real identity provider (npm's `oidc-provider`) and
//! a real browser (Chromium, driven by web/tools/idp-sign-in.mjs through the provider's own
//! pages): the device grant with the user step done in the browser, code + PKCE on a loopback
//! redirect, tokens kept 0600 and never shown, refreshed when they run out, revoked at logout.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Home, Run, pin_own_server};
use crate::oidc::{Idp, settings};
use crate::server_support::TestServer;

fn web() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Sign `login` in at `url` in Chromium, answering the provider's pages.
fn sign_in(url: &str, login: &str) {
    // At most two minutes (a cold Chromium on two busy cores takes seconds, not minutes).
    let out = Command::new("timeout")
        .args(["120", "node", "tools/idp-sign-in.mjs", url, login])
        .current_dir(web())
        .output()
        .expect("node runs (and /usr/bin/chromium is installed: scripts/test.sh installs it)");
    assert!(out.status.success(), "the browser sign-in failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// `sealpass ARGS` running in the background, its stderr read line by line as it comes.
struct Background {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    fn start(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut cmd = home.command(args);
        cmd.envs(env.iter().copied()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Background { child: Some(child), lines, seen: Vec::new() }
    }

    /// The first stderr line `pick` takes something from.
    fn wait_for(&mut self, pick: impl Fn(&str) -> Option<String>) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(found) = pick(&line) {
                        return found;
                    }
                }
                Err(_) => panic!("not seen in time; stderr so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Wait for it to exit (at most two minutes), with all it printed.
    fn finish(mut self) -> Run {
        let mut child = self.child.take().unwrap();
        let child_id = child.id();
        for _ in 0..1200 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop(&mut child);
        let out = child.wait_with_output().unwrap();
        // What it started in its group (the browser $BROWSER opened) finishes on its own, its
        // profile removed; whatever is still there after that goes with it.
        wait_group(child_id, Duration::from_secs(60));
        kill_group(&child_id);
        self.seen.extend(self.lines.try_iter());
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: self.seen.join("\n"),
            raw_stdout: out.stdout,
        }
    }
}

impl Drop for Background {
    /// A test that failed half-way leaves no `sealpass login` waiting behind it.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            stop(child);
            let _ = child.wait();
            kill_group(&child.id());
        }
    }
}

/// Kill `child`'s process group unless it has exited.
fn stop(child: &mut Child) {
    if child.try_wait().unwrap().is_none() {
        kill_group(&child.id());
    }
}

/// Wait up to `within` for every process of group `id` to exit.
fn wait_group(id: u32, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        let alive = Command::new("kill")
            .args(["-0", "--", &format!("-{id}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !alive {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kill the process group `id` leads, if any of it is left (none is not an error).
fn kill_group(id: &u32) {
    let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{id}")]).stderr(Stdio::null()).status();
}

/// The word of `line` that starts with `prefix`.
fn address(line: &str, prefix: &str) -> Option<String> {
    line.split_whitespace().find(|w| w.starts_with(prefix)).map(str::to_owned)
}

/// The saved sessions file, checked to be 0600.
fn sessions(home: &Home) -> Value {
    let path = home.path("state/sealpass/logins.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the sessions file must be private");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_then_staff_commands_refresh_and_logout() {
    // Access tokens for an hour: fresh enough to be used as they are.
    let idp = Idp::start_with(0, "k1", None, &["--ttl", "3600"]);
    let issuer = idp.issuer.clone();
    let server = TestServer::start(move |s| s.oidc = Some(settings(&issuer))).await;
    let url = server.url.clone();
    let home = std::sync::Arc::new(Home::new());

    // Pinned first (sealpass login gives a server the person's sign-in only once it is held to
    // something); then the code and address go to the person, and a browser (standing for their
    // phone) finishes.
    let (h, u, i) = (home.clone(), url.clone(), idp.issuer.clone());
    let (login, tokens) = blocking(move || {
        pin_own_server(&h, &u);
        let mut cli = Background::start(&h, &["login", "--server", &u], &[]);
        let complete = cli.wait_for(|l| address(l, &format!("{i}/device?user_code=")));
        sign_in(&complete, "alice");
        let login = cli.finish();
        (login, sessions(&h))
    })
    .await;
    login.expect(0);
    assert!(login.stderr.contains("enter the code"), "{}", login.stderr);
    assert!(login.stdout.contains(&format!("Signed in to {url} as alice (requester, receiver)")), "{}", login.stdout);
    let session = &tokens["sessions"][0];
    let (access, refresh) =
        (session["access_token"].as_str().unwrap().to_owned(), session["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(
        (session["server"].as_str(), session["issuer"].as_str()),
        (Some(url.as_str()), Some(idp.issuer.as_str()))
    );
    assert!(!login.mentions(&access) && !login.mentions(&refresh), "tokens are never shown");

    // Every staff command signs in as alice, within her roles; a token given explicitly wins.
    let (h, u) = (home.clone(), url.clone());
    let (listed, audit, env_wins, flag_wins, unchanged) = blocking(move || {
        let listed = h.sealpass(&["requests", "--server", &u, "--json"], "");
        let audit = h.sealpass(&["audit", "--server", &u], "");
        let env_wins = h.sealpass_env(&["requests", "--server", &u], "", &[("SEALPASS_STAFF_TOKEN", "sps_not-ours")]);
        let file = h.private_file("other.token", "sps_not-ours-either");
        let flag_wins = h.sealpass(&["requests", "--server", &u, "--staff-token-file", file.to_str().unwrap()], "");
        (listed, audit, env_wins, flag_wins, sessions(&h))
    })
    .await;
    listed.expect(0);
    audit.expect(6);
    assert!(audit.stderr.contains("needs the auditor role"), "{}", audit.stderr);
    env_wins.expect(6);
    flag_wins.expect(6);
    assert!(flag_wins.stderr.contains("not a staff token"), "{}", flag_wins.stderr);
    assert_eq!(unchanged["sessions"][0]["access_token"].as_str(), Some(access.as_str()), "a fresh token is used as is");

    // About to run out: refreshed first, the new tokens kept.
    let path = home.path("state/sealpass/logins.json");
    let mut stale = unchanged.clone();
    stale["sessions"][0]["expires_at"] = Value::from(time_now() + 10);
    stale["sessions"][0]["refresh_at"] = Value::from(time_now() - 1);
    std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
    let (h, u) = (home.clone(), url.clone());
    let (inbox, refreshed) = blocking(move || (h.sealpass(&["inbox", "--server", &u], ""), sessions(&h))).await;
    inbox.expect(0);
    let renewed = &refreshed["sessions"][0];
    assert_ne!(renewed["access_token"].as_str(), Some(access.as_str()), "refreshed");
    assert!(renewed["expires_at"].as_i64().unwrap() > time_now() + 3000);
    assert!(!inbox.mentions(renewed["access_token"].as_str().unwrap()));
    assert_ne!(renewed["refresh_token"].as_str(), Some(refresh.as_str()), "the provider rotates refresh tokens");

    // Three commands at once with a token about to run out: one refreshes, under the lock, and
    // the others use what it got (each spending the rotating refresh token would have the
    // provider revoke the whole sign-in as a replay).
    let mut stale = refreshed.clone();
    stale["sessions"][0]["expires_at"] = Value::from(time_now() + 10);
    stale["sessions"][0]["refresh_at"] = Value::from(time_now() - 1);
    std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
    let (h, u) = (home.clone(), url.clone());
    let (together, after_together) = blocking(move || {
        let runs: Vec<Run> = std::thread::scope(|scope| {
            let each: Vec<_> =
                (0..3).map(|_| scope.spawn(|| h.sealpass(&["requests", "--server", &u, "--json"], ""))).collect();
            each.into_iter().map(|t| t.join().unwrap()).collect()
        });
        (runs, sessions(&h))
    })
    .await;
    for run in &together {
        run.expect(0);
    }
    let refreshed = after_together;
    let renewed = &refreshed["sessions"][0];
    assert!(renewed["expires_at"].as_i64().unwrap() > time_now() + 3000, "refreshed once, kept");
    let refresh_now = renewed["refresh_token"].as_str().unwrap().to_owned();
    let mut kept = refreshed.clone();
    kept["sessions"][0]["expires_at"] = Value::from(time_now() + 10);
    kept["sessions"][0]["refresh_at"] = Value::from(time_now() - 1);

    // Logout forgets the tokens here and ends the sign-in at the provider.
    let (h, u) = (home.clone(), url.clone());
    let (logout, after, again) = blocking(move || {
        let logout = h.sealpass(&["logout", "--server", &u], "");
        let after = sessions(&h);
        let again = h.sealpass(&["requests", "--server", &u], "");
        (logout, after, again)
    })
    .await;
    logout.expect(0);
    assert!(logout.stdout.contains("the identity provider ended the sign-in"), "{}", logout.stdout);
    assert_eq!(after["sessions"], Value::Array(Vec::new()));
    again.expect(6);
    assert!(again.stderr.contains("sealpass login"), "{}", again.stderr);
    let answer = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "sealpass-cli"),
            ("refresh_token", &refresh_now),
            ("resource", "https://sealpass.test"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "the provider no longer honours the refresh token: {body}");

    // A sign-in the provider ended elsewhere (that refresh token, revoked, its access token
    // about to run out): the command says to sign in again and forgets it; with a token file in
    // the config, that is used instead, with a warning.
    std::fs::write(&path, serde_json::to_vec(&kept).unwrap()).unwrap();
    let (h, u, k) = (home.clone(), url.clone(), kept.clone());
    let (ended, forgotten, fallback) = blocking(move || {
        let ended = h.sealpass(&["requests", "--server", &u], "");
        let forgotten = sessions(&h);
        std::fs::write(h.path("state/sealpass/logins.json"), serde_json::to_vec(&k).unwrap()).unwrap();
        let file = h.private_file("rita.token", &crate::server_support::staff_token("rita"));
        let config = h.path("config/sealpass/config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, format!("staff_token_file = {:?}\n{text}", file.to_str().unwrap())).unwrap();
        (ended, forgotten, h.sealpass(&["requests", "--server", &u], ""))
    })
    .await;
    ended.expect(6);
    assert!(ended.stderr.contains("your sign-in has expired: run sealpass login"), "{}", ended.stderr);
    assert_eq!(forgotten["sessions"], Value::Array(Vec::new()));
    fallback.expect(0);
    assert!(fallback.stderr.contains("using staff_token_file from the config instead"), "{}", fallback.stderr);

    server.stop().await;
    idp.stop();
}

fn time_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_with_pkce_on_a_loopback_redirect() {
    let idp = Idp::start(0, "k1", None);
    let issuer = idp.issuer.clone();
    let server = TestServer::start(move |s| s.oidc = Some(settings(&issuer))).await;
    let url = server.url.clone();
    let home = std::sync::Arc::new(Home::new());

    // The browser sealpass opens ($BROWSER) is Chromium, signing audrey in.
    let opener = home.path("open-browser.sh");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\ncd '{}' && exec node tools/idp-sign-in.mjs \"$1\" audrey\n", web().display()),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (h, u, o) = (home.clone(), url.clone(), opener.to_str().unwrap().to_owned());
    let (login, audit) = blocking(move || {
        pin_own_server(&h, &u);
        let cli = Background::start(&h, &["login", "--server", &u, "--browser", "--json"], &[("BROWSER", &o)]);
        let login = cli.finish();
        (login, h.sealpass(&["audit", "--server", &u], ""))
    })
    .await;
    login.expect(0);
    let shown = login.json();
    assert_eq!((shown["name"].as_str(), shown["via"].as_str()), (Some("audrey"), Some("identity_provider")), "{shown}");
    assert_eq!(shown["roles"], serde_json::json!(["auditor"]));
    audit.expect(0);
    let saved = sessions(&home);
    for token in ["access_token", "refresh_token"] {
        let value = saved["sessions"][0][token].as_str().unwrap();
        assert!(!login.mentions(value) && !audit.mentions(value), "the {token} is never shown");
    }

    // An answer with another state is turned away and the wait goes on; the provider's refusal
    // (with this sign-in's state) ends it.
    let (h, u, i) = (home.clone(), url.clone(), idp.issuer.clone());
    let (refused, forged, denied) = blocking(move || {
        let mut cli = Background::start(&h, &["login", "--server", &u, "--browser", "--no-open"], &[]);
        let opened = cli.wait_for(|l| address(l, &format!("{i}/auth?")));
        let opened = url::Url::parse(&opened).unwrap();
        let param = |name: &str| opened.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned();
        assert_eq!(param("code_challenge_method"), "S256");
        let redirect = param("redirect_uri");
        assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
        let get = |query: &str| status_of(&format!("{redirect}?{query}"));
        let forged = get("code=stolen&state=not-ours");
        let denied = get(&format!("error=access_denied&state={}", param("state")));
        (cli.finish(), forged, denied)
    })
    .await;
    assert_eq!(forged, 400);
    assert_eq!(denied, 200);
    refused.expect(6);
    assert!(refused.stderr.contains("access_denied"), "{}", refused.stderr);

    server.stop().await;
    idp.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_only_a_vouched_server_a_sign_in_and_says_what_to_use_without_a_provider() {
    // Any server could publish the vendor's identity provider and collect the tokens people get
    // for it: one that nothing on this machine holds to is refused before anyone signs in.
    let idp = Idp::start(0, "k1", None);
    let issuer = idp.issuer.clone();
    let stranger = TestServer::start(move |s| s.oidc = Some(settings(&issuer))).await;
    let plain = TestServer::start(|_| {}).await;
    let (s, p) = (stranger.url.clone(), plain.url.clone());
    let (refused, without) = blocking(move || {
        let home = Home::new();
        let refused = home.sealpass(&["login", "--server", &s], "");
        pin_own_server(&home, &p);
        (refused, home.sealpass(&["login", "--server", &p], ""))
    })
    .await;
    refused.expect(2);
    assert!(refused.stderr.contains("will not give it your company sign-in"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("enter the code"), "{}", refused.stderr);
    without.expect(1);
    assert!(without.stderr.contains("does not sign staff in with an identity provider"), "{}", without.stderr);
    stranger.stop().await;
    plain.stop().await;
    idp.stop();
}

/// The status of a plain GET, from a thread without a runtime.
fn status_of(url: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { reqwest::Client::new().get(url).send().await.unwrap().status().as_u16() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_a_provider_that_names_another_issuer() {
    let idp = Idp::start(0, "k1", None);
    // The server names the issuer with a trailing slash; the provider's document says it without.
    let issuer = format!("{}/", idp.issuer);
    let server = TestServer::start(move |s| s.oidc = Some(settings(&issuer))).await;
    let url = server.url.clone();
    let run = blocking(move || {
        let home = Home::new();
        pin_own_server(&home, &url);
        home.sealpass(&["login", "--server", &url], "")
    })
    .await;
    run.expect(1);
    assert!(run.stderr.contains("names another issuer"), "{}", run.stderr);
    server.stop().await;
    idp.stop();
}
