use crate::Error;
use crate::batch::{BatchConfig, BatchResult, MapSerdes, Nesting, run_items};
use crate::bindings::durable::{self, Progress, RetryReason, StepBegin, StepKind, StepOptions};
use crate::bindings::durable::{CallbackOptions, CallbackState, ContextBegin, ContextKind};
use crate::serdes::{Json, Serdes};
use crate::strategy::{PollDecision, RetryStrategy, WaitStrategy};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Display;
use std::marker::PhantomData;
use std::time::Duration;

/// Log levels for [`Context::log`].
pub use crate::bindings::log::Level;

/// The handle a workflow uses for durable operations.
pub struct Context {
    _private: (),
}

/// What a workflow knows of its own execution: the same on every
/// invocation, so reading it is not a durable operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The execution's ARN, as Lambda's API names it.
    pub arn: String,
    /// The durable execution name it was started with.
    pub name: String,
    /// The workflow it runs: the function name it was invoked as.
    pub workflow: String,
}

impl Context {
    pub(crate) fn new() -> Self {
        Context { _private: () }
    }

    /// The execution this workflow runs as (its ARN, name and workflow).
    pub fn execution(&self) -> Execution {
        let info = crate::bindings::execution::info();
        Execution {
            arn: info.arn,
            name: info.name,
            workflow: info.workflow,
        }
    }

