//! `wasi:http/outgoing-handler`: outgoing HTTP, under the workflow's
//! allowlist, timeouts and response cap (wasmtime-wasi-http does the rest).
//!
//! A request made inside a step's body is part of the step: it is sent live,
//! and the step's result is what the journal keeps. A request made outside
//! any step is an implicit step of its own (at-least-once): its body is
//! collected, and when the guest asks for the response the exchange is
//! replayed from the journal (no request leaves) or sent and recorded whole.

use super::WASI_VERSION;
use crate::invocation::{Abort, HostState, now_millis};
use crate::limits::{HttpPolicy, MAX_HTTP_REQUEST_BODY, MAX_PAYLOAD_BYTES};
use bytes::Bytes;
use cairn_core::exchange::{ExchangeRecord, HTTP_ERROR_PREFIX, exchange_name, request_fingerprint};
use cairn_core::{Fault, OpId, StepBegin};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body::Body as _;
use http_body_util::{BodyExt, Empty, Full};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi_http::p2::bindings::http::types::{DnsErrorPayload, ErrorCode};
use wasmtime_wasi_http::p2::body::HostIncomingBody;
use wasmtime_wasi_http::p2::types::{
    HostFutureIncomingResponse, HostIncomingResponse, HostOutgoingRequest,
};
use wasmtime_wasi_http::{Error, FieldMap, RequestOptions, WasiBody, WasiHttpHooks};

/// The hooks wasmtime-wasi-http calls; state of their own, apart from the store's.
pub(crate) struct HttpHooks {
    pub(crate) policy: Arc<HttpPolicy>,
    /// Whether a step's body is running (set on each wasi:http call).
    pub(crate) in_step: bool,
    /// When the invocation's time budget runs out: no exchange may outlast
    /// it (a host call is beyond the reach of the guest's own budget).
    pub(crate) deadline: Instant,
    /// A request sent outside a step whose body was whole when it was sent
    /// (a blocking client's): its response is ready to be asked for at once.
    ready: Option<Unsent>,
    /// Responses to requests sent outside a step whose bodies were still
    /// being written (an async client's), by resource: they poll as ready
    /// at once, and `get` waits for the body. Their readiness then depends
    /// on the guest alone, so their order in the journal replays.
    awaited: HashSet<u32>,
    /// Where each response's request was sent from, by resource: the step
    /// whose body sent it, or none (outside any step). It is read only there.
    origins: HashMap<u32, Option<OpId>>,
}

impl HttpHooks {
    pub(crate) fn new(policy: Arc<HttpPolicy>, deadline: Instant) -> Self {
        HttpHooks {
            policy,
            in_step: false,
            deadline,
            ready: None,
            awaited: HashSet::new(),
            origins: HashMap::new(),
        }
    }
}

/// A request made outside a step, its body collected, waiting for the guest
/// to ask for its response: it rides in the placeholder response's extensions.
#[derive(Clone)]
struct Unsent {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    options: Option<RequestOptions>,
}

/// A pollable that is always ready.
struct AlwaysReady;

#[wasmtime_wasi::async_trait]
impl Pollable for AlwaysReady {
    async fn ready(&mut self) {}
}

