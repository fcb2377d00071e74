//! The replay state machine: one per invocation.
//!
//! A [`Replayer`] starts from an execution's journal. The host forwards every
//! journaled guest import call to it; while recorded calls remain, it answers
//! from the journal and checks each call against its record (type, name and
//! argument fingerprint); after that it records new events. It performs no
//! I/O: live values (clock, random) come from closures the caller passes, and
//! the caller persists [`Replayer::unflushed`] events when told to.

use crate::call::{Call, describe_recorded};
use crate::event::{
    ContextKind, ErrorObject, Event, Fingerprint, Millis, OpId, RetryReason, StepKind,
};
use crate::exchange::ExchangeRecord;

/// Stands for a recorded exchange that cannot be read (never a request's
/// fingerprint: those are blake3's, and this one is reserved).
const UNREADABLE: Fingerprint = u64::MAX - 1;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The longest durable wait, as in AWS: 366 days.
pub const MAX_WAIT_SECONDS: u64 = 31_622_400;

/// Why an invocation cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The guest's calls differ from the recorded ones: the component or its
    /// inputs changed. Nothing may be recorded past this point.
    #[error(
        "replay diverged at position {position}{}: the history records {recorded}, but the workflow now makes {new}",
        in_context(.context)
    )]
    Divergence {
        /// 1-based index among the calls of its context.
        position: usize,
        /// The context's operation id; empty for the workflow's own calls.
        context: String,
        recorded: String,
        new: String,
    },
    /// The guest broke the protocol (a bug in the workflow or its SDK).
    #[error("{0}")]
    Misuse(String),
    /// Offline replay reached the end of the recorded history: the workflow
    /// would go on live with `next`, which an offline replay never does.
    #[error(
        "the recorded history ends before position {position}{}: the workflow would go on with {next}",
        in_context(.context)
    )]
    EndOfHistory {
        position: usize,
        context: String,
        next: String,
    },
}

fn in_context(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(" in context {context}")
    }
}

/// What the guest must do with the context it asked to begin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextBegin {
    /// Run the context's body; then end or suspend it.
    Run,
    /// Recorded: do not run the body; this is its result.
    Succeeded(String),
    Failed(ErrorObject),
}

/// What the guest must do with the step it asked to begin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepBegin {
    /// Run attempt `attempt` of the body now (with the state a previous
    /// poll carried, for `wait_for_condition`), then call
    /// [`Replayer::end_step`] or [`Replayer::retry_step`]. Persist
    /// [`Replayer::unflushed`] durably before the body runs.
    Run {
        attempt: u32,
        state: Option<String>,
    },
    /// An at-most-once attempt began and never ended: the body may have run.
    /// Do not run it; end or retry the step as for a `StepInterrupted` error.
    Interrupted {
        attempt: u32,
    },
    Succeeded(String),
    Failed(ErrorObject),
    /// Waiting for a retry delay: return pending.
    Pending,
}

/// How many crashes an at-least-once attempt may have (its body runs again
/// after each one) before it counts as interrupted, and its retry strategy
/// decides.
pub const MAX_CRASHES_PER_ATTEMPT: usize = 3;

/// When a step's attempt counts as begun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    /// Recorded with its outcome: a crash mid-body runs the attempt again.
    AtLeastOncePerRetry,
    /// Recorded durably before the body runs: a crash mid-body makes the
    /// attempt [`StepBegin::Interrupted`].
    AtMostOncePerRetry,
}

/// Whether a durable operation is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    Pending,
}

/// Where a callback stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackState {
    Succeeded(String),
    /// Failed from outside, or timed out (`Callback.Timeout`,
    /// `Callback.Heartbeat`).
    Failed(ErrorObject),
    Pending,
}

/// How the guest's `run` export returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestOutcome {
    Succeeded(String),
    Failed(ErrorObject),
    Pending,
}

/// How an invocation ended, once the replayer accepted the guest's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Succeeded(String),
    Failed(ErrorObject),
    /// Waiting on an operation: end the invocation, resume later.
    Suspended,
}

/// A step attempt the guest is running (or deciding the fate of).
struct OpenStep {
    id: OpId,
    name: String,
    kind: StepKind,
    fingerprint: Fingerprint,
    attempt: u32,
    /// 1-based position of the step's call.
    position: usize,
    at: Millis,
    /// This attempt's StepStarted event is already in the journal.
    start_recorded: bool,
    /// Its body runs (the begin was `Run`, not `Interrupted`).
    body_runs: bool,
}

/// What the journal holds of a recorded operation beyond its call.
#[derive(Clone, Copy, Default)]
struct Trail {
    /// The operation's latest follow-up event.
    last: Option<usize>,
    /// Its latest StepReady (which carries the state of a poll).
    ready: Option<usize>,
}

pub struct Replayer {
    journal: Vec<Event>,
    /// `journal[..durable_len]` is persisted.
    durable_len: usize,
    /// The context the guest is in now.
    scope: Scope,
    /// The contexts it is nested in, innermost last.
    parents: Vec<Scope>,
    /// Recorded contexts not entered yet in this invocation, by id.
    recorded: HashMap<OpId, Scope, BuildHasherDefault<Fnv>>,
    last_monotonic: u64,
    open_step: Option<OpenStep>,
    /// Each callback id's context and index into that context's calls.
    callbacks: HashMap<String, (OpId, usize), BuildHasherDefault<Fnv>>,
    /// Offline: answer from the history only, and note what was replayed.
    offline: bool,
    /// Offline: journal indices of the calls replayed, in the order the
    /// guest made them, not yet taken by [`Replayer::take_replayed`].
    replayed: Vec<usize>,
}

