//! The engine as a long-lived process: every running execution whose
//! component is known is advanced when a timer falls due or an event arrives
//! from outside (a callback completed, a stop), and left alone otherwise. A
//! waiting execution holds no thread and no instance here: only an entry
//! with its wake-up time.

use crate::Engine;
use crate::invocation::now_millis;
use crate::runner::{Next, RunOptions, advance};
use crate::sqlite::{Db, Status};
use anyhow::Result;
use cairn_core::replay::pending_timers;
use cairn_core::{Event, Millis};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the scheduler looks at the store.
const TICK: Duration = Duration::from_millis(50);

/// How long an execution that could not advance waits before another try.
const ERROR_PAUSE: Duration = Duration::from_secs(30);

/// What the scheduler knows of a waiting execution.
struct Waiting {
    /// The journal's length when it suspended: a longer one means news.
    seen: usize,
    wake_at: Option<Millis>,
    /// The executions it invoked, running when it suspended: one that has
    /// ended means news.
    invoked: Vec<String>,
}

impl Waiting {
    fn has_news(&self, db: &Db, execution: i64) -> Result<bool> {
        if db.journal_len(execution)? != self.seen {
            return Ok(true);
        }
        for name in &self.invoked {
            if db
                .find(name)?
                .is_none_or(|child| child.status != Status::Running)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Advances running executions as they fall due, until `stop` is set.
/// Executions claimed by another live process are left to it.
pub fn serve(engine: &Engine, db: &Db, options: &RunOptions, stop: &AtomicBool) -> Result<()> {
    let mut waiting: HashMap<i64, Waiting> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        for execution in db.list(Some(Status::Running))? {
            let Some(path) = execution.component_path.clone() else {
                continue; // started by a version that did not record its component
            };
            let now = now_millis();
            if let Some(known) = waiting.get(&execution.id)
                && known.wake_at.is_none_or(|due| due > now)
                && !known.has_news(db, execution.id)?
            {
                continue;
            }
            if db.claim(&execution, now).is_err() {
                continue;
            }
            let advanced = engine
                .load_file(&path)
                .and_then(|workflow| advance(engine, db, &workflow, &execution, options));
            db.release(execution.id)?;
            match advanced {
                Ok(Next::Ended(_)) => {
                    waiting.remove(&execution.id);
                }
                Ok(Next::Suspended { journal, invoked }) => {
                    let wake_at = next_wake(&journal, options.skip_time);
                    waiting.insert(
                        execution.id,
                        Waiting {
                            seen: journal.len(),
                            wake_at,
                            invoked: invoked.into_iter().map(|child| child.name).collect(),
                        },
                    );
                }
                Err(error) => {
                    // Tried again when something changes, or after a pause
                    // (a store that was busy, a component being replaced).
                    eprintln!("cairn: execution {}: {error:#}", execution.name);
                    let seen = db.journal_len(execution.id)?;
                    waiting.insert(
                        execution.id,
                        Waiting {
                            seen,
                            wake_at: Some(now_millis() + ERROR_PAUSE.as_millis() as Millis),
                            invoked: Vec::new(),
                        },
                    );
                }
            }
        }
        std::thread::sleep(TICK);
    }
    Ok(())
}

/// When a suspended journal's next timer is due (now, for skippable ones
/// when skipping time); `None`: it waits on the outside world only.
fn next_wake(journal: &[Event], skip_time: bool) -> Option<Millis> {
    pending_timers(journal)
        .into_iter()
        .map(|timer| {
            if skip_time && timer.skippable {
                0
            } else {
                timer.due
            }
        })
        .min()
}
