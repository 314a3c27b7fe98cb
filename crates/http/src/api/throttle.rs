//! Login throttling and password-hashing admission (our hardening; Oz documents neither).
//!
//! - Login attempts are rate-limited per client address and per email (GCRA, `governor`): over
//!   the limit the server answers 429, error 11, with `Retry-After`, without checking the password.
//! - Password hashing and verification (argon2id, about 19 MiB and tens of milliseconds each) run
//!   under a semaphore of `OZ_PASSWORD_HASH_CONCURRENCY` permits; a request that cannot get one
//!   within `OZ_PASSWORD_HASH_WAIT_MS` answers 503, error 11, with `Retry-After`, so a login flood
//!   can neither exhaust memory nor queue without bound.
//!
//! The client address is the TCP peer. Behind a reverse proxy listed in `OZ_TRUSTED_PROXIES` it is
//! the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. IPv6 clients are
//! counted per /64 (one subscriber's block), IPv4-mapped IPv6 as IPv4.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An address or network (`10.0.0.0/8`, `::1`, `fd00::/8`): an entry of `OZ_TRUSTED_PROXIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr: canonical(addr), prefix })
    }

    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma- or space-separated list of [`IpBlock`]s; an empty list trusts no proxy.
pub fn parse_trusted_proxies(list: &str) -> Result<Vec<IpBlock>, String> {
    list.split([',', ' ']).filter(|s| !s.trim().is_empty()).map(IpBlock::parse).collect()
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a request: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` hop that is not a trusted proxy (an unreadable hop stops the walk at the
/// last trusted one). `None` when the peer address is unknown (the router driven in-process).
#[must_use]
pub fn client_address(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpBlock]) -> Option<IpAddr> {
    let mut client = canonical(peer?);
    if !trusted.iter().any(|b| b.contains(client)) {
        return Some(client);
    }
    let hops = forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).filter(|h| !h.is_empty());
    for hop in hops.rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = canonical(ip);
        if !trusted.iter().any(|b| b.contains(client)) {
            break;
        }
    }
    Some(client)
}

/// The rate-limiting key of an address: IPv4 as is, IPv6 by its /64.
#[must_use]
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// Login and password-hashing limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    /// `OZ_LOGIN_RATE_PER_MINUTE`: login attempts per minute from one client address (0: no limit).
    pub per_address_per_minute: u32,
    /// `OZ_LOGIN_EMAIL_RATE_PER_MINUTE`: login attempts per minute for one email (0: no limit).
    pub per_email_per_minute: u32,
    /// `OZ_LOGIN_BURST`: attempts allowed at once before the rate applies (`None`: one minute's worth).
    pub burst: Option<u32>,
    /// `OZ_PASSWORD_HASH_CONCURRENCY`: password hashes computed at once.
    pub hash_concurrency: usize,
    /// `OZ_PASSWORD_HASH_WAIT_MS`: longest wait for a hashing slot before answering 503.
    pub hash_wait: Duration,
    /// `OZ_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpBlock>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_address_per_minute: 30,
            per_email_per_minute: 10,
            burst: None,
            hash_concurrency: std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            hash_wait: Duration::from_secs(2),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a login or password operation was refused before any hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts: retry after this long (429).
    RateLimited(Duration),
    /// Every hashing slot stayed busy for `OZ_PASSWORD_HASH_WAIT_MS` (503).
    Busy,
}

struct Inner {
    limits: LoginLimits,
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_email: Option<DefaultKeyedRateLimiter<[u8; 16]>>,
    hashing: Arc<Semaphore>,
    checks: AtomicU64,
}

/// The runtime side of [`LoginLimits`]: rate limiters and the hashing semaphore. Clones share them.
#[derive(Clone)]
pub struct LoginGuard(Arc<Inner>);

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LoginGuard").field(&self.0.limits).finish()
    }
}

impl Default for LoginGuard {
    fn default() -> Self {
        Self::new(LoginLimits::default())
    }
}

fn limiter<K: Clone + std::hash::Hash + Eq>(per_minute: u32, burst: Option<u32>) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = burst.and_then(NonZeroU32::new).unwrap_or(rate);
    Some(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)))
}

/// How often (in checks) idle rate-limiter entries are dropped, so a spray of addresses or emails
/// does not grow the maps for ever.
const RETAIN_EVERY: u64 = 1024;

impl LoginGuard {
    #[must_use]
    pub fn new(limits: LoginLimits) -> Self {
        let by_address = limiter(limits.per_address_per_minute, limits.burst);
        let by_email = limiter(limits.per_email_per_minute, limits.burst);
        let hashing = Arc::new(Semaphore::new(limits.hash_concurrency.max(1)));
        Self(Arc::new(Inner { limits, by_address, by_email, hashing, checks: AtomicU64::new(0) }))
    }

    #[must_use]
    pub fn limits(&self) -> &LoginLimits {
        &self.0.limits
    }