    /// Runs `body` and records its result (JSON) or its error. When the step
    /// is already recorded, returns the record and does not run `body`.
    ///
    /// A failing body is retried with AWS's default strategy (6 attempts,
    /// exponential backoff from 5 s, full jitter); between attempts the
    /// workflow suspends. Each attempt runs at least once: if the process dies
    /// before its outcome is recorded, it runs again. See [`Context::step_with`].
    pub fn step<T, E>(
        &mut self,
        name: &str,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        E: Into<Error>,
    {
        self.step_with(name, StepConfig::default(), body)
    }

    /// [`Context::step`] with a retry strategy and semantics of your choice.
    pub fn step_with<T, E>(
        &mut self,
        name: &str,
        config: StepConfig,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        E: Into<Error>,
    {
        self.step_with_serdes(name, config, &Json, body)
    }

    /// [`Context::step_with`], its result recorded by `serdes` rather than
    /// as JSON.
    pub fn step_with_serdes<T, E>(
        &mut self,
        name: &str,
        config: StepConfig,
        serdes: &dyn Serdes<T>,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error>
    where
        E: Into<Error>,
    {
        let options = StepOptions {
            kind: StepKind::Step,
            semantics: match config.semantics {
                Semantics::AtLeastOncePerRetry => durable::Semantics::AtLeastOncePerRetry,
                Semantics::AtMostOncePerRetry => durable::Semantics::AtMostOncePerRetry,
            },
        };
        let (error, attempt) = match durable::begin_step(name, options) {
            StepBegin::Succeeded(text) => return decode(name, serdes, &text),
            StepBegin::Failed(error) => return Err(Error::from_object(error)),
            StepBegin::Pending => return Err(Error::pending()),
            StepBegin::Interrupted(attempt) => (
                Error::new(
                    "StepInterrupted",
                    format!(
                        "step {name:?}: attempt {attempt} was interrupted and may or may not have run"
                    ),
                ),
                attempt,
            ),
            StepBegin::Run(attempt) => match with_attempt(attempt.number, body)
                .map_err(Into::into)
                .and_then(|value| encode(name, serdes, &value))
            {
                Ok(text) => {
                    durable::end_step(Ok(&text));
                    // What replay will return, so that both runs see the same value.
                    return decode(name, serdes, &text);
                }
                Err(error) => (error, attempt.number),
            },
        };
        let decision = config.retry.decide(&error, attempt);
        if decision.retry {
            durable::retry_step(
                &RetryReason::Failed(error.into_object()),
                whole_seconds(decision.delay),
            );
            Err(Error::pending())
        } else {
            durable::end_step(Err(&error.clone().into_object()));
            Err(error)
        }
    }

    /// Polls `check` until `strategy` says the condition holds, carrying the
    /// state from each poll to the next and suspending durably in between.
    /// Each poll is an attempt of one step; the final state is its result.
    ///
    /// ```ignore
    /// let status = ctx.wait_for_condition(
    ///     "order-shipped",
    ///     Status::default(),
    ///     |status, _attempt| fetch_status(status.id),
    ///     WaitStrategy::polling_while(|status: &Status| !status.shipped),
    /// )?;
    /// ```
    pub fn wait_for_condition<S>(
        &mut self,
        name: &str,
        initial_state: S,
        check: impl FnOnce(S, u32) -> Result<S, Error>,
        strategy: WaitStrategy<S>,
    ) -> Result<S, Error>
    where
        S: Serialize + DeserializeOwned,
    {
        let options = StepOptions {
            kind: StepKind::WaitForCondition,
            semantics: durable::Semantics::AtLeastOncePerRetry,
        };
        let attempt = match durable::begin_step(name, options) {
            StepBegin::Succeeded(json) => return decode(name, &Json, &json),
            StepBegin::Failed(error) => return Err(Error::from_object(error)),
            StepBegin::Pending => return Err(Error::pending()),
            StepBegin::Run(attempt) => attempt,
            StepBegin::Interrupted(_) => unreachable!("polls run at least once per attempt"),
        };
        let polled = match attempt.state {
            Some(json) => decode(name, &Json, &json),
            None => Ok(initial_state),
        }
        .and_then(|state| with_attempt(attempt.number, || check(state, attempt.number)))
        .and_then(|state| Ok((encode(name, &Json, &state)?, state)));
        let (json, state) = match polled {
            Ok(polled) => polled,
            Err(error) => {
                durable::end_step(Err(&error.clone().into_object()));
                return Err(error);
            }
        };
        match strategy.decide(&state, attempt.number) {
            PollDecision::Done => {
                durable::end_step(Ok(&json));
                decode(name, &Json, &json)
            }
            PollDecision::Again(delay) => {
                durable::retry_step(&RetryReason::Polled(json), whole_seconds(delay));
                Err(Error::pending())
            }
            PollDecision::Fail(error) => {
                durable::end_step(Err(&error.clone().into_object()));
                Err(error)
            }
        }
    }

    /// Creates a callback: an id the outside world completes (with
    /// `cairn callback succeed ID RESULT`, or AWS's
    /// SendDurableExecutionCallbackSuccess) and the workflow waits on with
    /// [`Context::wait_callback`]. Give the id away from a step.
    pub fn create_callback<T>(
        &mut self,
        name: &str,
        config: CallbackConfig,
    ) -> Result<Callback<T>, Error> {
        let options = CallbackOptions {
            timeout_seconds: config.timeout.map_or(0, whole_seconds),
            heartbeat_timeout_seconds: config.heartbeat_timeout.map_or(0, whole_seconds),
        };
        Ok(Callback {
            id: durable::create_callback(name, options),
            name: name.to_owned(),
            result: PhantomData,
        })
    }

    /// Waits, suspended, until the callback is completed, and returns its
    /// result (JSON, decoded) or its error: the sender's, or `Callback.Timeout`
    /// or `Callback.Heartbeat`.
    pub fn wait_callback<T: DeserializeOwned>(
        &mut self,
        callback: &Callback<T>,
    ) -> Result<T, Error> {
        match durable::wait_callback(&callback.id) {
            CallbackState::Succeeded(json) => serde_json::from_str(&json).map_err(|error| {
                Error::new(
                    "SerializationError",
                    format!(
                        "callback {:?}: its result does not fit the type asked for: {error}",
                        callback.name
                    ),
                )
            }),
            CallbackState::Failed(error) => Err(Error::from_object(error)),
            CallbackState::Pending => Err(Error::pending()),
        }
    }

    /// Creates a callback, hands its id to `submitter` in a step (which tells
    /// the outside world, once: it is recorded), and waits for the result.
    pub fn wait_for_callback<T, E>(
        &mut self,
        name: &str,
        config: CallbackConfig,
        submitter: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        E: Into<Error>,
    {
        self.wait_for_callback_with(name, config, StepConfig::default(), submitter)
    }

    /// [`Context::wait_for_callback`], with the submitter's step run under
    /// `submitter_config` (its retry strategy and semantics).
    pub fn wait_for_callback_with<T, E>(
        &mut self,
        name: &str,
        config: CallbackConfig,
        submitter_config: StepConfig,
        submitter: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        E: Into<Error>,
    {
        // As AWS's SDKs shape it: a context holding the callback and the step.
        let json = self.in_context_json(name, ContextKind::WaitForCallback, |ctx| {
            let callback =
                ctx.create_callback::<()>(&format!("{name} create callback id"), config)?;
            ctx.step_with(&format!("{name} submitter"), submitter_config, || {
                submitter(callback.id())
            })?;
            match durable::wait_callback(&callback.id) {
                CallbackState::Succeeded(json) => Ok(json),
                CallbackState::Failed(error) => Err(Error::from_object(error)),
                CallbackState::Pending => Err(Error::pending()),
            }
        })?;
        Json::from_text(&json).map_err(|error| named(name, error))
    }

    /// Invokes the workflow registered as `workflow` (`cairn deploy`) on
    /// `input`, and waits, suspended, for its result. Its failure comes back
    /// as an error to handle.
    pub fn invoke<I, O>(&mut self, name: &str, workflow: &str, input: &I) -> Result<O, Error>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        self.invoke_with(name, workflow, input, InvokeConfig::default())
    }

    /// [`Context::invoke`] with options: the tenant the invoked execution
    /// runs for.
    pub fn invoke_with<I, O>(
        &mut self,
        name: &str,
        workflow: &str,
        input: &I,
        config: InvokeConfig,
    ) -> Result<O, Error>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let input = Json::to_text(input).map_err(|error| named(name, error))?;
        let options = durable::InvokeOptions {
            tenant_id: config.tenant_id,
        };
        match durable::invoke_with(name, workflow, &input, &options) {
            CallbackState::Succeeded(json) => {
                Json::from_text(&json).map_err(|error| named(name, error))
            }
            CallbackState::Failed(error) => Err(Error::from_object(error)),
            CallbackState::Pending => Err(Error::pending()),
        }
    }

    /// Runs `body` as a child context: its operations get ids of their own,
    /// and once it has finished, replay returns its recorded result without
    /// running it again.
    pub fn run_in_child_context<T>(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut Context) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
    {
        self.in_context(name, ContextKind::Child, &Json, body)
    }

    /// [`Context::run_in_child_context`], its result recorded by `serdes`
    /// rather than as JSON.
    pub fn run_in_child_context_with_serdes<T>(
        &mut self,
        name: &str,
        serdes: &dyn Serdes<T>,
        body: impl FnOnce(&mut Context) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.in_context(name, ContextKind::Child, serdes, body)
    }

    /// Runs `branches`, each in a child context, with a completion policy.
    /// A branch that waits does not hold up the others.
    pub fn parallel<T>(
        &mut self,
        name: &str,
        branches: Vec<Branch<'_, T>>,
        config: BatchConfig,
    ) -> Result<BatchResult<T>, Error>
    where
        T: Serialize + DeserializeOwned,
    {
        let named = (0..)
            .zip(branches)
            .map(|(index, branch)| (format!("{name}-{index}"), branch))
            .collect();
        self.parallel_named(name, named, config)
    }

    /// [`Context::parallel`], each branch with a name of its own: its
    /// context's name (by default `NAME-INDEX`).
    pub fn parallel_named<T>(
        &mut self,
        name: &str,
        branches: Vec<(String, Branch<'_, T>)>,
        config: BatchConfig,
    ) -> Result<BatchResult<T>, Error>
    where
        T: Serialize + DeserializeOwned,
    {
        config.check()?;
        let mut branches: Vec<(String, Option<Branch<'_, T>>)> = branches
            .into_iter()
            .map(|(name, branch)| (name, Some(branch)))
            .collect();
        let count = branches.len();
        self.in_context(name, ContextKind::Parallel, &Json, |ctx| {
            run_items(count, &config, |index| {
                let (name, branch) = &mut branches[index];
                let branch = branch.take().expect("each branch runs once per invocation");
                match config.nesting {
                    Nesting::Nested => {
                        ctx.in_context(name, ContextKind::ParallelBranch, &Json, branch)
                    }
                    Nesting::Flat => branch(ctx),
                }
            })
        })
    }

    /// Runs `function` on every item, each in a child context, with a
    /// completion policy. An item that waits does not hold up the others.
    pub fn map<I, T>(
        &mut self,
        name: &str,
        items: &[I],
        config: BatchConfig,
        function: impl FnMut(&mut Context, &I, usize) -> Result<T, Error>,
    ) -> Result<BatchResult<T>, Error>
    where
        T: Serialize + DeserializeOwned,
    {
        self.map_named(
            name,
            items,
            config,
            |_, index| format!("{name}-{index}"),
            function,
        )
    }

    /// [`Context::map`], naming each item's context with `namer(item,
    /// index)` (by default `NAME-INDEX`).
    pub fn map_named<I, T>(
        &mut self,
        name: &str,
        items: &[I],
        config: BatchConfig,
        namer: impl Fn(&I, usize) -> String,
        function: impl FnMut(&mut Context, &I, usize) -> Result<T, Error>,
    ) -> Result<BatchResult<T>, Error>
    where
        T: Serialize + DeserializeOwned,
    {
        let serdes = MapSerdes {
            item: &Json,
            result: &Json,
        };
        self.map_with_serdes(name, items, config, namer, serdes, function)
    }

    /// [`Context::map_named`], each item's result recorded by
    /// `serdes.item` and the whole batch's by `serdes.result`, rather than
    /// as JSON.
    pub fn map_with_serdes<I, T>(
        &mut self,
        name: &str,
        items: &[I],
        config: BatchConfig,
        namer: impl Fn(&I, usize) -> String,
        serdes: MapSerdes<'_, T>,
        mut function: impl FnMut(&mut Context, &I, usize) -> Result<T, Error>,
    ) -> Result<BatchResult<T>, Error> {
        config.check()?;
        self.in_context(name, ContextKind::Map, serdes.result, |ctx| {
            run_items(items.len(), &config, |index| match config.nesting {
                Nesting::Nested => ctx.in_context(
                    &namer(&items[index], index),
                    ContextKind::MapIteration,
                    serdes.item,
                    |ctx| function(ctx, &items[index], index),
                ),
                Nesting::Flat => function(ctx, &items[index], index),
            })
        })
    }

    fn in_context<T>(
        &mut self,
        name: &str,
        kind: ContextKind,
        serdes: &dyn Serdes<T>,
        body: impl FnOnce(&mut Context) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let text = self.in_context_json(name, kind, |ctx| {
            body(ctx).and_then(|value| encode(name, serdes, &value))
        })?;
        decode(name, serdes, &text)
    }

    /// Runs `body` as a context whose result is JSON text, recorded as is.
    fn in_context_json(
        &mut self,
        name: &str,
        kind: ContextKind,
        body: impl FnOnce(&mut Context) -> Result<String, Error>,
    ) -> Result<String, Error> {
        match durable::begin_context(name, kind) {
            ContextBegin::Succeeded(json) => Ok(json),
            ContextBegin::Failed(error) => Err(Error::from_object(error)),
            ContextBegin::Run => match body(self) {
                Ok(json) => {
                    durable::end_context(Ok(&json));
                    Ok(json)
                }
                Err(error) if error.is_pending() => {
                    durable::suspend_context();
                    Err(error)
                }
                Err(error) => {
                    durable::end_context(Err(&error.clone().into_object()));
                    Err(error)
                }
            },
        }
    }

    /// A durable timer: the workflow suspends (holding no compute) and
    /// resumes after `duration`, rounded up to whole seconds (1 s to 366 days).
    pub fn wait(&mut self, name: &str, duration: Duration) -> Result<(), Error> {
        let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
        if seconds == 0 {
            return Err(Error::new(
                "ValidationError",
                format!("wait {name:?}: a wait lasts at least 1 second"),
            ));
        }
        match durable::wait(name, seconds) {
            Progress::Done => Ok(()),
            Progress::Pending => Err(Error::pending()),
        }
    }

    /// Logs `message` unless the workflow is replaying. (In a step body,
    /// where `ctx` is borrowed, use [`crate::log`].)
    pub fn log(&self, level: Level, message: impl Display) {
        crate::log(level, message)
    }

    pub fn debug(&self, message: impl Display) {
        self.log(Level::Debug, message)
    }

    pub fn info(&self, message: impl Display) {
        self.log(Level::Info, message)
    }

    pub fn warn(&self, message: impl Display) {
        self.log(Level::Warn, message)
    }

    pub fn error(&self, message: impl Display) {
        self.log(Level::Error, message)
    }
}

/// One branch of [`Context::parallel`].
pub type Branch<'a, T> = Box<dyn FnOnce(&mut Context) -> Result<T, Error> + 'a>;

/// How long a callback may take. `None`: no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackConfig {
    pub timeout: Option<Duration>,
    /// The longest silence allowed between heartbeats from its holder.
    pub heartbeat_timeout: Option<Duration>,
}

/// A callback created by [`Context::create_callback`], whose result is a `T`.
pub struct Callback<T> {
    id: String,
    name: String,
    result: PhantomData<fn() -> T>,
}

impl<T> Callback<T> {
    /// What the outside world completes the callback with.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// How a step's retries behave.
#[derive(Clone, Default)]
pub struct StepConfig {
    pub retry: RetryStrategy,
    pub semantics: Semantics,
}

/// When an attempt of a step counts as begun.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semantics {
    /// The attempt is recorded with its outcome: if the process dies while
    /// the body runs, the attempt runs again.
    #[default]
    AtLeastOncePerRetry,
    /// The attempt is recorded before the body runs: if the process dies
    /// while it runs, the attempt fails with a `StepInterrupted` error (which
    /// goes through the retry strategy) and the body never runs twice for it.
    AtMostOncePerRetry,
}

thread_local! {
    static ATTEMPT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The attempt number (1-based) of the step body running now; 0 outside
/// step bodies.
pub fn attempt() -> u32 {
    ATTEMPT.get()
}

fn with_attempt<R>(attempt: u32, body: impl FnOnce() -> R) -> R {
    ATTEMPT.set(attempt);
    let result = body();
    ATTEMPT.set(0);
    result
}

/// How [`Context::invoke_with`] invokes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvokeConfig {
    /// The tenant the invoked execution runs for (Lambda's TenantId): the
    /// history records it, and on Lambda the invocation is tenant-isolated.
    pub tenant_id: Option<String>,
}

/// Delays travel as whole seconds, at least 1 (AWS's rule).
fn whole_seconds(delay: Duration) -> u64 {
    (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1)
}

/// `value` as `serdes` records it; an error names the operation.
fn encode<T>(name: &str, serdes: &dyn Serdes<T>, value: &T) -> Result<String, Error> {
    serdes.serialize(value).map_err(|error| named(name, error))
}

/// A record read back by `serdes`; an error names the operation.
fn decode<T>(name: &str, serdes: &dyn Serdes<T>, text: &str) -> Result<T, Error> {
    serdes.deserialize(text).map_err(|error| named(name, error))
}

fn named(name: &str, error: Error) -> Error {
    if error.is_pending() {
        return error;
    }
    let mut object = error.into_object();
    object.error_message = format!("operation {name:?}: {}", object.error_message);
    Error::from_object(object)
}
