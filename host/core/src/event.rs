//! The journal's vocabulary: what an execution records, in order.
//!
//! A journal is a list of [`Event`]s. Some events are *calls*: one per guest
//! import call that replay must answer and check (a step begun, a wait begun,
//! a clock or random read). The others complete an operation started earlier
//! (found by operation id) or mark the life of the execution.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// A positional operation id within a context: `1`, `2`, and `2-1` inside
/// context `2`. Hashed only on the wire (see [`crate::history`]).
pub type OpId = String;

/// The first 8 bytes of a blake3 hash of a call's type, name and arguments.
pub type Fingerprint = u64;

/// A recorded call whose arguments the record does not keep (a journal
/// rebuilt from Lambda's operations): it matches by type and name alone.
pub const UNKNOWN_FINGERPRINT: Fingerprint = 0;

/// An error as AWS's durable SDKs shape it; rebuilt identically on replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub error_type: String,
    pub error_message: String,
    /// JSON text, if the error carries data.
    pub error_data: Option<String>,
    pub stack_trace: Vec<String>,
}

impl ErrorObject {
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        ErrorObject {
            error_type: error_type.into(),
            error_message: error_message.into(),
            error_data: None,
            stack_trace: Vec::new(),
        }
    }
}

impl ErrorObject {
    /// The error of an execution that ran past its timeout.
    pub fn timed_out() -> Self {
        ErrorObject::new("Execution.TimedOut", "the execution ran past its timeout")
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// Which kind of step an operation is (AWS's STEP SubTypes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    Step,
    /// A `wait_for_condition`: each attempt is one poll of the check.
    WaitForCondition,
    /// An HTTP request made outside any step: an implicit step whose result
    /// is the response, and whose fingerprint is the request's.
    /// (Last: postcard numbers variants, and journals hold the others.)
    Http,
}

impl StepKind {
    /// AWS's SubType for the kind.
    pub fn subtype(self) -> &'static str {
        match self {
            StepKind::Step => "Step",
            StepKind::WaitForCondition => "WaitForCondition",
            // AWS's SDKs know no HTTP SubType: to the console it is a step.
            StepKind::Http => "Step",
        }
    }
}

/// Which kind of context (AWS's CONTEXT SubTypes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContextKind {
    Child,
    Parallel,
    ParallelBranch,
    Map,
    MapIteration,
    /// `wait_for_callback`: a callback and the step that hands out its id.
    /// (Last: postcard numbers variants, and journals hold the others.)
    WaitForCallback,
}

impl ContextKind {
    /// AWS's SubType for the kind.
    pub fn subtype(self) -> &'static str {
        match self {
            ContextKind::Child => "RunInChildContext",
            ContextKind::Parallel => "Parallel",
            ContextKind::ParallelBranch => "ParallelBranch",
            ContextKind::Map => "Map",
            ContextKind::MapIteration => "MapIteration",
            ContextKind::WaitForCallback => "WaitForCallback",
        }
    }
}