/// One context's calls: each context (the root, a child context, a parallel
/// branch) numbers and replays its own calls, so branches that suspend and
/// resume at different times replay in any interleaving.
#[derive(Default)]
struct Scope {
    /// The context's operation id; empty for the root.
    context: OpId,
    /// Journal indices of the context's call events, in call order.
    calls: Vec<usize>,
    /// How many of `calls` came from the recorded history.
    recorded_calls: usize,
    /// The next call's index into `calls`.
    cursor: usize,
    /// For each call, what followed it in the recorded journal.
    trails: Vec<Trail>,
    op_counter: u64,
    /// The first operation of this context that answered pending:
    /// (position, description). The context may make no call after it.
    pending: Option<(usize, String)>,
    /// Child contexts suspended with something pending.
    pending_children: usize,
    /// A context that succeeded with a result too large to record, run
    /// again to rebuild it: every call replays, and its end records nothing.
    rebuilding: bool,
}

impl Scope {
    fn new(context: OpId) -> Self {
        Scope {
            context,
            ..Scope::default()
        }
    }

    /// The id of this context's `n`th operation: `n`, or `context-n`.
    fn op_id(&self, n: u64) -> OpId {
        op_id(&self.context, n)
    }

    fn is_blocked(&self) -> bool {
        self.pending.is_some() || self.pending_children > 0
    }
}

/// The id of the `n`th operation of `context`: `n`, or `context-n`.
fn op_id(context: &str, n: u64) -> OpId {
    if context.is_empty() {
        n.to_string()
    } else {
        format!("{context}-{n}")
    }
}

/// The context an operation id belongs to: `2-1` is in `2`, `3` in the root.
pub fn parent_of(id: &str) -> &str {
    id.rsplit_once('-').map_or("", |(parent, _)| parent)
}

impl Replayer {
    /// A replayer over an execution's recorded (and persisted) journal.
    pub fn new(journal: Vec<Event>) -> Self {
        let mut root = Scope::default();
        let mut recorded: HashMap<OpId, Scope, BuildHasherDefault<Fnv>> = HashMap::default();
        // Each operation's context and index among that context's calls.
        let mut started: HashMap<&str, (&str, usize), BuildHasherDefault<Fnv>> =
            HashMap::with_capacity_and_hasher(journal.len(), Default::default());
        let mut callbacks = HashMap::default();
        for (index, event) in journal.iter().enumerate() {
            if event.is_call() {
                let context = event.context();
                let scope = if context.is_empty() {
                    &mut root
                } else {
                    if !recorded.contains_key(context) {
                        recorded.insert(context.to_owned(), Scope::new(context.to_owned()));
                    }
                    recorded.get_mut(context).expect("inserted above")
                };
                if let Some(id) = event.op_id() {
                    started.insert(id, (context, scope.calls.len()));
                }
                if let Event::CallbackStarted { callback_id, .. } = event {
                    callbacks.insert(callback_id.clone(), (context.to_owned(), scope.calls.len()));
                }
                scope.calls.push(index);
                scope.trails.push(Trail::default());
            } else if let Some(&(context, call)) = event.follows_up().and_then(|id| started.get(id))
            {
                let scope = if context.is_empty() {
                    &mut root
                } else {
                    recorded.get_mut(context).expect("its call made it")
                };
                let trail = &mut scope.trails[call];
                trail.last = Some(index);
                if let Event::StepReady { .. } = event {
                    trail.ready = Some(index);
                }
            }
        }
        drop(started);
        for scope in recorded.values_mut().chain([&mut root]) {
            scope.recorded_calls = scope.calls.len();
        }
        let scope = root;
        // Recorded clock values bound live ones from below, whatever the
        // order in which contexts replay.
        let last_monotonic = journal
            .iter()
            .filter_map(|event| match event {
                Event::MonotonicClock { nanos, .. } => Some(*nanos),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Replayer {
            durable_len: journal.len(),
            journal,
            scope,
            parents: Vec::new(),
            recorded,
            last_monotonic,
            open_step: None,
            callbacks,
            offline: false,
            replayed: Vec::new(),
        }
    }

    /// A replayer that answers from `journal` only: a call past the end of
    /// the history, or a step attempt that would run, is
    /// [`Fault::EndOfHistory`]. It notes every call it replays.
    pub fn offline(journal: Vec<Event>) -> Self {
        Replayer {
            offline: true,
            ..Replayer::new(journal)
        }
    }

    /// The operation id of the callback `callback_id`.
    pub fn callback_op(&self, callback_id: &str) -> Option<OpId> {
        self.journal.iter().rev().find_map(|event| match event {
            Event::CallbackStarted {
                id, callback_id: c, ..
            } if c == callback_id => Some(id.clone()),
            _ => None,
        })
    }

    /// Gives the callback `old` the id `new` its backend chose for it.
    pub fn rename_callback(&mut self, old: &str, new: &str) {
        if let Some(place) = self.callbacks.remove(old) {
            self.callbacks.insert(new.to_owned(), place);
        }
        for event in self.journal.iter_mut().rev() {
            if let Event::CallbackStarted { callback_id, .. } = event
                && callback_id == old
            {
                *callback_id = new.to_owned();
                break;
            }
        }
    }

    /// Offline: the journal indices of the calls replayed since the last
    /// time this was asked, in the order the guest made them.
    pub fn take_replayed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.replayed)
    }

    /// The journal as it stands (the history, then what was recorded since).
    pub fn journal(&self) -> &[Event] {
        &self.journal
    }

    /// True while the guest is re-running recorded calls.
    pub fn is_replaying(&self) -> bool {
        self.scope.cursor < self.scope.recorded_calls
    }

    /// The 1-based position of the next call.
    pub fn position(&self) -> usize {
        self.scope.cursor + 1
    }

    /// Events recorded in this invocation and not yet persisted.
    pub fn unflushed(&self) -> &[Event] {
        &self.journal[self.durable_len..]
    }

    /// The caller persisted [`Replayer::unflushed`].
    pub fn mark_durable(&mut self) {
        self.durable_len = self.journal.len();
    }

