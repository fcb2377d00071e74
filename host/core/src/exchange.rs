//! An HTTP exchange made outside any step, as the journal keeps it: the
//! request's name and fingerprint, and the whole response.

use crate::event::Fingerprint;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The error types of failed exchanges begin so (`Http.ConnectionRefused`).
pub const HTTP_ERROR_PREFIX: &str = "Http.";

/// The longest operation name (AWS's bound); longer URLs are cut, and the
/// fingerprint still covers them whole.
const MAX_NAME_BYTES: usize = 256;

/// The recorded result of an implicit HTTP step. It carries the request's
/// fingerprint so replay can check it on backends that keep none (Lambda's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRecord {
    /// The request's fingerprint as 16 hex digits.
    pub http_request: String,
    pub status: u16,
    /// Header names and values, in the order received (values not valid
    /// UTF-8 are kept lossily).
    pub headers: Vec<(String, String)>,
    /// The body, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in base64, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl ExchangeRecord {
    pub fn new(
        request: Fingerprint,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(bytes) => (None, Some(BASE64.encode(bytes.as_bytes()))),
        };
        ExchangeRecord {
            http_request: format!("{request:016x}"),
            status,
            headers,
            body,
            body_base64,
        }
    }

    /// The record in `json`, if it is one (its body readable).
    pub fn parse(json: &str) -> Option<Self> {
        let record: ExchangeRecord = serde_json::from_str(json).ok()?;
        record.fingerprint()?;
        match &record.body_base64 {
            Some(encoded) if BASE64.decode(encoded).is_err() => None,
            _ => Some(record),
        }
    }

    /// The error data a failed exchange records: its request's fingerprint.
    pub fn failed_data(request: Fingerprint) -> String {
        serde_json::json!({ "http_request": format!("{request:016x}") }).to_string()
    }

    /// The request's fingerprint in a failed exchange's error data.
    pub fn failed_fingerprint(data: &str) -> Option<Fingerprint> {
        let data: serde_json::Value = serde_json::from_str(data).ok()?;
        Fingerprint::from_str_radix(data.get("http_request")?.as_str()?, 16).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a record serializes")
    }

    pub fn fingerprint(&self) -> Option<Fingerprint> {
        Fingerprint::from_str_radix(&self.http_request, 16).ok()
    }

    /// The response body's bytes.
    pub fn body(&self) -> Vec<u8> {
        match (&self.body, &self.body_base64) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(encoded)) => BASE64.decode(encoded).unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// blake3 over the request's method, URL, headers (in order) and body,
/// truncated as every call fingerprint is.
pub fn request_fingerprint(
    method: &str,
    url: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
) -> Fingerprint {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update(b"http\0")
        .update(method.as_bytes())
        .update(b"\0");
    hasher.update(url.as_bytes()).update(b"\0");
    for (name, value) in headers {
        hasher.update(name.as_bytes()).update(b":").update(value);
        hasher.update(b"\n");
    }
    hasher.update(b"\0").update(blake3::hash(body).as_bytes());
    u64::from_le_bytes(
        hasher.finalize().as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// The operation name of a request: `METHOD URL`, cut to AWS's bound and
/// to printable ASCII. A query is shown as `?...`: names are displayed
/// everywhere (histories, the Lambda console), and queries may carry keys.
/// (The fingerprint covers the whole URL.)
pub fn exchange_name(method: &str, url: &str) -> String {
    let url = match url.split_once('?') {
        Some((path, _)) => format!("{path}?..."),
        None => url.to_owned(),
    };
    let mut name: String = format!("{method} {url}")
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    name.truncate(MAX_NAME_BYTES);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_text_and_bytes() {
        let text = ExchangeRecord::new(7, 200, vec![("a".into(), "b".into())], b"hi".to_vec());
        let parsed = ExchangeRecord::parse(&text.to_json()).unwrap();
        assert_eq!(parsed.body(), b"hi");
        assert_eq!(parsed.fingerprint(), Some(7));
        let binary = ExchangeRecord::new(u64::MAX, 201, vec![], vec![0xff, 0, 1]);
        let parsed = ExchangeRecord::parse(&binary.to_json()).unwrap();
        assert_eq!(parsed.body(), vec![0xff, 0, 1]);
        assert!(parsed.body.is_none());
        assert_eq!(parsed.fingerprint(), Some(u64::MAX));
    }

    #[test]
    fn names_show_no_query() {
        assert_eq!(
            exchange_name("GET", "http://a/b?key=secret"),
            "GET http://a/b?..."
        );
        assert_eq!(exchange_name("POST", "http://a/b"), "POST http://a/b");
        assert_eq!(exchange_name("GET", "http://a/\u{e9}"), "GET http://a/?");
        assert_eq!(
            exchange_name("GET", &format!("http://a/{}", "x".repeat(300))).len(),
            256
        );
    }

    #[test]
    fn every_part_of_a_request_counts() {
        let h = |v: &str| vec![("x".to_string(), v.as_bytes().to_vec())];
        let base = request_fingerprint("GET", "http://a/b", &h("1"), b"");
        assert_ne!(
            base,
            request_fingerprint("POST", "http://a/b", &h("1"), b"")
        );
        assert_ne!(base, request_fingerprint("GET", "http://a/c", &h("1"), b""));
        assert_ne!(base, request_fingerprint("GET", "http://a/b", &h("2"), b""));
        assert_ne!(
            base,
            request_fingerprint("GET", "http://a/b", &h("1"), b"x")
        );
        assert_eq!(base, request_fingerprint("GET", "http://a/b", &h("1"), b""));
    }
}
