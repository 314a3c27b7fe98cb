//! Where webhooks may go: the SSRF guard.
//!
//! A `resolution_endpoint` is chosen by API clients, so without a guard any client could make the
//! server send requests into its own network (cloud metadata at 169.254.169.254, databases on
//! 10/8, admin ports on loopback). The rules:
//!
//! - when a URL is stored: only `http`/`https`, a host, no user-info ([`check_endpoint`]);
//! - when a request is made: IP-literal hosts must be public ([`check_target`]), and names are
//!   resolved by [`GuardedResolver`], which hands the connector only the public addresses it
//!   checked: the connection goes to exactly those, so a DNS answer that changes between a check
//!   and the connect (DNS rebinding) cannot slip a private address through;
//! - redirects are not followed and proxies from the environment are not used (set on the client).
//!
//! `OZ_WEBHOOK_ALLOW_PRIVATE=true` turns the address rules off (tests, receivers inside the same
//! private network); the scheme and user-info rules stay.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a `resolution_endpoint` cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("resolution_endpoint is not a valid URL")]
    Invalid,
    #[error("resolution_endpoint must be an http(s) URL")]
    Scheme,
    #[error("resolution_endpoint must have a host")]
    NoHost,
    #[error("resolution_endpoint must not contain user name or password")]
    UserInfo,
}

/// Checks a `resolution_endpoint` before it is stored: `http`/`https`, a host, no user-info.
/// Addresses are not checked here (they are at every request, where they count).
pub fn check_endpoint(s: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(s.trim()).map_err(|_| EndpointError::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EndpointError::Scheme);
    }
    if url.host().is_none() {
        return Err(EndpointError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    Ok(url)
}

/// A request the guard refused; the delivery is given up, not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by the webhook address guard: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Checks a URL at request time: the [`check_endpoint`] rules, and an IP-literal host must be
/// public unless `allow_private` (names are checked by [`GuardedResolver`] when they resolve).
pub fn check_target(url: &str, allow_private: bool) -> Result<Url, Refused> {
    let url = check_endpoint(url).map_err(|e| Refused(e.to_string()))?;
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = ip
        && !allow_private
        && !is_public(ip)
    {
        return Err(Refused(format!("{ip} is not allowed: webhooks go to public addresses only")));
    }
    Ok(url)
}

/// Keeps the public addresses of a resolved name; refuses when none is left.
pub fn filter_addrs(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Refused> {
    let all: Vec<SocketAddr> = addrs.into_iter().collect();
    if allow_private {
        return Ok(all);
    }
    let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
    if public.is_empty() {
        // What the name resolves to inside the network is for the operator's log, not for the
        // tenant who chose the URL (it would map internal host names for them).
        let list: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
        tracing::warn!(host, addresses = %list.join(", "), "webhook host resolves to no public address");
        return Err(Refused(format!("{host} is not allowed: webhooks go to public addresses only")));
    }
    Ok(public)
}

/// A DNS resolver for the webhook client that returns only addresses allowed by
/// [`filter_addrs`]: the connector connects to nothing else.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept = filter_addrs(&host, found, allow)?;
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// True for addresses on the public internet: false for loopback, private, shared (CGNAT),
/// link-local, multicast, broadcast, unspecified, documentation, benchmarking and reserved
/// ranges, IPv6 unique-local and site-local, and for IPv6 forms that embed such an IPv4 address
/// (v4-mapped, v4-compatible, NAT64, 6to4).
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const DENY: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", unspecified
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, cloud metadata
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, broadcast
    ];
    !DENY.iter().any(|(net, p)| in_v4(ip, *net, *p))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: usize| Ipv4Addr::new((s[hi] >> 8) as u8, s[hi] as u8, (s[hi + 1] >> 8) as u8, s[hi + 1] as u8);
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // ::ffff:a.b.c.d (v4-mapped) and ::a.b.c.d (v4-compatible, deprecated).
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        return is_public_v4(embedded(6));
    }
    // 64:ff9b::/96 (NAT64 well-known prefix) embeds the IPv4 destination.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(6));
    }
    // 2002::/16 (6to4) embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(1));
    }
    // Only global unicast (2000::/3) is public; that excludes ::/8 leftovers, 64:ff9b:1::/48,
    // 100::/64 (discard), fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10, ff00::/8.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // Inside 2000::/3: 2001::/23 (IETF protocol assignments, Teredo), 2001:db8::/32 and
    // 3fff::/20 (documentation).
    let in_2001_23 = s[0] == 0x2001 && s[1] < 0x0200;
    let doc = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000);
    !(in_2001_23 || doc)
}

