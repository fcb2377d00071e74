//! The workers: a pool of threads, each running one claimed execution at a
//! time as far as it goes (`runner::advance`), then releasing it with its
//! next due time. A guest that loops or sleeps holds its own worker only,
//! until its time budget runs out or a stop interrupts it.

use super::{ServeOptions, Server};
use crate::Engine;
use crate::invocation::now_millis;
use crate::runner::{Next, RunOptions, advance, recorded_outcome};
use crate::sqlite::{Claim, Db, Execution};
use anyhow::{Result, anyhow};
use cairn_core::replay::pending_timers;
use cairn_core::{Event, Millis};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long an execution that could not advance (its component is missing
/// or another build, say) waits before another try.
const ERROR_PAUSE: Duration = Duration::from_secs(30);

/// The longest wait before a worker tries again to release an execution
/// the store would not take back (a full disk, say).
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);

/// A claimed execution to advance.
pub(super) struct Job {
    pub execution: Execution,
    pub claim: Claim,
    /// Advanced already, and to be released with this due time (and
    /// whether it ended): the store refused the release before.
    pub release: Option<(Option<Millis>, bool)>,
    /// How many times the store refused this job's release so far.
    pub failures: u32,
}

pub(super) struct Pool {
    jobs: mpsc::Sender<Job>,
    size: usize,
    busy: Arc<AtomicUsize>,
    /// Jobs whose release the store refused, held (still claimed) until
    /// they may be tried again.
    retries: Arc<Mutex<Vec<(Millis, Job)>>>,
}

impl Pool {
    pub fn start(
        engine: Arc<Engine>,
        db: &Db,
        options: &ServeOptions,
        server: Arc<Server>,
    ) -> Result<Pool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let busy = Arc::new(AtomicUsize::new(0));
        let retries = Arc::new(Mutex::new(Vec::new()));
        let size = options.workers.max(1);
        for index in 0..size {
            let worker = Worker {
                engine: engine.clone(),
                // Its own connection for reads; writes go to the writer.
                db: db.reopen()?,
                options: options.run.clone(),
                server: server.clone(),
            };
            let (queue, busy, retries) = (queue.clone(), busy.clone(), retries.clone());
            std::thread::Builder::new()
                .name(format!("cairn-worker-{index}"))
                .spawn(move || {
                    loop {
                        let job = queue.lock().unwrap().recv();
                        let Ok(job) = job else { break };
                        if let Some(retry) = worker.work_guarded(job) {
                            retries.lock().unwrap().push(retry);
                        }
                        busy.fetch_sub(1, Ordering::SeqCst);
                        worker.server.bell.ring();
                    }
                })?;
        }
        Ok(Pool {
            jobs,
            size,
            busy,
            retries,
        })
    }

    /// How many workers are idle.
    pub fn free(&self) -> usize {
        self.size.saturating_sub(self.busy.load(Ordering::SeqCst))
    }

    pub fn dispatch(&self, job: Job) {
        self.busy.fetch_add(1, Ordering::SeqCst);
        if self.jobs.send(job).is_err() {
            self.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Held jobs whose time has come, and when the next one's will.
    pub fn due_retries(&self, now: Millis) -> (Vec<Job>, Option<Millis>) {
        let mut retries = self.retries.lock().unwrap();
        let (due, held): (Vec<_>, Vec<_>) = retries.drain(..).partition(|(at, _)| *at <= now);
        *retries = held;
        let next = retries.iter().map(|(at, _)| *at).min();
        (due.into_iter().map(|(_, job)| job).collect(), next)
    }
}

struct Worker {
    engine: Arc<Engine>,
    db: Db,
    options: RunOptions,
    server: Arc<Server>,
}

impl Worker {
    /// [`Worker::work`]; a panic (a bug in the host) is reported, and the
    /// execution released to be tried again later rather than held.
    fn work_guarded(&self, job: Job) -> Option<(Millis, Job)> {
        let (claim, name, id) = (job.claim, job.execution.name.clone(), job.execution.id);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work(job))) {
            Ok(retry) => retry,
            Err(_) => {
                self.server.running.lock().unwrap().remove(&id);
                note!("execution {name}: the host panicked advancing it");
                let due = now_millis() + ERROR_PAUSE.as_millis() as Millis;
                let _ = self.db.release(&claim, Some(due));
                None
            }
        }
    }

    /// Advances the job's execution and releases it; a job the store would
    /// not release comes back (still claimed) with the time to try again.
    fn work(&self, job: Job) -> Option<(Millis, Job)> {
        let (due, ended) = match job.release {
            Some(release) => release,
            None => self.advance(&job),
        };
        // An execution's end freed it in the same write.
        let released = if ended {
            Ok(())
        } else {
            self.db.release(&job.claim, due)
        };
        match released {
            Ok(()) => {
                if ended {
                    self.server.ended(&job.execution.name);
                }
                None
            }
            Err(error) => {
                note!(
                    "execution {}: the store did not take it back ({error:#}); trying again",
                    job.execution.name
                );
                let pause = Duration::from_secs(1 << job.failures.min(5)).min(MAX_RETRY_PAUSE);
                let job = Job {
                    release: Some((due, ended)),
                    failures: job.failures + 1,
                    ..job
                };
                Some((now_millis() + pause.as_millis() as Millis, job))
            }
        }
    }

    /// Takes the execution as far as it goes: when it next falls due, and
    /// whether it has ended.
    fn advance(&self, job: &Job) -> (Option<Millis>, bool) {
        let execution = &job.execution;
        let (interrupt, pause) = (Arc::<AtomicBool>::default(), Arc::<AtomicBool>::default());
        self.server.running.lock().unwrap().insert(
            execution.id,
            super::Running {
                claim: job.claim,
                interrupt: interrupt.clone(),
                pause: pause.clone(),
            },
        );
        let mut options = self.options.clone();
        options.limits.interrupt = Some(interrupt);
        options.limits.pause = Some(pause);
        // A server's log interleaves many executions: each line names its own.
        let (logger, name) = (options.logger.clone(), execution.name.clone());
        options.logger =
            Arc::new(move |level, message: &str| logger(level, &format!("[{name}] {message}")));
        let advanced = self.run(execution, &job.claim, &options);
        self.server.running.lock().unwrap().remove(&execution.id);
        match &advanced {
            Ok(Next::Ended(_)) => (None, true),
            Ok(Next::Suspended { journal, .. }) => (next_wake(journal, options.skip_time), false),
            Err(error) => match self.db.find(&execution.name) {
                // Stopped or timed out meanwhile: the recorded end stands.
                Ok(Some(found)) if recorded_outcome(&found).is_some() => (None, true),
                _ => {
                    note!("execution {}: {error:#}", execution.name);
                    // Without a component it could never run here.
                    let retry = execution.component_path.is_some();
                    let due = now_millis() + ERROR_PAUSE.as_millis() as Millis;
                    (retry.then_some(due), false)
                }
            },
        }
    }

    fn run(&self, execution: &Execution, claim: &Claim, options: &RunOptions) -> Result<Next> {
        let path = execution.component_path.as_deref().ok_or_else(|| {
            anyhow!("it was started by a version of Cairn that did not record its component")
        })?;
        let workflow = self.engine.load_pinned(&execution.component_hash, path)?;
        advance(&self.engine, &self.db, &workflow, execution, claim, options)
    }
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
