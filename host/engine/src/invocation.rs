//! One invocation: a fresh instance of the component runs the workflow from
//! the top against the execution's journal, then is dropped.

use crate::bindings::{self, cairn::workflow::log::Level};
use crate::component::{Engine, Workflow};
use crate::imports::http::HttpHooks;
use crate::limits::{
    EPOCH_TICK, INTERRUPT_CHECK, Limits, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, MemoryCap,
};
use anyhow::Result;
use cairn_core::{ErrorObject, Event, Fault, Finish, GuestOutcome, Millis, Replayer};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Where an invocation persists its journal: one small trait per backend.
pub trait JournalSink: Send {
    /// Appends `events` to the execution's journal, as durably as the
    /// backend's setting asks, before returning.
    fn persist(&mut self, events: &[Event]) -> Result<()>;

    /// Whether the backend names callbacks itself when they are persisted
    /// (Lambda's does); Cairn's own random ids stand otherwise.
    fn names_callbacks(&self) -> bool {
        false
    }

    /// The backend's name for the callback of operation `op_id`, once
    /// persisted.
    fn callback_name(&self, _op_id: &str) -> Option<String> {
        None
    }

    /// Whether the last durability point found the execution paused from
    /// outside: the invocation stops before its next step.
    fn pause_asked(&self) -> bool {
        false
    }
}

/// What a workflow may know of its own execution (`execution.info`). The
/// same on every invocation, so it needs no journal entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Lambda's ARN of the execution.
    pub arn: String,
    /// The durable execution name.
    pub name: String,
    /// The workflow (function) name.
    pub workflow: String,
}

impl Identity {
    /// An execution of the embedded engine: its ARN is the one Cairn's API
    /// gives it.
    pub fn embedded(workflow: &str, name: &str) -> Identity {
        Identity {
            arn: cairn_core::history::execution_arn(workflow, name),
            name: name.to_owned(),
            workflow: workflow.to_owned(),
        }
    }
}

/// What an invocation runs on: the execution's input (JSON text) and its
/// identity.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub payload: &'a str,
    pub identity: &'a Identity,
}

/// Receives the guest's log lines (never those of a replay).
pub type Logger = Arc<dyn Fn(Level, &str) + Send + Sync>;

/// How an invocation ended.
#[derive(Debug)]
pub enum InvocationEnd {
    /// The guest returned and its outcome was recorded.
    Finished(Finish),
    /// The guest could not replay the execution's history: its calls differ
    /// from the record, or it trapped, hit a limit or broke the protocol
    /// before replay caught up. Nothing was recorded; the execution is as it
    /// was (another component, or other limits, may still resume it).
    CannotReplay(String),
    /// The guest trapped, hit a limit or broke the protocol: the execution
    /// failed with this error, recorded after everything recorded before.
    Failed(ErrorObject),
    /// The guest crashed (trapped, panicked, exited) inside a step body:
    /// the invocation ended with this error, the execution goes on and is
    /// due at once (the step's attempt counts as interrupted).
    Crashed(ErrorObject),
    /// The execution was paused from outside: the invocation stopped
    /// before a step, everything before it durable.
    Paused,
}

/// Why an import stopped the guest.
pub(crate) enum Abort {
    Diverged(Fault),
    Fail(ErrorObject),
    Storage(anyhow::Error),
    /// Told to stop from outside: nothing more is recorded.
    Interrupted,
    /// Paused from outside: everything recorded is durable, and the
    /// invocation ends before its next step.
    Paused,
    /// The guest crashed (trapped, panicked, exited) rather than misbehaved
    /// or ran out of a limit: inside a step body that ends the invocation
    /// only; elsewhere it fails as [`Abort::Fail`] does.
    Crash(ErrorObject),
}

/// The trap a guest is stopped with when its invocation is interrupted.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the invocation was interrupted from outside")
    }
}

impl std::error::Error for Interrupted {}

impl From<Fault> for Abort {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Divergence { .. } | Fault::EndOfHistory { .. } => Abort::Diverged(fault),
            Fault::Misuse(message) => {
                Abort::Fail(ErrorObject::new("Runtime.InvalidOperation", message))
            }
        }
    }
}

