//! Where a workflow's HTTP requests may go: the allowlist, its parser, and
//! the link-local refusal. Plain std and `http`, apart from the rest of
//! the limits, so that the fuzz targets can include this file.

use std::time::Duration;

/// Default cap on an HTTP response body: AWS's checkpoint bound, since an
/// exchange made outside a step is recorded whole.
pub const DEFAULT_HTTP_BODY_CAP: usize = 256 << 10;

/// Default timeouts of an HTTP request (to connect, to the first byte, and
/// between bytes), where the guest sets none.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a guest may send as one request body.
pub const MAX_HTTP_REQUEST_BODY: usize = 16 << 20;

/// Where a workflow's HTTP requests may go, and how large a response may be.
/// Nothing is allowed by default: the sandbox has no network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPolicy {
    pub allow: Vec<AllowedHost>,
    /// Whether link-local addresses may be reached at all (see
    /// [`is_link_local`]), by address or by a name that resolves to one.
    pub allow_link_local: bool,
    pub body_cap: usize,
    pub timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            allow: Vec::new(),
            allow_link_local: false,
            body_cap: DEFAULT_HTTP_BODY_CAP,
            timeout: DEFAULT_HTTP_TIMEOUT,
        }
    }
}

/// Whether `ip` is link-local (169.254.0.0/16, fe80::/10, also written as
/// an IPv4-mapped IPv6 address) or AWS's IPv6 metadata address
/// (fd00:ec2::254): where cloud machines serve their credentials, which a
/// workflow must not reach unless its operator says so.
pub fn is_link_local(ip: std::net::IpAddr) -> bool {
    const METADATA_V6: std::net::Ipv6Addr =
        std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_link_local(),
            None => v6.segments()[0] & 0xffc0 == 0xfe80 || v6 == METADATA_V6,
        },
    }
}

/// Why a request may not go to `host`, a link-local address or a name
/// that resolves to one (`resolved`).
pub fn link_local_refusal(host: &str, resolved: Option<std::net::IpAddr>) -> String {
    let what = match resolved {
        Some(ip) => format!("{host} resolves to {ip}, a link-local address"),
        None => format!("{host} is a link-local address"),
    };
    format!(
        "HTTP requests to {what} are not allowed: cloud machines serve their \
         credentials there (allow such addresses with --allow-http-link-local, or \
         CAIRN_ALLOW_HTTP_LINK_LOCAL=1 in Lambda)"
    )
}

impl HttpPolicy {
    /// Why a request to `uri` may not leave, if it may not: not on the
    /// allowlist, or no plain authority (userinfo is refused: it would be
    /// recorded in the operation's name).
    pub fn refusal(&self, uri: &http::Uri) -> Option<String> {
        let Some(authority) = uri.authority() else {
            return Some(format!("{uri} names no host"));
        };
        if authority.as_str().contains('@') {
            return Some(format!(
                "{uri}: credentials in a URL are not allowed (send them in a header)"
            ));
        }
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let allowed = self.allow.iter().any(|allowed| {
            allowed.host.eq_ignore_ascii_case(host) && allowed.port.is_none_or(|p| p == port)
        });
        let entry = AllowedHost {
            host: host.to_owned(),
            port: Some(port),
        };
        if !allowed {
            return Some(format!(
                "HTTP requests to {entry} are not allowed: it is not on this workflow's \
                 allowlist (allow it with --allow-http {entry}, or CAIRN_ALLOW_HTTP in Lambda)"
            ));
        }
        // On the list or not, a link-local address is refused by default
        // (a name is checked once resolved, when the request is sent).
        let literal = host.parse::<std::net::IpAddr>().ok();
        (!self.allow_link_local && literal.is_some_and(is_link_local))
            .then(|| link_local_refusal(host, None))
    }

    /// Refuses allowlist entries that name a link-local address, unless
    /// this policy allows those.
    pub fn check_entries(&self, hosts: &[AllowedHost]) -> Result<(), String> {
        if self.allow_link_local {
            return Ok(());
        }
        match hosts
            .iter()
            .find(|entry| entry.host.parse().is_ok_and(is_link_local))
        {
            Some(entry) => Err(link_local_refusal(&entry.to_string(), None)),
            None => Ok(()),
        }
    }

