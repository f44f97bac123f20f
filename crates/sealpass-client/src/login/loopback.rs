//! The loopback redirect of `sealpass login --browser` (RFC 8252 §7.3): a listener on
//! 127.0.0.1 and a port the system picks, waiting for the browser to come back with the code.
//! Only an answer carrying the state this sign-in made is taken; anything else is turned away
//! and the wait goes on.

use std::time::Duration;

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{BrowserSignIn, LoginError};

/// Longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_WITHIN: Duration = Duration::from_secs(5);
/// Most connections answered at once (a browser opens a few; anything more is not a browser).
const MAX_AT_ONCE: usize = 16;

/// A loopback listener waiting for the redirect.
pub struct Loopback {
    listener: TcpListener,
    /// The redirect URI to register with the request (`http://127.0.0.1:PORT/callback`).
    pub redirect: String,
}

/// What one connection brought.
enum Came {
    /// The code, for this sign-in.
    Code(SecretString),
    /// The provider's refusal.
    Refused(String),
    /// Something else (a favicon, a stale tab, a wrong state): ignored.
    Other,
}

impl Loopback {
    /// Listen on 127.0.0.1, on a port the system picks.
    pub async fn bind() -> Result<Loopback, LoginError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| LoginError::Redirect(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener.local_addr().map_err(|e| LoginError::Redirect(e.to_string()))?.port();
        Ok(Loopback { listener, redirect: format!("http://127.0.0.1:{port}/callback") })
    }

    /// Wait up to `within` for the browser to come back with a code for `pending`. Each
    /// connection is answered on its own (a slow or idle one holds up nothing else).
    pub async fn code(&self, pending: &BrowserSignIn, within: Duration) -> Result<SecretString, LoginError> {
        let (tx, mut came) = tokio::sync::mpsc::channel::<Came>(MAX_AT_ONCE);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_AT_ONCE));
        let state = std::sync::Arc::new(pending.state.secret().clone());
        let mut tasks = tokio::task::JoinSet::new();
        let wait = async {
            loop {
                tokio::select! {
                    Some(outcome) = came.recv() => match outcome {
                        Came::Code(code) => return Ok(code),
                        Came::Refused(why) => return Err(LoginError::Refused(why)),
                        Came::Other => {}
                    },
                    accepted = self.listener.accept() => {
                        // Finished connections are let go of as new ones come.
                        while tasks.try_join_next().is_some() {}
                        let Ok((stream, _)) = accepted else {
                            // Out of descriptors, say: wait a little rather than spin.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        };
                        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else { continue };
                        let (tx, state) = (tx.clone(), std::sync::Arc::clone(&state));
                        tasks.spawn(async move {
                            let outcome = answer(stream, &state).await;
                            drop(slot);
                            let _ = tx.send(outcome).await;
                        });
                    }
                }
            }
        };
        let outcome = tokio::time::timeout(within, wait).await.map_err(|_| {
            LoginError::Timeout(format!(
                "the browser did not come back within {} minutes: run sealpass login again",
                within.as_secs() / 60
            ))
        })?;
        tasks.abort_all();
        outcome
    }
}

/// Read one request from `stream`, answer it, and say what it brought.
async fn answer(mut stream: TcpStream, state: &str) -> Came {
    let Ok(Ok(Some(target))) = tokio::time::timeout(READ_WITHIN, request_target(&mut stream)).await else {
        return Came::Other;
    };
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else { return Came::Other };
    if url.path() != "/callback" {
        reply(&mut stream, "404 Not Found", "Not here", "This address only takes sealpass's sign-in.").await;
        return Came::Other;
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(state) {
        reply(
            &mut stream,
            "400 Bad Request",
            "Not this sign-in",
            "This answer is not for the sign-in sealpass is waiting for. Use the address sealpass printed.",
        )
        .await;
        return Came::Other;
    }
    if let Some(error) = param("error") {
        let said = param("error_description").map(|d| format!("{error}: {d}")).unwrap_or(error);
        let said = sealpass_core::text::shown(&said.chars().take(300).collect::<String>()).into_owned();
        reply(
            &mut stream,
            "200 OK",
            "Sign-in failed",
            "The sign-in did not succeed: go back to the terminal, sealpass says why.",
        )
        .await;
        return Came::Refused(said);
    }
    match param("code") {
        Some(code) if !code.is_empty() => {
            reply(
                &mut stream,
                "200 OK",
                "Back to sealpass",
                "sealpass has what it needs to finish signing you in: go back to the terminal, which says whether \
                 it did. You can close this tab.",
            )
            .await;
            Came::Code(SecretString::from(code))
        }
        _ => {
            reply(&mut stream, "400 Bad Request", "No code", "The answer carries no code.").await;
            Came::Other
        }
    }
}

/// The target of a `GET` request's head.
async fn request_target(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = zeroize::Zeroizing::new(Vec::with_capacity(1024));
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                return Ok((request.method == Some("GET")).then(|| request.path.unwrap_or("/").to_owned()));
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => {}
            _ => return Ok(None),
        }
    }
}

/// A small page for the browser: no scripts, no caching, no referrer (the address carried a code).
async fn reply(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>sealpass: {title}</title>\
         <main><h1>{title}</h1><p>{text}</p></main></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
