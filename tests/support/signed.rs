//! Requests to `cairn serve` signed as AWS's SDKs sign them (Signature
//! Version 4, with the server's credentials), for tests that speak HTTP
//! themselves. Declared by the tests that use it (it needs `cairn_cli`,
//! which the Lambda host's tests, sharing `support`, do not have).

#![allow(dead_code)] // each test uses its own part

use cairn_cli::auth::{Credentials, sign_request};
use std::path::Path;

/// An agent that hands back error answers rather than failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A request to `url`, signed with the credentials in `file`; `unsigned`
/// headers are added after signing (the server must not trust them).
pub fn request(
    agent: &ureq::Agent,
    credentials: &Path,
    method: &str,
    url: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> ureq::http::Response<ureq::Body> {
    let credentials = Credentials::read(credentials).expect("the server wrote its credentials");
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    let mut unsigned = Vec::new();
    for (name, value) in headers {
        match std::str::from_utf8(value) {
            Ok(text) if text.is_ascii() => builder = builder.header(*name, text),
            _ => unsigned.push((*name, *value)),
        }
    }
    let mut request = builder.body(body.to_vec()).unwrap();
    sign_request(&mut request, &credentials, "us-east-1").unwrap();
    for (name, value) in unsigned {
        request.headers_mut().insert(
            ureq::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            ureq::http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
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
