//! The engine as a long-lived process (`cairn serve`), built like a small
//! database engine:
//!
//! - the [`scheduler`] sleeps until the earliest due time in the store's
//!   index of due executions, or until news arrives, then claims what is
//!   due and hands it to a worker; nothing it does while idle depends on
//!   how many executions wait;
//! - the [`workers`] run invocations of different executions at the same
//!   time, each bounded by its time budget and interruptible by a stop;
//! - the store's [`Writer`](crate::sqlite::Writer) commits the writes of
//!   every worker and of the API together (group commit);
//! - claims are fenced leases held by this process ([`crate::sqlite`]), so
//!   that several servers on one store never run the same execution.
//!
//! [`Server`] is what the parts share with the HTTP API: a bell that wakes
//! the scheduler, the invocations in progress (to interrupt one), and who
//! waits for which execution to end.

/// A line of the server's own log (stderr), stamped with the time as the
/// workflows' log lines are: `2026-12-02T15:18:36.123Z cairn: ...`.
macro_rules! note {
    ($($arg:tt)*) => {
        eprintln!(
            "{} cairn: {}",
            cairn_core::history::iso8601(crate::invocation::now_millis()),
            format_args!($($arg)*)
        )
    };
}

mod scheduler;
pub mod store;
mod workers;

use crate::Engine;
use crate::runner::RunOptions;
use crate::sqlite::Db;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How `cairn serve` runs.
#[derive(Clone)]
pub struct ServeOptions {
    pub run: RunOptions,
    /// How many invocations run at once.
    pub workers: usize,
}

/// How many executions may be watched before watchers that went away are
/// swept.
const MAX_WATCHED: usize = 1024;

/// The default number of workers: invocations spend most of their time
/// waiting for their durability points to be committed, not on a core, and
/// the more of them wait on one commit the more one fsync covers, so the
/// pool is many per core (a looping guest holds only one of them). On 2
/// cores, 16 workers made 6,100 steps/s, 64 made 8,000 (the server bench).
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 32).min(crate::limits::POOLED_INSTANCES as usize)
}

/// What the scheduler, the workers and the API share.
#[derive(Default)]
pub struct Server {
    bell: Bell,
    /// Invocations in progress, by execution id.
    running: Mutex<HashMap<i64, Running>>,
    /// Who waits for which execution (by name) to end.
    end_watchers: Mutex<HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>>>,
}

impl Server {
    /// News for the scheduler (an execution started, a callback completed):
    /// it looks at the store now rather than at its next poll.
    pub fn wake(&self) {
        self.bell.ring();
    }

    /// Interrupts the invocation of execution `id`, if one is in progress
    /// here (it was stopped).
    pub fn interrupt(&self, id: i64) {
        if let Some(running) = self.running.lock().unwrap().get(&id) {
            running.interrupt.store(true, Ordering::Relaxed);
        }
    }

    /// Tells the invocation of execution `id`, if one is in progress here,
    /// to stop before its next step (it was paused; the store says so too,
    /// at the invocation's next durability point).
    pub fn pause(&self, id: i64) {
        if let Some(running) = self.running.lock().unwrap().get(&id) {
            running.pause.store(true, Ordering::Relaxed);
        }
    }

    /// Told when the execution `name` has ended here (register before
    /// looking at the store, so that no end falls between the two).
    pub fn watch_end(&self, name: &str) -> tokio::sync::oneshot::Receiver<()> {
        let (send, receive) = tokio::sync::oneshot::channel();
        let mut watchers = self.end_watchers.lock().unwrap();
        // Watchers that went away (a client that hung up, an end seen in
        // the store instead) are dropped as new ones come.
        if watchers.len() > MAX_WATCHED {
            watchers.retain(|_, list| {
                list.retain(|watcher| !watcher.is_closed());
                !list.is_empty()
            });
        }
        let list = watchers.entry(name.to_owned()).or_default();
        list.retain(|watcher| !watcher.is_closed());
        list.push(send);
        receive
    }

    /// The execution `name` has ended: tells those who wait.
    pub fn ended(&self, name: &str) {
        let watchers = self.end_watchers.lock().unwrap().remove(name);
        for watcher in watchers.into_iter().flatten() {
            let _ = watcher.send(());
        }
    }
}

/// Runs the server's scheduler and workers on the store `db` until `stop`
/// is set. Store faults are waited out: the loop goes on when the store
/// recovers.
pub fn serve(
    engine: Arc<Engine>,
    db: &Db,
    options: &ServeOptions,
    server: Arc<Server>,
    stop: &AtomicBool,
) -> Result<()> {
    let pool = workers::Pool::start(engine, db, options, server.clone())?;
    scheduler::run(db, &pool, &server, stop);
    Ok(())
}

/// An invocation in progress: its claim, and the flags that stop it.
struct Running {
    claim: crate::sqlite::Claim,
    interrupt: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
}

/// A wake-up call: rung by whoever has news, waited on by the scheduler.
#[derive(Default)]
struct Bell {
    rung: Mutex<bool>,
    ringing: Condvar,
}

impl Bell {
    fn ring(&self) {
        *self.rung.lock().unwrap() = true;
        self.ringing.notify_one();
    }

    /// Waits until rung or for `at_most`.
    fn wait(&self, at_most: Duration) {
        let rung = self.rung.lock().unwrap();
        let (mut rung, _) = self
            .ringing
            .wait_timeout_while(rung, at_most, |rung| !*rung)
            .unwrap();
        *rung = false;
    }
}
