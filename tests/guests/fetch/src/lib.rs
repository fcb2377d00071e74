//! Makes the HTTP calls its input lists, in order, each outside any step or
//! inside a step of its own (with `attempts` tries), and returns each call's
//! response or error: the tests read every outcome from one execution.

use cairn::http::Request;
use cairn::{Backoff, Context, Error, Jitter, RetryStrategy, StepConfig};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    #[serde(default)]
    in_step: bool,
    /// Tries of the step (inside a step only).
    #[serde(default = "one")]
    attempts: u32,
    #[serde(default)]
    timeout_ms: Option<u64>,
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
    Response { status: u16, body: String },
    Error { error_type: String, message: String },
}

fn send(call: &Call) -> Result<Outcome, Error> {
    let mut request = Request::new(&call.method, &call.url);
    if let Some(body) = &call.body {
        request = request.body(body.as_bytes());
    }
    if let Some(ms) = call.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    let response = request.send()?;
    Ok(Outcome::Response {
        status: response.status,
        body: String::from_utf8_lossy(&response.body).into_owned(),
    })
}

fn fetch(ctx: &mut Context, input: Input) -> Result<Vec<Outcome>, Error> {
    let mut outcomes = Vec::new();
    for (i, call) in input.calls.iter().enumerate() {
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
