//! Cairn's replay core: the journal's vocabulary ([`event`]), how guest calls
//! are fingerprinted and compared ([`call`]), the per-invocation replay state
//! machine ([`replay`]), what an HTTP exchange leaves in the journal
//! ([`exchange`]), the AWS-shaped view of a journal ([`history`]) and
//! the one people read ([`timeline`]).
//!
//! Architecture invariant: this crate is pure. It does no I/O, knows no
//! backend and no wasmtime; tests drive it with plain data.

pub mod call;
pub mod event;
pub mod exchange;
pub mod history;
pub mod lambda;
pub mod replay;
pub mod timeline;

pub use call::Call;
pub use event::{
    ContextKind, ErrorObject, Event, Fingerprint, Millis, OpId, RetryReason, StepKind,
};
pub use replay::{
    CallbackState, ContextBegin, Fault, Finish, GuestOutcome, Progress, Replayer, Semantics,
    StepBegin,
};