    /// `wasi:random/insecure-seed`: fixed for the execution and not
    /// journaled, so it is the same in workflow code and step bodies, live
    /// or replayed (std seeds `HashMap`s from it once per thread, wherever
    /// the first one is made).
    pub fn insecure_seed(&self) -> (u64, u64) {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"cairn insecure-seed\0");
        if let Some(Event::ExecutionStarted { input, at, .. }) = self.journal.first() {
            hasher.update(&at.to_le_bytes()).update(input.as_bytes());
        }
        let hash = hasher.finalize();
        let bytes = hash.as_bytes();
        (
            u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
        )
    }

    pub fn into_journal(self) -> Vec<Event> {
        self.journal
    }

    pub fn begin_step(
        &mut self,
        name: &str,
        kind: StepKind,
        semantics: Semantics,
        now: Millis,
    ) -> Result<StepBegin, Fault> {
        self.begin_attempt(Call::Step { name, kind }, semantics, now)
    }

    /// Begins an HTTP request made outside any step: an implicit
    /// at-least-once step named `METHOD URL`, whose result is the response's
    /// [`ExchangeRecord`] (its error, with the request's fingerprint as its
    /// data, when the exchange failed). A recorded exchange answers only the
    /// same request: `Succeeded` carries a readable record.
    pub fn begin_exchange(
        &mut self,
        name: &str,
        request: Fingerprint,
        now: Millis,
    ) -> Result<StepBegin, Fault> {
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "the response to HTTP request {name:?}, sent outside any step, was read inside \
                 step {:?}: read it before the step begins, or send it inside the step",
                step.name
            )));
        }
        let position = self.scope.cursor + 1;
        let begin = self.begin_attempt(
            Call::Http { name, request },
            Semantics::AtLeastOncePerRetry,
            now,
        )?;
        // Lambda keeps no fingerprint with a step: the record carries it.
        let recorded = match &begin {
            StepBegin::Run { .. } => return Ok(begin),
            StepBegin::Succeeded(result) => match ExchangeRecord::parse(result) {
                Some(record) => record.fingerprint(),
                None => Some(UNREADABLE),
            },
            StepBegin::Failed(error) => error
                .error_data
                .as_deref()
                .and_then(ExchangeRecord::failed_fingerprint),
            // Exchanges are never retried: the record is another step's.
            StepBegin::Pending | StepBegin::Interrupted { .. } => Some(UNREADABLE),
        };
        match recorded {
            Some(recorded) if recorded != request => Err(Fault::Divergence {
                context: self.scope.context.clone(),
                position,
                recorded: if recorded == UNREADABLE {
                    format!("step {name:?}, not an HTTP exchange")
                } else {
                    Call::Http {
                        name,
                        request: recorded,
                    }
                    .to_string()
                },
                new: Call::Http { name, request }.to_string(),
            }),
            _ => Ok(begin),
        }
    }

    /// The operation id of the step whose body is running, if one is: what
    /// the guest does now belongs to that step and is not journaled on its own.
    pub fn open_step(&self) -> Option<&str> {
        self.open_step.as_ref().map(|step| step.id.as_str())
    }

    fn begin_attempt(
        &mut self,
        call: Call<'_>,
        semantics: Semantics,
        now: Millis,
    ) -> Result<StepBegin, Fault> {
        let (name, kind) = match call {
            Call::Step { name, kind } => (name, kind),
            Call::Http { name, .. } => (name, StepKind::Http),
            other => unreachable!("{other} is no step"),
        };
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "{call} was begun inside the body of step {:?}: steps cannot nest",
                step.name
            )));
        }
        let fingerprint = call.fingerprint();
        self.scope.op_counter += 1;
        let position = self.scope.cursor + 1;
        // The id is made only for a step that runs: replaying a finished one
        // allocates nothing.
        let (context, n) = (self.scope.context.clone(), self.scope.op_counter);
        let open = |attempt, at, start_recorded, body_runs| OpenStep {
            id: op_id(&context, n),
            name: name.to_owned(),
            kind,
            fingerprint,
            attempt,
            position,
            at,
            start_recorded,
            body_runs,
        };
        let (step, begin) = match self.replay_call(call)? {
            None => (
                open(1, now, false, true),
                StepBegin::Run {
                    attempt: 1,
                    state: None,
                },
            ),
            Some((index, trail)) => match &self.journal[trail.last.unwrap_or(index)] {
                Event::StepSucceeded { result, .. } => {
                    return Ok(StepBegin::Succeeded(result.clone()));
                }
                Event::StepFailed { error, .. } => return Ok(StepBegin::Failed(error.clone())),
                Event::StepRetried { .. } => {
                    self.scope.pending = Some((position, call.to_string()));
                    return Ok(StepBegin::Pending);
                }
                Event::StepReady { attempt, state, .. } => (
                    open(*attempt, now, false, true),
                    StepBegin::Run {
                        attempt: *attempt,
                        state: state.clone(),
                    },
                ),
                // The attempt began and never ended. An at-least-once
                // attempt is recorded begun only when its body crashed
                // (`crash_in_step`): it runs again, as in AWS's SDKs, but
                // after MAX_CRASHES_PER_ATTEMPT crashes it counts as interrupted,
                // so that a body that always crashes goes through the retry
                // strategy instead of crashing forever.
                Event::StepStarted { attempt, at, .. } => {
                    let (last, this) = (trail.last.unwrap_or(index), op_id(&context, n));
                    let crashes = self.journal[last..]
                        .iter()
                        .filter(|event| {
                            matches!(event, Event::InvocationCrashed { id, .. } if *id == this)
                        })
                        .count();
                    // Polls and HTTP exchanges never crash so (`crash_in_step`):
                    // their begun attempts are a kill's, and run again.
                    let rerun = kind != StepKind::Step || crashes < MAX_CRASHES_PER_ATTEMPT;
                    let begin = match semantics {
                        Semantics::AtLeastOncePerRetry if rerun => StepBegin::Run {
                            attempt: *attempt,
                            state: trail.ready.and_then(|ready| match &self.journal[ready] {
                                Event::StepReady { state, .. } => state.clone(),
                                _ => None,
                            }),
                        },
                        _ => StepBegin::Interrupted { attempt: *attempt },
                    };
                    let body_runs = matches!(begin, StepBegin::Run { .. });
                    (open(*attempt, *at, true, body_runs), begin)
                }
                other => unreachable!("step {name:?} followed by {other:?}"),
            },
        };
        if self.offline
            && let StepBegin::Run { attempt, .. } | StepBegin::Interrupted { attempt } = begin
        {
            return Err(Fault::EndOfHistory {
                position,
                context: self.scope.context.clone(),
                next: format!("attempt {attempt} of {call}"),
            });
        }
        self.open_step = Some(step);
        if semantics == Semantics::AtMostOncePerRetry {
            self.record_start();
        }
        Ok(begin)
    }

    /// Ends the open step with its final result.
    pub fn end_step(
        &mut self,
        result: Result<String, ErrorObject>,
        now: Millis,
    ) -> Result<(), Fault> {
        if self.open_step.is_none() {
            return Err(Fault::Misuse(
                "end-step was called with no step running".into(),
            ));
        }
        self.record_start();
        let step = self.open_step.take().expect("checked above");
        self.journal.push(match result {
            Ok(result) => Event::StepSucceeded {
                id: step.id,
                result,
                at: now,
            },
            Err(error) => Event::StepFailed {
                id: step.id,
                error,
                at: now,
            },
        });
        Ok(())
    }

    /// Ends the open step's attempt: another follows after `delay_seconds`,
    /// durably. The step is pending meanwhile.
    pub fn retry_step(
        &mut self,
        reason: RetryReason,
        delay_seconds: u64,
        now: Millis,
    ) -> Result<(), Fault> {
        if self.open_step.is_none() {
            return Err(Fault::Misuse(
                "retry-step was called with no step running".into(),
            ));
        }
        if !(1..=MAX_WAIT_SECONDS).contains(&delay_seconds) {
            return Err(Fault::Misuse(format!(
                "a retry delay of {delay_seconds} s: a delay lasts 1 to {MAX_WAIT_SECONDS} seconds"
            )));
        }
        self.record_start();
        let step = self.open_step.take().expect("checked above");
        let call = Call::Step {
            name: &step.name,
            kind: step.kind,
        };
        self.scope.pending = Some((step.position, call.to_string()));
        self.journal.push(Event::StepRetried {
            id: step.id,
            attempt: step.attempt,
            reason,
            delay_seconds,
            next_attempt_at: now.saturating_add(delay_seconds * 1000),
            at: now,
        });
        Ok(())
    }

    /// Records the open attempt's StepStarted, if it is not yet recorded.
    fn record_start(&mut self) {
        let Some(step) = self.open_step.as_mut().filter(|step| !step.start_recorded) else {
            return;
        };
        step.start_recorded = true;
        let event = Event::StepStarted {
            id: step.id.clone(),
            name: step.name.clone(),
            kind: step.kind,
            fingerprint: step.fingerprint,
            attempt: step.attempt,
            at: step.at,
        };
        if event.is_call() {
            self.record_call(event);
        } else {
            self.journal.push(event);
        }
    }

    pub fn wait(&mut self, name: &str, seconds: u64, now: Millis) -> Result<Progress, Fault> {
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "wait {name:?} was called inside the body of step {:?}: a step body cannot wait",
                step.name
            )));
        }
        if !(1..=MAX_WAIT_SECONDS).contains(&seconds) {
            return Err(Fault::Misuse(format!(
                "wait {name:?} of {seconds} s: a wait lasts 1 to {MAX_WAIT_SECONDS} seconds"
            )));
        }
        let call = Call::Wait { name, seconds };
        self.scope.op_counter += 1;
        let position = self.scope.cursor + 1;
        match self.replay_call(call)? {
            Some((_, trail)) if trail.last.is_some() => return Ok(Progress::Done),
            Some(_) => {}
            None => self.record_call(Event::WaitStarted {
                id: self.scope.op_id(self.scope.op_counter),
                name: name.to_owned(),
                fingerprint: call.fingerprint(),
                seconds,
                scheduled_end: now.saturating_add(seconds * 1000),
                at: now,
            }),
        }
        self.scope.pending = Some((position, call.to_string()));
        Ok(Progress::Pending)
    }

    /// Creates a callback (or finds the recorded one) and returns its id;
    /// `new_id` makes a fresh one. 0 seconds: no timeout.
    pub fn create_callback(
        &mut self,
        name: &str,
        timeout_seconds: u64,
        heartbeat_timeout_seconds: u64,
        new_id: impl FnOnce() -> String,
        now: Millis,
    ) -> Result<String, Fault> {
        self.check_outside_step(&format!("callback {name:?}"))?;
        for seconds in [timeout_seconds, heartbeat_timeout_seconds] {
            if seconds > MAX_WAIT_SECONDS {
                return Err(Fault::Misuse(format!(
                    "callback {name:?}: a timeout of {seconds} s; timeouts last at most {MAX_WAIT_SECONDS} seconds"
                )));
            }
        }
        let call = Call::Callback {
            name,
            timeout_seconds,
            heartbeat_timeout_seconds,
        };
        self.scope.op_counter += 1;
        if let Some((index, _)) = self.replay_call(call)? {
            let Event::CallbackStarted { callback_id, .. } = &self.journal[index] else {
                unreachable!("matched a callback call")
            };
            return Ok(callback_id.clone());
        }
        let callback_id = new_id();
        self.callbacks.insert(
            callback_id.clone(),
            (self.scope.context.clone(), self.scope.calls.len()),
        );
        self.record_call(Event::CallbackStarted {
            id: self.scope.op_id(self.scope.op_counter),
            name: name.to_owned(),
            fingerprint: call.fingerprint(),
            callback_id: callback_id.clone(),
            timeout_seconds,
            heartbeat_timeout_seconds,
            at: now,
        });
        Ok(callback_id)
    }

    /// Where the callback `callback_id` stands; pending means: return pending.
    pub fn wait_callback(&mut self, callback_id: &str) -> Result<CallbackState, Fault> {
        self.check_outside_step("a wait on a callback")?;
        if let Some((position, pending)) = &self.scope.pending {
            return Err(Fault::Misuse(format!(
                "the workflow waited on a callback after {pending} at position {position} returned pending; \
                 propagate pending errors to the end of the workflow (with `?`)"
            )));
        }
        let Some((context, call)) = self.callbacks.get(callback_id) else {
            return Err(Fault::Misuse(format!(
                "the workflow waited on an unknown callback id {callback_id:?}"
            )));
        };
        if *context != self.scope.context {
            return Err(Fault::Misuse(format!(
                "the workflow waited on callback {callback_id:?} outside the context that created it"
            )));
        }
        let call = *call;
        let index = self.scope.calls[call];
        let Event::CallbackStarted { name, .. } = &self.journal[index] else {
            unreachable!("callback ids index callback calls")
        };
        let state = match self.scope.trails[call].last.map(|last| &self.journal[last]) {
            Some(Event::CallbackSucceeded { result, .. }) => {
                CallbackState::Succeeded(result.clone())
            }
            Some(Event::CallbackFailed { error, .. }) => CallbackState::Failed(error.clone()),
            Some(Event::CallbackTimedOut { heartbeat, .. }) => {
                CallbackState::Failed(if *heartbeat {
                    ErrorObject::new(
                        "Callback.Heartbeat",
                        format!("callback {name:?} missed its heartbeat"),
                    )
                } else {
                    ErrorObject::new("Callback.Timeout", format!("callback {name:?} timed out"))
                })
            }
            _ => CallbackState::Pending,
        };
        if state == CallbackState::Pending {
            self.scope.pending = Some((call + 1, format!("callback {name:?}")));
        }
        Ok(state)
    }

    fn check_outside_step(&self, what: &str) -> Result<(), Fault> {
        match &self.open_step {
            Some(step) => Err(Fault::Misuse(format!(
                "{what} inside the body of step {:?}: a step body cannot use durable operations",
                step.name
            ))),
            None => Ok(()),
        }
    }

    /// `wasi:clocks/wall-clock.now`: (seconds, nanoseconds) since the epoch.
    pub fn wall_clock(&mut self, live: impl FnOnce() -> (u64, u32)) -> Result<(u64, u32), Fault> {
        if self.open_step.is_some() {
            return Ok(live()); // the step's result is recorded, not its inputs
        }
        match self.replay_call(Call::WallClock)? {
            Some((index, _)) => match self.journal[index] {
                Event::WallClock {
                    seconds,
                    nanoseconds,
                    ..
                } => Ok((seconds, nanoseconds)),
                _ => unreachable!("matched a wall-clock call"),
            },
            None => {
                let (seconds, nanoseconds) = live();
                self.record_call(Event::WallClock {
                    context: self.scope.context.clone(),
                    seconds,
                    nanoseconds,
                });
                Ok((seconds, nanoseconds))
            }
        }
    }

    /// `wasi:clocks/monotonic-clock.now`. Never goes backwards, across
    /// invocations and hosts, because live values are clamped to the last one.
    pub fn monotonic_clock(&mut self, live: impl FnOnce() -> u64) -> Result<u64, Fault> {
        if self.open_step.is_some() {
            return Ok(live().max(self.last_monotonic));
        }
        let nanos = match self.replay_call(Call::MonotonicClock)? {
            Some((index, _)) => match self.journal[index] {
                Event::MonotonicClock { nanos, .. } => nanos,
                _ => unreachable!("matched a monotonic-clock call"),
            },
            None => {
                let nanos = live().max(self.last_monotonic);
                self.record_call(Event::MonotonicClock {
                    context: self.scope.context.clone(),
                    nanos,
                });
                nanos
            }
        };
        self.last_monotonic = nanos;
        Ok(nanos)
    }

    /// Any `wasi:random` read of `len` bytes.
    pub fn random(
        &mut self,
        len: u64,
        live: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<Vec<u8>, Fault> {
        if self.open_step.is_some() {
            return Ok(live(len));
        }
        match self.replay_call(Call::Random { len })? {
            Some((index, _)) => match &self.journal[index] {
                Event::Random { bytes, .. } => Ok(bytes.clone()),
                _ => unreachable!("matched a random call"),
            },
            None => {
                let bytes = live(len);
                self.record_call(Event::Random {
                    context: self.scope.context.clone(),
                    bytes: bytes.clone(),
                });
                Ok(bytes)
            }
        }
    }

    /// Invokes workflow `workflow` on `input` (or finds the recorded call):
    /// its outcome, once the host has run it, or pending.
    pub fn invoke(
        &mut self,
        name: &str,
        workflow: &str,
        input: &str,
        tenant: Option<&str>,
        now: Millis,
    ) -> Result<CallbackState, Fault> {
        self.check_outside_step(&format!("invoke {name:?}"))?;
        let call = Call::Invoke {
            name,
            workflow,
            input,
            tenant,
        };
        self.scope.op_counter += 1;
        let position = self.scope.cursor + 1;
        let state = match self.replay_call(call)? {
            Some((_, trail)) => match trail.last.map(|last| &self.journal[last]) {
                Some(Event::InvokeSucceeded { result, .. }) => {
                    CallbackState::Succeeded(result.clone())
                }
                Some(Event::InvokeFailed { error, .. }) => CallbackState::Failed(error.clone()),
                _ => CallbackState::Pending,
            },
            None => {
                self.record_call(Event::InvokeStarted {
                    id: self.scope.op_id(self.scope.op_counter),
                    name: name.to_owned(),
                    fingerprint: call.fingerprint(),
                    workflow: workflow.to_owned(),
                    input: input.to_owned(),
                    at: now,
                    tenant: tenant.map(str::to_owned),
                });
                CallbackState::Pending
            }
        };
        if state == CallbackState::Pending {
            self.scope.pending = Some((position, call.to_string()));
        }
        Ok(state)
    }

    /// Begins (or replays) a child context named `name`; the calls that
    /// follow belong to it until it ends or is suspended.
    pub fn begin_context(
        &mut self,
        name: &str,
        kind: ContextKind,
        now: Millis,
    ) -> Result<ContextBegin, Fault> {
        self.check_outside_step(&format!("context {name:?}"))?;
        let call = Call::Context { name, kind };
        self.scope.op_counter += 1;
        let id = self.scope.op_id(self.scope.op_counter);
        let mut rebuilding = false;
        match self.replay_call(call)? {
            Some((_, trail)) => match trail.last.map(|last| &self.journal[last]) {
                Some(Event::ContextSucceeded { result, .. }) => {
                    return Ok(ContextBegin::Succeeded(result.clone()));
                }
                Some(Event::ContextFailed { error, .. }) => {
                    return Ok(ContextBegin::Failed(error.clone()));
                }
                // Its result was not recorded: the body runs again over
                // its recorded children, which rebuilds it.
                Some(Event::ContextReplayChildren { .. }) => rebuilding = true,
                _ => {}
            },
            None => self.record_call(Event::ContextStarted {
                id: id.clone(),
                name: name.to_owned(),
                kind,
                fingerprint: call.fingerprint(),
                at: now,
            }),
        }
        let mut child = self.recorded.remove(&id).unwrap_or_else(|| Scope::new(id));
        child.rebuilding = rebuilding;
        let parent = std::mem::replace(&mut self.scope, child);
        self.parents.push(parent);
        Ok(ContextBegin::Run)
    }

    /// Ends the current context with its result. Children it suspended and
    /// never finished are abandoned (they stay started in the history).
    pub fn end_context(
        &mut self,
        result: Result<String, ErrorObject>,
        now: Millis,
    ) -> Result<(), Fault> {
        self.end_context_with(result.map(Some), now)
    }

    /// Ends the current context with a result too large to record: it is
    /// recorded as succeeded, and replay rebuilds the result by running the
    /// body again over its recorded children (Lambda's ReplayChildren).
    pub fn end_context_unrecorded(&mut self, now: Millis) -> Result<(), Fault> {
        self.end_context_with(Ok(None), now)
    }

    fn end_context_with(
        &mut self,
        result: Result<Option<String>, ErrorObject>,
        now: Millis,
    ) -> Result<(), Fault> {
        self.check_in_context("end-context")?;
        if let Some((position, call)) = &self.scope.pending {
            return Err(Fault::Misuse(format!(
                "context {} ended while {call} at position {position} was pending; \
                 propagate pending errors out of the context (with `?`)",
                self.scope.context
            )));
        }
        if self.is_replaying() {
            return Err(Fault::Divergence {
                position: self.scope.cursor + 1,
                context: self.scope.context.clone(),
                recorded: describe_recorded(&self.journal[self.scope.calls[self.scope.cursor]]),
                new: "no further call (the context returned)".into(),
            });
        }
        if self.scope.rebuilding {
            if let Err(error) = result {
                return Err(Fault::Divergence {
                    position: self.scope.cursor + 1,
                    context: self.scope.context.clone(),
                    recorded: "the context succeeded".into(),
                    new: format!("the context failed ({error})"),
                });
            }
            self.exit_context();
            return Ok(()); // rebuilt: recorded already
        }
        let id = self.exit_context();
        self.journal.push(match result {
            Ok(Some(result)) => Event::ContextSucceeded {
                id,
                result,
                at: now,
            },
            Ok(None) => Event::ContextReplayChildren { id, at: now },
            Err(error) => Event::ContextFailed { id, error, at: now },
        });
        Ok(())
    }

    /// Leaves the current context unfinished because something in it is
    /// pending; its parent may go on (other branches) or suspend in turn.
    pub fn suspend_context(&mut self) -> Result<(), Fault> {
        self.check_in_context("suspend-context")?;
        if self.is_replaying() {
            return Err(Fault::Divergence {
                position: self.scope.cursor + 1,
                context: self.scope.context.clone(),
                recorded: describe_recorded(&self.journal[self.scope.calls[self.scope.cursor]]),
                new: "no further call (the context suspended)".into(),
            });
        }
        if !self.scope.is_blocked() {
            return Err(Fault::Misuse(format!(
                "context {} was suspended, but nothing in it is pending",
                self.scope.context
            )));
        }
        self.exit_context();
        self.scope.pending_children += 1;
        Ok(())
    }

    fn check_in_context(&self, what: &str) -> Result<(), Fault> {
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "{what} inside the body of step {:?}",
                step.name
            )));
        }
        if self.parents.is_empty() {
            return Err(Fault::Misuse(format!(
                "{what} was called outside any context"
            )));
        }
        Ok(())
    }

    /// Returns to the parent context; gives the id of the one left.
    fn exit_context(&mut self) -> OpId {
        let parent = self.parents.pop().expect("checked: in a context");
        std::mem::replace(&mut self.scope, parent).context
    }

    /// The guest's `run` returned `outcome`: check it and record the end of
    /// the invocation (and of the execution, if it finished).
    pub fn finish(&mut self, outcome: GuestOutcome, now: Millis) -> Result<Finish, Fault> {
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "the workflow returned while step {:?} was running",
                step.name
            )));
        }
        if !self.parents.is_empty() {
            return Err(Fault::Misuse(format!(
                "the workflow returned while context {} was open",
                self.scope.context
            )));
        }
        let blocked = self.scope.pending.clone().or_else(|| {
            (self.scope.pending_children > 0)
                .then(|| (self.scope.cursor, "a child context".to_string()))
        });
        let finish = match (outcome, &blocked) {
            (GuestOutcome::Pending, None) => {
                return Err(Fault::Misuse(
                    "the workflow returned pending, but no operation is pending".into(),
                ));
            }
            (GuestOutcome::Pending, Some(_)) => Finish::Suspended,
            (_, Some((position, call))) => {
                return Err(Fault::Misuse(format!(
                    "the workflow returned a result while {call} at position {position} was pending; \
                     propagate pending errors to the end of the workflow (with `?`)"
                )));
            }
            (GuestOutcome::Succeeded(result), None) => Finish::Succeeded(result),
            (GuestOutcome::Failed(error), None) => Finish::Failed(error),
        };
        if !matches!(finish, Finish::Suspended) && self.is_replaying() {
            let recorded = describe_recorded(&self.journal[self.scope.calls[self.scope.cursor]]);
            return Err(Fault::Divergence {
                position: self.scope.cursor + 1,
                context: String::new(),
                recorded,
                new: "no further call (the workflow returned)".into(),
            });
        }
        self.journal.push(Event::InvocationCompleted { at: now });
        match &finish {
            Finish::Succeeded(result) => self.journal.push(Event::ExecutionSucceeded {
                result: result.clone(),
                at: now,
            }),
            Finish::Failed(error) => self.journal.push(Event::ExecutionFailed {
                error: error.clone(),
                at: now,
            }),
            Finish::Suspended => {}
        }
        Ok(finish)
    }

    /// The guest crashed (`error`: it trapped, panicked or exited) inside
    /// the running body of a step of kind `Step`: records the attempt as begun
    /// and the invocation as crashed, and says so. The execution goes on:
    /// invoked again, it finds the attempt begun and never ended. An
    /// at-most-once attempt is then interrupted; an at-least-once one runs
    /// again, up to [`MAX_CRASHES_PER_ATTEMPT`] crashes, and is interrupted after
    /// (a body that always crashes fails the step through its retry
    /// strategy, instead of crashing forever). `false`, recording nothing: no such
    /// step was running (a crash in workflow code would crash again on
    /// every replay; a poll or an HTTP exchange is not retried so).
    pub fn crash_in_step(&mut self, error: ErrorObject, now: Millis) -> bool {
        if self.offline
            || !self
                .open_step
                .as_ref()
                .is_some_and(|step| step.kind == StepKind::Step && step.body_runs)
        {
            return false;
        }
        self.record_start();
        let step = self.open_step.take().expect("checked above");
        self.journal.push(Event::InvocationCrashed {
            id: step.id,
            error,
            at: now,
        });
        true
    }

    /// Ends the execution with `error` after the invocation could not finish
    /// (a trap, a limit, a misuse). What was recorded before stays.
    pub fn fail_execution(&mut self, error: ErrorObject, now: Millis) {
        self.open_step = None;
        self.journal.push(Event::InvocationCompleted { at: now });
        self.journal.push(Event::ExecutionFailed { error, at: now });
    }

    /// While replaying, the journal index of the recorded event for `call`
    /// (checked against it) and what followed it; else `None`.
    fn replay_call(&mut self, call: Call<'_>) -> Result<Option<(usize, Trail)>, Fault> {
        if let Some((position, pending)) = &self.scope.pending {
            return Err(Fault::Misuse(format!(
                "the workflow made a {call} after {pending} at position {position} returned pending; \
                 propagate pending errors to the end of the workflow (with `?`)"
            )));
        }
        if !self.is_replaying() {
            if self.scope.rebuilding {
                return Err(Fault::Divergence {
                    context: self.scope.context.clone(),
                    position: self.scope.cursor + 1,
                    recorded: "the end of a context that succeeded (its result is rebuilt by replaying it)".into(),
                    new: call.to_string(),
                });
            }
            if self.offline {
                return Err(Fault::EndOfHistory {
                    position: self.scope.cursor + 1,
                    context: self.scope.context.clone(),
                    next: call.to_string(),
                });
            }
            return Ok(None);
        }
        let index = self.scope.calls[self.scope.cursor];
        let event = &self.journal[index];
        if !call.matches(event) {
            return Err(Fault::Divergence {
                context: self.scope.context.clone(),
                position: self.scope.cursor + 1,
                recorded: describe_recorded(event),
                new: call.to_string(),
            });
        }
        let trail = self.scope.trails[self.scope.cursor];
        self.scope.cursor += 1;
        if self.offline {
            self.replayed.push(index);
        }
        Ok(Some((index, trail)))
    }

    fn record_call(&mut self, event: Event) {
        self.scope.calls.push(self.journal.len());
        self.scope.trails.push(Trail::default());
        self.journal.push(event);
        self.scope.cursor += 1;
    }
}