/// Why an attempt of a step will be followed by another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryReason {
    /// The attempt failed with this error.
    Failed(ErrorObject),
    /// A `wait_for_condition` poll returned this state (JSON), not yet done.
    Polled(String),
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    ExecutionStarted {
        input: String,
        /// The execution's whole time, after which it times out; 0: none.
        timeout_seconds: u64,
        at: Millis,
    },
    /// An attempt of a step began: written with its outcome for
    /// at-least-once steps, before its body for at-most-once steps. The
    /// first attempt's is a call.
    StepStarted {
        id: OpId,
        name: String,
        kind: StepKind,
        fingerprint: Fingerprint,
        attempt: u32,
        at: Millis,
    },
    StepSucceeded {
        id: OpId,
        result: String,
        at: Millis,
    },
    StepFailed {
        id: OpId,
        error: ErrorObject,
        at: Millis,
    },
    /// An attempt ended and the step's strategy asked for another after a
    /// durable delay: the step is pending until the scheduler readies it.
    StepRetried {
        id: OpId,
        attempt: u32,
        reason: RetryReason,
        delay_seconds: u64,
        next_attempt_at: Millis,
        at: Millis,
    },
    /// The scheduler made the step's next attempt due (never the guest).
    /// Carries what that attempt needs: its number and any polled state.
    StepReady {
        id: OpId,
        attempt: u32,
        state: Option<String>,
        at: Millis,
    },
    /// Call: a durable timer began.
    WaitStarted {
        id: OpId,
        name: String,
        fingerprint: Fingerprint,
        seconds: u64,
        scheduled_end: Millis,
        at: Millis,
    },
    /// The scheduler fired the timer (never the guest).
    WaitSucceeded {
        id: OpId,
        at: Millis,
    },
    /// Call: `wasi:clocks/wall-clock.now`, in context `context`.
    WallClock {
        context: OpId,
        seconds: u64,
        nanoseconds: u32,
    },
    /// Call: `wasi:clocks/monotonic-clock.now`.
    MonotonicClock {
        context: OpId,
        nanos: u64,
    },
    /// Call: any `wasi:random` read; `bytes.len()` is part of the call.
    Random {
        context: OpId,
        bytes: Vec<u8>,
    },
    /// An invocation ended (suspended, finished or failed).
    InvocationCompleted {
        at: Millis,
    },
    ExecutionSucceeded {
        result: String,
        at: Millis,
    },
    ExecutionFailed {
        error: ErrorObject,
        at: Millis,
    },
    /// Call: a callback was created; `callback_id` is what the outside world
    /// completes it with (random, unguessable). 0 seconds: no timeout.
    CallbackStarted {
        id: OpId,
        name: String,
        fingerprint: Fingerprint,
        callback_id: String,
        timeout_seconds: u64,
        heartbeat_timeout_seconds: u64,
        at: Millis,
    },
    /// From outside: the callback's result (the sender's bytes, as text).
    CallbackSucceeded {
        id: OpId,
        result: String,
        at: Millis,
    },
    /// From outside: the callback failed with this error.
    CallbackFailed {
        id: OpId,
        error: ErrorObject,
        at: Millis,
    },
    /// From outside: the callback's holder is alive (resets the heartbeat timeout).
    CallbackHeartbeat {
        id: OpId,
        at: Millis,
    },
    /// The scheduler closed the callback: its timeout, or its heartbeat
    /// timeout, passed.
    CallbackTimedOut {
        id: OpId,
        heartbeat: bool,
        at: Millis,
    },
    /// Call: a context began: a group of operations with ids of their own
    /// (`id-1`, `id-2`, ...), replayed apart from its siblings'.
    ContextStarted {
        id: OpId,
        name: String,
        kind: ContextKind,
        fingerprint: Fingerprint,
        at: Millis,
    },
    ContextSucceeded {
        id: OpId,
        result: String,
        at: Millis,
    },
    ContextFailed {
        id: OpId,
        error: ErrorObject,
        at: Millis,
    },
    /// The scheduler ended the execution: its timeout passed.
    ExecutionTimedOut {
        at: Millis,
    },
    /// Someone stopped the execution, with this error.
    ExecutionStopped {
        error: ErrorObject,
        at: Millis,
    },
    /// Call: another workflow was invoked with `input` (JSON); its
    /// execution runs apart, and its outcome comes back as a follow-up.
    InvokeStarted {
        id: OpId,
        name: String,
        fingerprint: Fingerprint,
        workflow: String,
        input: String,
        at: Millis,
        /// The tenant the invocation runs for (Lambda's TenantId), if given.
        /// Last: format 7 stores' records, which lack it, are rewritten
        /// when migrated (`sqlite::MIGRATE_7_INVOKES`).
        tenant: Option<String>,
    },
    InvokeSucceeded {
        id: OpId,
        result: String,
        at: Millis,
    },
    InvokeFailed {
        id: OpId,
        error: ErrorObject,
        at: Millis,
    },
    /// An invocation ended because the guest crashed (trapped, panicked or
    /// exited) inside a step body: the step's attempt is recorded as begun
    /// just before, and the execution goes on, invoked again, where the
    /// attempt counts as interrupted. Last in the enum: postcard numbers
    /// variants in order, and journals written before it stay readable.
    InvocationCrashed {
        /// The step whose body crashed.
        id: OpId,
        error: ErrorObject,
        at: Millis,
    },
    /// A context succeeded with a result too large to record (over the
    /// payload limit): replay rebuilds it by running the context's body
    /// again over its recorded children (Lambda's ReplayChildren).
    ContextReplayChildren {
        id: OpId,
        at: Millis,
    },
    /// Someone paused the execution: it is not invoked until resumed,
    /// while its timers, callbacks and invoked executions go on completing.
    /// Written when the pause takes effect (`at`): at once, or at the
    /// invocation's next durability point if one was running.
    ExecutionPaused {
        requested_at: Millis,
        reason: Option<String>,
        /// Whether the execution's timeout stands still while it is paused.
        timeout_paused: bool,
        /// Whether the pause kept an invocation from going on: resuming
        /// invokes the workflow even if nothing completed meanwhile.
        interrupted: bool,
        at: Millis,
    },
    /// Someone resumed the paused execution.
    ExecutionResumed {
        reason: Option<String>,
        at: Millis,
    },
}

impl Event {
    /// Whether replay answers this event to a guest call, in order.
    pub fn is_call(&self) -> bool {
        match self {
            Event::StepStarted { attempt, .. } => *attempt == 1,
            Event::WaitStarted { .. }
            | Event::CallbackStarted { .. }
            | Event::ContextStarted { .. }
            | Event::InvokeStarted { .. }
            | Event::WallClock { .. }
            | Event::MonotonicClock { .. }
            | Event::Random { .. } => true,
            _ => false,
        }
    }

    /// The id of the operation this call starts (ambient reads start none).
    pub fn op_id(&self) -> Option<&str> {
        match self {
            Event::StepStarted { id, .. }
            | Event::WaitStarted { id, .. }
            | Event::CallbackStarted { id, .. }
            | Event::ContextStarted { id, .. }
            | Event::InvokeStarted { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The context a call was made in: empty for the root.
    pub fn context(&self) -> &str {
        match self {
            Event::WallClock { context, .. }
            | Event::MonotonicClock { context, .. }
            | Event::Random { context, .. } => context,
            other => other.op_id().map_or("", crate::replay::parent_of),
        }
    }

    /// The operation this event carries on, if it is not the call that
    /// started it: a later attempt, a retry, an outcome, a timer firing.
    pub fn follows_up(&self) -> Option<&str> {
        match self {
            Event::StepStarted { id, attempt, .. } if *attempt > 1 => Some(id),
            Event::StepSucceeded { id, .. }
            | Event::StepFailed { id, .. }
            | Event::StepRetried { id, .. }
            | Event::StepReady { id, .. }
            | Event::WaitSucceeded { id, .. }
            | Event::CallbackSucceeded { id, .. }
            | Event::CallbackFailed { id, .. }
            | Event::CallbackHeartbeat { id, .. }
            | Event::CallbackTimedOut { id, .. }
            | Event::ContextSucceeded { id, .. }
            | Event::ContextReplayChildren { id, .. }
            | Event::ContextFailed { id, .. }
            | Event::InvokeSucceeded { id, .. }
            | Event::InvokeFailed { id, .. } => Some(id),
            _ => None,
        }
    }
}
