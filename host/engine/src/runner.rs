//! Running an execution to its end in the foreground: start it or find it,
//! then invoke, suspend, sleep until its timers are due, fire them and invoke
//! again, until it finishes. Suspended, it holds no instance and no memory:
//! only its rows in the store.

use crate::component::{Engine, Workflow, hex};
use crate::invocation::{Identity, Input, InvocationEnd, Logger, invoke, now_millis};
use crate::limits::{Limits, MAX_PAYLOAD_BYTES};
use crate::sqlite::{Claim, Db, Execution, NewExecution, Refused, Status};
use anyhow::{Result, bail};
use cairn_core::replay::{fire_due_timers, pending_invokes, pending_timers, resumed_without_news};
use cairn_core::{ErrorObject, Event, Finish, Millis};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Fire timers at once instead of sleeping until they are due.
    pub skip_time: bool,
    /// Let an execution started by another component resume on this one:
    /// replay checks that it makes the same calls.
    pub upgrade: bool,
    pub limits: Limits,
    pub logger: Logger,
    /// Told when the execution suspends and when it resumes.
    pub notify: Notify,
}

/// What a run reports as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Waiting, with no instance, until this time (epoch milliseconds), or
    /// until a callback is completed (`None`), for `awaiting` (the open
    /// operations, as `timeline::awaited` names them).
    Suspended {
        until: Option<Millis>,
        awaiting: Vec<String>,
    },
    /// Invoking again after a suspension.
    Resumed,
}

pub type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded(String),
    Failed(ErrorObject),
}

/// What to run.
pub struct RunRequest<'a> {
    pub workflow: &'a Workflow,
    /// The workflow's name (its component's or crate's).
    pub workflow_name: &'a str,
    /// The execution's name; running again with it resumes the execution.
    pub name: &'a str,
    /// JSON text.
    pub input: &'a str,
    /// How long the execution may take in all (a new execution's setting).
    pub timeout: Option<Duration>,
    /// Where the component is, recorded so a server can resume the execution.
    pub component_path: Option<&'a Path>,
    /// The execution that invoked this one, if one did.
    pub parent: Option<i64>,
}

/// Parses `input` and writes it canonically (sorted keys, no spaces), so the
/// same input compares equal however it was typed.
pub fn canonical_input(input: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(input)
        .map_err(|e| anyhow::anyhow!("the input is not valid JSON: {e}"))?;
    let text = value.to_string();
    if text.len() > MAX_PAYLOAD_BYTES {
        bail!(
            "the input is {} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes",
            text.len()
        );
    }
    Ok(text)
}

/// Starts the execution `request.name`, or resumes it if it exists and is
/// unfinished, and runs it to its end. A finished execution returns its
/// recorded outcome without running anything.
pub fn run_to_completion(
    engine: &Engine,
    db: &Db,
    request: &RunRequest<'_>,
    options: &RunOptions,
) -> Result<Outcome> {
    let (execution, claim) = find_or_create(db, request, true)?;
    if let Some(outcome) = recorded_outcome(&execution) {
        return Ok(outcome);
    }
    if execution.component_hash != request.workflow.hash && !options.upgrade {
        bail!(
            "execution {:?} is pinned to component {}, and this component is {}: resume it with the component it started with, or pass --upgrade to replay it on this one",
            request.name,
            &hex(&execution.component_hash)[..16],
            &hex(&request.workflow.hash)[..16]
        );
    }
    resume(engine, db, request.workflow, &execution, claim, options)
}

/// Creates the execution `request.name`, or finds it if it exists with the
/// same input (starting by name is idempotent). Runs nothing: a scheduler
/// takes a new one up at once.
pub fn start(db: &Db, request: &RunRequest<'_>) -> Result<Execution> {
    find_or_create(db, request, false).map(|(execution, _)| execution)
}

/// [`start`], and with `claim`, a new execution is born claimed by this
/// process (which runs it: no scheduler may take it first).
fn find_or_create(
    db: &Db,
    request: &RunRequest<'_>,
    claim: bool,
) -> Result<(Execution, Option<Claim>)> {
    let input = canonical_input(request.input)?;
    match db.find(request.name)? {
        None => db.create(
            &NewExecution {
                name: request.name,
                workflow: request.workflow_name,
                hash: &request.workflow.hash,
                input: &input,
                timeout_seconds: request.timeout.map_or(0, |t| t.as_secs().max(1)),
                component_path: request.component_path,
                parent: request.parent,
            },
            now_millis(),
            claim,
        ),
        Some(existing) if existing.input != input => bail!(Refused::Conflict(format!(
            "execution {:?} already exists with a different input ({}); use another name",
            request.name, existing.input
        ))),
        Some(existing) => Ok((existing, None)),
    }
}