/// FNV-1a: operation ids are short, trusted strings; SipHash's DoS
/// resistance would only cost time on every resume.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A durable timer the scheduler owes: a wait, a step's retry delay, or a
/// callback's timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer<'a> {
    pub id: &'a str,
    pub due: Millis,
    /// Whether skipping time fires it early: waits and retry delays, as in
    /// AWS's emulator; not callback timeouts.
    pub skippable: bool,
    started: &'a Event,
    /// For a callback: the heartbeat timeout comes first.
    heartbeat: bool,
}

impl Timer<'_> {
    /// The event that fires this timer at `now`.
    pub fn fire(&self, now: Millis) -> Event {
        match self.started {
            Event::WaitStarted { id, .. } => Event::WaitSucceeded {
                id: id.clone(),
                at: now,
            },
            Event::StepRetried {
                id,
                attempt,
                reason,
                ..
            } => Event::StepReady {
                id: id.clone(),
                attempt: attempt + 1,
                state: match reason {
                    RetryReason::Polled(state) => Some(state.clone()),
                    RetryReason::Failed(_) => None,
                },
                at: now,
            },
            Event::CallbackStarted { id, .. } => Event::CallbackTimedOut {
                id: id.clone(),
                heartbeat: self.heartbeat,
                at: now,
            },
            Event::ExecutionStarted { .. } => Event::ExecutionTimedOut { at: now },
            other => unreachable!("{other:?} starts no timer"),
        }
    }
}

