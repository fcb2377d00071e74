//! Write durable workflows for [Cairn](https://github.com/cairn): plain Rust
//! functions compiled to `wasm32-wasip2` that survive crashes, sleep for days
//! and never repeat a finished step.
//!
//! ```ignore
//! use cairn::{Context, Error};
//! use std::time::Duration;
//!
//! fn greet(ctx: &mut Context, name: String) -> Result<String, Error> {
//!     let greeting = ctx.step("compose", || Ok::<_, Error>(format!("hello, {name}")))?;
//!     ctx.wait("pause", Duration::from_secs(10))?;
//!     ctx.step("shout", || Ok::<_, Error>(greeting.to_uppercase()))
//! }
//!
//! cairn::workflow!(greet);
//! ```
//!
//! What is durable:
//! - [`Context::step`] runs its body once; its result (or error) is recorded
//!   and returned from the record ever after. A failing body is retried by a
//!   [`RetryStrategy`], with durable delays between attempts.
//! - [`Context::wait_for_condition`] polls a check with a [`WaitStrategy`],
//!   carrying state from poll to poll.
//! - [`Context::wait_for_callback`] (or [`Context::create_callback`] and
//!   [`Context::wait_callback`]) waits for the outside world: a person's
//!   approval, a webhook, with a timeout and heartbeats.
//! - [`Context::wait`] is a durable timer: the workflow suspends, holding no
//!   compute, and resumes when it is due.
//! - `SystemTime::now()`, `Instant::now()` and random numbers (`getrandom`,
//!   `rand`, `HashMap` seeds) are recorded by the host and replay identically.
//! - Logging through [`Context::info`] and friends is silent while replaying.
//! - HTTP requests ([`http`], or any `wasi:http` client) made outside a step
//!   are recorded with their responses and never sent again on replay;
//!   inside a step they are part of the step.
//!
//! [`Context::parallel`] and [`Context::map`] run each item in a context
//! of its own; [`Nesting::Flat`] runs them in the batch's own context, one
//! after the other, as AWS's FLAT mode does.
//!
//! Results are recorded as JSON (serde). [`Context::step_with_serdes`],
//! [`Context::run_in_child_context_with_serdes`] and
//! [`Context::map_with_serdes`] record them with a [`Serdes`] of your own
//! instead: any text.
//!
//! Suspension travels as an [`Error`]: always pass errors from `ctx` calls
//! on with `?` (or return them), so the host can suspend the workflow.

extern crate self as cairn;

mod batch;
#[doc(hidden)]
pub mod bindings;
mod context;
mod error;
pub mod http;
mod serdes;
mod strategy;

pub use batch::{
    BatchConfig, BatchItem, BatchItemStatus, BatchResult, CompletionConfig, CompletionReason,
    MapSerdes, Nesting,
};
pub use context::{
    Branch, Callback, CallbackConfig, Context, Execution, InvokeConfig, Level, Semantics,
    StepConfig, attempt,
};
pub use error::Error;
pub use serdes::{Json, Serdes};
pub use strategy::{
    Backoff, Jitter, PollDecision, RetryDecision, RetryStrategy, Retryable, WaitStrategy,
};

/// Logs `message` unless the workflow is replaying. Step bodies run only
/// live, so what they log is printed each time they run.
pub fn log(level: Level, message: impl std::fmt::Display) {
    if REPLAY_LOGGING.get() {
        bindings::log::log_always(level, &message.to_string());
    } else {
        bindings::log::log(level, &message.to_string());
    }
}

thread_local! {
    static REPLAY_LOGGING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether [`log`] (and [`Context::info`] and friends) also log while the
/// workflow replays: off by default, so that each line is logged once; on,
/// a re-execution stays observable (AWS's loggers' replay logging).
pub fn set_replay_logging(enabled: bool) {
    REPLAY_LOGGING.set(enabled);
}

/// Exports `function` (a `fn(&mut Context, Input) -> Result<Output, Error>`
/// over serde types) as the component's workflow.
#[macro_export]
macro_rules! workflow {
    ($function:path) => {
        struct CairnWorkflow;

        impl $crate::__private::Guest for CairnWorkflow {
            fn run(input: ::std::string::String) -> $crate::__private::Outcome {
                $crate::__private::run_workflow(input, $function)
            }
        }

        $crate::__private::export!(CairnWorkflow);
    };
}

/// What the [`workflow!`] macro expands to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::export;
    pub use crate::bindings::{Guest, Outcome};
    pub use wit_bindgen;

    use crate::{Context, Error};
    use serde::{Serialize, de::DeserializeOwned};

    pub fn run_workflow<I, O>(
        input: String,
        function: fn(&mut Context, I) -> Result<O, Error>,
    ) -> Outcome
    where
        I: DeserializeOwned,
        O: Serialize,
    {
        std::panic::set_hook(Box::new(|info| {
            crate::bindings::log::panicked(&info.to_string())
        }));
        let input: I = match serde_json::from_str(&input) {
            Ok(input) => input,
            Err(error) => {
                return Outcome::Failed(
                    Error::new(
                        "InvalidInput",
                        format!("the workflow's input does not fit its type: {error}"),
                    )
                    .into_object(),
                );
            }
        };
        match function(&mut Context::new(), input) {
            Ok(output) => match serde_json::to_string(&output) {
                Ok(json) => Outcome::Succeeded(json),
                Err(error) => Outcome::Failed(
                    Error::new(
                        "SerializationError",
                        format!("the workflow's result cannot be serialized: {error}"),
                    )
                    .into_object(),
                ),
            },
            Err(error) if error.is_pending() => Outcome::Pending,
            Err(error) => Outcome::Failed(error.into_object()),
        }
    }
}