/// A response read whole.
struct Received {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<(
                Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

type Result<T, E = Error> = std::result::Result<T, E>;

/// How long `get` waits for a finished request body to be collected.
const BODY_FINISHED_WITHIN: Duration = Duration::from_secs(10);

/// The most bytes one write to a request body may carry (what
/// `blocking-write-and-flush` takes): with [`MAX_HTTP_REQUEST_BODY`] it
/// bounds what a body buffers before anything reads it.
const BODY_CHUNK: usize = 4096;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<()>> + Send>,
    ) -> SendFuture {
        let policy = self.policy.clone();
        let (in_step, deadline) = (self.in_step, self.deadline);
        let done = || Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>;
        let (parts, mut body) = request.into_parts();
        // Refused before anything is recorded: the URL would be the name.
        if parts
            .uri
            .authority()
            .is_some_and(|a| a.as_str().contains('@'))
        {
            return Box::new(async { Err(Error::HttpRequestUriInvalid) });
        }
        let shown = parts.uri.to_string();
        let unsent = move |body: Bytes| Unsent {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            body,
            options,
        };
        // Outside a step, a body already whole (a blocking client wrote it
        // first) makes the response ready at once: no task to wait for.
        let mut prefix = Vec::new();
        if !in_step {
            match collect_now(&mut body, &mut prefix, MAX_HTTP_REQUEST_BODY) {
                Poll::Ready(Ok(())) => {
                    self.ready = Some(unsent(prefix.into()));
                    // Never awaited: `handle` (shadowed) replaces its future.
                    return Box::new(async { Err(Error::InternalError(None)) });
                }
                Poll::Ready(Err(error)) => return Box::new(async { Err(error) }),
                Poll::Pending => {}
            }
        }
        Box::new(async move {
            // Outside a step, `get` decides when waiting is over (the outcome
            // must not depend on time). Inside one, a guest that waits for
            // the response before it finishes the body gets an error.
            let rest = if !in_step {
                collect(body, MAX_HTTP_REQUEST_BODY).await?
            } else {
                tokio::time::timeout(policy.timeout, collect(body, MAX_HTTP_REQUEST_BODY))
                    .await
                    .map_err(|_| {
                        Error::InternalError(Some(format!(
                            "the request body of {shown} was not finished within {:?} of sending the request",
                            policy.timeout
                        )))
                    })??
            };
            if prefix.len() + rest.len() > MAX_HTTP_REQUEST_BODY {
                return Err(Error::HttpRequestBodySize(Some(
                    MAX_HTTP_REQUEST_BODY as u64,
                )));
            }
            prefix.extend_from_slice(&rest);
            let unsent = unsent(prefix.into());
            if !in_step {
                // Journaled when the guest asks for the response.
                let mut placeholder = Response::new(empty_body());
                placeholder.extensions_mut().insert(unsent);
                return Ok((placeholder, done()));
            }
            let received = send(&policy, deadline, unsent)
                .await
                .map_err(|failed| failed.code)?;
            let mut response = Response::new(full_body(received.body));
            *response.status_mut() = http::StatusCode::from_u16(received.status)
                .map_err(|e| Error::InternalError(Some(e.to_string())))?;
            *response.headers_mut() = received.headers;
            Ok((response, done()))
        })
    }

    /// Lets a blocking guest write a whole body before it sends the request
    /// (with the default, one chunk, it would wait for a reader forever), in
    /// chunks small enough that the buffer stays within the body's bound.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        MAX_HTTP_REQUEST_BODY / BODY_CHUNK
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK
    }
}

/// A failed exchange: the wasi:http error, and why where its code does not
/// say (a name that resolves to a link-local address).
struct Failed {
    code: Error,
    why: Option<String>,
}

impl From<Error> for Failed {
    fn from(code: Error) -> Failed {
        Failed { code, why: None }
    }
}

