//! Per-address limits: request rates (token buckets), requests in flight, and a global bound on
//! concurrent requests whose queue is itself bounded in time; and the client address as far as
//! we believe it: the peer, or `X-Forwarded-For` when the peer is a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Buckets kept at most; past this, idle buckets are pruned.
const MAX_TRACKED: usize = 100_000;
/// Pruning scans every bucket: at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    by_ip: HashMap<IpAddr, (f64, Instant)>,
    /// Shared by addresses first seen while the map is full: a flood of new addresses can only
    /// exhaust this one, never reset the limits of the addresses already tracked.
    overflow: (f64, Instant),
    pruned: Instant,
}

impl RateLimiter {
    /// `per_minute` requests a minute per address, bursting to that many; 0 means no limit.
    pub fn new(per_minute: u32) -> RateLimiter {
        let now = Instant::now();
        let buckets = Buckets { by_ip: HashMap::new(), overflow: (f64::from(per_minute), now), pruned: now };
        RateLimiter { per_minute, buckets: Mutex::new(buckets) }
    }

    /// Take one token for `ip`, or say how many seconds until one is free.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let ip = bucket_key(ip);
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut guard = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let buckets = &mut *guard;
        if buckets.by_ip.len() >= MAX_TRACKED
            && !buckets.by_ip.contains_key(&ip)
            && now.duration_since(buckets.pruned) >= PRUNE_EVERY
        {
            // A bucket that has refilled is the same as no bucket: forget those only.
            buckets.by_ip.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < capacity);
            buckets.pruned = now;
        }
        let (tokens, at) = if buckets.by_ip.len() < MAX_TRACKED || buckets.by_ip.contains_key(&ip) {
            buckets.by_ip.entry(ip).or_insert((capacity, now))
        } else {
            &mut buckets.overflow
        };
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil() as u64)
        }
    }
}

/// Requests in flight: at most `per_ip` from one address, and at most the semaphore's permits
/// in all, waiting no longer than `queue_wait` for one (then 503): a request queued behind
/// stalled ones is answered, not left hanging.
#[derive(Debug)]
pub struct Admission {
    global: Arc<Semaphore>,
    queue_wait: Duration,
    per_ip: usize,
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A request's place: its slot and its address's count, both given back when dropped.
pub struct Ticket {
    _permit: OwnedSemaphorePermit,
    _count: Option<Counted>,
}

/// One request counted against an address; uncounted when dropped.
struct Counted {
    ip: IpAddr,
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Admission {
    /// `total` requests at once, `per_ip` (0: no limit) from one address.
    pub fn new(total: usize, per_ip: usize, queue_wait: Duration) -> Admission {
        Admission {
            global: Arc::new(Semaphore::new(total)),
            queue_wait,
            per_ip,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A ticket for a request from `ip`, or why not: 429 when the address has too many in
    /// flight, 503 when no slot came free in time.
    pub async fn admit(&self, ip: IpAddr) -> Result<Ticket, ApiError> {
        let count = if self.per_ip > 0 {
            let ip = bucket_key(ip);
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= self.per_ip {
                return Err(ApiError::too_many_in_flight(self.per_ip));
            }
            *n += 1;
            Some(Counted { ip, in_flight: Arc::clone(&self.in_flight) })
        } else {
            None
        };
        // Uncontended, no timer: only a request that must queue pays for one.
        if let Ok(permit) = Arc::clone(&self.global).try_acquire_owned() {
            return Ok(Ticket { _permit: permit, _count: count });
        }
        match tokio::time::timeout(self.queue_wait, Arc::clone(&self.global).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Ticket { _permit: permit, _count: count }),
            _ => Err(ApiError::overloaded()),
        }
    }
}

/// What a bucket is keyed by: an IPv4 address, or an IPv6 /64 (one customer's network; a
/// single host can rotate through all of it).
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer_ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if !trusted.contains(&peer_ip) {
        return peer_ip;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer_ip)
}

/// The client's address (after `trusted_proxies`), worked out once, at admission, and carried in
/// the request's extensions for the handlers: rates, the audit log's origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// What admission records for `request`: its peer's address, or the forwarded one behind a
    /// trusted proxy; loopback for requests that came without a connection (tests of the router).
    pub fn of<B>(request: &axum::http::Request<B>, trusted: &[IpAddr]) -> ClientIp {
        let peer = request.extensions().get::<axum::extract::ConnectInfo<super::Peer>>().map(|c| c.0.0);
        ClientIp(peer.map_or(IpAddr::from([127, 0, 0, 1]), |peer| client_ip(peer, request.headers(), trusted)))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Admission puts it there for every route it guards; a handler outside it would be a bug.
        parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .ok_or_else(|| super::error::ApiError::internal("no client address: a route outside admission"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_limit_each_address_separately() {
        let limiter = RateLimiter::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check(b).is_ok());
        assert!(RateLimiter::new(0).check(a).is_ok());
        let one: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let limiter = RateLimiter::new(1);
        assert!(limiter.check(one).is_ok());
        assert!(limiter.check(same_64).is_err(), "an IPv6 /64 shares one bucket");
    }

    #[test]
    fn a_flood_of_new_addresses_does_not_reset_tracked_limits() {
        let limiter = RateLimiter::new(2);
        let victim_of_reset: IpAddr = "10.9.9.9".parse().unwrap();
        assert!(limiter.check(victim_of_reset).is_ok() && limiter.check(victim_of_reset).is_ok());
        assert!(limiter.check(victim_of_reset).is_err(), "its bucket is empty");
        // Fill the map with distinct addresses, each of which uses a token.
        for i in 0..MAX_TRACKED as u32 + 10 {
            let _ = limiter.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i)));
        }
        assert!(limiter.check(victim_of_reset).is_err(), "still limited after the flood");
        let len = limiter.buckets.lock().unwrap().by_ip.len();
        assert!(len <= MAX_TRACKED, "{len}");
    }

    #[tokio::test]
    async fn admission_caps_each_address_and_bounds_the_queue() {
        let admission = Admission::new(3, 2, Duration::from_millis(50));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t1 = admission.admit(a).await.unwrap();
        let _t2 = admission.admit(a).await.unwrap();
        assert!(admission.admit(a).await.is_err(), "third from one address");
        let _t3 = admission.admit(b).await.unwrap();
        let started = Instant::now();
        assert!(admission.admit(b).await.is_err(), "no slot left");
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(t1);
        assert!(admission.admit(a).await.is_ok(), "a slot and a count came back");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let trusted: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        assert_eq!(client_ip(proxy, &headers, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[]), proxy.ip());
        let more: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "198.51.100.7".parse().unwrap()];
        assert_eq!(client_ip(proxy, &headers, &more), "203.0.113.9".parse::<IpAddr>().unwrap());
    }
}
