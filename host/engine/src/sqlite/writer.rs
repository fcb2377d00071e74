//! The store's one writer: a thread with a connection of its own that
//! commits the writes of many handles together. Whatever is queued when it
//! begins a transaction goes into that transaction, each write in a
//! savepoint of its own (one that fails is rolled back alone), and one
//! commit (one fsync) makes them all durable; only then does each writer
//! learn its outcome (invariant 4: an invocation goes on once its own
//! events are durable).

use anyhow::{Result, anyhow};
use rusqlite::Connection;
use std::sync::mpsc;

/// The most writes one transaction commits: bounds how long the first of
/// them waits for the last.
const MAX_BATCH: usize = 1024;

/// A write: runs in the transaction, and returns whether it succeeded and
/// what to do once the commit's outcome is known.
type Job = Box<dyn FnOnce(&rusqlite::Transaction<'_>) -> (bool, Done) + Send>;
type Done = Box<dyn FnOnce(Result<(), &str>) + Send>;

struct Task {
    /// Must reach the disk before its writer goes on.
    durable: bool,
    job: Job,
    /// Tells the writer why its job could not run at all.
    unrun: Box<dyn FnOnce(&str) + Send>,
}

/// A handle on the writer thread; clones share it. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tasks: mpsc::Sender<Task>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Result<Writer> {
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
        let (tasks, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("cairn-writer".into())
            .spawn(move || run(conn, synchronous, queue))?;
        Ok(Writer { tasks })
    }

    /// Runs `work` in the next group commit and waits until it is durable
    /// (or, with `durable` false, committed).
    pub(super) fn write<T: Send + 'static>(
        &self,
        durable: bool,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (send, receive) = mpsc::sync_channel(1);
        let unrun_send = send.clone();
        let unrun = Box::new(move |error: &str| {
            let _ = unrun_send.send(Err(anyhow!("cannot write to the store: {error}")));
        });
        let job: Job = Box::new(move |tx| {
            let result = work(tx);
            let ok = result.is_ok();
            let done: Done = Box::new(move |committed| {
                let _ = send.send(match (result, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(error)) => Err(anyhow!("cannot commit to the store: {error}")),
                    (Err(error), _) => Err(error),
                });
            });
            (ok, done)
        });
        self.tasks
            .send(Task {
                durable,
                job,
                unrun,
            })
            .map_err(|_| anyhow!("the store's writer has stopped"))?;
        receive
            .recv()
            .map_err(|_| anyhow!("the store's writer stopped before committing"))?
    }
}

fn run(mut conn: Connection, synchronous: i64, queue: mpsc::Receiver<Task>) {
    // NORMAL (1) in WAL mode: committed in order, synced by a later FULL
    // commit or a checkpoint.
    let mut current = synchronous;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(task) => batch.push(task),
                Err(_) => break,
            }
        }
        let wanted = if batch.iter().any(|task| task.durable) {
            synchronous
        } else {
            synchronous.min(1)
        };
        if wanted != current {
            match conn.execute_batch(&format!("PRAGMA synchronous = {wanted}")) {
                Ok(()) => current = wanted,
                // Committing at less than what was asked would report
                // durable what is not: refuse the batch instead.
                Err(error) if wanted > current => {
                    let error = error.to_string();
                    for task in batch {
                        fail_unrun(task, &error);
                    }
                    continue;
                }
                Err(_) => {} // more durable than asked: harmless
            }
        }
        commit(&mut conn, batch);
    }
}

/// One transaction for the whole batch.
fn commit(conn: &mut Connection, batch: Vec<Task>) {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            let error = error.to_string();
            // Nothing ran: each write learns why.
            for task in batch {
                fail_unrun(task, &error);
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    let mut tasks = batch.into_iter();
    let mut aborted = None;
    for task in tasks.by_ref() {
        if let Err(error) = run_cached(&tx, "SAVEPOINT write") {
            fail_unrun(task, &error.to_string());
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (task.job)(&tx)));
        let Ok((ok, then)) = ran else {
            // A write that panicked: undone, and the writer goes on. (Its
            // caller learns of it when its channel closes.)
            let _ = undo(&tx);
            continue;
        };
        // SQLite may roll the whole transaction back by itself (a full
        // disk, out of memory): nothing of the batch stands then.
        if tx.is_autocommit() {
            done.push((
                then,
                Some("the store rolled the transaction back".to_owned()),
            ));
            aborted = Some("the store rolled the transaction back".to_owned());
            break;
        }
        let undone = if ok {
            run_cached(&tx, "RELEASE write")
        } else {
            undo(&tx)
        };
        done.push((then, undone.err().map(|e| e.to_string())));
    }
    if let Some(error) = aborted {
        drop(tx);
        for (then, _) in done {
            then(Err(&error));
        }
        for task in tasks {
            fail_unrun(task, &error);
        }
        return;
    }
    let committed = tx.commit().map_err(|error| error.to_string());
    for (then, undone) in done {
        match (&committed, undone) {
            (Ok(()), None) => then(Ok(())),
            (Ok(()), Some(error)) | (Err(_), Some(error)) => then(Err(&error)),
            (Err(error), None) => then(Err(error)),
        }
    }
}

/// Runs a statement kept prepared (the savepoints of every write).
fn run_cached(tx: &rusqlite::Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Undoes the write since its savepoint.
fn undo(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    run_cached(tx, "ROLLBACK TO write")?;
    run_cached(tx, "RELEASE write")
}

/// Tells a write that never ran why.
fn fail_unrun(task: Task, error: &str) {
    (task.unrun)(error);
}
