//! The client's address, for throttling logins, registrations and reset requests per address.
//!
//! It is the connection's peer, unless the peer is one of the reverse proxies the operator
//! trusts (`api.trusted_proxies`): then it is the address that proxy wrote into the one header
//! it is configured to write (`api.forwarded_header`: `X-Forwarded-For`, or `Forwarded` of RFC
//! 7239). The other header is never read: a proxy passes through whatever the client put in a
//! header it does not write itself. The chain is read from the right, skipping trusted
//! proxies, and the first address not among them is the client: the entries further left were
//! written by that client and prove nothing. From a peer that is not trusted the headers are
//! ignored, so a client cannot pick its own address.
//!
//! Addresses are canonical (an IPv4 peer of a dual-stack listener, `::ffff:a.b.c.d`, is
//! `a.b.c.d`), and [`ClientAddr::throttle_key`] names an IPv6 client by its /64: one
//! subscriber holds a whole /64 and could otherwise change its key with every request.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ebok_common::config::ForwardedHeader;
use ipnet::IpNet;

use crate::state::AppState;

/// The proxies whose word about the client is taken, and the header they write.
#[derive(Debug, Clone)]
pub struct ProxyTrust {
    pub proxies: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl Default for ProxyTrust {
    /// No proxy is trusted.
    fn default() -> Self {
        ProxyTrust {
            proxies: Vec::new(),
            header: ForwardedHeader::XForwardedFor,
        }
    }
}

impl ProxyTrust {
    fn trusts(&self, ip: &IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(ip))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.map(|peer| {
            client_address(peer, &parts.headers, &state.proxies)
        })))
    }
}

/// The key under which a client address is throttled: the address, or for IPv6 its /64.
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The client behind `peer` (see the module documentation), canonical.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trust: &ProxyTrust) -> IpAddr {
    let peer = peer.to_canonical();
    if !trust.trusts(&peer) {
        return peer;
    }
    let chain = match trust.header {
        ForwardedHeader::Forwarded => forwarded_for(headers),
        ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
    };
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Obfuscated (`_hidden`), `unknown` or garbage: nothing further left can be trusted.
            break;
        };
        client = ip.to_canonical();
        if !trust.trusts(&client) {
            break;
        }
    }
    client
}

/// The `for=` values of every `Forwarded` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"').to_string())
            })
        })
        .collect()
}

/// The entries of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().to_string())
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711` or `[2001:db8::1]`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trust(header: ForwardedHeader) -> ProxyTrust {
        ProxyTrust {
            proxies: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
            header,
        }
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &h, &trust(XFF)),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &ProxyTrust::default()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        // The client wrote "6.6.6.6" itself; the first trusted proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trust(XFF)),
            ip("203.0.113.9")
        );
        let two = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &two, &trust(XFF)),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn only_the_header_the_proxy_writes_is_read() {
        // A proxy that writes X-Forwarded-For passes the client's own Forwarded through.
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trust(XFF)),
            ip("203.0.113.9")
        );
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8::17]:4711";proto=https, For=10.2.2.2"#,
            ),
        ]);
        assert_eq!(
            client_address(ip("fd00::1"), &h, &trust(FWD)),
            ip("2001:db8::17")
        );
        let port = headers(&[("x-forwarded-for", "203.0.113.9:5060")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &port, &trust(XFF)),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_trusted_one() {
        let h = headers(&[("forwarded", "for=203.0.113.9, for=_hidden, for=10.3.3.3")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trust(FWD)),
            ip("10.3.3.3")
        );
        let none = headers(&[]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &none, &trust(XFF)),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_yields_its_leftmost_address() {
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trust(XFF)),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn an_ipv4_peer_of_a_dual_stack_listener_is_its_ipv4_address() {
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &h, &trust(XFF)),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("::ffff:198.51.100.7"), &h, &trust(XFF)),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn an_ipv6_client_is_throttled_by_its_slash_64() {
        assert_eq!(throttle_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            throttle_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_eq!(throttle_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_ne!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:3::1"))
        );
    }
}
