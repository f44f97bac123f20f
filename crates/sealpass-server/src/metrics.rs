//! Prometheus counters and request-latency histograms. Labels are route templates and status
//! classes only: never ids, tokens or bodies.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A route's histograms by method and status class.
type ByLabel = BTreeMap<(&'static str, &'static str), Histogram>;

/// Drop life-cycle events.
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    /// A drop was uploaded.
    Created,
    /// A drop was claimed (first or repeated claim).
    Claimed,
    /// A drop was acknowledged.
    Received,
    /// A drop was revoked.
    Revoked,
    /// A request was created.
    RequestCreated,
    /// A claim was released.
    Released,
    /// A request was cancelled.
    RequestCancelled,
}

/// One webhook's deliveries.
#[derive(Default, Clone, Copy)]
pub struct HookStats {
    /// Events delivered (2xx).
    pub delivered: u64,
    /// Events given up: refused, or retried for `retry_for` without success.
    pub failed: u64,
    /// Failed attempts that were retried.
    pub retried: u64,
    /// Events skipped because the queue was over `max_queue`.
    pub skipped: u64,
    /// Events in the log not yet considered.
    pub queue: u64,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    created: AtomicU64,
    claimed: AtomicU64,
    received: AtomicU64,
    revoked: AtomicU64,
    expired: AtomicU64,
    requests_created: AtomicU64,
    released: AtomicU64,
    requests_cancelled: AtomicU64,
    reloads_applied: AtomicU64,
    reloads_refused: AtomicU64,
    audit_length: AtomicU64,
    webhooks: Mutex<BTreeMap<String, HookStats>>,
    /// By route template, then method and status class: a route found is borrowed, not copied.
    http: Mutex<BTreeMap<String, ByLabel>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// Count a life-cycle event.
    pub fn event(&self, event: Counter) {
        let counter = match event {
            Counter::Created => &self.created,
            Counter::Claimed => &self.claimed,
            Counter::Received => &self.received,
            Counter::Revoked => &self.revoked,
            Counter::RequestCreated => &self.requests_created,
            Counter::Released => &self.released,
            Counter::RequestCancelled => &self.requests_cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a config reload: applied, or refused (the running config stayed).
    pub fn reload(&self, applied: bool) {
        let counter = if applied { &self.reloads_applied } else { &self.reloads_refused };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count drops the sweeper expired.
    pub fn expired(&self, n: u64) {
        self.expired.fetch_add(n, Ordering::Relaxed);
    }

    /// The audit log's length, as last read (a log that got shorter shows it).
    pub fn audit_length(&self, n: u64) {
        self.audit_length.store(n, Ordering::Relaxed);
    }

    /// Update webhook `name`'s figures.
    pub fn webhook(&self, name: &str, update: impl FnOnce(&mut HookStats)) {
        let mut hooks = self.webhooks.lock().unwrap_or_else(|p| p.into_inner());
        update(hooks.entry(name.to_owned()).or_default());
    }

    /// Record one HTTP request: its route template, method, status and duration.
    pub fn request(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let by_route = match http.get_mut(route) {
            Some(found) => found,
            None => http.entry(route.to_owned()).or_default(),
        };
        let h = by_route.entry((method, status_class(status))).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("sealpass_drops_created_total", "Drops uploaded.", &self.created),
            ("sealpass_drops_claimed_total", "Successful claims (repeated claims included).", &self.claimed),
            ("sealpass_drops_received_total", "Drops acknowledged by their claimer.", &self.received),
            ("sealpass_drops_expired_total", "Drops that expired before being received.", &self.expired),
            ("sealpass_drops_revoked_total", "Drops revoked.", &self.revoked),
            ("sealpass_drops_released_total", "Claims released before acknowledgement.", &self.released),
            ("sealpass_requests_created_total", "Requests created by staff.", &self.requests_created),
            ("sealpass_requests_cancelled_total", "Requests cancelled by staff.", &self.requests_cancelled),
        ];
        for (name, help, value) in counters {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "sealpass_config_reloads_total";
        let _ = writeln!(
            out,
            "# HELP {name} Config reloads (SIGHUP), applied or refused (the running config stayed).\n# TYPE {name} counter\n\
             {name}{{result=\"applied\"}} {}\n{name}{{result=\"refused\"}} {}",
            self.reloads_applied.load(Ordering::Relaxed),
            self.reloads_refused.load(Ordering::Relaxed)
        );
        let name = "sealpass_audit_chain_length";
        let length = self.audit_length.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP {name} Entries in the audit log.\n# TYPE {name} gauge\n{name} {length}");
        let hooks = self.webhooks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let name = "sealpass_webhook_deliveries_total";
        let _ = writeln!(out, "# HELP {name} Webhook events by outcome.\n# TYPE {name} counter");
        for (hook, w) in &hooks {
            for (result, n) in
                [("delivered", w.delivered), ("failed", w.failed), ("retried", w.retried), ("skipped", w.skipped)]
            {
                let _ = writeln!(out, "{name}{{webhook=\"{hook}\",result=\"{result}\"}} {n}");
            }
        }
        let name = "sealpass_webhook_queue_depth";
        let _ = writeln!(out, "# HELP {name} Audit entries a webhook has not yet been given.\n# TYPE {name} gauge");
        for (hook, w) in &hooks {
            let _ = writeln!(out, "{name}{{webhook=\"{hook}\"}} {}", w.queue);
        }
        let name = "sealpass_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} HTTP request latency by route template.\n# TYPE {name} histogram");
        let http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, method, class), h) in
            http.iter().flat_map(|(r, m)| m.iter().map(move |((m, c), h)| ((r, m, c), h)))
        {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{class}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.event(Counter::Created);
        m.event(Counter::Created);
        m.expired(3);
        m.request("/v1/drops/{id}/claim", "POST", 200, 0.002);
        let text = m.render();
        assert!(text.contains("sealpass_drops_created_total 2"));
        assert!(text.contains("sealpass_drops_expired_total 3"));
        assert!(text.contains(r#"route="/v1/drops/{id}/claim",method="POST",status="2xx",le="0.001"} 0"#));
        assert!(text.contains(r#"route="/v1/drops/{id}/claim",method="POST",status="2xx",le="0.0025"} 1"#));
        assert!(text.contains(r#"le="+Inf"} 1"#));
    }
}