/// A callback's timer, given when its holder was last heard of.
fn callback_timer(started: &Event, last_beat: Millis) -> Option<Timer<'_>> {
    let Event::CallbackStarted {
        id,
        timeout_seconds,
        heartbeat_timeout_seconds,
        at,
        ..
    } = started
    else {
        return None;
    };
    let timeout = (*timeout_seconds > 0).then(|| at.saturating_add(timeout_seconds * 1000));
    let heartbeat = (*heartbeat_timeout_seconds > 0)
        .then(|| last_beat.saturating_add(heartbeat_timeout_seconds * 1000));
    let (due, heartbeat) = match (timeout, heartbeat) {
        (None, None) => return None,
        (Some(timeout), Some(beat)) if beat < timeout => (beat, true),
        (Some(timeout), _) => (timeout, false),
        (None, Some(beat)) => (beat, true),
    };
    Some(Timer {
        id,
        due,
        skippable: false,
        started,
        heartbeat,
    })
}

/// Timers started and not yet fired, in the order they started.
pub fn pending_timers(journal: &[Event]) -> Vec<Timer<'_>> {
    let mut timers: Vec<Option<Timer<'_>>> = Vec::new();
    let mut by_id: HashMap<&str, usize, BuildHasherDefault<Fnv>> = HashMap::default();
    // The execution's timeout (its index, when it started), and since when
    // a pause has held it still.
    let mut execution_timer: Option<(usize, Millis)> = None;
    let mut held_since: Option<Millis> = None;
    for event in journal {
        match event {
            Event::ExecutionStarted {
                timeout_seconds,
                at,
                ..
            } if *timeout_seconds > 0 => {
                execution_timer = Some((timers.len(), *at));
                timers.push(Some(Timer {
                    id: "",
                    due: at.saturating_add(timeout_seconds.saturating_mul(1000)),
                    skippable: false,
                    started: event,
                    heartbeat: false,
                }));
            }
            Event::ExecutionPaused {
                timeout_paused: true,
                at,
                ..
            } if execution_timer.is_some() => held_since = held_since.or(Some(*at)),
            Event::ExecutionResumed { at, .. } => {
                if let (Some((index, started)), Some(since)) = (execution_timer, held_since.take())
                    && let Some(timer) = &mut timers[index]
                {
                    // Later by the time it stood still, but never past
                    // AWS's bound on a paused timeout.
                    timer.due = timer
                        .due
                        .saturating_add(at.saturating_sub(since))
                        .min(started.saturating_add(MAX_PAUSED_TIMEOUT_SECONDS * 1000));
                }
            }
            Event::WaitStarted {
                id,
                scheduled_end: due,
                ..
            }
            | Event::StepRetried {
                id,
                next_attempt_at: due,
                ..
            } => {
                by_id.insert(id, timers.len());
                timers.push(Some(Timer {
                    id,
                    due: *due,
                    skippable: true,
                    started: event,
                    heartbeat: false,
                }));
            }
            Event::CallbackStarted { id, at, .. } => {
                if let Some(timer) = callback_timer(event, *at) {
                    by_id.insert(id, timers.len());
                    timers.push(Some(timer));
                }
            }
            Event::CallbackHeartbeat { id, at } => {
                if let Some(&index) = by_id.get(id.as_str())
                    && let Some(timer) = timers[index]
                {
                    timers[index] = callback_timer(timer.started, *at);
                }
            }
            Event::WaitSucceeded { id, .. }
            | Event::StepReady { id, .. }
            | Event::CallbackSucceeded { id, .. }
            | Event::CallbackFailed { id, .. }
            | Event::CallbackTimedOut { id, .. } => {
                if let Some(index) = by_id.remove(id.as_str()) {
                    timers[index] = None;
                }
            }
            _ => {}
        }
    }
    // Paused with its timeout held: the timeout waits for the resume.
    if let (Some((index, _)), Some(_)) = (execution_timer, held_since) {
        timers[index] = None;
    }
    timers.into_iter().flatten().collect()
}

