//! Who may drive `cairn serve`: AWS Signature Version 4, as Lambda checks
//! it, so that boto3, the AWS CLI and the SDKs work unchanged with the
//! server's credentials. The server verifies by signing the request again
//! with `aws-sigv4` (AWS's own implementation) and comparing; the CLI's
//! client signs with the same crate.
//!
//! Credentials live in a file in the AWS shared-credentials format (a
//! `[default]` profile), so `AWS_SHARED_CREDENTIALS_FILE=FILE` is all the
//! AWS tools need. `cairn serve` writes one beside its store (mode 0600) at
//! first start.

use anyhow::{Context as _, Result, bail};
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4::SigningParams;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The service name in a signature's scope: the server is Lambda's API.
pub const SERVICE: &str = "lambda";

/// The other service it answers for: CloudWatch Logs' FilterLogEvents,
/// over the lines workflows logged.
pub const LOGS_SERVICE: &str = "logs";

/// The service a request to `path` is signed for: CloudWatch Logs' calls
/// (JSON 1.1, at `/`) are `logs`'s, the rest Lambda's.
pub fn service_for(path: &str) -> &'static str {
    if path == "/" { LOGS_SERVICE } else { SERVICE }
}

/// How far a request's signing time may be from the server's clock (AWS's
/// own window: a captured request cannot be replayed later than this).
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, secret hidden)", self.access_key_id)
    }
}

/// The credentials file of the store at `store`: `cairn.db` has
/// `cairn.credentials` beside it.
pub fn file_beside(store: &Path) -> PathBuf {
    store.with_extension("credentials")
}

impl Credentials {
    /// A new key pair: an id shaped like AWS's (20 characters, `AKCN...`)
    /// and a 40-character secret, 240 bits of entropy.
    pub fn generate() -> Credentials {
        const ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bytes = [0u8; 56];
        getrandom::fill(&mut bytes).expect("the host's entropy source failed");
        let pick = |alphabet: &[u8], b: u8| alphabet[b as usize % alphabet.len()] as char;
        Credentials {
            access_key_id: "AKCN"
                .chars()
                .chain(bytes[..16].iter().map(|&b| pick(ID, b)))
                .collect(),
            secret_access_key: bytes[16..].iter().map(|&b| pick(SECRET, b)).collect(),
        }
    }

    /// `CAIRN_ACCESS_KEY_ID` and `CAIRN_SECRET_ACCESS_KEY`, when both are set.
    pub fn from_env() -> Result<Option<Credentials>> {
        let id = std::env::var("CAIRN_ACCESS_KEY_ID").ok();
        let secret = std::env::var("CAIRN_SECRET_ACCESS_KEY").ok();
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Credentials {
                access_key_id,
                secret_access_key,
            })),
            (None, None) => Ok(None),
            _ => bail!("set both CAIRN_ACCESS_KEY_ID and CAIRN_SECRET_ACCESS_KEY, or neither"),
        }
    }

    /// Reads the `[default]` profile of a shared-credentials file, refusing
    /// one that others may read.
    pub fn read(path: &Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "the credentials file {} may be read by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
        let mut profile = None;
        let (mut id, mut secret) = (None, None);
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                profile = Some(name.trim().to_owned());
            } else if profile.as_deref() == Some("default")
                && let Some((key, value)) = line.split_once('=')
            {
                match key.trim() {
                    "aws_access_key_id" => id = Some(value.trim().to_owned()),
                    "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key))
                if !access_key_id.is_empty() && !secret_access_key.is_empty() =>
            {
                Ok(Credentials {
                    access_key_id,
                    secret_access_key,
                })
            }
            _ => bail!(
                "the credentials file {} has no [default] profile with aws_access_key_id and aws_secret_access_key",
                path.display()
            ),
        }
    }

    /// The credentials at `path`, written there first (mode 0600) when there
    /// are none yet. Returns whether they are new.
    pub fn read_or_create(path: &Path) -> Result<(Credentials, bool)> {
        if path.exists() {
            return Ok((Credentials::read(path)?, false));
        }
        let credentials = Credentials::generate();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create the credentials file {}", path.display()))?;
        write!(
            file,
            "# Written by `cairn serve`: clients sign with these (AWS_SHARED_CREDENTIALS_FILE={}).\n\
             [default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            path.display(),
            credentials.access_key_id,
            credentials.secret_access_key
        )?;
        file.sync_all()?;
        Ok((credentials, true))
    }
}

/// The signing settings of Lambda's REST API, on both sides.
fn settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
    // Sign (and check) every header given: the verifier passes exactly
    // those the client listed.
    settings.excluded_headers = Some(Vec::new());
    settings
}