/// Sends `unsent` under `policy` and reads the whole response, by `deadline`.
async fn send(
    policy: &HttpPolicy,
    deadline: Instant,
    unsent: Unsent,
) -> std::result::Result<Received, Failed> {
    if policy.refusal(&unsent.uri).is_some() {
        return Err(if unsent
            .uri
            .authority()
            .is_some_and(|a| a.as_str().contains('@'))
        {
            Error::HttpRequestUriInvalid
        } else {
            Error::HttpRequestDenied
        }
        .into());
    }
    // A name is resolved once, here: what it resolved to is judged, and
    // (over plain HTTP) connected to, so that a name whose answer changes
    // in between (DNS rebinding) cannot slip a link-local address past.
    let pinned = if policy.allow_link_local {
        None
    } else {
        resolve_checked(&unsent.uri).await.map_err(|why| Failed {
            code: Error::HttpRequestDenied,
            why: Some(why),
        })?
    };
    let given = unsent.options.unwrap_or_default();
    let options = RequestOptions {
        connect_timeout: given.connect_timeout.or(Some(policy.timeout)),
        first_byte_timeout: given.first_byte_timeout.or(Some(policy.timeout)),
        between_bytes_timeout: given.between_bytes_timeout.or(Some(policy.timeout)),
    };
    let mut request = Request::new(Full::new(unsent.body).map_err(|never| match never {}));
    *request.method_mut() = unsent.method;
    *request.headers_mut() = unsent.headers;
    *request.uri_mut() = match pinned {
        Some(address) => {
            // The server still sees the name it was addressed by.
            if let Some(authority) = unsent.uri.authority()
                && !request.headers().contains_key(http::header::HOST)
                && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
            {
                request.headers_mut().insert(http::header::HOST, host);
            }
            pinned_uri(&unsent.uri, address).unwrap_or_else(|| unsent.uri.clone())
        }
        None => unsent.uri.clone(),
    };
    let exchange = async {
        let (response, io) =
            wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
        // The connection's I/O runs beside the body's reading.
        let io = wasmtime_wasi::runtime::spawn(async move {
            let _ = io.await;
        });
        let (parts, body) = response.into_parts();
        let body = collect(body, policy.body_cap)
            .await
            .map_err(|error| match error {
                Error::HttpRequestBodySize(size) => Error::HttpResponseBodySize(size),
                other => other,
            });
        drop(io);
        Ok::<_, Error>(Received {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body?,
        })
    };
    // Each phase has its timeout; a server that drips bytes forever meets this one.
    let left = deadline.saturating_duration_since(Instant::now());
    Ok(tokio::time::timeout(left, exchange)
        .await
        .map_err(|_| Error::HttpResponseTimeout)??)
}

/// Resolves `uri`'s host, if it is a name: `Err` (why) when it resolves to
/// a link-local address; else, for plain HTTP, the address to connect to
/// (`None` for an address, for HTTPS, whose certificate check names the
/// host and whose peer at a link-local address would not pass it, and for
/// a name that does not resolve: the connection reports that).
async fn resolve_checked(uri: &Uri) -> std::result::Result<Option<std::net::SocketAddr>, String> {
    let Some(authority) = uri.authority() else {
        return Ok(None);
    };
    let host = authority.host();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(None); // an address: `refusal` has judged it
    }
    let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let Ok(addresses) = tokio::net::lookup_host((host, port)).await else {
        return Ok(None);
    };
    let addresses: Vec<std::net::SocketAddr> = addresses.collect();
    if let Some(ip) = addresses
        .iter()
        .map(|address| address.ip())
        .find(|ip| crate::limits::is_link_local(*ip))
    {
        return Err(crate::limits::link_local_refusal(host, Some(ip)));
    }
    Ok(if tls {
        None
    } else {
        addresses.first().copied()
    })
}

/// `uri` addressed to `address` instead of its host.
fn pinned_uri(uri: &Uri, address: std::net::SocketAddr) -> Option<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(address.to_string().parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Reads what `body` holds already, without waiting: `Ready` once it is
/// whole (or failed), `Pending` if the guest has yet to write or finish it.
fn collect_now(body: &mut WasiBody, bytes: &mut Vec<u8>, cap: usize) -> Poll<Result<()>> {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        match std::pin::Pin::new(&mut *body).poll_frame(&mut context) {
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error)),
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                    if bytes.len() > cap {
                        return Poll::Ready(Err(Error::HttpRequestBodySize(Some(cap as u64))));
                    }
                }
            }
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Reads `body` whole, refusing more than `cap` bytes (a request body's
/// size error, carrying the cap).
async fn collect(
    body: impl http_body::Body<Data = Bytes, Error = Error>,
    cap: usize,
) -> Result<Bytes> {
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() > cap {
                return Err(Error::HttpRequestBodySize(Some(cap as u64)));
            }
        }
    }
    Ok(bytes.into())
}

