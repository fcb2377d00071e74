//! Handlers for AWS's conformance suite `wait_for_condition` (requirements
//! 6-1 to 6-13), one per requirement, chosen by the function name the
//! component is deployed under (`wait_for_condition-6-1`, ...).
//!
//! Cairn names every operation: where AWS's handler gives the
//! wait_for_condition no name, it is "poll" here (the histories do not
//! insist on a missing Name). Where the prose names no wait strategy, it is
//! AWS's default (`WaitStrategy::polling_while`: 5 s, x1.5, full jitter).

use cairn::{Backoff, Context, Error, Jitter, WaitStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use std::time::Duration;

/// The threshold the requirement passes as input.
fn threshold(input: &Value) -> Result<i64, Error> {
    input
        .as_i64()
        .ok_or_else(|| Error::new("InvalidInput", "expected an integer threshold"))
}

/// A fixed-delay strategy (no backoff, no jitter) of `max_attempts` polls.
fn fixed(delay: Duration, max_attempts: u32) -> Backoff {
    Backoff {
        max_attempts,
        initial_delay: delay,
        max_delay: delay,
        backoff_rate: 1.0,
        jitter: Jitter::None,
    }
}

/// Counts up from `initial`, polling while below `target`.
fn count_to(ctx: &mut Context, name: &str, initial: i64, target: i64) -> Result<i64, Error> {
    ctx.wait_for_condition(
        name,
        initial,
        |state, _attempt| Ok(state + 1),
        WaitStrategy::polling_while(move |state: &i64| *state < target),
    )
}

/// 6-9's state.
#[derive(Serialize, Deserialize)]
struct Job {
    status: String,
    attempts: u32,
}

/// 6-11's state: a string with a serializer and deserializer of its own.
/// It is checkpointed as the hex of its bytes ("x" as "78") and decoded back
/// on resume.
struct Hexed(String);

impl Serialize for Hexed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.bytes().map(|byte| format!("{byte:02x}")).collect();
        serializer.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for Hexed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let hex = String::deserialize(deserializer)?;
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| D::Error::custom(format!("not hex: {hex:?}")))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        String::from_utf8(bytes)
            .map(Hexed)
            .map_err(D::Error::custom)
    }
}

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 6-1: count from 0 while below the input threshold (3).
        "wait_for_condition-6-1" => {
            let target = threshold(&input)?;
            Ok(json!(count_to(ctx, "poll", 0, target)?))
        }
        // 6-2: initial state 5, the check returns it unchanged, the strategy
        // polls while it is below 5: done on the first check.
        "wait_for_condition-6-2" => {
            let state = ctx.wait_for_condition(
                "poll",
                5i64,
                |state, _attempt| Ok(state),
                WaitStrategy::polling_while(|state: &i64| *state < 5),
            )?;
            Ok(json!(state))
        }
        // 6-3: named "poll-status"; counts from 0 while below 2.
        "wait_for_condition-6-3" => Ok(json!(count_to(ctx, "poll-status", 0, 2)?)),
        // 6-4: initial state 5; counts while below the input threshold (8).
        "wait_for_condition-6-4" => {
            let target = threshold(&input)?;
            Ok(json!(count_to(ctx, "poll", 5, target)?))
        }
        // 6-5: a fixed 2-second delay (no jitter, no backoff); counts from 0
        // while below the input threshold (3). AWS's attempt cap (60) kept.
        "wait_for_condition-6-5" => {
            let target = threshold(&input)?;
            let state = ctx.wait_for_condition(
                "poll",
                0i64,
                |state, _attempt| Ok(state + 1),
                WaitStrategy::polling_while_with(
                    move |state: &i64| *state < target,
                    fixed(Duration::from_secs(2), 60),
                ),
            )?;
            Ok(json!(state))
        }
        // 6-6: a fixed-delay strategy of at most 3 attempts; the condition
        // never holds, so the third poll fails (not caught). The prose names
        // no delay: 1 second here.
        "wait_for_condition-6-6" => {
            let state = ctx.wait_for_condition(
                "poll",
                0i64,
                |state, _attempt| Ok(state + 1),
                WaitStrategy::polling_while_with(|_: &i64| true, fixed(Duration::from_secs(1), 3)),
            )?;
            Ok(json!(state))
        }
        // 6-7: the check fails on its first call; not caught.
        "wait_for_condition-6-7" => {
            let state: Value = ctx.wait_for_condition(
                "poll",
                Value::Null,
                |_state, _attempt| Err(Error::new("CheckError", "the check failed")),
                WaitStrategy::polling_while(|_: &Value| true),
            )?;
            Ok(state)
        }
        // 6-8: the check fails on its first call; the handler recovers.
        "wait_for_condition-6-8" => {
            let result: Result<Value, Error> = ctx.wait_for_condition(
                "poll",
                Value::Null,
                |_state, _attempt| Err(Error::new("CheckError", "the check failed")),
                WaitStrategy::polling_while(|_: &Value| true),
            );
            match result {
                Err(error) if error.is_pending() => Err(error),
                Err(_) => Ok(json!("recovered")),
                Ok(state) => Ok(state),
            }
        }
        // 6-9: an object state {status, attempts}; DONE once attempts reaches 2.
        "wait_for_condition-6-9" => {
            let job = ctx.wait_for_condition(
                "poll",
                Job {
                    status: "PENDING".into(),
                    attempts: 0,
                },
                |job, _attempt| {
                    let attempts = job.attempts + 1;
                    let status = if attempts >= 2 { "DONE" } else { "PENDING" };
                    Ok(Job {
                        status: status.into(),
                        attempts,
                    })
                },
                WaitStrategy::polling_while(|job: &Job| job.status == "PENDING"),
            )?;
            serde_json::to_value(job).map_err(Error::from)
        }
        // 6-10: the check returns null and the strategy stops at once.
        "wait_for_condition-6-10" => ctx.wait_for_condition(
            "poll",
            Value::Null,
            |_state, _attempt| Ok(Value::Null),
            WaitStrategy::polling_while(|_: &Value| false),
        ),
        // 6-11: a string state with custom serdes (hex, see `Hexed`); each
        // check appends "x", polling while shorter than 2. Returns "xx".
        "wait_for_condition-6-11" => {
            let state = ctx.wait_for_condition(
                "poll",
                Hexed(String::new()),
                |Hexed(state), _attempt| Ok(Hexed(state + "x")),
                WaitStrategy::polling_while(|state: &Hexed| state.0.len() < 2),
            )?;
            Ok(json!(state.0))
        }
        // 6-12: count from 0 to the input threshold (2), then a step
        // multiplying the result by 10.
        "wait_for_condition-6-12" => {
            let target = threshold(&input)?;
            let reached = count_to(ctx, "poll", 0, target)?;
            let product = ctx.step("multiply", || Ok::<_, Error>(reached * 10))?;
            Ok(json!(product))
        }
        // 6-13: two in sequence: 0 up to 2, then from there up to 4.
        "wait_for_condition-6-13" => {
            let first = count_to(ctx, "poll-1", 0, 2)?;
            Ok(json!(count_to(ctx, "poll-2", first, 4)?))
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);