/// What a signature is scoped to, and when it was made.
#[derive(Clone, Copy)]
struct Scope<'a> {
    region: &'a str,
    service: &'a str,
    time: SystemTime,
}

/// The signature of a request, and the headers signing adds
/// (`x-amz-date`, `authorization`).
fn signature(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
    scope: Scope<'_>,
) -> Result<(String, Vec<(String, String)>)> {
    let Scope {
        region,
        service,
        time,
    } = scope;
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        None,
        None,
        "cairn",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings())
        .build()?
        .into();
    let request = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, signature) = sign(request, &params)?.into_parts();
    let added = instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    Ok((signature, added))
}

/// The region Cairn's clients sign for (the server takes any).
pub const REGION: &str = "us-east-1";

/// A request to send, signed: `url` is absolute (the host is signed).
pub fn signed_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    credentials: &Credentials,
) -> Result<http::Request<Vec<u8>>> {
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request
        .body(body)
        .with_context(|| format!("cannot make a request to {url}"))?;
    sign_request(&mut request, credentials)?;
    Ok(request)
}

/// Signs a request to send: adds `x-amz-date` and `authorization`. Its URI
/// must be absolute (the host is signed).
pub fn sign_request(request: &mut http::Request<Vec<u8>>, credentials: &Credentials) -> Result<()> {
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| Ok((name.as_str().to_owned(), value.to_str()?.to_owned())))
        .collect::<Result<_>>()?;
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let (_, added) = signature(
        request.method().as_str(),
        &uri,
        &headers,
        request.body(),
        credentials,
        Scope {
            region: REGION,
            service: service_for(request.uri().path()),
            time: SystemTime::now(),
        },
    )?;
    for (name, value) in added {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes())?,
            http::HeaderValue::from_str(&value)?,
        );
    }
    Ok(())
}

/// Why a request was refused, in AWS's terms (every one a 403).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: &'static str,
    pub message: String,
}

fn refusal(kind: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
    }
}

fn invalid_signature(message: impl Into<String>) -> Refusal {
    refusal("InvalidSignatureException", message)
}

/// What a request's headers claim of its signature, checked as far as the
/// headers alone allow: the server checks this before it reads the body,
/// so that a stranger cannot make it buffer one.
pub struct Claimed<'a> {
    region: &'a str,
    /// `lambda`, or `logs` for CloudWatch Logs' calls.
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    time: SystemTime,
}

impl Claimed<'_> {
    /// The service the signature is scoped to.
    pub fn service(&self) -> &str {
        self.service
    }
}

/// Checks a received request's signature. `target` is its request target
/// as received (path and query, still percent-encoded).
pub fn verify(
    method: &str,
    target: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    credentials: &Credentials,
    now: SystemTime,
) -> Result<(), Refusal> {
    let claimed = check_headers(headers, credentials, now)?;
    verify_claimed(&claimed, method, target, headers, body, credentials)
}

/// The first half of [`verify`]: the Authorization header is ours, for
/// Lambda, and timely.
pub fn check_headers<'a>(
    headers: &'a http::HeaderMap,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<Claimed<'a>, Refusal> {
    let Some(authorization) = headers.get(http::header::AUTHORIZATION) else {
        return Err(refusal(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: requests to this server are signed with AWS \
             Signature Version 4, with the credentials `cairn serve` was given",
        ));
    };
    let authorization = authorization
        .to_str()
        .map_err(|_| invalid_signature("the Authorization header is not ASCII"))?;
    let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(refusal(
            "IncompleteSignatureException",
            "the Authorization header is not an AWS4-HMAC-SHA256 signature",
        ));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|field| field.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| {
                refusal(
                    "IncompleteSignatureException",
                    format!("Authorization header requires '{name}' parameter"),
                )
            })
    };
    let (scope, signed_headers, claimed) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );
    let scope: Vec<&str> = scope.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(refusal(
            "IncompleteSignatureException",
            "the Credential is not KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if key_id != credentials.access_key_id {
        return Err(refusal(
            "UnrecognizedClientException",
            "The security token included in the request is invalid: this server does not know the access key",
        ));
    }
    if service != SERVICE && service != LOGS_SERVICE {
        return Err(invalid_signature(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| invalid_signature("the request has no X-Amz-Date header"))?;
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        invalid_signature(format!("X-Amz-Date {amz_date:?} is not YYYYMMDDTHHMMSSZ"))
    })?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(invalid_signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}'",
            &amz_date[..8]
        )));
    }
    let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(invalid_signature(format!(
            "Signature expired or not yet valid: {amz_date} is more than 5 minutes from the server's clock"
        )));
    }
    Ok(Claimed {
        region,
        service,
        signed_headers,
        signature: claimed,
        time,
    })
}

