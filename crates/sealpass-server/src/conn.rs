//! Connections: one accept loop for plain and TLS listeners that caps open connections (in all
//! and per address), closes connections that idle, dawdle over a request head or stall a
//! response, bounds request heads, and shuts down gracefully within a deadline.
//!
//! hyper answers a malformed request head (400, 414, 431) itself, with an empty body. Those
//! answers are rewritten on their way out to carry our JSON error body, like every other error.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::Peer;
use super::limits::bucket_key;
use crate::config::ConnectionLimits;
use sealpass_core::api::ErrorBody;

/// Longest a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections, in all and per address.
#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One open connection, counted until dropped.
struct Slot {
    ip: Option<IpAddr>,
    open: Arc<Mutex<Open>>,
}

impl Slot {
    /// A slot for a connection from `ip`, unless that would pass a cap. Trusted proxies carry
    /// many clients, so they are only held to the total.
    fn take(open: &Arc<Mutex<Open>>, ip: IpAddr, limits: &ConnectionLimits, exempt: bool) -> Option<Slot> {
        let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
        if o.total >= limits.max_connections {
            return None;
        }
        let counted = (!exempt && limits.max_connections_per_ip > 0).then(|| bucket_key(ip));
        if let Some(ip) = counted {
            let n = o.by_ip.entry(ip).or_insert(0);
            if *n >= limits.max_connections_per_ip {
                return None;
            }
            *n += 1;
        }
        o.total += 1;
        Some(Slot { ip: counted, open: Arc::clone(open) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.total -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = o.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    o.by_ip.remove(&ip);
                }
            }
        }
    }
}

/// The most connections this process can hold open: raise the soft file limit to the hard one,
/// and keep some descriptors for the store and logs.
fn descriptor_budget() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        let _ = setrlimit(Resource::Nofile, rustix::process::Rlimit { current: Some(hard), maximum: Some(hard) });
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    usize::try_from(soft.saturating_sub(64)).unwrap_or(usize::MAX).max(16)
}