fn empty_body() -> WasiBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full_body(bytes: Bytes) -> WasiBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Shadows `outgoing-handler.handle` (a request whose body is whole is
/// ready at once) and `future-incoming-response.get` (where the journal
/// answers for requests made outside a step).
pub(super) fn shadow(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker
        .instance(&format!("wasi:http/outgoing-handler@{WASI_VERSION}"))?
        .func_wrap(
            "handle",
            |mut store: StoreContextMut<'_, HostState>,
             (request, options): (
                Resource<HostOutgoingRequest>,
                Option<Resource<RequestOptions>>,
            )| {
                store
                    .data_mut()
                    .handle(request, options)
                    .map(|sent| (sent,))
            },
        )?;
    linker
        .instance(&format!("wasi:http/types@{WASI_VERSION}"))?
        .func_wrap(
            "[method]future-incoming-response.get",
            |mut store: StoreContextMut<'_, HostState>,
             (id,): (Resource<HostFutureIncomingResponse>,)| {
                store.data_mut().future_response(id).map(|got| (got,))
            },
        )?;
    linker
        .instance(&format!("wasi:http/types@{WASI_VERSION}"))?
        .func_wrap(
            "[method]future-incoming-response.subscribe",
            |mut store: StoreContextMut<'_, HostState>,
             (id,): (Resource<HostFutureIncomingResponse>,)| {
                store
                    .data_mut()
                    .subscribe_response(id)
                    .map(|pollable| (pollable,))
            },
        )?;
    Ok(())
}

type Got = Option<Result<Result<Resource<HostIncomingResponse>, ErrorCode>, ()>>;

impl HostState {
    fn handle(
        &mut self,
        request: Resource<HostOutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<Result<Resource<HostFutureIncomingResponse>, ErrorCode>> {
        use wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host as _;
        let sent = match wasmtime_wasi_http::WasiHttpView::http(self).handle(request, options) {
            Ok(sent) => sent,
            Err(error) => return error.downcast().map(Err),
        };
        // Set for every new response: a freed resource's number is reused.
        let origin = self.replayer.open_step().map(str::to_owned);
        self.http_hooks.awaited.remove(&sent.rep());
        self.http_hooks.origins.insert(sent.rep(), origin);
        if let Some(unsent) = self.http_hooks.ready.take() {
            let mut placeholder = Response::new(empty_body());
            placeholder.extensions_mut().insert(unsent);
            let io = wasmtime_wasi::runtime::spawn(async {});
            *self.table.get_mut(&sent)? = HostFutureIncomingResponse::Ready(Ok((placeholder, io)));
        } else if self.replayer.open_step().is_none() {
            self.http_hooks.awaited.insert(sent.rep());
        }
        Ok(Ok(sent))
    }

    /// Refuses to answer for a response outside the scope its request was
    /// sent from: a step's body runs live and only its result is recorded.
    fn check_origin(&mut self, id: &Resource<HostFutureIncomingResponse>) -> wasmtime::Result<()> {
        let Some(Some(origin)) = self.http_hooks.origins.get(&id.rep()) else {
            return Ok(()); // outside any step: `begin_exchange` checks the rest
        };
        if self.replayer.open_step() == Some(origin.as_str()) {
            return Ok(());
        }
        let origin = origin.clone();
        self.abort(Fault::Misuse(format!(
            "the response to an HTTP request sent inside the body of step {origin} was read \
             outside that step: read it before the step's body returns"
        )))
    }

    fn subscribe_response(
        &mut self,
        id: Resource<HostFutureIncomingResponse>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.check_origin(&id)?;
        if self.http_hooks.awaited.contains(&id.rep()) {
            let ready = self.table.push(AlwaysReady)?;
            return wasmtime_wasi::p2::subscribe(&mut self.table, ready);
        }
        wasmtime_wasi::p2::subscribe(&mut self.table, id)
    }

    fn future_response(
        &mut self,
        id: Resource<HostFutureIncomingResponse>,
    ) -> wasmtime::Result<Got> {
        self.check_origin(&id)?;
        if self.http_hooks.awaited.contains(&id.rep())
            && let future @ HostFutureIncomingResponse::Pending(_) = self.table.get_mut(&id)?
        {
            // Polled as ready. The guest is in this call: if it finished the
            // body, collecting it takes a moment; if not, it never will.
            // (The timer is made inside the runtime, which it needs.)
            let collected = wasmtime_wasi::runtime::in_tokio(async {
                tokio::time::timeout(BODY_FINISHED_WITHIN, future.ready()).await
            });
            if collected.is_err() {
                return self.abort(Fault::Misuse(
                    "the response to an HTTP request sent outside any step was asked for before \
                     the request's body was finished: finish the body first"
                        .into(),
                ));
            }
        }
        let unsent = match self.table.get_mut(&id)? {
            HostFutureIncomingResponse::Ready(Ok((response, _))) => {
                response.extensions_mut().remove::<Unsent>()
            }
            _ => None,
        };
        let Some(unsent) = unsent else {
            use wasmtime_wasi_http::p2::bindings::sync::http::types::HostFutureIncomingResponse as _;
            return wasmtime_wasi_http::WasiHttpView::http(self).get(id);
        };
        *self.table.get_mut(&id)? = HostFutureIncomingResponse::Consumed;
        let received = match self.exchange(unsent)? {
            Ok(received) => received,
            Err(code) => return Ok(Some(Ok(Err(code)))),
        };
        let headers = FieldMap::new_immutable(&mut self.http_hooks, received.headers);
        let response = self.table.push(HostIncomingResponse {
            status: received.status,
            headers,
            body: Some(HostIncomingBody::new(full_body(received.body))),
        })?;
        Ok(Some(Ok(Ok(response))))
    }

    /// One exchange outside a step: from the journal, or sent and recorded.
    /// Either way the guest gets what the journal holds.
    fn exchange(&mut self, unsent: Unsent) -> wasmtime::Result<Result<Received, ErrorCode>> {
        self.pause_point()?;
        let url = unsent.uri.to_string();
        let headers: Vec<(String, Vec<u8>)> = unsent
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        let fingerprint = request_fingerprint(unsent.method.as_str(), &url, &headers, &unsent.body);
        let name = exchange_name(unsent.method.as_str(), &url);
        let begin = self
            .replayer
            .begin_exchange(&name, fingerprint, now_millis());
        let result = match begin {
            Ok(StepBegin::Succeeded(record)) => return self.recorded(&record).map(Ok),
            Ok(StepBegin::Failed(error)) => return Ok(Err(code_of(&error))),
            Ok(StepBegin::Run { .. }) => {
                // Invariant 4: what the request could carry is durable first.
                if let Err(error) = self.persist() {
                    return self.abort(Abort::Storage(error));
                }
                let policy = self.http_hooks.policy.clone();
                let deadline = self.http_hooks.deadline;
                let interrupt = self.interrupt.clone();
                // A stop interrupts the exchange too: nothing is recorded.
                let sent = wasmtime_wasi::runtime::in_tokio(async {
                    tokio::select! {
                        sent = send(&policy, deadline, unsent) => Some(sent),
                        () = super::io::until_interrupted(interrupt) => None,
                    }
                });
                match sent {
                    None => return self.abort(Abort::Interrupted),
                    Some(Ok(received)) => record(fingerprint, &url, received),
                    Some(Err(failed)) => Err(error_object(&failed, &url, &policy, fingerprint)),
                }
            }
            Ok(other) => {
                return self.abort(Fault::Misuse(format!(
                    "an HTTP exchange cannot be answered with {other:?}"
                )));
            }
            Err(fault) => return self.abort(fault),
        };
        let answer = self.replayer.end_step(result.clone(), now_millis());
        if let Err(fault) = answer {
            return self.abort(fault);
        }
        match result {
            Ok(record) => self.recorded(&record).map(Ok),
            Err(error) => Ok(Err(code_of(&error))),
        }
    }

    /// The response a record holds (the core checked that it reads).
    fn recorded(&mut self, json: &str) -> wasmtime::Result<Received> {
        let Some(record) = ExchangeRecord::parse(json) else {
            return self.abort(Abort::Fail(cairn_core::ErrorObject::new(
                "Runtime.CorruptRecord",
                "a recorded HTTP response cannot be read",
            )));
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &record.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        Ok(Received {
            status: record.status,
            headers,
            body: record.body().into(),
        })
    }
}

/// The record of a response received: its JSON, or why it cannot be
/// recorded (it must fit a checkpoint, as any step's result).
fn record(
    fingerprint: u64,
    url: &str,
    received: Received,
) -> Result<String, cairn_core::ErrorObject> {
    let headers = received
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            (name.to_string(), value.into_owned())
        })
        .collect();
    let json = ExchangeRecord::new(
        fingerprint,
        received.status,
        headers,
        received.body.to_vec(),
    )
    .to_json();
    if json.len() <= MAX_PAYLOAD_BYTES {
        return Ok(json);
    }
    let mut error = cairn_core::ErrorObject::new(
        format!("{HTTP_ERROR_PREFIX}HttpResponseBodySize"),
        format!(
            "{url}: the response records as {} bytes; a recorded exchange holds at most {} \
             (send the request inside a step and keep what you need)",
            json.len(),
            MAX_PAYLOAD_BYTES
        ),
    );
    error.error_data = Some(ExchangeRecord::failed_data(fingerprint));
    Err(error)
}

/// The recorded error of a failed exchange: `Http.` and the wasi:http error
/// code's name, what happened, and the request's fingerprint as its data.
fn error_object(
    failed: &Failed,
    url: &str,
    policy: &HttpPolicy,
    fingerprint: u64,
) -> cairn_core::ErrorObject {
    let error = &failed.code;
    let code = code_for(error);
    let debug = format!("{code:?}");
    let name = debug
        .split(['(', ' ', '{'])
        .next()
        .and_then(|path| path.rsplit("::").next())
        .unwrap_or("InternalError");
    let message = match error {
        _ if failed.why.is_some() => format!("{url}: {}", failed.why.as_deref().unwrap_or("")),
        Error::InternalError(Some(message)) => message.clone(),
        Error::HttpRequestDenied | Error::HttpRequestUriInvalid => {
            let refusal = url.parse().ok().and_then(|uri| policy.refusal(&uri));
            format!("{url}: {}", refusal.unwrap_or_else(|| error.to_string()))
        }
        Error::HttpResponseBodySize(_) => format!(
            "{url}: the response body is larger than the {}-byte cap on HTTP responses",
            policy.body_cap
        ),
        other => format!("{url}: {other}"),
    };
    let mut object = cairn_core::ErrorObject::new(format!("{HTTP_ERROR_PREFIX}{name}"), message);
    object.error_data = Some(ExchangeRecord::failed_data(fingerprint));
    object
}

/// The wasi:http error code for a failed exchange.
fn code_for(error: &Error) -> ErrorCode {
    match error {
        Error::Connect(_) | Error::ConnectionRefused => ErrorCode::ConnectionRefused,
        Error::ConnectionTimeout => ErrorCode::ConnectionTimeout,
        Error::ConnectionReadTimeout => ErrorCode::ConnectionReadTimeout,
        Error::ConnectionTerminated => ErrorCode::ConnectionTerminated,
        Error::HttpResponseTimeout => ErrorCode::HttpResponseTimeout,
        Error::HttpRequestUriInvalid => ErrorCode::HttpRequestUriInvalid,
        Error::DestinationNotFound => ErrorCode::DestinationNotFound,
        Error::DestinationUnavailable => ErrorCode::DestinationUnavailable,
        Error::Tls(_) | Error::TlsProtocolError => ErrorCode::TlsProtocolError,
        Error::TlsCertificateError => ErrorCode::TlsCertificateError,
        Error::HttpResponseIncomplete => ErrorCode::HttpResponseIncomplete,
        Error::HttpRequestDenied => ErrorCode::HttpRequestDenied,
        Error::DnsTimeout => ErrorCode::DnsTimeout,
        Error::DnsError { rcode, info_code } => ErrorCode::DnsError(DnsErrorPayload {
            rcode: rcode.clone(),
            info_code: *info_code,
        }),
        Error::InvalidDnsNameError(_) => ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("invalid dns name".into()),
            info_code: None,
        }),
        Error::ConnectionWriteTimeout => ErrorCode::ConnectionWriteTimeout,
        Error::ConnectionLimitReached => ErrorCode::ConnectionLimitReached,
        Error::DestinationIpProhibited => ErrorCode::DestinationIpProhibited,
        Error::DestinationIpUnroutable => ErrorCode::DestinationIpUnroutable,
        Error::HttpRequestUriTooLong => ErrorCode::HttpRequestUriTooLong,
        Error::HttpRequestMethodInvalid => ErrorCode::HttpRequestMethodInvalid,
        Error::HttpResponseBodySize(size) => ErrorCode::HttpResponseBodySize(*size),
        Error::HttpRequestBodySize(size) => ErrorCode::HttpRequestBodySize(*size),
        Error::Hyper(error) if error.is_timeout() => ErrorCode::HttpResponseTimeout,
        Error::Hyper(_) | Error::HttpProtocolError => ErrorCode::HttpProtocolError,
        Error::InternalError(message) => ErrorCode::InternalError(message.clone()),
        other => ErrorCode::InternalError(Some(other.to_string())),
    }
}

