//! The HTTP API of `cairn serve`: Lambda's durable-execution paths and
//! shapes (REST-JSON, version 2025-12-01), so that the AWS CLI and SDKs work
//! against it unchanged when given its endpoint URL. Executions start
//! through Lambda's own Invoke path with a durable execution name, as they
//! do in AWS. One path is Cairn's own: registering a workflow by name.
//!
//! Handlers do their store work on tokio's blocking pool: SQLite calls
//! block, and a start may compile a component.

mod cloudwatch;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cairn_cli::auth::{self, Credentials};
use cairn_core::history::{self, epoch_seconds, error_from_json, execution_arn, function_arn};
use cairn_core::{ErrorObject, Millis};
use cairn_engine::invocation::now_millis;
use cairn_engine::limits::{MAX_COMPONENT_BYTES, MAX_PAYLOAD_BYTES};
use cairn_engine::runner::{RunRequest, canonical_input, recorded_outcome, start};
use cairn_engine::server::Server;
use cairn_engine::sqlite::{
    Completion, Deployed, ListQuery, PauseRequest, Refused, Shown, Stopped,
};
use cairn_engine::{Db, Engine, Execution, Outcome};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// What the handlers share: their own connection to the store, and the
/// engine (to check and compile components before executions start).
#[derive(Clone)]
pub struct Api {
    pub db: Db,
    pub engine: Arc<Engine>,
    /// The scheduler and workers: woken by news, told of stops.
    pub server: Arc<Server>,
    /// The server's HTTP policy, which deployed allowlists extend.
    pub http: Arc<cairn_engine::limits::HttpPolicy>,
}

pub fn router(api: Api, guard: Arc<Guard>) -> Router {
    const EXECUTION: &str = "/2025-12-01/durable-executions/{arn}";
    const CALLBACK: &str = "/2025-12-01/durable-execution-callbacks/{id}";
    Router::new()
        .route(EXECUTION, get(get_execution).delete(delete_execution))
        .route(&format!("{EXECUTION}/history"), get(get_history))
        .route(&format!("{EXECUTION}/stop"), post(stop_execution))
        .route(&format!("{EXECUTION}/pause"), post(pause_execution))
        .route(&format!("{EXECUTION}/resume"), post(resume_execution))
        .route(
            "/2025-12-01/functions/{function}/durable-executions",
            get(list_executions),
        )
        .route(&format!("{CALLBACK}/succeed"), post(callback_succeed))
        .route(&format!("{CALLBACK}/fail"), post(callback_fail))
        .route(&format!("{CALLBACK}/heartbeat"), post(callback_heartbeat))
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route("/2015-03-31/functions", get(list_functions))
        .route("/2015-03-31/functions/", get(list_functions))
        .route("/2015-03-31/functions/{function}", get(get_function))
        .route(
            "/2015-03-31/functions/{function}/versions",
            get(list_versions),
        )
        .route("/cairn/workflows/{name}", put(deploy))
        .route("/", post(cloudwatch::handle))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_method)
        // The guard reads every body, within its bound (`body_limit`).
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(api)
        // Every request, routed or not, is checked before anything reads it.
        .layer(axum::middleware::from_fn_with_state(guard, check_request))
}

/// Who may send requests: checked before any handler runs, and before an
/// unknown path is told apart from a known one.
pub struct Guard {
    /// The credentials requests must be signed with (`None`: `--no-auth`).
    pub credentials: Option<Credentials>,
    /// The `Host` headers accepted (`None`: any). A page whose name was
    /// made to resolve to 127.0.0.1 (DNS rebinding) sends its own name.
    pub hosts: Option<Vec<String>>,
}

impl Guard {
    /// The `Host` values a client of a server on `listen` sends: the address
    /// itself and, on loopback, `localhost`.
    pub fn hosts_for(listen: std::net::SocketAddr) -> Vec<String> {
        let mut hosts = vec![listen.to_string()];
        if listen.ip().is_loopback() {
            hosts.push(format!("localhost:{}", listen.port()));
        }
        hosts
    }

