//! A small blocking HTTP client over `wasi:http`.
//!
//! ```ignore
//! let order: Order = cairn::http::get("http://shop.internal/orders/7")?.json()?;
//! let receipt = ctx.step("charge", || {
//!     cairn::http::Request::post("http://payments.internal/charges")
//!         .json(&charge)
//!         .timeout(Duration::from_secs(10))
//!         .send()?
//!         .json::<Receipt>()
//! })?;
//! ```
//!
//! Outside a step a request is durable on its own: the host records its
//! response, and a resumed workflow gets the recorded response without the
//! request being sent again (at least once: a crash before the record sends
//! it again). Inside a step the request is part of the step: the step's
//! result is recorded, and a retried step sends it again.
//!
//! Requests leave only for hosts the workflow's deployment allows
//! (`--allow-http HOST[:PORT]`). Connection errors, timeouts and 5xx
//! responses are errors (`Http.ConnectionRefused`, `Http.Status`, ...), so a
//! step's retry strategy applies to them; other statuses are responses.
//! Any other `wasi:http` client works too: this one is a convenience.

use crate::Error;
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// The largest request body the host takes (16 MiB).
const MAX_BODY: usize = 16 << 20;

/// An HTTP request being built.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    invalid: Option<Error>,
}

/// A whole response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            invalid: None,
        }
    }

    pub fn get(url: &str) -> Self {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Self {
        Request::new("POST", url)
    }

    pub fn put(url: &str) -> Self {
        Request::new("PUT", url)
    }

    pub fn delete(url: &str) -> Self {
        Request::new("DELETE", url)
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with its content type.
    pub fn json(mut self, value: &impl serde::Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.body(body).header("content-type", "application/json"),
            Err(error) => {
                self.invalid = Some(Error::new(
                    "SerializationError",
                    format!("the request body cannot be serialized: {error}"),
                ));
                self
            }
        }
    }

    /// How long to wait to connect, for the first byte of the response, and
    /// between its bytes (the host's default otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response. A 5xx status is an
    /// `Http.Status` error carrying the response (`error.data()`).
    pub fn send(self) -> Result<Response, Error> {
        if let Some(error) = self.invalid {
            return Err(error);
        }
        let what = format!("{} {}", self.method, self.url);
        let response = self.exchange().map_err(|error| error.context(&what))?;
        if response.status >= 500 {
            let text = String::from_utf8_lossy(&response.body);
            let excerpt: String = text.chars().take(200).collect();
            return Err(Error::new(
                "Http.Status",
                format!("{what} answered {}: {excerpt}", response.status),
            )
            .with_data(&serde_json::json!({
                "status": response.status,
                "body": text,
            })));
        }
        Ok(response)
    }

    fn exchange(&self) -> Result<Response, Failure> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let headers = Fields::from_list(&self.headers)
            .map_err(|e| Failure::new("Http.InvalidHeader", format!("{e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let invalid = |what: &str| Failure::new("Http.InvalidRequest", format!("invalid {what}"));
        request
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| invalid("path"))?;
        let body = request.body().map_err(|()| invalid("body"))?;
        let options = RequestOptions::new();
        if let Some(timeout) = self.timeout {
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // Each setter fails only where the host does not support it.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
        }
        // The body first, whole, then the request: the host then has it all
        // when the request is sent (and answers from the journal at once).
        // It buffers at most MAX_BODY in 4096-byte writes
        // (`blocking-write-and-flush` takes no more a call).
        if self.body.len() > MAX_BODY {
            return Err(Failure::new(
                "Http.HttpRequestBodySize",
                format!(
                    "the request body is {} bytes; the host takes at most {MAX_BODY}",
                    self.body.len()
                ),
            ));
        }
        {
            let stream = body.write().map_err(|()| invalid("body"))?;
            for chunk in self.body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(stream_failure)?;
            }
        }
        OutgoingBody::finish(body, None).map_err(Failure::from)?;
        let future = outgoing_handler::handle(request, Some(options))?;
        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(code.into()),
                Some(Err(())) => return Err(invalid("response: taken twice")),
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response.consume().map_err(|()| invalid("response body"))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|()| invalid("response body"))?;
            loop {
                match stream.blocking_read(64 << 10) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(error) => return Err(stream_failure(error)),
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Response {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::new("Http.InvalidBody", format!("the body is not UTF-8: {e}")))
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                "Http.InvalidBody",
                format!("the body is not the JSON expected: {e}"),
            )
        })
    }
}

/// Why an exchange failed, before it is named after its request.
struct Failure {
    error_type: String,
    message: String,
}

impl Failure {
    fn new(error_type: &str, message: String) -> Self {
        Failure {
            error_type: error_type.to_owned(),
            message,
        }
    }

    fn context(self, what: &str) -> Error {
        Error::new(self.error_type, format!("{what}: {}", self.message))
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        let debug = format!("{code:?}");
        let name = debug
            .split(['(', ' ', '{'])
            .next()
            .and_then(|path| path.rsplit("::").next())
            .unwrap_or("Error");
        let message = match code {
            ErrorCode::InternalError(Some(message)) => message,
            ErrorCode::HttpRequestDenied => "HTTP requests to this host are not allowed: it is \
                not on the workflow's allowlist (--allow-http HOST[:PORT]), or it is a \
                link-local address (--allow-http-link-local); the host's record says which"
                .into(),
            ErrorCode::HttpResponseBodySize(Some(cap)) => {
                format!("the response body is larger than the host's cap of {cap} bytes")
            }
            ErrorCode::HttpResponseBodySize(None) => {
                "the response body is larger than the host's cap".into()
            }
            ErrorCode::ConnectionRefused => "connection refused".into(),
            ErrorCode::ConnectionTimeout => "timed out connecting".into(),
            ErrorCode::ConnectionReadTimeout => "timed out waiting for the response".into(),
            ErrorCode::HttpResponseTimeout => "timed out reading the response".into(),
            other => format!("{other}"),
        };
        Failure::new(&format!("Http.{name}"), message)
    }
}

fn stream_failure(error: StreamError) -> Failure {
    match error {
        StreamError::LastOperationFailed(error) => {
            match wasip2::http::types::http_error_code(&error) {
                Some(code) => code.into(),
                None => Failure::new("Http.StreamError", error.to_debug_string()),
            }
        }
        StreamError::Closed => Failure::new("Http.StreamError", "the stream closed".into()),
    }
}

/// `scheme://authority/path?query`, split for wasi:http.
fn split_url(url: &str) -> Result<(Scheme, &str, String), Failure> {
    let invalid = || Failure::new("Http.InvalidUrl", format!("{url:?} is not an http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid()),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid());
    }
    let path = match path {
        "" => "/".to_owned(),
        query if query.starts_with('?') => format!("/{query}"),
        path => path.to_owned(),
    };
    Ok((scheme, authority, path))
}
