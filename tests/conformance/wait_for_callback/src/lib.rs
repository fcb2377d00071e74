//! Handlers for AWS's conformance suite `wait_for_callback` (requirements
//! 7-1 to 7-15), one per requirement, chosen by the function name the
//! component is deployed under (`wait_for_callback-7-1`, ...).
//!
//! Where a requirement uses the input as the operation name, the input is a
//! JSON string. Submitters do nothing durable: in a real workflow they would
//! hand the callback id to the outside world; here they log it.

use cairn::{Backoff, CallbackConfig, Context, Error, Jitter, RetryStrategy, StepConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The operation name the requirement passes as input.
fn name_from(input: &Value) -> Result<String, Error> {
    input
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::new("InvalidInput", "expected the operation name as a string"))
}

/// A submitter that only tells the log which callback it would hand out.
fn announce(id: &str) -> Result<(), Error> {
    cairn::log(cairn::Level::Info, format!("callback id: {id}"));
    Ok(())
}

fn with_timeout(seconds: u64) -> CallbackConfig {
    CallbackConfig {
        timeout: Some(Duration::from_secs(seconds)),
        ..CallbackConfig::default()
    }
}

fn with_heartbeat(seconds: u64) -> CallbackConfig {
    CallbackConfig {
        heartbeat_timeout: Some(Duration::from_secs(seconds)),
        ..CallbackConfig::default()
    }
}

/// Passes suspension on; turns any failure into `fallback`.
fn recover(result: Result<Value, Error>, fallback: &str) -> Result<Value, Error> {
    match result {
        Err(error) if error.is_pending() => Err(error),
        Err(_) => Ok(json!(fallback)),
        Ok(value) => Ok(value),
    }
}

#[derive(Deserialize)]
struct Approval {
    status: String,
}

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 7-1: one wait_for_callback named by the input; returns the payload.
        "wait_for_callback-7-1" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, CallbackConfig::default(), announce)
        }
        // 7-2: the static name "approval".
        "wait_for_callback-7-2" => {
            ctx.wait_for_callback("approval", CallbackConfig::default(), announce)
        }
        // 7-3: AWS's handler passes no name. Approximation: Cairn names every
        // operation, so this one is "callback" (the history does not insist
        // on a missing Name).
        "wait_for_callback-7-3" => {
            ctx.wait_for_callback("callback", CallbackConfig::default(), |_id: &str| {
                Ok::<_, Error>(())
            })
        }
        // 7-4: the callback fails externally; the error is not caught.
        "wait_for_callback-7-4" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, CallbackConfig::default(), announce)
        }
        // 7-5: a 3-second timeout that elapses; not caught.
        "wait_for_callback-7-5" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, with_timeout(3), announce)
        }
        // 7-6: the callback fails externally; the handler recovers.
        "wait_for_callback-7-6" => {
            let name = name_from(&input)?;
            let result = ctx.wait_for_callback(&name, CallbackConfig::default(), announce);
            recover(result, "recovered")
        }
        // 7-7: a submitter that always throws, with 2 attempts 1 s apart:
        // its step fails for good, and the execution with it.
        "wait_for_callback-7-7" => {
            let name = name_from(&input)?;
            let submitter = StepConfig {
                retry: RetryStrategy::backoff(Backoff {
                    max_attempts: 2,
                    initial_delay: Duration::from_secs(1),
                    max_delay: Duration::from_secs(1),
                    backoff_rate: 1.0,
                    jitter: Jitter::None,
                }),
                ..StepConfig::default()
            };
            ctx.wait_for_callback_with::<Value, _>(
                &name,
                CallbackConfig::default(),
                submitter,
                |_| Err(Error::new("SubmitterError", "the submitter failed")),
            )
        }
        // 7-8: inside a child context named "wrapper".
        "wait_for_callback-7-8" => {
            let name = name_from(&input)?;
            ctx.run_in_child_context("wrapper", |ctx| {
                ctx.wait_for_callback::<Value, _>(&name, CallbackConfig::default(), announce)
            })
        }
        // 7-9: two in sequence, "first" and "second"; returns the second's result.
        "wait_for_callback-7-9" => {
            let _first: Value =
                ctx.wait_for_callback("first", CallbackConfig::default(), announce)?;
            ctx.wait_for_callback("second", CallbackConfig::default(), announce)
        }
        // 7-10: a 1-second wait, a top-level step returning fixed data, then
        // the wait_for_callback. Cairn names the wait and the step.
        "wait_for_callback-7-10" => {
            let name = name_from(&input)?;
            ctx.wait("wait", Duration::from_secs(1))?;
            let _data: Value =
                ctx.step("fetch-data", || Ok::<_, Error>(json!({ "data": "fixed" })))?;
            ctx.wait_for_callback(&name, CallbackConfig::default(), announce)
        }
        // 7-11: the payload decoded as a JSON object; returns its "status".
        // (Cairn always decodes callback results as JSON, into the type asked for.)
        "wait_for_callback-7-11" => {
            let name = name_from(&input)?;
            let approval: Approval =
                ctx.wait_for_callback(&name, CallbackConfig::default(), announce)?;
            Ok(json!(approval.status))
        }
        // 7-12: a 5-second heartbeat timeout, no heartbeat sent; not caught.
        "wait_for_callback-7-12" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, with_heartbeat(5), announce)
        }
        // 7-13: a 10-second heartbeat timeout; a heartbeat, then success.
        "wait_for_callback-7-13" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, with_heartbeat(10), announce)
        }
        // 7-14: a 3-second timeout that elapses; the handler recovers.
        "wait_for_callback-7-14" => {
            let name = name_from(&input)?;
            let result = ctx.wait_for_callback(&name, with_timeout(3), announce);
            recover(result, "timed-out-handled")
        }
        // 7-15: success without a payload; returns the (null) result.
        "wait_for_callback-7-15" => {
            let name = name_from(&input)?;
            ctx.wait_for_callback(&name, CallbackConfig::default(), announce)
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);
