//! Webhook delivery (SPEC §10). One task per webhook reads the audit log from that webhook's
//! cursor in the store: the queue *is* the log, so it survives a restart or `kill -9`, costs a
//! request nothing (the change's transaction already wrote the event), arrives in log order
//! (hence in order per drop), and a dead endpoint costs only its cursor standing still, bounded
//! by `max_queue`. The cursor moves only after an event was delivered or given up: at least once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::TryRngCore;

use super::metrics::Metrics;
use crate::config::Webhook;
use crate::store::{Store, StoreError};
use sealpass_core::audit::Entry;
use sealpass_core::webhook;

/// How often an idle deliverer looks for new events.
const POLL: Duration = Duration::from_millis(100);
/// Events read per round.
const PAGE: usize = 100;
/// How long a delivery lease lasts: renewed every round, before every attempt (three times
/// longer than one may take) and through every wait, so a server that dies hands its webhooks
/// to another within this long, and one that loses its lease stops before its next attempt.
const LEASE_SECONDS: u64 = 30;
/// Longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's delay; it doubles up to [`MAX_DELAY`], each with ±50 % jitter.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(600);

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Delivered,
    /// Worth another try: no answer, a timeout, 408, 425, 429 or 5xx.
    Retry(String),
    /// Refused for good (another 4xx, or a redirect, which is never followed).
    Refused(String),
}

/// The HTTP client deliveries use: no redirects, bounded in time.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!("sealpass-webhook/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Post one signed delivery. Errors never name the URL (it may carry a token).
pub async fn attempt(http: &reqwest::Client, hook: &Webhook, id: &str, kind: &str, body: &[u8]) -> Outcome {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let sent = http
        .post(hook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(webhook::HEADER, webhook::sign(&hook.secret, t, body))
        .header("Sealpass-Delivery", id)
        .header("Sealpass-Event", kind)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Err(e) if e.is_timeout() => Outcome::Retry(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        Err(e) => Outcome::Retry(sealpass_client::http::explain_transport(&e)),
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) if matches!(r.status().as_u16(), 408 | 425 | 429) || r.status().is_server_error() => {
            Outcome::Retry(format!("HTTP {}", r.status()))
        }
        Ok(r) if r.status().is_redirection() => {
            Outcome::Refused(format!("HTTP {}: a redirect, which is not followed; configure the final URL", r.status()))
        }
        Ok(r) => Outcome::Refused(format!("HTTP {}", r.status())),
    }
}

/// The delay before retry `n` (from 0): doubling from one second to ten minutes, ±50 %.
fn backoff(n: u32) -> Duration {
    let base = FIRST_DELAY.saturating_mul(1 << n.min(16)).min(MAX_DELAY);
    let unit = f64::from(rand::rngs::OsRng.try_next_u32().unwrap_or(0)) / (f64::from(u32::MAX) + 1.0);
    base.mul_f64(0.5 + unit)
}

/// One webhook's deliverer.
pub struct Deliverer {
    /// The store whose log it delivers.
    pub store: Arc<dyn Store>,
    /// The webhook.
    pub hook: Webhook,
    /// Where deliveries are counted.
    pub metrics: Arc<Metrics>,
    /// This server, for leases.
    pub holder: String,
    /// The server's public URL, in bodies.
    pub server: String,
    /// The log's length when the server started: where a webhook delivered to for the first
    /// time begins (a new webhook gets what happens from now on, not the history).
    pub start: Option<u64>,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The receipt key, which signs each delivery's checkpoint.
    pub signer: Arc<sealpass_core::receipt::Signer>,
}