/// The second half of [`verify`]: the signature covers this request.
pub fn verify_claimed(
    claimed: &Claimed<'_>,
    method: &str,
    target: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    credentials: &Credentials,
) -> Result<(), Refusal> {
    let Claimed {
        region,
        service,
        signed_headers,
        signature: claimed,
        time,
    } = *claimed;
    let mut signed = Vec::new();
    for name in signed_headers.split(';') {
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid_signature(format!("SignedHeaders names {name:?}")));
        }
        let values = headers.get_all(name);
        if values.iter().next().is_none() {
            return Err(invalid_signature(format!(
                "the signed header {name} is not in the request"
            )));
        }
        for value in values {
            let value = value
                .to_str()
                .map_err(|_| invalid_signature(format!("the header {name} is not ASCII")))?;
            signed.push((name, value));
        }
    }
    if !signed_headers.split(';').any(|name| name == "host") {
        return Err(invalid_signature(
            "the signature must cover the Host header",
        ));
    }
    // `OPTIONS *` and the like: nothing here is addressed so, and the
    // signing crate expects a path (it panics on some other targets).
    if !target.starts_with('/') {
        return Err(invalid_signature(format!(
            "the request target {target:?} is not a path"
        )));
    }
    let (expected, _) = signature(
        method,
        target,
        &signed,
        body,
        credentials,
        Scope {
            region,
            service,
            time,
        },
    )
    .map_err(|error| invalid_signature(format!("cannot check the signature: {error}")))?;
    if !constant_time_eq(expected.as_bytes(), claimed.as_bytes()) {
        return Err(invalid_signature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
}

/// Compares without an early exit, so timing says nothing about how much
/// of a forged signature was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `20261202T101500Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u64> {
        text.get(range.clone())
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = cairn_core::history::days_from_civil(year as i64, month as i64, day as i64);
    let seconds = u64::try_from(days).ok()? * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKCNTEST".into(),
            secret_access_key: "secret".into(),
        }
    }

    /// A request signed by [`sign_request`], as the server receives it.
    fn signed(body: &[u8]) -> (String, http::HeaderMap) {
        let mut request = http::Request::post(
            "http://127.0.0.1:9000/2025-12-01/durable-executions/arn%3Aaws%3Alambda%3Ax/stop?a=b%20c",
        )
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap();
        sign_request(&mut request, &credentials()).unwrap();
        let mut headers = request.headers().clone();
        headers.insert("host", "127.0.0.1:9000".parse().unwrap());
        let target = request.uri().path_and_query().unwrap().to_string();
        (target, headers)
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let (target, headers) = signed(b"{}");
        let now = SystemTime::now();
        verify("POST", &target, &headers, b"{}", &credentials(), now).unwrap();
        let refused = |result: Result<(), Refusal>| result.unwrap_err().kind;
        assert_eq!(
            refused(verify(
                "POST",
                &target,
                &headers,
                b"{ }",
                &credentials(),
                now
            )),
            "InvalidSignatureException"
        );
        assert_eq!(
            refused(verify("GET", &target, &headers, b"{}", &credentials(), now)),
            "InvalidSignatureException"
        );
        let other = Credentials {
            secret_access_key: "other".into(),
            ..credentials()
        };
        assert_eq!(
            refused(verify("POST", &target, &headers, b"{}", &other, now)),
            "InvalidSignatureException"
        );
        let stranger = Credentials {
            access_key_id: "AKCNOTHER".into(),
            ..credentials()
        };
        assert_eq!(
            refused(verify("POST", &target, &headers, b"{}", &stranger, now)),
            "UnrecognizedClientException"
        );
        let mut moved = headers.clone();
        moved.insert("host", "evil.example:9000".parse().unwrap());
        assert_eq!(
            refused(verify("POST", &target, &moved, b"{}", &credentials(), now)),
            "InvalidSignatureException"
        );
        let later = now + Duration::from_secs(6 * 60);
        assert_eq!(
            refused(verify(
                "POST",
                &target,
                &headers,
                b"{}",
                &credentials(),
                later
            )),
            "InvalidSignatureException"
        );
        assert_eq!(
            refused(verify(
                "POST",
                &target,
                &http::HeaderMap::new(),
                b"{}",
                &credentials(),
                now
            )),
            "MissingAuthenticationTokenException"
        );
    }

    #[test]
    fn amz_dates_parse() {
        assert_eq!(
            parse_amz_date("20000229T000001Z"),
            Some(UNIX_EPOCH + Duration::from_secs(951_782_401))
        );
        assert_eq!(parse_amz_date("2000-02-29T00:00Z"), None);
        assert_eq!(parse_amz_date("20001329T000000Z"), None);
    }
}
