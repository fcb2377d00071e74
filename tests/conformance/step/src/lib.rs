//! Handlers for AWS's conformance suite `step` (requirements 1-1 to 1-20),
//! one per requirement, chosen by the function name the component is
//! deployed under (`step-1-1`, ...).
//!
//! Cairn names every operation, so steps AWS's handlers leave unnamed get a
//! name here (the expected histories do not insist on their absence). Where
//! AWS's handlers count attempts in outside state (a DynamoDB table, a
//! global), these read the attempt number Cairn gives a step body
//! (`cairn::attempt()`).

use cairn::{
    Backoff, Context, Error, Jitter, Level, RetryDecision, RetryStrategy, Semantics, StepConfig,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        "step-1-1" => step_basic(ctx, input),
        "step-1-2" => step_with_name(ctx, input),
        "step-1-3" => sequential_steps(ctx),
        "step-1-4" => complex_object(ctx, input),
        "step-1-5" => null_result(ctx),
        "step-1-6" => custom_serdes(ctx, input),
        "step-1-7" => step_logger(ctx, input),
        "step-1-8" => step_and_wait(ctx),
        "step-1-9" => replay_skips_succeeded(ctx),
        "step-1-10" => replay_rethrows_failed(ctx),
        "step-1-11" => retry_then_succeed(ctx),
        "step-1-12" => retry_exhaustion(ctx),
        "step-1-13" => default_retry(ctx),
        "step-1-14" => custom_backoff(ctx),
        "step-1-15" => retry_transient(ctx),
        "step-1-16" => no_retry_transient(ctx),
        "step-1-17" => at_most_once_no_retry(ctx, input),
        "step-1-18" => at_most_once_with_retry(ctx, input),
        "step-1-19" => fails_permanently(ctx),
        "step-1-20" => error_caught(ctx),
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);

/// The input as text: a JSON string's contents, anything else as JSON.
fn text(input: &Value) -> String {
    match input {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

/// Splits what a `ctx` call returned into a suspension (passed on) and the
/// step's own outcome (for the handler's try/catch).
fn caught<T>(result: Result<T, Error>) -> Result<Result<T, Error>, Error> {
    match result {
        Err(error) if error.is_pending() => Err(error),
        outcome => Ok(outcome),
    }
}

/// AWS's `noRetry` / `RetryPresets.none()`: one attempt only.
fn no_retry() -> StepConfig {
    StepConfig {
        retry: RetryStrategy::none(),
        ..StepConfig::default()
    }
}

/// AWS's `createRetryStrategy` with no jitter (its other defaults: 5 min cap).
fn backoff(max_attempts: u32, initial_delay: u64, backoff_rate: f64) -> StepConfig {
    StepConfig {
        retry: RetryStrategy::backoff(Backoff {
            max_attempts,
            initial_delay: Duration::from_secs(initial_delay),
            max_delay: Duration::from_secs(300),
            backoff_rate,
            jitter: Jitter::None,
        }),
        ..StepConfig::default()
    }
}

/// The custom exception of 1-15 and 1-16; its Rust type name becomes the
/// recorded ErrorType (`TransientError`).
#[derive(Debug)]
struct TransientError(String);

impl fmt::Display for TransientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransientError {}

/// 1-1: a single step, `greet(event)`, succeeding on its first attempt
/// (named `greet`: Cairn names every operation).
fn step_basic(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let name = text(&input);
    let greeting = ctx.step("greet", || Ok::<_, Error>(greet(&name)))?;
    Ok(json!(greeting))
}

/// 1-2: a single step named `custom_step_name`.
fn step_with_name(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let name = text(&input);
    let greeting = ctx.step("custom_step_name", || Ok::<_, Error>(greet(&name)))?;
    Ok(json!(greeting))
}

/// 1-3: two steps, the second using the first's result.
fn sequential_steps(ctx: &mut Context) -> Result<Value, Error> {
    let result1: String = ctx.step("step_one", || Ok::<_, Error>("first".to_owned()))?;
    let result2: String = ctx.step("step_two", || Ok::<_, Error>(format!("{result1}_second")))?;
    Ok(json!(result2))
}

#[derive(Deserialize)]
struct Person {
    name: String,
    tags: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Response {
    user: User,
    count: usize,
}

#[derive(Serialize, Deserialize)]
struct User {
    name: String,
    tags: Vec<String>,
}

/// 1-4: a step returning a nested object (`build_response(event)`), which
/// the SDK serializes and deserializes.
fn complex_object(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let person: Person = serde_json::from_value(input)?;
    let response: Response = ctx.step("build_response", || {
        Ok::<_, Error>(Response {
            count: person.tags.len(),
            user: User {
                name: person.name,
                tags: person.tags,
            },
        })
    })?;
    Ok(serde_json::to_value(response)?)
}

/// 1-5: a step returning nothing (`()`, recorded as null).
fn null_result(ctx: &mut Context) -> Result<Value, Error> {
    ctx.step("do_nothing", || Ok::<_, Error>(()))?;
    Ok(Value::Null)
}

/// The custom serdes of 1-6 as a Rust author writes one: a wrapper whose
/// `Serialize` uppercases every string value in what it wraps (the
/// checkpoint stays JSON); deserializing reads the value as is.
struct Uppercase<T>(T);

impl<T: Serialize> Serialize for Uppercase<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn upper(value: &mut Value) {
            match value {
                Value::String(s) => *s = s.to_uppercase(),
                Value::Array(items) => items.iter_mut().for_each(upper),
                Value::Object(fields) => fields.values_mut().for_each(upper),
                _ => {}
            }
        }
        let mut value = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        upper(&mut value);
        value.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Uppercase<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Uppercase)
    }
}

