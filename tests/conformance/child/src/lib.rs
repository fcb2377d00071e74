//! Handlers for AWS's conformance suite `child` (requirements 3-1 to 3-18),
//! one per requirement, chosen by the function name the component is
//! deployed under (`child-3-1`, ...).
//!
//! Cairn names every operation: where AWS's handler leaves a step, a wait or
//! a child context unnamed, these name it (no expected history here insists
//! on a missing name).

use cairn::{Backoff, Context, Error, Jitter, RetryStrategy, Retryable, Serdes, StepConfig};
use serde_json::{Value, json};
use std::time::Duration;

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let workflow = ctx.execution().workflow;
    match workflow.as_str() {
        "child-3-1" => child_basic(ctx, input),
        "child-3-2" => child_named(ctx, input),
        "child-3-3" => child_sequential_steps(ctx, input),
        "child-3-4" => child_error(ctx),
        "child-3-5" => child_error_caught(ctx, input),
        "child-3-6" => nested_children(ctx, input),
        "child-3-7" => child_step_retry(ctx, input),
        "child-3-8" => child_retry_exhaustion(ctx),
        "child-3-9" => child_replay(ctx, input),
        "child-3-10" => child_step_and_wait(ctx, input),
        "child-3-11" => child_large_payload(ctx, input),
        "child-3-13" => child_wait_only(ctx, input),
        "child-3-14" => child_custom_serdes(ctx, input),
        "child-3-15" => child_error_without_step(ctx),
        "child-3-16" => child_null(ctx),
        "child-3-17" => child_logger_only(ctx, input),
        "child-3-18" => child_mixed_replays(ctx, input),
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

/// 3-14's serdes: records a string uppercased, as raw text (not JSON), and
/// reads the record back as it is.
struct Uppercase;

impl Serdes<String> for Uppercase {
    fn serialize(&self, value: &String) -> Result<String, Error> {
        Ok(value.to_uppercase())
    }

    fn deserialize(&self, text: &str) -> Result<String, Error> {
        Ok(text.to_owned())
    }
}

/// 3-14: a child context whose result goes through the uppercasing serdes;
/// inside, a step returns the input. Returns the context's result.
fn child_custom_serdes(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let input = text(&input);
    let result = ctx.run_in_child_context_with_serdes("serdes", &Uppercase, |ctx| {
        ctx.step("echo", || Ok::<_, Error>(input.clone()))
    })?;
    Ok(json!(result))
}

/// The input as a string, as AWS's handlers take it (`str(event)`).
fn text(input: &Value) -> String {
    match input {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A step body's error of the type AWS's Python handlers raise.
fn runtime_error(message: impl Into<String>) -> Error {
    Error::new("RuntimeError", message)
}

/// 3-1: a child context holding one step that returns the input; the child
/// returns the step's result.
fn child_basic(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("child", |child| {
        child.step("step", || Ok::<_, Error>(value))
    })?;
    Ok(json!(result))
}

/// 3-2: a child context named by the first input (`name`), holding one step
/// that returns the second (`value`).
fn child_named(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let name = text(&input["name"]);
    let value = text(&input["value"]);
    let result: String =
        ctx.run_in_child_context(&name, |child| child.step("step", || Ok::<_, Error>(value)))?;
    Ok(json!(result))
}

/// 3-3: two sequential steps in a child context, the second given the
/// first's result and returning it unchanged.
fn child_sequential_steps(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("sequential-child", |child| {
        let first: String = child.step("first", || Ok::<_, Error>(value))?;
        child.step("second", || Ok::<_, Error>(first))
    })?;
    Ok(json!(result))
}

/// 3-4: the step in the child fails, without retries; the error leaves the
/// child and fails the execution. (Cairn passes the step's error on as the
/// child's: there is no ChildContextError wrapper type.)
fn child_error(ctx: &mut Context) -> Result<Value, Error> {
    let config = StepConfig {
        retry: RetryStrategy::none(),
        ..StepConfig::default()
    };
    let result: String = ctx.run_in_child_context("failing-child", |child| {
        child.step_with("failing-step", config, || {
            Err::<String, _>(runtime_error("Step failed in child context"))
        })
    })?;
    Ok(json!(result))
}

/// 3-5: as 3-4, but the parent catches the child's error and goes on with a
/// recovery step that returns the input.
fn child_error_caught(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let config = StepConfig {
        retry: RetryStrategy::none(),
        ..StepConfig::default()
    };
    let failed = ctx.run_in_child_context("failing-child", |child| {
        child.step_with("failing-step", config, || {
            Err::<String, _>(runtime_error("Step failed in child context"))
        })
    });
    match failed {
        // A suspension is not the error to catch.
        Err(error) if error.is_pending() => return Err(error),
        Err(error) => ctx.info(format!("child context failed: {error}")),
        Ok(_) => {}
    }
    let value = text(&input);
    let recovered: String = ctx.step("recovery", || Ok::<_, Error>(value))?;
    Ok(json!(recovered))
}

/// 3-6: an outer child context with a step, then an inner child context with
/// its own step; each returns the input, the outer returning the inner's result.
fn nested_children(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("outer-child", |outer| {
        let outer_value = value.clone();
        let _outer: String = outer.step("outer-step", || Ok::<_, Error>(outer_value))?;
        outer.run_in_child_context("inner-child", |inner| {
            inner.step("inner-step", || Ok::<_, Error>(value))
        })
    })?;
    Ok(json!(result))
}

/// 3-7: the step in the child fails on its first attempt and succeeds on its
/// second, under a retry strategy of its own (3 attempts, 1 s apart, for
/// RuntimeError, as AWS's handlers configure it).
fn child_step_retry(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let config = StepConfig {
        retry: RetryStrategy::backoff_for(
            Backoff {
                max_attempts: 3,
                initial_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(1),
                backoff_rate: 1.0,
                jitter: Jitter::None,
            },
            Retryable {
                types: vec!["RuntimeError".into()],
                ..Retryable::default()
            },
        ),
        ..StepConfig::default()
    };
    let result: String = ctx.run_in_child_context("retry-child", |child| {
        child.step_with("unreliable-step", config, || {
            let attempt = cairn::attempt();
            if attempt < 2 {
                return Err(runtime_error(format!("Attempt {attempt} failed")));
            }
            Ok(value)
        })
    })?;
    Ok(json!(result))
}

/// 3-8: the step in the child always fails; 2 attempts, 1 s apart, no
/// jitter (maxAttempts=2); the child fails once they are spent.
fn child_retry_exhaustion(ctx: &mut Context) -> Result<Value, Error> {
    let config = StepConfig {
        retry: RetryStrategy::backoff(Backoff {
            max_attempts: 2,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            backoff_rate: 1.0,
            jitter: Jitter::None,
        }),
        ..StepConfig::default()
    };
    let result: String = ctx.run_in_child_context("exhaust-child", |child| {
        child.step_with("always-fails", config, || {
            Err::<String, _>(runtime_error("Always fails"))
        })
    })?;
    Ok(json!(result))
}

/// 3-9: a child context with a step, then a wait; on replay the child
/// returns its recorded result without running again.
fn child_replay(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("cached-child", |child| {
        child.step("step", || Ok::<_, Error>(value))
    })?;
    ctx.wait("wait", Duration::from_secs(1))?;
    Ok(json!(result))
}

/// 3-10: a step, then a wait, inside a child context, which returns the input.
fn child_step_and_wait(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("step-wait-child", |child| {
        let stepped: String = child.step("step", || Ok::<_, Error>(value))?;
        child.wait("wait", Duration::from_secs(1))?;
        Ok(stepped)
    })?;
    Ok(json!(result))
}

/// 3-11: the child logs the input (through the context's logger, outside
/// the step), runs a step returning a small value (50 KiB) and builds from
/// it a result over 256 KiB; a wait follows. Returns the result's size, as
/// AWS's Python handler does. (Cairn has no "replay logging" switch: its
/// logger is silent while replaying.)
fn child_large_payload(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    // Replay logging on: the child's body runs again when its result is
    // rebuilt, and that run is to be seen.
    cairn::set_replay_logging(true);
    let large: String = ctx.run_in_child_context("large-data-processor", |child| {
        child.info(&value);
        let small: String =
            child.step("generate-data", || Ok::<_, Error>("A".repeat(50 * 1024)))?;
        Ok(small.repeat(6))
    })?;
    ctx.wait("wait", Duration::from_secs(2))?;
    Ok(json!({ "success": true, "dataSize": large.len() }))
}

/// 3-13: a child context holding only a wait, returning the input; a step
/// outside it then returns the input.
fn child_wait_only(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let child_value = value.clone();
    let _child: String = ctx.run_in_child_context("wait-child", |child| {
        child.wait("wait", Duration::from_secs(1))?;
        Ok(child_value)
    })?;
    let result: String = ctx.step("outer-step", || Ok::<_, Error>(value))?;
    Ok(json!(result))
}

/// 3-15: the child's body fails by itself, with no durable operation in it.
fn child_error_without_step(ctx: &mut Context) -> Result<Value, Error> {
    let result: String = ctx.run_in_child_context("throwing-child", |_child| {
        Err(runtime_error("Error thrown directly in child context"))
    })?;
    Ok(json!(result))
}

/// 3-16: the child returns null at once, with no durable operation in it;
/// the execution returns it.
fn child_null(ctx: &mut Context) -> Result<Value, Error> {
    let result: Value = ctx.run_in_child_context("null-child", |_child| Ok(Value::Null))?;
    Ok(result)
}

/// 3-17: the child only logs the input through its context's logger and
/// returns it; a wait follows, whose replay must not run the child again.
/// (Cairn has no "replay logging" switch: its logger is silent while
/// replaying, and a finished child is not run again in any case.)
fn child_logger_only(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let result: String = ctx.run_in_child_context("logger-child", |child| {
        child.info(&value);
        Ok(value)
    })?;
    ctx.wait("wait", Duration::from_secs(1))?;
    Ok(json!(result))
}

/// 3-18: a step and a wait inside a child context (which returns the
/// input), then a step and a wait at the top level: three invocations.
fn child_mixed_replays(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let value = text(&input);
    let inner_value = value.clone();
    let _child: String = ctx.run_in_child_context("mixed-child", |child| {
        let stepped: String = child.step("inner-step", || Ok::<_, Error>(inner_value))?;
        child.wait("inner-wait", Duration::from_secs(1))?;
        Ok(stepped)
    })?;
    let result: String = ctx.step("outer-step", || Ok::<_, Error>(value))?;
    ctx.wait("outer-wait", Duration::from_secs(1))?;
    Ok(json!(result))
}

cairn::workflow!(handler);
