//! Retries against a dependency that fails: the call fails with
//! `Unavailable` on its first `failures` attempts, and the step retries it
//! with backoff, suspending durably between attempts. Errors of another type
//! are not retried.
//!
//! `cairn run examples/flaky --input '{"failures":2}'`

use cairn::{Backoff, Context, Error, Jitter, RetryStrategy, Retryable, Semantics, StepConfig};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    /// How many attempts fail before the dependency answers.
    failures: u32,
    /// The error type of the failures (only `Unavailable` is retried).
    #[serde(default = "unavailable")]
    error_type: String,
    #[serde(default = "five")]
    max_attempts: u32,
    /// Record each attempt before its body runs (at most once per retry).
    #[serde(default)]
    at_most_once: bool,
    /// How long the first attempt's call takes (a slow first try).
    #[serde(default)]
    first_call_ms: u64,
}

fn unavailable() -> String {
    "Unavailable".into()
}

fn five() -> u32 {
    5
}

fn flaky(ctx: &mut Context, input: Input) -> Result<String, Error> {
    let config = StepConfig {
        retry: RetryStrategy::backoff_for(
            Backoff {
                max_attempts: input.max_attempts,
                initial_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(10),
                backoff_rate: 2.0,
                jitter: Jitter::None,
            },
            Retryable {
                types: vec!["Unavailable".into(), "StepInterrupted".into()],
                ..Retryable::default()
            },
        ),
        semantics: if input.at_most_once {
            Semantics::AtMostOncePerRetry
        } else {
            Semantics::AtLeastOncePerRetry
        },
    };
    let answer = ctx.step_with("call-dependency", config, || {
        let attempt = cairn::attempt();
        cairn::log(cairn::Level::Info, format!("body ran: attempt {attempt}"));
        if attempt == 1 {
            std::thread::sleep(Duration::from_millis(input.first_call_ms));
        }
        if attempt <= input.failures {
            return Err(Error::new(
                input.error_type.as_str(),
                format!("attempt {attempt}: the dependency is down"),
            ));
        }
        Ok(format!("answered on attempt {attempt}"))
    })?;
    Ok(answer)
}

cairn::workflow!(flaky);