    async fn check(&self, request: Request) -> Result<Request, ApiError> {
        if let Some(hosts) = &self.hosts {
            let host = request
                .headers()
                .get(axum::http::header::HOST)
                .and_then(|value| value.to_str().ok());
            if !host.is_some_and(|host| hosts.iter().any(|h| h.eq_ignore_ascii_case(host))) {
                return Err(ApiError {
                    status: StatusCode::FORBIDDEN,
                    kind: "AccessDeniedException",
                    message: format!(
                        "the Host header {host:?} is not this server's address ({}): \
                         requests through another name (DNS rebinding) are refused",
                        hosts.join(" or ")
                    ),
                });
            }
        }
        let (parts, body) = request.into_parts();
        let refused = |refusal: auth::Refusal| ApiError {
            status: StatusCode::FORBIDDEN,
            kind: refusal.kind,
            message: refusal.message,
        };
        // Who it is from, before a byte of the body is read.
        let now = std::time::SystemTime::now();
        let claimed = match &self.credentials {
            Some(credentials) => Some((
                auth::check_headers(&parts.headers, credentials, now).map_err(refused)?,
                credentials,
            )),
            None => None, // `--no-auth`
        };
        let body = axum::body::to_bytes(body, body_limit(&parts))
            .await
            .map_err(|error| {
                if std::error::Error::source(&error)
                    .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
                {
                    too_large()
                } else {
                    ApiError::invalid_content(format!("cannot read the request body: {error}"))
                }
            })?;
        if let Some((claimed, credentials)) = &claimed {
            // CloudWatch Logs' calls are scoped to `logs`, Lambda's to `lambda`.
            let service = auth::service_for(parts.uri.path());
            if claimed.service() != service {
                return Err(refused(auth::Refusal {
                    kind: "InvalidSignatureException",
                    message: format!(
                        "Credential should be scoped to correct service: '{service}'."
                    ),
                }));
            }
            let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            auth::verify_claimed(
                claimed,
                parts.method.as_str(),
                target,
                &parts.headers,
                &body,
                credentials,
            )
            .map_err(refused)?;
        }
        Ok(Request::from_parts(parts, axum::body::Body::from(body)))
    }
}

async fn check_request(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match guard.check(request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "UnknownOperationException",
        message: format!("no operation is at {method} {}", uri.path()),
    }
}

async fn unknown_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: "MethodNotAllowedException",
        message: format!("{} does not take {method}", uri.path()),
    }
}

/// How much of a request's body is read: a component upload may be large.
fn body_limit(parts: &axum::http::request::Parts) -> usize {
    if parts.method == axum::http::Method::PUT && parts.uri.path().starts_with("/cairn/workflows/")
    {
        MAX_COMPONENT_BYTES
    } else {
        MAX_BODY
    }
}

fn too_large() -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        kind: "RequestTooLargeException",
        message: format!(
            "the request body is larger than {MAX_BODY} bytes ({MAX_COMPONENT_BYTES} for a component)"
        ),
    }
}

/// The largest request body read: a payload is at most 256 KiB, JSON
/// escaping may double it.
const MAX_BODY: usize = 1 << 20;

/// An execution as ListDurableExecutionsByFunction lists it.
pub fn list_item(execution: &Execution) -> Value {
    let mut item = json!({
        "DurableExecutionArn": execution_arn(&execution.workflow, &execution.name),
        "DurableExecutionName": execution.name,
        "FunctionArn": function_arn(&execution.workflow),
        "Status": execution.shown_status(),
        "StartTimestamp": epoch_seconds(execution.started_at),
    });
    if let Some(ended_at) = execution.ended_at {
        item["EndTimestamp"] = epoch_seconds(ended_at);
    }
    item
}

