//! The client's address, for throttling logins, registrations and reset requests per address.
//!
//! It is the connection's peer, unless the peer is one of the reverse proxies the operator
//! trusts (`api.trusted_proxies`): then it is the address that proxy names in `Forwarded` (RFC
//! 7239) or, without it, `X-Forwarded-For`. The chain is read from the right, skipping trusted
//! proxies, and the first address not among them is the client: the entries further left were
//! written by that client and prove nothing. From a peer that is not trusted the headers are
//! ignored, so a client cannot pick its own address (and so its own throttling key).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

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
            client_address(peer, &parts.headers, &state.trusted_proxies)
        })))
    }
}

/// The client behind `peer` (see the module documentation).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain = forwarded_for(headers);
    if chain.is_empty() {
        chain = x_forwarded_for(headers);
    }
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Obfuscated (`_hidden`), `unknown` or garbage: nothing further left can be trusted.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
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

    fn proxies() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &h, &proxies()),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        // The client wrote "6.6.6.6" itself; the first trusted proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &proxies()),
            ip("203.0.113.9")
        );
        let two = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &two, &proxies()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_its_forms_are_understood() {
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8::17]:4711";proto=https, For=10.2.2.2"#,
            ),
        ]);
        assert_eq!(
            client_address(ip("fd00::1"), &h, &proxies()),
            ip("2001:db8::17")
        );
        let port = headers(&[("x-forwarded-for", "203.0.113.9:5060")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &port, &proxies()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_trusted_one() {
        let h = headers(&[("forwarded", "for=203.0.113.9, for=_hidden, for=10.3.3.3")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &proxies()),
            ip("10.3.3.3")
        );
        let none = headers(&[]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &none, &proxies()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_yields_its_leftmost_address() {
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &proxies()),
            ip("10.9.9.9")
        );
    }
}
