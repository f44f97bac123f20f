//! Per-IP rate limits (token buckets, pruned as they fill up) and the client address as far as
//! we believe it: the peer, or `X-Forwarded-For` when the peer is a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;

/// Buckets kept before idle ones are pruned.
const MAX_TRACKED: usize = 100_000;

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute per address, bursting to that many; 0 means no limit.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
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
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < capacity);
            if buckets.len() >= MAX_TRACKED / 2 {
                // Under a flood of distinct addresses, forget them all rather than grow or scan
                // on every request: memory stays bounded, limits restart from full.
                buckets.clear();
            }
        }
        let (tokens, at) = buckets.entry(ip).or_insert((capacity, now));
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

/// What a bucket is keyed by: an IPv4 address, or an IPv6 /64 (one customer's network; a
/// single host can rotate through all of it).
fn bucket_key(ip: IpAddr) -> IpAddr {
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