/// An execution as GetDurableExecution shows it (the pause's reason only
/// `with_data`, as in AWS).
pub fn summary(execution: &Execution, with_data: bool) -> Value {
    let mut summary = history::execution_summary(&history::ExecutionInfo {
        name: &execution.name,
        workflow: &execution.workflow,
        status: execution.shown_status(),
        input: &execution.input,
        result: execution.result.as_deref(),
        error: execution.error.as_ref(),
        started_at: execution.started_at,
        ended_at: execution.ended_at,
    });
    if let Some(pause) = execution
        .pause
        .as_ref()
        .filter(|_| execution.ended_at.is_none())
    {
        let mut details = json!({
            "PauseRequestTimestamp": epoch_seconds(pause.requested_at),
            "ExecutionTimeoutPaused": pause.timeout_paused,
        });
        if let Some(reason) = pause.reason.as_ref().filter(|_| with_data) {
            details["Reason"] = json!(reason);
        }
        summary["PauseDetails"] = details;
    }
    summary
}

async fn get_execution(
    State(api): State<Api>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let with_data = Query::parse(query.as_deref())?.flag("IncludeExecutionData")?;
    let execution = blocking(move || find_by_arn(&api.db, &arn)).await?;
    Ok(json_response(
        StatusCode::OK,
        summary(&execution, with_data),
    ))
}

async fn get_history(
    State(api): State<Api>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let reverse = query.flag("ReverseOrder")?;
    let limit = max_items(&query, MAX_HISTORY_PAGE)?;
    // The marker is where the last page ended in the journal: a page reads
    // only itself, however long the history.
    let after = marker(&query)?;
    let (execution, page) = blocking(move || {
        let execution = find_by_arn(&api.db, &arn)?;
        let page = api.db.history_page(execution.id, after, reverse, limit)?;
        Ok((execution, page))
    })
    .await?;
    let mut events: Vec<Value> = page
        .events
        .iter()
        .map(|event| event.to_aws(&execution.name))
        .collect();
    if !query.flag("IncludeExecutionData")? {
        history::without_execution_data(&mut events);
    }
    let mut body = json!({ "Events": events });
    if let Some(next) = page.next {
        body["NextMarker"] = json!(next.to_string());
    }
    Ok(json_response(StatusCode::OK, body))
}

async fn list_executions(
    State(api): State<Api>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let function = history::function_of(&function).to_owned();
    let statuses = query
        .all("Statuses")
        .map(|text| {
            Shown::parse(text)
                .ok_or_else(|| ApiError::invalid(format!("Statuses: unknown status {text:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = query.get("DurableExecutionName").map(str::to_owned);
    let started_after = query.timestamp("StartedAfter")?;
    let started_before = query.timestamp("StartedBefore")?;
    let newest_first = query.flag("ReverseOrder")?;
    let limit = max_items(&query, MAX_LIST_PAGE)?;
    // The marker is the id of the last execution listed: a page costs its
    // own length, however many executions come before it.
    let after = marker(&query)?;
    let (registered, mut executions) = blocking({
        let function = function.clone();
        move || {
            let registered = api.db.workflow_path(&function)?.is_some();
            let page = api.db.list_page(&ListQuery {
                workflow: &function,
                statuses: &statuses,
                name: name.as_deref(),
                started_after,
                started_before,
                newest_first,
                after,
                limit: limit + 1,
            })?;
            Ok((registered, page))
        }
    })
    .await?;
    if executions.is_empty() && after.is_none() && !registered {
        return Err(ApiError::not_found(format!(
            "Function not found: {}",
            function_arn(&function)
        )));
    }
    let more = executions.len() > limit;
    executions.truncate(limit);
    let next = more.then(|| executions.last().map(|last| last.id.to_string()));
    let items: Vec<Value> = executions.iter().map(list_item).collect();
    let mut body = json!({ "DurableExecutions": items });
    if let Some(Some(next)) = next {
        body["NextMarker"] = json!(next);
    }
    Ok(json_response(StatusCode::OK, body))
}

async fn stop_execution(
    State(api): State<Api>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let error = match optional_json(&body)? {
        Some(value) => error_from_json(&value, "Execution.Stopped"),
        None => ErrorObject::new("Execution.Stopped", "Execution stopped by user request"),
    };
    let stopped = blocking(move || {
        let execution = find_by_arn(&api.db, &arn)?;
        let stopped = api.db.stop(&execution.name, error, now_millis())?;
        // Its invocation in progress, if any, ends now too.
        api.server.interrupt(execution.id);
        api.server.ended(&execution.name);
        Ok(stopped)
    })
    .await?;
    let at = match stopped {
        Stopped::Now(at) | Stopped::AlreadyEnded(_, at) => at,
    };
    Ok(json_response(
        StatusCode::OK,
        json!({ "StopTimestamp": epoch_seconds(at) }),
    ))
}

/// The body of a pause or resume: `ClientToken`, `Reason` and (a pause's)
/// `ExecutionTimeoutPaused`, all optional; their bounds are AWS's.
fn pause_request(body: &[u8]) -> Result<PauseRequest, ApiError> {
    let body = optional_json(body)?.unwrap_or_else(|| json!({}));
    let text = |key: &str, max: usize| -> Result<Option<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.len() <= max => Ok(Some(text.clone())),
            Some(Value::String(_)) => Err(ApiError::invalid(format!(
                "{key} is longer than {max} characters"
            ))),
            Some(_) => Err(ApiError::invalid(format!("{key} must be a string"))),
        }
    };
    let client_token = text("ClientToken", 64)?;
    if client_token
        .as_ref()
        .is_some_and(|token| token.is_empty() || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)))
    {
        return Err(ApiError::invalid(
            "ClientToken must be 1 to 64 printable ASCII characters without spaces",
        ));
    }
    let timeout_paused = match body.get("ExecutionTimeoutPaused") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(paused)) => *paused,
        Some(_) => {
            return Err(ApiError::invalid(
                "ExecutionTimeoutPaused must be a boolean",
            ));
        }
    };
    Ok(PauseRequest {
        reason: text("Reason", 1024)?,
        timeout_paused,
        client_token,
    })
}

