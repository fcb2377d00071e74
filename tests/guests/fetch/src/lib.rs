//! Makes the HTTP calls its input lists, in order, each outside any step or
//! inside a step of its own (with `attempts` tries), and returns each call's
//! response or error: the tests read every outcome from one execution.
//! Two misuses on purpose, with raw wasi:http: `read_outside` sends a GET in
//! a step and reads its response after the step; `read_inside` sends it
//! outside and reads it inside a step.

use cairn::http::Request;
use cairn::{Backoff, Context, Error, Jitter, RetryStrategy, StepConfig};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, FutureIncomingResponse, OutgoingBody, OutgoingRequest, Scheme};

#[derive(Deserialize)]
struct Input {
    calls: Vec<Call>,
}

#[derive(Deserialize)]
struct Call {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    body: Option<String>,
    /// Send the body this many times over.
    #[serde(default = "one")]
    body_repeat: u32,
    #[serde(default)]
    in_step: bool,
    /// Tries of the step (inside a step only).
    #[serde(default = "one")]
    attempts: u32,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    read_outside: bool,
    #[serde(default)]
    read_inside: bool,
    /// Sends a POST and asks for its response before finishing its body.
    #[serde(default)]
    unfinished: bool,
}

fn get() -> String {
    "GET".into()
}

fn one() -> u32 {
    1
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Outcome {
    Response {
        status: u16,
        body: String,
        /// The body in hex, when it is not UTF-8.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hex: Option<String>,
    },
    Error {
        error_type: String,
        message: String,
    },
}

fn send(call: &Call) -> Result<Outcome, Error> {
    let mut request = Request::new(&call.method, &call.url);
    if let Some(body) = &call.body {
        request = request.body(body.repeat(call.body_repeat as usize));
    }
    if let Some(ms) = call.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    let response = request.send()?;
    let hex = std::str::from_utf8(&response.body)
        .is_err()
        .then(|| response.body.iter().map(|b| format!("{b:02x}")).collect());
    Ok(Outcome::Response {
        status: response.status,
        body: String::from_utf8_lossy(&response.body).into_owned(),
        hex,
    })
}

/// Sends a GET with raw wasi:http, not waiting for its response.
fn start(url: &str) -> FutureIncomingResponse {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&if scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        }))
        .unwrap();
    request.set_authority(Some(authority)).unwrap();
    request.set_path_with_query(Some(path)).unwrap();
    let body = request.body().unwrap();
    OutgoingBody::finish(body, None).unwrap();
    outgoing_handler::handle(request, None).unwrap()
}

/// The status of the response `future` brings.
fn status(future: FutureIncomingResponse) -> u16 {
    loop {
        match future.get() {
            Some(response) => return response.unwrap().unwrap().status(),
            None => future.subscribe().block(),
        }
    }
}

fn fetch(ctx: &mut Context, input: Input) -> Result<Vec<Outcome>, Error> {
    let mut outcomes = Vec::new();
    for (i, call) in input.calls.iter().enumerate() {
        if call.read_outside {
            let sent = std::cell::RefCell::new(None);
            ctx.step(&format!("call-{i}"), || {
                *sent.borrow_mut() = Some(start(&call.url));
                Ok::<_, Error>(())
            })?;
            let status = status(sent.take().unwrap());
            return Err(Error::new(
                "Unreachable",
                format!("read {status} outside the step"),
            ));
        }
        if call.unfinished {
            let request = OutgoingRequest::new(Fields::new());
            request
                .set_method(&wasip2::http::types::Method::Post)
                .unwrap();
            request.set_scheme(Some(&Scheme::Http)).unwrap();
            let (_, rest) = call.url.split_once("://").unwrap();
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            request.set_authority(Some(authority)).unwrap();
            request.set_path_with_query(Some(path)).unwrap();
            let body = request.body().unwrap();
            let future = outgoing_handler::handle(request, None).unwrap();
            let status = status(future); // the body is still open
            drop(body);
            return Err(Error::new("Unreachable", format!("read {status}")));
        }
        if call.read_inside {
            let future = start(&call.url);
            let status = ctx.step(&format!("call-{i}"), || Ok::<_, Error>(status(future)))?;
            return Err(Error::new(
                "Unreachable",
                format!("read {status} inside a step"),
            ));
        }
        let result = if call.in_step {
            let config = StepConfig {
                retry: RetryStrategy::backoff(Backoff {
                    max_attempts: call.attempts,
                    initial_delay: Duration::from_secs(1),
                    jitter: Jitter::None,
                    ..Backoff::retry_default()
                }),
                ..StepConfig::default()
            };
            ctx.step_with(&format!("call-{i}"), config, || send(call))
        } else {
            send(call)
        };
        outcomes.push(match result {
            Ok(outcome) => outcome,
            Err(error) if error.is_pending() => return Err(error),
            Err(error) => Outcome::Error {
                error_type: error.error_type().to_owned(),
                message: error.message().to_owned(),
            },
        });
    }
    Ok(outcomes)
}

cairn::workflow!(fetch);