/// The wasi:http error code a recorded failure stands for.
fn code_of(error: &cairn_core::ErrorObject) -> ErrorCode {
    let name = error
        .error_type
        .strip_prefix(HTTP_ERROR_PREFIX)
        .unwrap_or_default();
    match name {
        "ConnectionRefused" => ErrorCode::ConnectionRefused,
        "ConnectionTimeout" => ErrorCode::ConnectionTimeout,
        "ConnectionReadTimeout" => ErrorCode::ConnectionReadTimeout,
        "ConnectionTerminated" => ErrorCode::ConnectionTerminated,
        "HttpResponseTimeout" => ErrorCode::HttpResponseTimeout,
        "HttpRequestUriInvalid" => ErrorCode::HttpRequestUriInvalid,
        "DestinationNotFound" => ErrorCode::DestinationNotFound,
        "DestinationUnavailable" => ErrorCode::DestinationUnavailable,
        "TlsProtocolError" => ErrorCode::TlsProtocolError,
        "TlsCertificateError" => ErrorCode::TlsCertificateError,
        "HttpResponseIncomplete" => ErrorCode::HttpResponseIncomplete,
        "HttpProtocolError" => ErrorCode::HttpProtocolError,
        "HttpRequestDenied" => ErrorCode::HttpRequestDenied,
        "DnsTimeout" => ErrorCode::DnsTimeout,
        "DnsError" => ErrorCode::DnsError(DnsErrorPayload {
            rcode: None,
            info_code: None,
        }),
        "ConnectionWriteTimeout" => ErrorCode::ConnectionWriteTimeout,
        "ConnectionLimitReached" => ErrorCode::ConnectionLimitReached,
        "DestinationIpProhibited" => ErrorCode::DestinationIpProhibited,
        "DestinationIpUnroutable" => ErrorCode::DestinationIpUnroutable,
        "HttpRequestUriTooLong" => ErrorCode::HttpRequestUriTooLong,
        "HttpRequestMethodInvalid" => ErrorCode::HttpRequestMethodInvalid,
        "HttpResponseBodySize" => ErrorCode::HttpResponseBodySize(None),
        "HttpRequestBodySize" => ErrorCode::HttpRequestBodySize(None),
        _ => ErrorCode::InternalError(Some(error.error_message.clone())),
    }
}