/// The store's data during one invocation.
pub struct HostState {
    pub(crate) replayer: Replayer,
    sink: Box<dyn JournalSink>,
    pub(crate) logger: Logger,
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    http: WasiHttpCtx,
    pub(crate) http_hooks: HttpHooks,
    /// When the invocation's time budget runs out, and the budget: what
    /// bounds the host calls that wait (`imports::io`).
    pub(crate) deadline: std::time::Instant,
    pub(crate) time_budget: std::time::Duration,
    /// Set from outside to stop the invocation (see [`Limits::interrupt`]).
    pub(crate) interrupt: Option<Arc<std::sync::atomic::AtomicBool>>,
    memory: MemoryCap,
    abort: Option<Abort>,
    pub(crate) panic_message: Option<String>,
    pub(crate) identity: Identity,
    /// Offline replay: what the guest replayed and logged, in order.
    pub(crate) trace: Option<Vec<Traced>>,
    /// The guest's stack when it trapped (a host import stopping it included).
    backtrace: Option<String>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.http_hooks.in_step = self.replayer.open_step().is_some();
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl HostState {
    /// Stops the guest: the import returns this trap, and `abort` says why.
    pub(crate) fn abort<T>(&mut self, abort: impl Into<Abort>) -> wasmtime::Result<T> {
        let abort = abort.into();
        let message = match &abort {
            Abort::Diverged(fault) => fault.to_string(),
            Abort::Fail(error) | Abort::Crash(error) => error.to_string(),
            Abort::Storage(error) => format!("{error:#}"),
            Abort::Interrupted => Interrupted.to_string(),
            Abort::Paused => "the execution was paused".to_owned(),
        };
        self.abort = Some(abort);
        Err(wasmtime::Error::msg(message))
    }

    /// Whether the invocation was told to stop from outside.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Makes every recorded event durable (a durability point).
    pub(crate) fn persist(&mut self) -> Result<()> {
        if !self.replayer.unflushed().is_empty() {
            self.sink.persist(self.replayer.unflushed())?;
            self.replayer.mark_durable();
        }
        Ok(())
    }

    /// Where a pause asked for from outside takes effect: before a step
    /// body or an HTTP exchange would run. Makes what was recorded durable
    /// first (which also tells whether the pause still stands: a resume
    /// may have cancelled it).
    pub(crate) fn pause_point(&mut self) -> wasmtime::Result<()> {
        if !self.sink.pause_asked() {
            return Ok(());
        }
        if let Err(error) = self.persist() {
            return self.abort(Abort::Storage(error));
        }
        if self.sink.pause_asked() {
            return self.abort(Abort::Paused);
        }
        Ok(())
    }

    /// For a backend that names callbacks: persists the callback just
    /// created (under Cairn's `local` id) and renames it as the backend did.
    pub(crate) fn persist_naming_callback(&mut self, local: &str) -> Result<String> {
        let new = self.replayer.unflushed().iter().any(|event| {
            matches!(event, Event::CallbackStarted { callback_id, .. } if callback_id == local)
        });
        if !new || !self.sink.names_callbacks() {
            return Ok(local.to_owned()); // replayed: named already
        }
        self.persist()?;
        let op_id = self
            .replayer
            .callback_op(local)
            .ok_or_else(|| anyhow::anyhow!("callback {local} vanished from the journal"))?;
        let named = self.sink.callback_name(&op_id).ok_or_else(|| {
            anyhow::anyhow!("the backend named no callback for operation {op_id}")
        })?;
        self.replayer.rename_callback(local, &named);
        Ok(named)
    }

    /// Fails the invocation when a payload from the guest is too large.
    pub(crate) fn check_payload(&mut self, what: &str, bytes: usize) -> wasmtime::Result<()> {
        match too_large(what, bytes, MAX_PAYLOAD_BYTES) {
            Some(error) => self.abort(Abort::Fail(error)),
            None => Ok(()),
        }
    }

    /// Fails the invocation when an operation's name is too long to record.
    pub(crate) fn check_name(&mut self, name: &str) -> wasmtime::Result<()> {
        match too_large("an operation's name", name.len(), MAX_NAME_BYTES) {
            Some(error) => self.abort(Abort::Fail(error)),
            None => Ok(()),
        }
    }
}

/// The `Runtime.PayloadTooLarge` error for `bytes` over `limit`, if they are.
fn too_large(what: &str, bytes: usize, limit: usize) -> Option<ErrorObject> {
    (bytes > limit).then(|| {
        ErrorObject::new(
            "Runtime.PayloadTooLarge",
            format!("{what} is {bytes} bytes; the limit is {limit} bytes"),
        )
    })
}

/// How many bytes an error object records.
pub(crate) fn error_size(error: &ErrorObject) -> usize {
    error.error_type.len()
        + error.error_message.len()
        + error.error_data.as_ref().map_or(0, String::len)
        + error.stack_trace.iter().map(String::len).sum::<usize>()
}

pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Runs one invocation of `workflow` over `journal` (already persisted).
/// Returns how it ended and the journal as it now stands. `Err` means the
/// journal could not be written: the invocation may be retried.
pub fn invoke(
    engine: &Engine,
    workflow: &Workflow,
    journal: Vec<Event>,
    input: Input<'_>,
    sink: Box<dyn JournalSink>,
    limits: Limits,
    logger: Logger,
) -> Result<(InvocationEnd, Vec<Event>)> {
    let state = HostState::new(Replayer::new(journal), sink, logger, &limits, input);
    let (returned, mut state) = run_guest(engine, workflow, state, input.payload, &limits)?;
    let now = now_millis();
    let end = match returned {
        Ok(outcome) => match state.replayer.finish(outcome, now) {
            Ok(finish) => {
                state.persist()?;
                return Ok((
                    InvocationEnd::Finished(finish),
                    state.replayer.into_journal(),
                ));
            }
            Err(fault) => fault.into(),
        },
        Err(abort) => abort,
    };
    let end = match end {
        Abort::Storage(error) => return Err(error),
        Abort::Interrupted => return Err(Interrupted.into()),
        Abort::Paused => InvocationEnd::Paused,
        Abort::Diverged(fault) => InvocationEnd::CannotReplay(fault.to_string()),
        Abort::Fail(error) | Abort::Crash(error) if state.replayer.is_replaying() => {
            InvocationEnd::CannotReplay(format!(
                "it failed while replaying its recorded history, at position {}: {error}",
                state.replayer.position()
            ))
        }
        // A crash inside a step body is the invocation's, not the
        // execution's: it goes on (Lambda invokes a crashed function again).
        Abort::Crash(error) if state.replayer.crash_in_step(error.clone(), now) => {
            state.persist()?;
            InvocationEnd::Crashed(error)
        }
        Abort::Fail(error) | Abort::Crash(error) => {
            state.replayer.fail_execution(error.clone(), now);
            state.persist()?;
            InvocationEnd::Failed(error)
        }
    };
    Ok((end, state.replayer.into_journal()))
}

/// One step of an offline replay's trace.
#[derive(Clone, Debug)]
pub enum Traced {
    /// The guest made the recorded call at this index of the journal.
    Replayed(usize),
    /// The guest logged this line.
    Log(Level, String),
}

/// An offline replay: what happened, in order, and how it ended.
#[derive(Debug)]
pub struct OfflineReplay {
    pub trace: Vec<Traced>,
    pub end: OfflineEnd,
}

#[derive(Debug)]
pub enum OfflineEnd {
    /// The guest returned, and the replayer accepted its outcome:
    /// `Suspended` means it waits on what the history leaves pending.
    Finished(Finish),
    /// The guest's calls differ from the history, it broke the protocol, or
    /// it would go on past the end of the history.
    Stopped(Fault),
    /// The guest trapped, panicked or hit a limit.
    Failed(ErrorObject),
}

/// The guest's stack when replay stopped it, innermost frame first.
pub type Backtrace = Option<String>;

/// Re-runs `workflow` over a recorded `journal` without running anything
/// live: no step body, no clock or entropy read, nothing written. Every log
/// line is traced, replayed or not.
pub fn replay_offline(
    engine: &Engine,
    workflow: &Workflow,
    journal: Vec<Event>,
    input: Input<'_>,
    limits: Limits,
) -> Result<(OfflineReplay, Backtrace)> {
    struct Nowhere;
    impl JournalSink for Nowhere {
        fn persist(&mut self, _: &[Event]) -> Result<()> {
            Ok(()) // an offline replay keeps nothing
        }
    }
    let mut state = HostState::new(
        Replayer::offline(journal),
        Box::new(Nowhere),
        Arc::new(|_, _| {}),
        &limits,
        input,
    );
    state.trace = Some(Vec::new());
    let (returned, mut state) = run_guest(engine, workflow, state, input.payload, &limits)?;
    let mut backtrace = None;
    let end = match returned {
        Ok(outcome) => match state.replayer.finish(outcome, now_millis()) {
            Ok(finish) => OfflineEnd::Finished(finish),
            // Live, a misuse at the return fails the execution: the same here.
            Err(Fault::Misuse(message)) => {
                OfflineEnd::Failed(ErrorObject::new("Runtime.InvalidOperation", message))
            }
            Err(fault) => OfflineEnd::Stopped(fault),
        },
        Err(abort) => {
            backtrace = state.backtrace.take();
            match abort {
                Abort::Diverged(fault) => OfflineEnd::Stopped(fault),
                Abort::Fail(error) | Abort::Crash(error) => OfflineEnd::Failed(error),
                Abort::Storage(error) => return Err(error),
                Abort::Interrupted | Abort::Paused => return Err(Interrupted.into()),
            }
        }
    };
    let mut trace = state.trace.take().unwrap_or_default();
    let replayed = state.replayer.take_replayed();
    trace.extend(replayed.into_iter().map(Traced::Replayed));
    Ok((OfflineReplay { trace, end }, backtrace))
}

impl HostState {
    fn new(
        replayer: Replayer,
        sink: Box<dyn JournalSink>,
        logger: Logger,
        limits: &Limits,
        input: Input<'_>,
    ) -> Self {
        let deadline = std::time::Instant::now() + limits.time_budget;
        HostState {
            replayer,
            sink,
            logger,
            // No environment, arguments, preopened directories or network.
            wasi: WasiCtx::builder()
                .monotonic_clock(crate::imports::clocks::EpochClock)
                .build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(limits.http.clone(), deadline),
            deadline,
            time_budget: limits.time_budget,
            interrupt: limits.interrupt.clone(),
            memory: MemoryCap {
                limit: limits.memory,
                exceeded: None,
            },
            abort: None,
            panic_message: None,
            identity: input.identity.clone(),
            trace: None,
            backtrace: None,
        }
    }
}

/// Runs the guest's `run` export on a fresh instance: its outcome (checked
/// for size) or why it stopped, and the store's data. `Err`: the host could
/// not instantiate it.
fn run_guest(
    engine: &Engine,
    workflow: &Workflow,
    state: HostState,
    input: &str,
    limits: &Limits,
) -> Result<(Result<GuestOutcome, Abort>, HostState)> {
    let mut store = wasmtime::Store::new(&engine.engine, state);
    store.limiter(|state| &mut state.memory);
    // Every INTERRUPT_CHECK the guest is stopped, if it is out of time or
    // told to stop, and goes on otherwise.
    let check = (INTERRUPT_CHECK.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(check);
    store.epoch_deadline_callback(move |context| {
        let state = context.data();
        if state.interrupted() {
            return Err(Interrupted.into());
        }
        if std::time::Instant::now() >= state.deadline {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(wasmtime::UpdateDeadline::Continue(check))
    });

    // A failure to instantiate is the host's (a full pool, say), not the
    // workflow's: the invocation may be retried.
    let instance = workflow
        .pre
        .instantiate(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot instantiate the workflow: {e}"))?;
    let returned = instance.call_run(&mut store, input);
    let mut state = store.into_data();
    let outcome = match returned {
        Ok(outcome) => {
            let outcome = match outcome {
                bindings::Outcome::Succeeded(result) => GuestOutcome::Succeeded(result),
                bindings::Outcome::Failed(error) => GuestOutcome::Failed(from_wit(error)),
                bindings::Outcome::Pending => GuestOutcome::Pending,
            };
            let oversized = match &outcome {
                GuestOutcome::Succeeded(result) => {
                    too_large("the workflow's result", result.len(), MAX_PAYLOAD_BYTES)
                }
                GuestOutcome::Failed(error) => {
                    too_large("the workflow's error", error_size(error), MAX_PAYLOAD_BYTES)
                }
                GuestOutcome::Pending => None,
            };
            match oversized {
                Some(error) => Err(Abort::Fail(error)),
                None => Ok(outcome),
            }
        }
        Err(trap) => {
            state.backtrace = trap
                .downcast_ref::<wasmtime::WasmBacktrace>()
                .map(|backtrace| backtrace.to_string());
            Err(classify_trap(&mut state, trap, limits))
        }
    };
    Ok((outcome, state))
}

/// Says why the guest stopped, most precise reason first.
fn classify_trap(state: &mut HostState, trap: wasmtime::Error, limits: &Limits) -> Abort {
    if let Some(abort) = state.abort.take() {
        return abort;
    }
    if trap.downcast_ref::<Interrupted>().is_some() {
        return Abort::Interrupted;
    }
    if let Some(desired) = state.memory.exceeded {
        return Abort::Fail(ErrorObject::new(
            "Runtime.MemoryLimitExceeded",
            format!(
                "the workflow tried to grow its memory to {:.1} MiB; its limit is {} MiB",
                desired as f64 / f64::from(1 << 20),
                limits.memory >> 20
            ),
        ));
    }
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return Abort::Fail(ErrorObject::new(
            "Runtime.TimeBudgetExceeded",
            format!(
                "the invocation ran longer than its time budget of {:?} (a loop that never ends?)",
                limits.time_budget
            ),
        ));
    }
    if let Some(exit) = trap.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Abort::Crash(ErrorObject::new(
            "Runtime.ExitError",
            format!("the workflow exited with status {}", exit.0),
        ));
    }
    let message = match state.panic_message.take() {
        Some(panic) => format!("the workflow panicked: {panic}"),
        None => format!("the workflow trapped: {}", trap.root_cause()),
    };
    Abort::Crash(ErrorObject::new("Runtime.Trap", message))
}

pub(crate) fn from_wit(error: bindings::ErrorObject) -> ErrorObject {
    ErrorObject {
        error_type: error.error_type,
        error_message: error.error_message,
        error_data: error.error_data,
        stack_trace: error.stack_trace,
    }
}

pub(crate) fn to_wit(error: ErrorObject) -> bindings::ErrorObject {
    bindings::ErrorObject {
        error_type: error.error_type,
        error_message: error.error_message,
        error_data: error.error_data,
        stack_trace: error.stack_trace,
    }
}