/// Lambda's PauseDurableExecution: the execution is no longer invoked
/// (an invocation in progress stops at its next durability point); its
/// timers, callbacks and invoked executions go on completing.
async fn pause_execution(
    State(api): State<Api>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = pause_request(&body)?;
    blocking(move || {
        let execution = find_by_arn(&api.db, &arn)?;
        api.db.pause(&execution.name, request, now_millis())?;
        // Its invocation in progress here, if any, stops before its next step.
        api.server.pause(execution.id);
        Ok(())
    })
    .await?;
    Ok(json_response(StatusCode::ACCEPTED, json!({})))
}

/// Lambda's ResumeDurableExecution.
async fn resume_execution(
    State(api): State<Api>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = pause_request(&body)?;
    blocking(move || {
        let execution = find_by_arn(&api.db, &arn)?;
        api.db.resume(&execution.name, request, now_millis())?;
        api.server.wake();
        Ok(())
    })
    .await?;
    Ok(json_response(StatusCode::ACCEPTED, json!({})))
}

/// Lambda's DeleteDurableExecution: an ended execution and all it
/// recorded. Done before the answer, so it is never seen DELETING.
async fn delete_execution(
    State(api): State<Api>,
    Path(arn): Path<String>,
) -> Result<Response, ApiError> {
    let at = now_millis();
    blocking(move || {
        let execution = find_by_arn(&api.db, &arn)?;
        api.db.delete(&execution.name)?;
        Ok(())
    })
    .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        json!({ "DeletionRequestTimestamp": epoch_seconds(at) }),
    ))
}

async fn callback_succeed(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid(format!(
            "the result is {} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes",
            body.len()
        )));
    }
    // No result is JSON null, as Lambda's backend hands it to a workflow
    // (an empty string would decode as no type at all).
    let result = if body.is_empty() {
        "null".to_owned()
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::invalid("the result is not UTF-8 text"))?
    };
    complete(api, id, Completion::Succeed(result)).await
}

async fn callback_fail(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let error = match optional_json(&body)? {
        Some(value) => error_from_json(&value, "CallbackFailed"),
        None => ErrorObject::new("CallbackFailed", ""),
    };
    complete(api, id, Completion::Fail(error)).await
}

async fn callback_heartbeat(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    complete(api, id, Completion::Heartbeat).await
}

async fn complete(api: Api, id: String, completion: Completion) -> Result<Response, ApiError> {
    blocking(move || {
        api.db.complete_callback(&id, completion, now_millis())?;
        api.server.wake();
        Ok(())
    })
    .await?;
    Ok(json_response(StatusCode::OK, json!({})))
}