/// How a finished execution ended; `None` while it runs.
pub fn recorded_outcome(execution: &Execution) -> Option<Outcome> {
    match execution.status {
        Status::Running => None,
        Status::Succeeded => Some(Outcome::Succeeded(
            execution.result.clone().unwrap_or_default(),
        )),
        Status::Failed | Status::TimedOut | Status::Stopped => {
            Some(Outcome::Failed(execution.error.clone().unwrap_or_else(
                || ErrorObject::new("Unknown", "the recorded error is unreadable"),
            )))
        }
    }
}

/// Claims the execution (unless `claim` holds it already) and runs it to
/// its end. When something fails because the execution was stopped or
/// timed out meanwhile (its writes are refused), the recorded end stands
/// instead of the error.
fn resume(
    engine: &Engine,
    db: &Db,
    workflow: &Workflow,
    execution: &Execution,
    claim: Option<Claim>,
    options: &RunOptions,
) -> Result<Outcome> {
    let claim = match claim {
        Some(claim) => claim,
        None => db.claim(execution, now_millis())?,
    };
    let outcome = run_until_ended(engine, db, workflow, execution, &claim, options)
        .or_else(|error| ended(db, execution)?.ok_or(error));
    // Left unfinished (an error): a server may take it up.
    let due = outcome.is_err().then(now_millis);
    db.release(&claim, due)?;
    outcome
}

/// The execution's recorded end, if it has ended (perhaps from outside).
fn ended(db: &Db, execution: &Execution) -> Result<Option<Outcome>> {
    Ok(db
        .find(&execution.name)?
        .as_ref()
        .and_then(recorded_outcome))
}