/// The URL for logs: scheme, host, port and path, without user-info, query or fragment (they
/// often carry tokens).
#[must_use]
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// `host:port` of a URL, lowercased: the key of the per-host delivery limit.
#[must_use]
pub fn host_key(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or_default().to_ascii_lowercase(),
            u.port_or_known_default().unwrap_or_default()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn non_global_addresses_are_refused() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!is_public(ip(s)), "{s} must be refused");
        }
    }

    #[test]
    fn global_addresses_are_allowed() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "192.169.0.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn endpoints_are_checked_when_stored() {
        assert!(check_endpoint("https://hooks.example.com/x?a=1").is_ok());
        assert!(check_endpoint("http://10.0.0.1:8080/x").is_ok(), "addresses are checked at request time");
        assert_eq!(check_endpoint("ftp://example.com/x"), Err(EndpointError::Scheme));
        assert_eq!(check_endpoint("file:///etc/passwd"), Err(EndpointError::Scheme));
        assert_eq!(check_endpoint("gopher://example.com/"), Err(EndpointError::Scheme));
        assert_eq!(check_endpoint("https://user:pw@example.com/"), Err(EndpointError::UserInfo));
        assert_eq!(check_endpoint("https://user@example.com/"), Err(EndpointError::UserInfo));
        assert_eq!(check_endpoint("not a url"), Err(EndpointError::Invalid));
        assert_eq!(check_endpoint("https://"), Err(EndpointError::Invalid));
    }

    #[test]
    fn ip_literals_are_checked_at_request_time() {
        for u in [
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
        ] {
            assert!(check_target(u, false).is_err(), "{u}");
            assert!(check_target(u, true).is_ok(), "{u} with the allow flag");
        }
        assert!(check_target("http://8.8.8.8/", false).is_ok());
        assert!(check_target("https://hooks.example.com/", false).is_ok(), "names are checked when resolved");
        assert!(check_target("https://u:p@8.8.8.8/", true).is_err(), "user-info is refused even when allowed");
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let a = |s: &str| SocketAddr::new(ip(s), 443);
        let kept = filter_addrs("h", [a("10.0.0.1"), a("8.8.8.8"), a("::1")], false).expect("one public");
        assert_eq!(kept, [a("8.8.8.8")]);
        let err = filter_addrs("h", [a("127.0.0.1"), a("::ffff:127.0.0.1")], false).expect_err("none public");
        // The tenant learns that the host is not allowed, not what it resolves to.
        assert!(!err.0.contains("127.0.0.1") && err.0.contains("not allowed"), "{err}");
        assert!(filter_addrs("h", [], false).is_err());
        assert_eq!(filter_addrs("h", [a("127.0.0.1")], true).expect("allowed"), [a("127.0.0.1")]);
    }

    #[test]
    fn logged_urls_have_no_secrets() {
        assert_eq!(
            redact("https://user:pw@hooks.example.com:8443/cb/x?token=abc&b=2#frag"),
            "https://hooks.example.com:8443/cb/x"
        );
        assert_eq!(redact("http://h/p?q"), "http://h/p");
        assert_eq!(redact("::nonsense"), "<invalid URL>");
    }

    #[test]
    fn host_keys() {
        assert_eq!(host_key("https://Hooks.Example.com/a"), "hooks.example.com:443");
        assert_eq!(host_key("http://u@h:8080/a?b"), "h:8080");
        assert_eq!(host_key("http://[::1]/"), "[::1]:80");
    }
}