/// Lambda's Invoke with `X-Amz-Durable-Execution-Name`: starts the
/// execution (idempotent by name), then answers at once (`Event`) or when it
/// has ended (`RequestResponse`, the default).
async fn invoke(
    State(api): State<Api>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let wait = match header("X-Amz-Invocation-Type").unwrap_or("RequestResponse") {
        "RequestResponse" => true,
        "Event" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "X-Amz-Invocation-Type {other:?}: use RequestResponse or Event"
            )));
        }
    };
    let function = history::function_of(&function).to_owned();
    // A name that is there but unreadable is refused, not replaced: a
    // retried start must find the execution it started.
    let name = match headers.get("X-Amz-Durable-Execution-Name") {
        Some(value) => {
            let name = value.to_str().map_err(|_| {
                ApiError::invalid("X-Amz-Durable-Execution-Name: a name is 1 to 64 of the characters a-z A-Z 0-9 - _")
            })?;
            crate::check_execution_name(name).map_err(|e| ApiError::invalid(e.to_string()))?;
            name.to_owned()
        }
        None => format!("{function}-{}", crate::random_suffix()),
    };
    let input = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid_content("the payload is not UTF-8 text"))?;
    let input = if input.trim().is_empty() {
        "null".to_owned()
    } else {
        canonical_input(input).map_err(|e| ApiError::invalid_content(e.to_string()))?
    };
    let execution = blocking({
        let api = api.clone();
        let function = function.clone();
        move || {
            let (path, hash) = api.db.workflow(&function)?.ok_or_else(|| {
                ApiError::not_found(format!(
                    "Function not found: {} (cairn deploy {function} COMPONENT)",
                    function_arn(&function)
                ))
            })?;
            // Compiled once: in memory by its hash afterwards.
            let workflow = api.engine.load_deployed(&path, hash.as_ref())?;
            let request = RunRequest {
                workflow: &workflow,
                workflow_name: &function,
                name: &name,
                input: &input,
                timeout: None,
                component_path: Some(&path),
                parent: None,
            };
            let execution = start(&api.db, &request)?;
            api.server.wake();
            Ok(execution)
        }
    })
    .await?;
    if execution.workflow != function {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            kind: "DurableExecutionAlreadyStartedException",
            message: format!(
                "execution {:?} already exists, of function {}",
                execution.name, execution.workflow
            ),
        });
    }
    let arn = execution_arn(&execution.workflow, &execution.name);
    let mut response = if wait {
        let outcome = ended(&api, &execution.name).await?;
        match outcome {
            Outcome::Succeeded(result) => (StatusCode::OK, result).into_response(),
            Outcome::Failed(error) => {
                let mut response = json_response(
                    StatusCode::OK,
                    json!({ "errorType": error.error_type, "errorMessage": error.error_message }),
                );
                response.headers_mut().insert(
                    "X-Amz-Function-Error",
                    HeaderValue::from_static("Unhandled"),
                );
                response
            }
        }
    } else {
        StatusCode::ACCEPTED.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        "X-Amz-Durable-Execution-Arn",
        HeaderValue::from_str(&arn).map_err(|e| ApiError::internal(e.to_string()))?,
    );
    headers.insert(
        "X-Amz-Executed-Version",
        HeaderValue::from_static("$LATEST"),
    );
    Ok(response)
}

/// How often a waiting `RequestResponse` invoke looks at the store even
/// if not told of an end: for ends written by other processes.
const ENDED_POLL: Duration = Duration::from_secs(1);

/// Waits until the execution `name` has ended (the workers tell).
async fn ended(api: &Api, name: &str) -> Result<Outcome, ApiError> {
    loop {
        let told = api.server.watch_end(name);
        let (db, name) = (api.db.clone(), name.to_owned());
        let execution = blocking(move || find_by_name(&db, &name)).await?;
        if let Some(outcome) = recorded_outcome(&execution) {
            return Ok(outcome);
        }
        let _ = tokio::time::timeout(ENDED_POLL, told).await;
    }
}