    /// Parses a comma-separated list of `HOST[:PORT]` (as the Lambda host's
    /// `CAIRN_ALLOW_HTTP` holds).
    pub fn parse_allowlist(list: &str) -> Result<Vec<AllowedHost>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::parse)
            .collect()
    }
}

/// One allowlist entry: a host name or address, on one port or on all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not HOST or HOST:PORT");
        // `[::1]:8080` and `[::1]`: brackets keep an IPv6 address's colons apart.
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (host, None),
                after => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        // Brackets hold an IPv6 address and nothing else; a name or an IPv4
        // address is letters, digits, `.`, `-` and `_` (what DNS and URLs
        // carry), so that every entry prints back as it was read.
        let valid = if text.starts_with('[') {
            host.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if !valid {
            return Err(bad());
        }
        let port = port
            .map(|port| port.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        Ok(AllowedHost {
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> HttpPolicy {
        HttpPolicy {
            allow: entries.iter().map(|e| e.parse().unwrap()).collect(),
            ..HttpPolicy::default()
        }
    }

    fn refused(policy: &HttpPolicy, url: &str) -> Option<String> {
        policy.refusal(&url.parse().unwrap())
    }

    #[test]
    fn the_allowlist_matches_host_and_port() {
        let only = policy(&["127.0.0.1:8080", "Example.com", "[::1]:9000"]);
        assert_eq!(refused(&only, "http://127.0.0.1:8080/x"), None);
        assert_eq!(refused(&only, "http://EXAMPLE.com/x"), None);
        assert_eq!(refused(&only, "https://example.com:8443/x"), None);
        assert_eq!(refused(&only, "http://[::1]:9000/"), None);
        let other_port = refused(&only, "http://127.0.0.1:9090/x").unwrap();
        assert!(other_port.contains("127.0.0.1:9090"), "{other_port}");
        let ipv6 = refused(&only, "http://[::1]:9001/").unwrap();
        assert!(ipv6.contains("--allow-http [::1]:9001"), "{ipv6}");
        // The default port of the scheme counts.
        assert!(refused(&policy(&["a.test:80"]), "https://a.test/").is_some());
        assert_eq!(refused(&policy(&["a.test:443"]), "https://a.test/"), None);
        let userinfo = refused(&only, "http://user:pw@127.0.0.1:8080/").unwrap();
        assert!(userinfo.contains("credentials"), "{userinfo}");
    }

    #[test]
    fn link_local_addresses_are_refused_unless_allowed() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_link_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "fd00:ec2::253",
            "170.254.0.1",
        ] {
            assert!(!is_link_local(ip.parse().unwrap()), "{ip}");
        }
        // Refused even when listed...
        let listed = policy(&["169.254.169.254:80", "[fd00:ec2::254]"]);
        let refusal = refused(&listed, "http://169.254.169.254/latest/meta-data/").unwrap();
        assert!(refusal.contains("link-local"), "{refusal}");
        assert!(refused(&listed, "http://[fd00:ec2::254]/").is_some());
        let entries = listed.allow.clone();
        let refusal = listed.check_entries(&entries).unwrap_err();
        assert!(refusal.contains("--allow-http-link-local"), "{refusal}");
        // ... and allowed with the operator's consent.
        let consented = HttpPolicy {
            allow_link_local: true,
            ..listed
        };
        assert_eq!(refused(&consented, "http://169.254.169.254/x"), None);
        assert_eq!(consented.check_entries(&entries), Ok(()));
        assert_eq!(
            policy(&[]).check_entries(&policy(&["a.test"]).allow),
            Ok(())
        );
    }

    #[test]
    fn entries_parse_strictly() {
        for good in ["a.test", "a.test:1", "[::1]", "[::1]:80", "10.0.0.1:65535"] {
            let entry: AllowedHost = good.parse().unwrap();
            assert_eq!(entry.to_string(), good);
        }
        for bad in [
            "",
            ":80",
            "a.test:",
            "a.test:x",
            "a.test:70000",
            "[::1]junk",
            "[::1",
            "a/b",
            "[a.test]",
            "[>/\0]",
            "a\0b",
            "a b",
            "user@a.test",
        ] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad:?} parsed");
        }
    }
}
