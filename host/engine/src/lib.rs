//! Cairn's host: runs workflow components under wasmtime, journals every
//! import in the embedded SQLite store, and resumes executions by replay.
//!
//! - [`component`]: the wasmtime engine, validation and the compiled-component cache.
//! - [`imports`]: one module per imported WIT interface (`durable`, `log`,
//!   and the journaled `wasi:clocks` and `wasi:random`).
//! - [`invocation`]: one run of a fresh instance over a journal (live, or
//!   offline: answered from the history alone).
//! - [`inspect`]: offline replays judged: would a component resume an
//!   execution cleanly?
//! - [`runner`]: an execution run to its end: invoke, suspend, sleep, resume.
//! - [`server`]: the engine as a long-lived process: a scheduler over the
//!   store's index of due executions, a pool of workers, group commit.
//! - [`sqlite`]: the embedded store, its writer (group commit) and its
//!   fenced claims.
//! - [`limits`]: what protects the host from a guest, as named constants.
//! - [`crate_build`]: building a workflow crate into a component.
//! - [`testing`]: running workflows from `cargo test`, answering their
//!   callbacks, asserting on their histories.
//!
//! The replay logic itself is in `cairn-core`, which this crate drives.

mod bindings;
pub mod component;
pub mod crate_build;
mod imports;
pub mod inspect;
pub mod invocation;
pub mod limits;
pub mod logs;
pub mod runner;
pub mod server;
pub mod sqlite;
pub mod testing;

pub use bindings::cairn::workflow::log::Level as LogLevel;
pub use cairn_core::Finish;
pub use component::{ComponentHash, Engine, Workflow};
pub use invocation::{Identity, Input, InvocationEnd, JournalSink, Logger, invoke};
pub use limits::Limits;
pub use runner::{Notice, Outcome, RunOptions, RunRequest, run_to_completion};
pub use sqlite::{Db, Durability, Execution, Status};