/// 1-6: a step returning its input through the uppercasing serdes; the
/// step's value is what the serdes recorded.
fn custom_serdes(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let Uppercase(result): Uppercase<String> =
        ctx.step("return_input", || Ok::<_, Error>(Uppercase(text(&input))))?;
    Ok(json!(result))
}

/// 1-7: `greet(event)` logging from inside the step (`cairn::log`: the
/// step body cannot borrow `ctx`; it plays AWS's `step_context.logger`).
fn step_logger(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let name = text(&input);
    let greeting = ctx.step("greet", || {
        cairn::log(Level::Info, format!("Greeting step started for: {name}"));
        let greeting = greet(&name);
        cairn::log(
            Level::Info,
            format!("Greeting step completed with: {greeting}"),
        );
        Ok::<_, Error>(greeting)
    })?;
    Ok(json!(greeting))
}

/// 1-8: a step, then a 2 s wait; replay skips the finished step.
fn step_and_wait(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step("compute", || Ok::<_, Error>("computed".to_owned()))?;
    ctx.wait("wait", Duration::from_secs(2))?;
    Ok(json!(result))
}

/// 1-9: a step that logs "step executed" and succeeds, then a 1 s wait; on
/// replay the step returns its recorded result without running.
fn replay_skips_succeeded(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step("cached_step", || {
        cairn::log(Level::Info, "step executed");
        Ok::<_, Error>("cached_value".to_owned())
    })?;
    ctx.wait("wait", Duration::from_secs(1))?;
    Ok(json!(result))
}

/// 1-10: a step without retries that logs "step executed" and fails, its
/// error caught, then a 1 s wait; on replay the recorded error comes back
/// without the body running, and is caught again.
fn replay_rethrows_failed(ctx: &mut Context) -> Result<Value, Error> {
    let outcome = caught(ctx.step_with("failing_step", no_retry(), || {
        cairn::log(Level::Info, "step executed");
        Err::<String, _>(Error::new("StepFailure", "the step failed on purpose"))
    }))?;
    let error = match outcome {
        Ok(_) => None,
        Err(error) => Some(error.message().to_owned()),
    };
    ctx.wait("wait", Duration::from_secs(1))?;
    Ok(json!({ "caughtError": error }))
}

/// 1-11: a step failing on attempt 1 and succeeding on attempt 2, retried
/// 1 s apart (3 attempts at most).
fn retry_then_succeed(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step_with("unreliable_func", backoff(3, 1, 2.0), || {
        if cairn::attempt() == 1 {
            return Err(Error::new("UnreliableError", "the first attempt fails"));
        }
        Ok("Operation succeeded".to_owned())
    })?;
    Ok(json!(result))
}

/// 1-12: a step that always fails, 4 attempts in all, 1 s apart (the prose
/// gives every delay as 1 s: backoff rate 1); the execution fails.
fn retry_exhaustion(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step_with("always_fail", backoff(4, 1, 1.0), || {
        Err::<String, _>(Error::new(
            "AlwaysFails",
            format!("attempt {} failed", cairn::attempt()),
        ))
    })?;
    Ok(json!(result))
}

/// 1-13: a step failing twice and succeeding on attempt 3, with the SDK's
/// default retry strategy (no config).
fn default_retry(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step("unreliable_func", || {
        let attempt = cairn::attempt();
        if attempt < 3 {
            return Err(Error::new(
                "UnreliableError",
                format!("attempt {attempt} fails"),
            ));
        }
        Ok(format!("succeeded on attempt {attempt}"))
    })?;
    Ok(json!(result))
}

