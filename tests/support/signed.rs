//! Requests to `cairn serve` signed as AWS's SDKs sign them (Signature
//! Version 4, with the server's credentials), for tests that speak HTTP
//! themselves. Declared by the tests that use it (it needs `cairn_cli`,
//! which the Lambda host's tests, sharing `support`, do not have).

#![allow(dead_code)] // each test uses its own part

use cairn_cli::auth::{Credentials, signed_request};

/// `METHOD PATH` to `server`, signed with its credentials; headers that are
/// not ASCII cannot be signed, and are added after signing (the server must
/// not trust them). Error answers are handed back, not failed on.
pub fn request(
    server: &crate::support::Server,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> ureq::http::Response<ureq::Body> {
    let credentials =
        Credentials::read(&server.credentials).expect("the server wrote its credentials");
    let (ascii, unsigned): (Vec<_>, Vec<_>) =
        headers.iter().partition(|(_, value)| value.is_ascii());
    let ascii: Vec<(&str, &str)> = ascii
        .iter()
        .map(|(name, value)| (*name, std::str::from_utf8(value).unwrap()))
        .collect();
    let url = format!("{}{path}", server.url);
    let mut request = signed_request(method, &url, &ascii, body.to_vec(), &credentials).unwrap();
    for (name, value) in unsigned {
        request.headers_mut().insert(
            ureq::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            ureq::http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent.run(request).expect("the server answers")
}

/// The `x-amzn-ErrorType` of an answer ("" for none).
pub fn error_type(response: &ureq::http::Response<ureq::Body>) -> String {
    response
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}