/// Serve `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves; then stop
/// accepting, let open connections finish their requests, and close the rest after
/// `shutdown_grace`.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    mut limits: ConnectionLimits,
    trusted_proxies: Vec<IpAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let budget = descriptor_budget();
    if limits.max_connections > budget {
        tracing::warn!(
            "max_connections {} is above what the file descriptor limit allows; using {budget}",
            limits.max_connections
        );
        limits.max_connections = budget;
    }
    let open = Arc::new(Mutex::new(Open::default()));
    let (stop, stopping) = watch::channel(false);
    let closing = Arc::new(AtomicBool::new(false));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors, or a connection reset before we took it.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let ip = match peer.ip() {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                    v4 => v4,
                };
                let Some(slot) = Slot::take(&open, ip, &limits, trusted_proxies.contains(&ip)) else {
                    tracing::debug!("connection refused: too many open");
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (app, tls, stopping) = (app.clone(), tls.clone(), stopping.clone());
                let guard = Guard { limits, closing: Arc::clone(&closing) };
                connections.spawn(async move {
                    let _slot = slot;
                    match tls {
                        None => serve_one(tcp, peer, app, guard, stopping).await,
                        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => serve_one(stream, peer, app, guard, stopping).await,
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        },
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Connections between requests, or in the middle of sending a head, close now; those with
    // a request in progress finish it first.
    closing.store(true, Ordering::Release);
    let _ = stop.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain).await.is_err() {
        tracing::warn!(
            "{} connection(s) still open after the {:?} shutdown grace; closing them",
            connections.len(),
            limits.shutdown_grace
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serve HTTP/1.1 on one connection until it closes, or finish its request and close it when
/// the server stops.
async fn serve_one<IO>(io: IO, peer: SocketAddr, app: Router, guard: Guard, mut stopping: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(axum::extract::ConnectInfo(Peer(peer)));
        app.clone().oneshot(request)
    });
    let limits = guard.limits;
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Watched enforces the idle and header timeouts (hyper's own would start a timer a request).
    builder
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .writev(false);
    let connection = builder.serve_connection(TokioIo::new(Watched::new(io, guard)), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
        }
        _ = async { stopping.wait_for(|stop| *stop).await.is_ok() } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Where a connection is between requests, as seen from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request (after connecting, or after a response): bounded by the idle
    /// timeout.
    Idle,
    /// A request head has started and is not complete: bounded by the header timeout. Counts
    /// line breaks in a row (a blank line ends the head).
    Head(u8),
    /// The head is in; the handler and its own timeouts take over.
    Busy,
}

/// What every connection's guard shares: the limits, and whether the server is closing.
#[derive(Clone)]
struct Guard {
    limits: ConnectionLimits,
    closing: Arc<AtomicBool>,
}

/// A connection's bytes, watched: it times out idling and slow heads, stalled writes, and
/// rewrites hyper's bare error answers as JSON.
struct Watched<IO> {
    inner: IO,
    limits: ConnectionLimits,
    closing: Arc<AtomicBool>,
    phase: Phase,
    /// When the current phase's time is up (idle or header).
    due: Instant,
    /// A timer for `due`, moved there only when a read actually has to wait.
    deadline: Pin<Box<Sleep>>,
    /// Set while a write is blocked on a client that does not read.
    write_stall: Option<Pin<Box<Sleep>>>,
    /// A rewritten answer being written out, and how much of it is written.
    rewrite: Option<(Vec<u8>, usize)>,
    /// Whether the current head is still in its request line (no line break read yet): a head
    /// too large then is a URL too long (414), not too many headers (431).
    in_request_line: bool,
}

impl<IO> Watched<IO> {
    fn new(inner: IO, guard: Guard) -> Watched<IO> {
        let limits = guard.limits;
        let due = Instant::now() + limits.idle_timeout;
        let deadline = Box::pin(tokio::time::sleep_until(due));
        Watched {
            inner,
            limits,
            closing: guard.closing,
            phase: Phase::Idle,
            due,
            deadline,
            write_stall: None,
            rewrite: None,
            in_request_line: false,
        }
    }

    fn read_bytes(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Head(0);
            self.due = Instant::now() + self.limits.header_timeout;
            self.in_request_line = true;
        }
        if let Phase::Head(mut breaks) = self.phase {
            for &b in bytes {
                match b {
                    b'\n' => {
                        self.in_request_line = false;
                        breaks += 1;
                        if breaks == 2 {
                            self.phase = Phase::Busy;
                            return;
                        }
                    }
                    b'\r' => {}
                    _ => breaks = 0,
                }
            }
            self.phase = Phase::Head(breaks);
        }
    }

    fn wrote(&mut self) {
        self.write_stall = None;
        if self.phase != Phase::Idle {
            self.phase = Phase::Idle;
            self.due = Instant::now() + self.limits.idle_timeout;
        }
    }

    /// Whether the phase's time is up; arms the timer (to wake this task) only when it is not.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline.deadline() != self.due {
            let due = self.due;
            self.deadline.as_mut().reset(due);
        }
        self.deadline.as_mut().poll(cx).is_ready()
    }

    fn timed_out(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, format!("connection closed: {what}"))
    }

    /// Poll the write-stall timer after a write that could not proceed.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let idle = self.limits.idle_timeout;
        let timer = self.write_stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Self::timed_out("the client stopped reading the response")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Watched<IO> {
    /// Write out a pending rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.rewrite.as_mut() {
            if *written == bytes.len() {
                self.rewrite = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return match self.stalled(cx) {
                        Poll::Ready(e) => Poll::Ready(Err(e)),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                if this.phase != Phase::Busy && filled.len() > before {
                    this.read_bytes(&filled[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.phase != Phase::Busy && this.closing.load(Ordering::Acquire) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "connection closed: the server is shutting down",
                    )));
                }
                if this.phase != Phase::Busy && this.expired(cx) {
                    let what = match this.phase {
                        Phase::Idle => "idle for too long",
                        _ => "the request head took too long",
                    };
                    return Poll::Ready(Err(Self::timed_out(what)));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        // The first write after a request is the response head: hyper's own error answers
        // (no content type, empty body) get our JSON body instead.
        if this.phase != Phase::Idle {
            if let Some(answer) = json_for_bare_error(buf, this.limits.max_header_bytes, this.in_request_line) {
                this.rewrite = Some((answer, 0));
                this.wrote();
                if let Poll::Ready(Err(e)) = this.drain(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(buf.len()));
            }
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.wrote();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match this.stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => match this.stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            done => {
                this.write_stall = None;
                done
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Our JSON answer in place of hyper's bare one: a response head with status 400, 414 or 431,
/// no content type, written by hyper for a head it could not parse. hyper says 431 for any head
/// over the limit; one whose request line alone never ended there (`in_request_line`) is a URL
/// too long: 414.
fn json_for_bare_error(buf: &[u8], max_header_bytes: usize, in_request_line: bool) -> Option<Vec<u8>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let status = if status == 431 && in_request_line { 414 } else { status };
    if lines.any(|l| l.len() >= 13 && l[..13].eq_ignore_ascii_case("content-type:")) {
        return None;
    }
    let (error, message, reason) = match status {
        400 => (
            "bad_request",
            "the request head is malformed (a bad request line or header, or duplicate or conflicting \
             Content-Length headers)"
                .to_owned(),
            "Bad Request",
        ),
        414 => (
            "uri_too_long",
            format!("the request's URL is too long (the whole head may be at most {max_header_bytes} bytes)"),
            "URI Too Long",
        ),
        431 => (
            "headers_too_large",
            format!("the request's head is larger than {max_header_bytes} bytes"),
            "Request Header Fields Too Large",
        ),
        _ => return None,
    };
    let body = serde_json::to_vec(&ErrorBody { error: error.to_owned(), message }).ok()?;
    let mut answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_parse_error_answers_are_rewritten() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(json_for_bare_error(bare, 16384, false).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(answer.contains("content-type: application/json") && answer.contains("\"headers_too_large\""));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(json_for_bare_error(ours, 16384, false).is_none());
        assert!(json_for_bare_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 16384, false).is_none());
        assert!(json_for_bare_error(b"HTTP/1.1 400 Bad", 16384, false).is_none(), "not a whole head");
    }

    #[test]
    fn the_head_ends_at_a_blank_line_with_or_without_carriage_returns() {
        let limits = crate::config::ServerSettings::for_tests(crate::config::StoreUrl::Sqlite("x".into())).connections;
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            for (chunks, phase) in [
                (vec!["GET / HTTP/1.1\r\nHost: x\r\n"], Phase::Head(1)),
                (vec!["GET / HTTP/1.1\r\nHost: x\r", "\n\r\n"], Phase::Busy),
                (vec!["GET / HTTP/1.1\nHost: x\n\n"], Phase::Busy),
                (vec!["POST / HTTP/1.1\r\n", "A: b\r\n", "\r\nbody"], Phase::Busy),
            ] {
                let mut g = Watched::new((), Guard { limits, closing: Arc::new(AtomicBool::new(false)) });
                for c in &chunks {
                    g.read_bytes(c.as_bytes());
                }
                assert_eq!(g.phase, phase, "{chunks:?}");
            }
        });
    }
}