/// Cairn's own: registers a component (a path on the server's machine) as
/// the workflow `name`. Body: `{"ComponentPath": "/abs/path.wasm"}`.
/// Cairn's own call: the body is the component's bytes (`cairn deploy
/// --server` sends them), kept beside the store by their hash; the server
/// opens no path a client names.
async fn deploy(
    State(api): State<Api>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::check_workflow_name(&name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if !body.starts_with(b"\0asm") {
        let named_path = optional_json(&body)
            .ok()
            .flatten()
            .is_some_and(|value| value.get("ComponentPath").is_some());
        return Err(ApiError::invalid_content(if named_path {
            "the server opens no path it is given: upload the component's bytes \
             (Content-Type: application/wasm), as `cairn deploy --server` does"
        } else {
            "the body must be the component's bytes (a .wasm component, Content-Type: application/wasm)"
        }));
    }
    // Hosts this workflow's HTTP requests may reach: replaced when given.
    let allow_http = match headers.get(crate::client::ALLOW_HTTP_HEADER) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| ApiError::invalid("X-Cairn-Allow-Http is not ASCII"))?;
            Some(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|host| !host.is_empty())
                    .map(str::parse::<cairn_engine::limits::AllowedHost>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ApiError::invalid(format!("X-Cairn-Allow-Http: {e}")))?,
            )
        }
    };
    if let Some(hosts) = &allow_http {
        api.http
            .check_entries(hosts)
            .map_err(|e| ApiError::invalid(format!("X-Cairn-Allow-Http: {e}")))?;
    }
    let deployed = blocking(move || {
        // Refuse what could never run before anything starts it.
        let workflow = api
            .engine
            .load(&body)
            .map_err(|e| ApiError::invalid_content(format!("{e:#}")))?;
        api.db
            .deploy_component(&name, &body, &workflow.hash, now_millis())?;
        if let Some(hosts) = allow_http {
            api.db.set_http_allowlist(&name, &hosts)?;
        }
        api.db
            .deployed(Some(&name))?
            .pop()
            .ok_or_else(|| ApiError::internal("the deploy was not recorded"))
    })
    .await?;
    Ok(json_response(
        StatusCode::OK,
        function_configuration(&deployed),
    ))
}

/// A deployed version in the shape of Lambda's FunctionConfiguration, with
/// Cairn's own `ComponentHash` (blake3, what executions are pinned to).
pub fn function_configuration(deployed: &Deployed) -> Value {
    let mut configuration = json!({
        "FunctionName": deployed.workflow,
        "FunctionArn": function_arn(&deployed.workflow),
        "Version": deployed.version.to_string(),
        "ComponentHash": cairn_engine::component::hex(&deployed.hash),
        "PackageType": "Zip",
        "Runtime": "provided.al2023",
        "State": "Active",
    });
    if let Some(size) = deployed.size {
        configuration["CodeSize"] = json!(size);
    }
    if deployed.deployed_at > 0 {
        configuration["LastModified"] =
            json!(history::iso8601(deployed.deployed_at).replace('Z', "+0000"));
    }
    configuration
}

/// Lambda's ListFunctions: every deployed workflow, its latest version.
async fn list_functions(State(api): State<Api>) -> Result<Response, ApiError> {
    let deployed = blocking(move || Ok(api.db.deployed(None)?)).await?;
    let functions: Vec<Value> = deployed.iter().map(function_configuration).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "Functions": functions }),
    ))
}

/// Lambda's GetFunction: the workflow's latest version.
async fn get_function(
    State(api): State<Api>,
    Path(function): Path<String>,
) -> Result<Response, ApiError> {
    let versions = function_versions(api, function).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "Configuration": function_configuration(versions.last().unwrap()) }),
    ))
}

/// Lambda's ListVersionsByFunction: every version deployed, oldest first,
/// as Lambda lists them.
async fn list_versions(
    State(api): State<Api>,
    Path(function): Path<String>,
) -> Result<Response, ApiError> {
    let versions = function_versions(api, function).await?;
    let versions: Vec<Value> = versions.iter().map(function_configuration).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "Versions": versions }),
    ))
}