impl Deliverer {
    /// Deliver until the server stops.
    pub async fn run(self) {
        loop {
            match self.round().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(webhook = %self.hook.name, error = %e, "webhook delivery could not read the store");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One page of events; `false` when there was nothing to do.
    async fn round(&self) -> Result<bool, StoreError> {
        let name = &self.hook.name;
        if !self.store.webhook_lease(name, &self.holder, LEASE_SECONDS).await? {
            // Another server delivers this one.
            tokio::time::sleep(Duration::from_secs(LEASE_SECONDS / 3)).await;
            return Ok(false);
        }
        let head = self.store.audit_head().await?;
        let mut cursor = match self.store.webhook_cursor(name).await? {
            Some(cursor) => cursor,
            None => {
                let from = self.start.unwrap_or(head.length).min(head.length);
                self.store.set_webhook_cursor(name, from).await?;
                from
            }
        };
        if head.length.saturating_sub(cursor) > self.hook.max_queue {
            let skipped = head.length - self.hook.max_queue - cursor;
            cursor += skipped;
            self.store.set_webhook_cursor(name, cursor).await?;
            self.metrics.webhook(name, |w| w.skipped += skipped);
            tracing::warn!(webhook = %name, skipped, "webhook queue over max_queue: the oldest events were skipped");
        }
        self.metrics.webhook(name, |w| w.queue = head.length.saturating_sub(cursor));
        let records = self.store.audit_entries(cursor, PAGE).await?;
        if records.is_empty() {
            return Ok(false);
        }
        // The cursor is written after each delivered event (a restart re-sends at most the one in
        // flight) and once for whatever the page held that this webhook does not get: a store
        // write for each skipped event would load the store's writer for nothing.
        let (mut passed, mut written) = (cursor, cursor);
        for record in records {
            match record.entry() {
                Ok(entry) if self.hook.events.contains(&entry.event.kind) => {
                    if !self.deliver(&entry).await {
                        // Another server holds the lease now: it goes on from the cursor.
                        return Ok(false);
                    }
                    self.store.set_webhook_cursor(name, record.seq).await?;
                    written = record.seq;
                }
                Ok(_) => {}
                Err(broken) => tracing::error!(webhook = %name, %broken, "an audit entry is unreadable; not delivered"),
            }
            passed = record.seq;
            self.metrics.webhook(name, |w| w.queue = head.length.saturating_sub(passed));
        }
        if passed > written {
            self.store.set_webhook_cursor(name, passed).await?;
        }
        Ok(true)
    }

    /// Whether this server still holds the webhook's lease (renewing it).
    async fn holding(&self) -> bool {
        matches!(self.store.webhook_lease(&self.hook.name, &self.holder, LEASE_SECONDS).await, Ok(true))
    }

    /// Sleep for `delay`, renewing the lease meanwhile, so no other server starts on later
    /// events while this one waits to retry; `false` if the lease was lost.
    async fn wait_holding(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let step = Duration::from_secs(LEASE_SECONDS / 3);
        while Instant::now() < until {
            if !self.holding().await {
                return false;
            }
            tokio::time::sleep(step.min(until.saturating_duration_since(Instant::now()))).await;
        }
        true
    }

    /// Deliver one event, retrying for `retry_for`; `false` if the lease was lost first (the
    /// event is then another server's to deliver).
    async fn deliver(&self, entry: &Entry) -> bool {
        let name = &self.hook.name;
        let id = webhook::delivery_id(name, &entry.hash);
        let kind = entry.event.kind.name();
        let checkpoint =
            sealpass_core::checkpoint::sign(&self.signer, &self.server, &entry.head(), crate::rfc3339(crate::now()));
        let body = webhook::body(self.hook.format, &id, &self.server, entry, false, Some(&checkpoint));
        let started = Instant::now();
        for n in 0.. {
            if !self.holding().await {
                return false;
            }
            match attempt(&self.http, &self.hook, &id, kind, &body).await {
                Outcome::Delivered => {
                    self.metrics.webhook(name, |w| w.delivered += 1);
                    return true;
                }
                Outcome::Refused(why) => {
                    self.metrics.webhook(name, |w| w.failed += 1);
                    tracing::warn!(webhook = %name, delivery = %id, %why, "webhook refused the delivery; not retried");
                    return true;
                }
                Outcome::Retry(why) if started.elapsed() >= self.hook.retry_for => {
                    self.metrics.webhook(name, |w| w.failed += 1);
                    tracing::warn!(webhook = %name, delivery = %id, %why, "webhook delivery given up after retry_for");
                    return true;
                }
                Outcome::Retry(why) => {
                    self.metrics.webhook(name, |w| w.retried += 1);
                    let delay = backoff(n);
                    tracing::info!(webhook = %name, delivery = %id, %why, retry_in = ?delay, "webhook delivery failed");
                    if !self.wait_holding(delay).await {
                        return false;
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_ten_minutes() {
        for n in 0..30 {
            let d = backoff(n).as_secs_f64();
            let base = (2f64.powi(n.min(16) as i32)).min(600.0);
            assert!(d >= base * 0.5 && d < base * 1.5, "retry {n}: {d}");
        }
        // Retries span more than an hour well before they give up: 1+2+…+512 s, then 10 min each.
        let total: f64 = (0..16).map(|n| 2f64.powi(n).min(600.0)).sum();
        assert!(total > 3600.0);
    }
}
