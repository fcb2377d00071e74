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

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    ExecutionStarted {
        input: String,
        at: Millis,
    },
    /// Call: a step began (written with its completion for at-least-once steps).
    StepStarted {
        id: OpId,
        name: String,
        fingerprint: Fingerprint,
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
    /// Call: `wasi:clocks/wall-clock.now`.
    WallClock {
        seconds: u64,
        nanoseconds: u32,
    },
    /// Call: `wasi:clocks/monotonic-clock.now`.
    MonotonicClock {
        nanos: u64,
    },
    /// Call: any `wasi:random` read; `bytes.len()` is part of the call.
    Random {
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
}

impl Event {
    /// Whether replay answers this event to a guest call, in order.
    pub fn is_call(&self) -> bool {
        matches!(
            self,
            Event::StepStarted { .. }
                | Event::WaitStarted { .. }
                | Event::WallClock { .. }
                | Event::MonotonicClock { .. }
                | Event::Random { .. }
        )
    }

    /// The operation this event completes, if it completes one.
    pub fn completes(&self) -> Option<&str> {
        match self {
            Event::StepSucceeded { id, .. }
            | Event::StepFailed { id, .. }
            | Event::WaitSucceeded { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The outcome of the execution, if this event ends it.
    pub fn final_outcome(&self) -> Option<Result<&str, &ErrorObject>> {
        match self {
            Event::ExecutionSucceeded { result, .. } => Some(Ok(result)),
            Event::ExecutionFailed { error, .. } => Some(Err(error)),
            _ => None,
        }
    }
}
