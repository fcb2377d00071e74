//! Limits that protect the host from a hostile or buggy guest.

use std::time::Duration;

/// How often the epoch ticker advances wasmtime's epoch: the granularity of
/// the time budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default wall-clock budget of one invocation, as Lambda's invocation limit:
/// a guest that loops forever is stopped after this long.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Default cap on a guest's linear memory: a guest that allocates without
/// bound fails instead of taking the host down.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;

/// The largest memory any guest may be given (pooling allocator slot size).
pub const MAX_MEMORY_LIMIT: usize = 4 << 30;

/// Instances alive at once in the pooling allocator (one per running
/// invocation; suspended executions hold none).
pub const POOLED_INSTANCES: u32 = 64;

/// Payloads a guest may hand the host (inputs, step results, outputs): AWS's
/// safe per-operation bound.
pub const MAX_PAYLOAD_BYTES: usize = 256 << 10;

/// Longest operation name (AWS's bound): names are stored with every start.
pub const MAX_NAME_BYTES: usize = 256;

/// The most bytes one random read may ask for.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Per-invocation limits, set by whoever runs the workflow.
#[derive(Clone, Debug)]
pub struct Limits {
    pub time_budget: Duration,
    pub memory: usize,
    pub http: std::sync::Arc<HttpPolicy>,
    /// Set from outside to interrupt the invocation (its execution was
    /// stopped): wasm code traps within [`INTERRUPT_CHECK`], and host
    /// calls that wait return as soon.
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// How often a running guest looks at its interrupt flag and its time
/// budget: how late a stop or an exhausted budget may take effect.
pub const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

impl Limits {
    /// These limits, with `hosts` allowed too (a workflow's own allowlist).
    pub fn allowing(&self, hosts: Vec<AllowedHost>) -> Limits {
        if hosts.is_empty() {
            return self.clone();
        }
        let mut http = (*self.http).clone();
        http.allow.extend(hosts);
        Limits {
            http: std::sync::Arc::new(http),
            ..self.clone()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_budget: DEFAULT_TIME_BUDGET,
            memory: DEFAULT_MEMORY_LIMIT,
            http: Default::default(),
            interrupt: None,
        }
    }
}

/// Enforces [`Limits::memory`] and remembers whether the guest hit it, so
/// the resulting trap can be reported as what it is.
pub(crate) struct MemoryCap {
    pub limit: usize,
    pub exceeded: Option<usize>,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = Some(desired);
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

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
    pub body_cap: usize,
    pub timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            allow: Vec::new(),
            body_cap: DEFAULT_HTTP_BODY_CAP,
            timeout: DEFAULT_HTTP_TIMEOUT,
        }
    }
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
        (!allowed).then(|| {
            format!(
                "HTTP requests to {entry} are not allowed: it is not on this workflow's \
                 allowlist (allow it with --allow-http {entry}, or CAIRN_ALLOW_HTTP in Lambda)"
            )
        })
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
        if host.is_empty() || host.contains(['/', ' ', ':', '@']) && !text.starts_with('[') {
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
        ] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad:?} parsed");
        }
    }
}