/// 1-14: a step failing twice and succeeding on attempt 3, with 5 attempts,
/// 2 s initial delay, x3 backoff, no jitter (delays 2 s, then 6 s). The
/// attempt count comes from Cairn, not DynamoDB.
fn custom_backoff(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step_with("flaky_step", backoff(5, 2, 3.0), || {
        let attempt = cairn::attempt();
        if attempt < 3 {
            return Err(Error::new(
                "UnreliableError",
                format!("attempt {attempt} fails"),
            ));
        }
        Ok(format!("succeeded on attempt {attempt}"))
    })?;
    Ok(json!(result))
}

/// 1-15: a step throwing TransientError on attempt 1; the strategy retries
/// (after 1 s, 3 attempts at most) only errors of that type.
fn retry_transient(ctx: &mut Context) -> Result<Value, Error> {
    let retry_on_transient = RetryStrategy::custom(|error, attempts| {
        if error.error_type() == "TransientError" && attempts < 3 {
            RetryDecision::retry_after(Duration::from_secs(1))
        } else {
            RetryDecision::stop()
        }
    });
    let config = StepConfig {
        retry: retry_on_transient,
        ..StepConfig::default()
    };
    let result: String = ctx.step_with("transient_step", config, || {
        if cairn::attempt() == 1 {
            return Err(TransientError("a transient failure".to_owned()));
        }
        Ok("succeeded after a transient failure".to_owned())
    })?;
    Ok(json!(result))
}

/// 1-16: a step throwing TransientError; the strategy never retries that
/// type (other errors get the default backoff), so the step and the
/// execution fail.
fn no_retry_transient(ctx: &mut Context) -> Result<Value, Error> {
    let no_retry_on_transient_error = RetryStrategy::custom(|error, attempts| {
        let default = Backoff::retry_default();
        if error.error_type() == "TransientError" || attempts >= default.max_attempts {
            RetryDecision::stop()
        } else {
            RetryDecision::retry_after(default.delay_after(attempts))
        }
    });
    let config = StepConfig {
        retry: no_retry_on_transient_error,
        ..StepConfig::default()
    };
    let result: String = ctx.step_with("transient_step", config, || {
        Err::<String, _>(TransientError("a transient failure".to_owned()))
    })?;
    Ok(json!(result))
}

/// 1-17: an at-most-once step without retries that logs its input and
/// crashes the process (`std::process::exit`, AWS's `process.exit`).
fn at_most_once_no_retry(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let config = StepConfig {
        retry: RetryStrategy::none(),
        semantics: Semantics::AtMostOncePerRetry,
    };
    let result: String = ctx.step_with(
        "at_most_once_flaky_step",
        config,
        || -> Result<String, Error> {
            cairn::log(Level::Info, text(&input));
            std::process::exit(1)
        },
    )?;
    Ok(json!(result))
}

/// 1-18: an at-most-once step with retries (3 attempts, 1 s apart) that
/// logs its input each time, crashes the process on attempt 1 and succeeds
/// on attempt 2.
fn at_most_once_with_retry(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let config = StepConfig {
        semantics: Semantics::AtMostOncePerRetry,
        ..backoff(3, 1, 2.0)
    };
    let result: String = ctx.step_with("at_most_once_flaky_step", config, || {
        cairn::log(Level::Info, text(&input));
        if cairn::attempt() == 1 {
            std::process::exit(1);
        }
        Ok::<_, Error>("succeeded on second attempt".to_owned())
    })?;
    Ok(json!(result))
}

/// 1-19: a step that always fails, without retries; the execution fails.
fn fails_permanently(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.step_with("failing_func", no_retry(), || {
        Err::<String, _>(Error::new("StepFailure", "the step always fails"))
    })?;
    Ok(json!(result))
}

/// 1-20: a failing step without retries, its error caught and replaced by
/// a fallback value, then a second step that succeeds with it.
fn error_caught(ctx: &mut Context) -> Result<Value, Error> {
    let outcome = caught(ctx.step_with("failing_func", no_retry(), || {
        Err::<String, _>(Error::new("StepFailure", "the step always fails"))
    }))?;
    let value = outcome.unwrap_or_else(|_| "fallback_result".to_owned());
    let result: String = ctx.step("use_value", || Ok::<_, Error>(value))?;
    Ok(json!(result))
}