fn run_until_ended(
    engine: &Engine,
    db: &Db,
    workflow: &Workflow,
    execution: &Execution,
    claim: &Claim,
    options: &RunOptions,
) -> Result<Outcome> {
    loop {
        match advance(engine, db, workflow, execution, claim, options)? {
            Next::Ended(outcome) => return Ok(outcome),
            // In the foreground, what it invoked runs here, one at a time;
            // one that another process (a server) runs is waited for.
            Next::Suspended { invoked, .. } if !invoked.is_empty() => {
                let mut ran = false;
                for child in &invoked {
                    if let Ok(claim) = db.claim(child, now_millis()) {
                        run_invoked(engine, db, child, claim, options)?;
                        ran = true;
                    }
                }
                if !ran {
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
            Next::Suspended { journal, .. } => {
                sleep_until_due(db, execution, &journal, options)?;
                (options.notify)(Notice::Resumed);
            }
        }
    }
}

/// What a claimed execution needs after [`advance`].
pub enum Next {
    Ended(Outcome),
    /// Waiting: on the timers of `journal`, on the executions it `invoked`
    /// (still running), or on something from outside.
    Suspended {
        journal: Vec<Event>,
        invoked: Vec<Execution>,
    },
}

/// Takes a claimed execution as far as it goes now: fires its due timers,
/// invokes it, starts the executions it invokes and records the outcomes of
/// those that have ended, until it ends or waits. It does not run what it
/// invokes: those are executions of their own.
pub fn advance(
    engine: &Engine,
    db: &Db,
    workflow: &Workflow,
    execution: &Execution,
    claim: &Claim,
    options: &RunOptions,
) -> Result<Next> {
    // An upgrade: the first events the new component writes re-pin the
    // execution. Only when asked for: a component rebuilt in place (the
    // file a server resumes from) must not take executions over quietly.
    if execution.component_hash != workflow.hash && !options.upgrade {
        bail!(
            "execution {:?} is pinned to component {}, and the component found is {}: resume it with the component it started with, or upgrade it explicitly",
            execution.name,
            &hex(&execution.component_hash)[..16],
            &hex(&workflow.hash)[..16]
        );
    }
    let repin = (execution.component_hash != workflow.hash).then_some(workflow.hash);
    loop {
        // Stopped or timed out meanwhile?
        let now = db.find(&execution.name)?;
        if let Some(outcome) = now.as_ref().and_then(recorded_outcome) {
            return Ok(Next::Ended(outcome));
        }
        let paused = now.is_some_and(|now| now.pause.is_some());
        // The claim may have lapsed (a process paused past its lease): no
        // step body may run on it. Later bodies follow a fenced write.
        if !db.holds(claim)? {
            bail!(
                "execution {:?} is no longer claimed by this process (its lease lapsed): another may run it now",
                execution.name
            );
        }
        // Read afresh: callbacks may have been completed from outside.
        let mut journal = db.journal(execution.id)?;
        let fired = fire_due_timers(&journal, now_millis(), options.skip_time);
        if !fired.is_empty() {
            db.append(claim, &fired, None)?;
            if fired
                .iter()
                .any(|event| matches!(event, Event::ExecutionTimedOut { .. }))
            {
                continue; // ended: nothing to run
            }
            journal = db.journal(execution.id)?;
        }
        // What it invoked may have ended meanwhile: its outcome first.
        let (running, outcomes) = invoked_outcomes(engine, db, execution, &journal)?;
        if !outcomes.is_empty() {
            db.append(claim, &outcomes, None)?;
            journal = db.journal(execution.id)?;
        }
        // Paused: its timers fire and what it invoked is recorded, but
        // the workflow is not invoked (it was due to be: the pause kept it
        // from that).
        if paused && db.pause_taken(claim, true, now_millis())? {
            return Ok(Next::Suspended {
                journal: db.journal(execution.id)?,
                invoked: running,
            });
        }
        // Resumed with nothing new: it waits on (its timers, perhaps moved
        // by the pause, say until when).
        if resumed_without_news(&journal) {
            return Ok(Next::Suspended {
                journal,
                invoked: running,
            });
        }
        // What it logs is kept in the store with its next durability point.
        let logs = crate::logs::LogBuffer::default();
        let pause_asked = options.limits.pause.clone().unwrap_or_default();
        pause_asked.store(false, Ordering::Relaxed);
        let sink = db.sink(claim, repin, logs.clone(), pause_asked.clone());
        let (end, journal) = invoke(
            engine,
            workflow,
            journal,
            Input {
                payload: &execution.input,
                identity: &Identity::embedded(&execution.workflow, &execution.name),
            },
            sink,
            options
                .limits
                .allowing(db.http_allowlist(&execution.workflow)?),
            logs.keeping(options.logger.clone()),
        )?;
        match end {
            InvocationEnd::Finished(Finish::Succeeded(result)) => {
                return Ok(Next::Ended(Outcome::Succeeded(result)));
            }
            InvocationEnd::Finished(Finish::Failed(error)) | InvocationEnd::Failed(error) => {
                return Ok(Next::Ended(Outcome::Failed(error)));
            }
            // Invoked again at once: the crashed attempt counts as
            // interrupted, and the step's strategy decides what follows.
            InvocationEnd::Crashed(_) => {}
            // Stopped before a step: the invocation ends here, and the
            // pause takes effect at the top of the loop.
            InvocationEnd::Paused => {
                db.append(
                    claim,
                    &[Event::InvocationCompleted { at: now_millis() }],
                    None,
                )?;
            }
            InvocationEnd::CannotReplay(why) => {
                bail!(
                    "execution {:?} cannot resume on this component: {why}",
                    execution.name
                )
            }
            InvocationEnd::Finished(Finish::Suspended) => {
                // A pause asked for during the invocation, which suspended
                // before it took effect: in effect now.
                if pause_asked.load(Ordering::Relaxed) {
                    db.pause_taken(claim, false, now_millis())?;
                }
                let (running, outcomes) = invoked_outcomes(engine, db, execution, &journal)?;
                if outcomes.is_empty() {
                    return Ok(Next::Suspended {
                        journal,
                        invoked: running,
                    });
                }
                db.append(claim, &outcomes, None)?;
            }
        }
    }
}

/// For each invocation the journal leaves pending: the execution it
/// invoked, started now if need be, while it runs, or the event recording
/// its outcome once it has ended.
fn invoked_outcomes(
    engine: &Engine,
    db: &Db,
    execution: &Execution,
    journal: &[Event],
) -> Result<(Vec<Execution>, Vec<Event>)> {
    let mut running = Vec::new();
    let mut outcomes = Vec::new();
    for (id, workflow_name, input) in pending_invokes(journal) {
        match invoked(engine, db, execution, id, workflow_name, input)? {
            Invoked::Running(child) => running.push(*child),
            Invoked::Ended(outcome) => outcomes.push(match outcome {
                Outcome::Succeeded(result) => Event::InvokeSucceeded {
                    id: id.to_owned(),
                    result,
                    at: now_millis(),
                },
                Outcome::Failed(error) => Event::InvokeFailed {
                    id: id.to_owned(),
                    error,
                    at: now_millis(),
                },
            }),
        }
    }
    Ok((running, outcomes))
}

/// Where an execution that an operation invoked stands.
enum Invoked {
    Running(Box<Execution>),
    Ended(Outcome),
}

/// Finds or starts the execution that operation `id` of `parent` invoked.
/// Its name derives from the parent's and the operation's, so a resumed
/// parent finds it.
fn invoked(
    engine: &Engine,
    db: &Db,
    parent: &Execution,
    id: &str,
    workflow_name: &str,
    input: &str,
) -> Result<Invoked> {
    let name = cairn_core::history::invoked_execution_name(&parent.name, id);
    if name.len() > MAX_CHILD_NAME {
        return Ok(Invoked::Ended(Outcome::Failed(ErrorObject::new(
            "InvokeTooDeep",
            format!("invocations nest too deep (execution name {name:?})"),
        ))));
    }
    if let Some(child) = db.find(&name)? {
        return Ok(match recorded_outcome(&child) {
            Some(outcome) => Invoked::Ended(outcome),
            None => Invoked::Running(Box::new(child)),
        });
    }
    let Some((path, hash)) = db.workflow(workflow_name)? else {
        return Ok(Invoked::Ended(Outcome::Failed(ErrorObject::new(
            "WorkflowNotFound",
            format!(
                "no workflow is registered as {workflow_name:?} (cairn deploy {workflow_name} COMPONENT)"
            ),
        ))));
    };
    // What the callee cannot start with is the caller's error to handle,
    // not the engine's: it must not stall the caller. A store that fails
    // is the engine's: tried again later.
    let cannot_start = |error: anyhow::Error| {
        Invoked::Ended(Outcome::Failed(ErrorObject::new(
            "InvokeFailed",
            format!("workflow {workflow_name:?} cannot start: {error:#}"),
        )))
    };
    let workflow = match engine.load_deployed(&path, hash.as_ref()) {
        Ok(workflow) => workflow,
        Err(error) => return Ok(cannot_start(error)),
    };
    if let Err(error) = canonical_input(input) {
        return Ok(cannot_start(error));
    }
    let request = RunRequest {
        workflow: &workflow,
        workflow_name,
        name: &name,
        input,
        timeout: None,
        component_path: Some(&path),
        parent: Some(parent.id),
    };
    match start(db, &request) {
        Ok(child) => Ok(Invoked::Running(Box::new(child))),
        Err(error) if error.downcast_ref::<Refused>().is_some() => Ok(cannot_start(error)),
        Err(error) => Err(error),
    }
}

/// Runs an invoked execution, claimed, to its end in the foreground.
fn run_invoked(
    engine: &Engine,
    db: &Db,
    child: &Execution,
    claim: Claim,
    options: &RunOptions,
) -> Result<()> {
    let workflow = match &child.component_path {
        Some(path) => engine.load_pinned(&child.component_hash, path),
        None => Err(anyhow::anyhow!(
            "invoked execution {:?} has no component",
            child.name
        )),
    };
    let workflow = match workflow {
        Ok(workflow) => workflow,
        Err(error) => {
            db.release(&claim, Some(now_millis()))?;
            return Err(error);
        }
    };
    resume(engine, db, &workflow, child, Some(claim), options)?;
    Ok(())
}

/// The longest name of an invoked execution: bounds how deep invocations nest.
const MAX_CHILD_NAME: usize = 200;

/// How often a suspended foreground run looks for events from outside.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Sleeps until the next timer is due (at once for skippable ones with
/// `skip_time`) or until an event arrives from outside (a callback completed).
fn sleep_until_due(
    db: &Db,
    execution: &Execution,
    journal: &[Event],
    options: &RunOptions,
) -> Result<()> {
    let timers = pending_timers(journal);
    if options.skip_time && timers.iter().any(|timer| timer.skippable) {
        (options.notify)(Notice::Suspended {
            until: Some(now_millis()),
            awaiting: cairn_core::timeline::awaited(journal),
        });
        return Ok(());
    }
    let mut wake_at = timers.iter().map(|timer| timer.due).min();
    (options.notify)(Notice::Suspended {
        until: wake_at,
        awaiting: cairn_core::timeline::awaited(journal),
    });
    let mut seen = journal.len();
    loop {
        let now = now_millis();
        if wake_at.is_some_and(|due| due <= now) {
            return Ok(());
        }
        let nap = wake_at.map_or(POLL_INTERVAL, |due| {
            POLL_INTERVAL.min(Duration::from_millis(due - now))
        });
        std::thread::sleep(nap);
        if db.journal_len(execution.id)? != seen {
            let journal = db.journal(execution.id)?;
            // Heartbeats only move a callback's deadline, and a pause or a
            // resume with nothing new to replay changes nothing either.
            let bookkeeping = journal[seen..].iter().all(|event| {
                matches!(
                    event,
                    Event::CallbackHeartbeat { .. } | Event::ExecutionPaused { .. }
                )
            });
            if bookkeeping {
                seen = journal.len();
                wake_at = pending_timers(&journal).iter().map(|timer| timer.due).min();
                continue;
            }
            return Ok(());
        }
    }
}