    /// The client address of a request (see [`client_address`]).
    #[must_use]
    pub fn client_of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let xff: Vec<&str> = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        client_address(peer, &xff, &self.0.limits.trusted_proxies)
    }

    fn housekeeping(&self) {
        if self.0.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            if let Some(l) = &self.0.by_address {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.0.by_email {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    /// Counts one attempt from `client` (`None`: unknown peer, all such requests share one key).
    pub fn check_address(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        self.housekeeping();
        let Some(l) = &self.0.by_address else { return Ok(()) };
        let key = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), address_key);
        l.check_key(&key)
            .map_err(|n| throttled("address_rate", Refusal::RateLimited(n.wait_time_from(l.clock().now()))))
    }

    /// Counts one attempt for `email` (normalised: trimmed, lower-case).
    pub fn check_email(&self, email: &str) -> Result<(), Refusal> {
        let Some(l) = &self.0.by_email else { return Ok(()) };
        let digest = Sha256::digest(oz_domain::access::normalize_email(email).as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        l.check_key(&key).map_err(|n| throttled("email_rate", Refusal::RateLimited(n.wait_time_from(l.clock().now()))))
    }

    /// A hashing slot, waiting at most `hash_wait`. Move it into the blocking task that hashes, so
    /// the slot stays taken while the work runs even if the client goes away.
    pub async fn hash_slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let acquire = Arc::clone(&self.0.hashing).acquire_owned();
        match tokio::time::timeout(self.0.limits.hash_wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(throttled("hash_busy", Refusal::Busy)),
        }
    }
}

/// Counts a refusal in `openoz_login_throttled_total{reason}`.
fn throttled(reason: &'static str, r: Refusal) -> Refusal {
    metrics::counter!(crate::observe::LOGIN_THROTTLED, "reason" => reason).increment(1);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn blocks_parse_and_match() {
        let b = IpBlock::parse("10.0.0.0/8").expect("v4 net");
        assert!(b.contains(ip("10.1.2.3")) && !b.contains(ip("11.0.0.1")));
        assert!(b.contains(ip("::ffff:10.9.9.9")), "v4-mapped");
        assert!(IpBlock::parse("192.168.1.5").expect("host").contains(ip("192.168.1.5")));
        assert!(!IpBlock::parse("192.168.1.5").expect("host").contains(ip("192.168.1.6")));
        assert!(IpBlock::parse("fd00::/8").expect("v6").contains(ip("fd12::1")));
        assert!(IpBlock::parse("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        assert!(!IpBlock::parse("0.0.0.0/0").expect("all v4").contains(ip("2001:db8::1")));
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("nope").is_err());
        assert!(parse_trusted_proxies(" ").expect("empty").is_empty());
        assert_eq!(parse_trusted_proxies("127.0.0.1, ::1 10.0.0.0/8").expect("list").len(), 3);
        assert!(parse_trusted_proxies("127.0.0.1,x").is_err());
    }

    #[test]
    fn client_address_believes_only_trusted_proxies() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").expect("list");
        let peer = Some(ip("10.0.0.2"));
        // No trusted proxy: the peer, whatever the header says.
        assert_eq!(client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &[]), Some(ip("203.0.113.9")));
        assert_eq!(client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &trusted), Some(ip("203.0.113.9")));
        // Behind a trusted proxy: the right-most untrusted hop (a forged left part is ignored).
        assert_eq!(client_address(peer, &["6.6.6.6, 198.51.100.7"], &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_address(peer, &["6.6.6.6", "198.51.100.7, 10.0.0.3"], &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_address(peer, &[], &trusted), peer, "no header: the proxy itself");
        assert_eq!(client_address(peer, &["garbage"], &trusted), peer, "unreadable hop");
        assert_eq!(client_address(None, &["1.2.3.4"], &trusted), None);
    }

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), address_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:3::1")));
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[tokio::test]
    async fn limits_apply_per_key() {
        let g = LoginGuard::new(LoginLimits {
            per_address_per_minute: 2,
            per_email_per_minute: 1,
            hash_concurrency: 1,
            hash_wait: Duration::from_millis(10),
            ..LoginLimits::default()
        });
        let a = Some(ip("192.0.2.1"));
        assert!(g.check_address(a).is_ok() && g.check_address(a).is_ok());
        match g.check_address(a) {
            Err(Refusal::RateLimited(d)) => {
                assert!(d > Duration::from_secs(20) && d <= Duration::from_secs(30), "{d:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(g.check_address(Some(ip("192.0.2.2"))).is_ok(), "another address");
        assert!(g.check_email(" A@x.example").is_ok());
        assert!(g.check_email("a@X.example ").is_err(), "same email, other spelling");
        assert!(g.check_email("b@x.example").is_ok());
        let slot = g.hash_slot().await.expect("slot");
        assert_eq!(g.hash_slot().await.err(), Some(Refusal::Busy));
        drop(slot);
        assert!(g.hash_slot().await.is_ok());
        let off = LoginGuard::new(LoginLimits {
            per_address_per_minute: 0,
            per_email_per_minute: 0,
            ..LoginLimits::default()
        });
        for _ in 0..100 {
            assert!(off.check_address(a).is_ok() && off.check_email("a@x.example").is_ok());
        }
    }
}