/// How long after its start an execution whose timeout a pause held still
/// times out at the latest (AWS: 366 days).
pub const MAX_PAUSED_TIMEOUT_SECONDS: u64 = 366 * 24 * 3600;

/// Whether the execution was resumed with nothing to invoke it for: since
/// its last invocation ended, only a pause that cut nothing short, its
/// resume and heartbeats were recorded (no timer fired, no callback or
/// invoked execution ended). It then waits on as before. Reads the
/// journal back from its end to the last invocation's end only.
pub fn resumed_without_news(journal: &[Event]) -> bool {
    let mut resumed = false;
    for event in journal.iter().rev() {
        match event {
            Event::InvocationCompleted { .. } => return resumed,
            Event::ExecutionResumed { .. } => resumed = true,
            Event::ExecutionPaused {
                interrupted: false, ..
            }
            | Event::CallbackHeartbeat { .. } => {}
            _ => return false,
        }
    }
    false
}

/// Invocations of other workflows whose outcome is not recorded yet:
/// (operation id, workflow, input).
pub fn pending_invokes(journal: &[Event]) -> Vec<(&str, &str, &str)> {
    let done: std::collections::HashSet<&str> = journal
        .iter()
        .filter_map(|event| match event {
            Event::InvokeSucceeded { id, .. } | Event::InvokeFailed { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    journal
        .iter()
        .filter_map(|event| match event {
            Event::InvokeStarted {
                id,
                workflow,
                input,
                ..
            } if !done.contains(id.as_str()) => {
                Some((id.as_str(), workflow.as_str(), input.as_str()))
            }
            _ => None,
        })
        .collect()
}

/// The events that fire every pending timer due at `now` (and every
/// skippable one when `skip_time`, as AWS's emulator does).
pub fn fire_due_timers(journal: &[Event], now: Millis, skip_time: bool) -> Vec<Event> {
    let mut fired: Vec<Event> = pending_timers(journal)
        .into_iter()
        .filter(|timer| (skip_time && timer.skippable) || timer.due <= now)
        .map(|timer| timer.fire(now))
        .collect();
    // An execution that timed out records nothing after that.
    if let Some(end) = fired
        .iter()
        .position(|e| matches!(e, Event::ExecutionTimedOut { .. }))
    {
        fired.drain(..end);
        fired.truncate(1);
    }
    fired
}