/// The versions of a deployed workflow, oldest first (never empty).
async fn function_versions(api: Api, function: String) -> Result<Vec<Deployed>, ApiError> {
    let function = history::function_of(&function).to_owned();
    let versions = blocking({
        let function = function.clone();
        move || Ok(api.db.deployed(Some(&function))?)
    })
    .await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!(
            "Function not found: {}",
            function_arn(&function)
        )));
    }
    Ok(versions)
}

/// The execution an ARN names. Cairn's ARNs end in `/durable-execution/NAME`;
/// a bare name is accepted too.
fn find_by_arn(db: &Db, arn: &str) -> Result<Execution, ApiError> {
    let name = history::execution_of(arn).unwrap_or(arn);
    db.find(name)?
        .filter(|execution| arn == name || execution_arn(&execution.workflow, name) == arn)
        .ok_or_else(|| ApiError::not_found(format!("Durable execution not found: {arn}")))
}

fn find_by_name(db: &Db, name: &str) -> Result<Execution, ApiError> {
    db.find(name)?
        .ok_or_else(|| ApiError::not_found(format!("Durable execution not found: {name}")))
}

const MAX_HISTORY_PAGE: usize = 1000;
const MAX_LIST_PAGE: usize = 1000;

/// The `Marker` of a page after the first: where the page before it ended.
fn marker(query: &Query) -> Result<Option<i64>, ApiError> {
    query
        .get("Marker")
        .map(|marker| {
            marker
                .parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("Marker {marker:?} is not one of ours")))
        })
        .transpose()
}

/// `MaxItems`, 1 to `max_page` (`max_page` when absent).
fn max_items(query: &Query, max_page: usize) -> Result<usize, ApiError> {
    match query.get("MaxItems") {
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max_page).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("MaxItems must be 1 to {max_page}"))),
        None => Ok(max_page),
    }
}

/// A query string's pairs; repeated keys are lists (`Statuses=A&Statuses=B`).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Result<Query, ApiError> {
        serde_urlencoded::from_str(query.unwrap_or(""))
            .map(Query)
            .map_err(|e| ApiError::invalid(format!("unreadable query string: {e}")))
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::invalid(format!(
                "{key} must be true or false, not {other:?}"
            ))),
        }
    }

    /// A timestamp as the SDKs put it in a query: ISO 8601, or epoch seconds.
    fn timestamp(&self, key: &str) -> Result<Option<Millis>, ApiError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        if let Ok(seconds) = text.parse::<f64>() {
            return Ok(Some((seconds * 1000.0) as Millis));
        }
        let at = humantime::parse_rfc3339_weak(text)
            .map_err(|e| ApiError::invalid(format!("{key} {text:?}: {e}")))?;
        let since_epoch = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| ApiError::invalid(format!("{key} is before 1970")))?;
        Ok(Some(since_epoch.as_millis() as Millis))
    }
}

/// A JSON body, or `None` for an empty one.
fn optional_json(body: &[u8]) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("Content-Type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("a handler panicked: {e}")))?
}

/// An error as Lambda's REST-JSON API sends it: the status code, the
/// exception's name in `x-amzn-ErrorType` (what the SDKs read), and the
/// message in the body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "InvalidParameterValueException",
            message: message.into(),
        }
    }

    fn invalid_content(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "InvalidRequestContentException",
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "ResourceNotFoundException",
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "ServiceException",
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        let message = format!("{error:#}");
        let (status, kind) = match error.downcast_ref::<Refused>() {
            Some(Refused::NotFound(_)) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            Some(Refused::Closed(_)) => (StatusCode::BAD_REQUEST, "CallbackTimeoutException"),
            Some(Refused::Conflict(_)) => (
                StatusCode::CONFLICT,
                "DurableExecutionAlreadyStartedException",
            ),
            Some(Refused::State(_)) => (StatusCode::CONFLICT, "ResourceConflictException"),
            None => return ApiError::internal(message),
        };
        ApiError {
            status,
            kind,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(
            self.status,
            // `__type`: where clients of JSON-protocol services (CloudWatch
            // Logs) read the exception's name.
            json!({ "Type": "User", "Message": self.message, "message": self.message, "__type": self.kind }),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        response
    }
}
