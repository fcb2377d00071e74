//! The replay state machine: one per invocation.
//!
//! A [`Replayer`] starts from an execution's journal. The host forwards every
//! journaled guest import call to it; while recorded calls remain, it answers
//! from the journal and checks each call against its record (type, name and
//! argument fingerprint); after that it records new events. It performs no
//! I/O: live values (clock, random) come from closures the caller passes, and
//! the caller persists [`Replayer::unflushed`] events when told to.

use crate::call::{Call, describe_recorded};
use crate::event::{ErrorObject, Event, Fingerprint, Millis, OpId};
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
        "replay diverged at position {position}: the history records {recorded}, but the workflow now makes {new}"
    )]
    Divergence {
        /// 1-based index among the execution's journaled calls.
        position: usize,
        recorded: String,
        new: String,
    },
    /// The guest broke the protocol (a bug in the workflow or its SDK).
    #[error("{0}")]
    Misuse(String),
}

/// What the guest must do with the step it asked to begin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepBegin {
    /// Run the body now, then call [`Replayer::end_step`]. Persist
    /// [`Replayer::unflushed`] durably before the body runs.
    Run,
    Succeeded(String),
    Failed(ErrorObject),
}

/// Whether a durable operation is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
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

struct OpenStep {
    id: OpId,
    name: String,
    fingerprint: Fingerprint,
    at: Millis,
    /// The StepStarted event is already in the journal.
    recorded: bool,
}

pub struct Replayer {
    journal: Vec<Event>,
    /// `journal[..durable_len]` is persisted.
    durable_len: usize,
    /// Journal indices of call events, in call order.
    calls: Vec<usize>,
    /// How many of `calls` came from the recorded history.
    recorded_calls: usize,
    /// The next call's index into `calls`.
    cursor: usize,
    /// For each recorded call that starts an operation, the journal index of
    /// the event completing it, if any.
    completions: Vec<Option<usize>>,
    op_counter: u64,
    last_monotonic: u64,
    open_step: Option<OpenStep>,
    /// The first operation that answered pending: (position, description).
    pending: Option<(usize, String)>,
}

impl Replayer {
    /// A replayer over an execution's recorded (and persisted) journal.
    pub fn new(journal: Vec<Event>) -> Self {
        let mut calls = Vec::new();
        let mut completions = Vec::new();
        let mut started: HashMap<&str, usize, BuildHasherDefault<Fnv>> = HashMap::default();
        for (index, event) in journal.iter().enumerate() {
            if event.is_call() {
                if let Event::StepStarted { id, .. } | Event::WaitStarted { id, .. } = event {
                    started.insert(id, calls.len());
                }
                calls.push(index);
                completions.push(None);
            } else if let Some(call) = event.completes().and_then(|id| started.get(id)) {
                completions[*call] = Some(index);
            }
        }
        drop(started);
        Replayer {
            durable_len: journal.len(),
            recorded_calls: calls.len(),
            journal,
            calls,
            cursor: 0,
            completions,
            op_counter: 0,
            last_monotonic: 0,
            open_step: None,
            pending: None,
        }
    }

    /// True while the guest is re-running recorded calls.
    pub fn is_replaying(&self) -> bool {
        self.cursor < self.recorded_calls
    }

    /// Events recorded in this invocation and not yet persisted.
    pub fn unflushed(&self) -> &[Event] {
        &self.journal[self.durable_len..]
    }

    /// The caller persisted [`Replayer::unflushed`].
    pub fn mark_durable(&mut self) {
        self.durable_len = self.journal.len();
    }

    pub fn journal(&self) -> &[Event] {
        &self.journal
    }

    pub fn into_journal(self) -> Vec<Event> {
        self.journal
    }

    pub fn begin_step(&mut self, name: &str, now: Millis) -> Result<StepBegin, Fault> {
        if let Some(step) = &self.open_step {
            return Err(Fault::Misuse(format!(
                "step {name:?} was begun inside the body of step {:?}: steps cannot nest",
                step.name
            )));
        }
        let call = Call::Step { name };
        self.op_counter += 1;
        let (recorded, at) = match self.replay_call(call)? {
            Some((index, completion)) => {
                if let Some(done) = completion {
                    return Ok(match &self.journal[done] {
                        Event::StepSucceeded { result, .. } => StepBegin::Succeeded(result.clone()),
                        Event::StepFailed { error, .. } => StepBegin::Failed(error.clone()),
                        other => unreachable!("step {name:?} completed by {other:?}"),
                    });
                }
                // Started but never completed: the body runs again (at least once).
                let Event::StepStarted { at, .. } = self.journal[index] else {
                    unreachable!("a step call matched a non-step event")
                };
                (true, at)
            }
            None => (false, now),
        };
        self.open_step = Some(OpenStep {
            id: self.op_counter.to_string(),
            name: name.to_owned(),
            fingerprint: call.fingerprint(),
            at,
            recorded,
        });
        Ok(StepBegin::Run)
    }

    pub fn end_step(
        &mut self,
        result: Result<String, ErrorObject>,
        now: Millis,
    ) -> Result<(), Fault> {
        let step = self
            .open_step
            .take()
            .ok_or_else(|| Fault::Misuse("end-step was called with no step running".into()))?;
        if !step.recorded {
            self.record_call(Event::StepStarted {
                id: step.id.clone(),
                name: step.name,
                fingerprint: step.fingerprint,
                at: step.at,
            });
        }
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
        self.op_counter += 1;
        let position = self.cursor + 1;
        match self.replay_call(call)? {
            Some((_, Some(_))) => return Ok(Progress::Done),
            Some((_, None)) => {}
            None => self.record_call(Event::WaitStarted {
                id: self.op_counter.to_string(),
                name: name.to_owned(),
                fingerprint: call.fingerprint(),
                seconds,
                scheduled_end: now.saturating_add(seconds * 1000),
                at: now,
            }),
        }
        self.pending = Some((position, call.to_string()));
        Ok(Progress::Pending)
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
                } => Ok((seconds, nanoseconds)),
                _ => unreachable!("matched a wall-clock call"),
            },
            None => {
                let (seconds, nanoseconds) = live();
                self.record_call(Event::WallClock {
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
                Event::MonotonicClock { nanos } => nanos,
                _ => unreachable!("matched a monotonic-clock call"),
            },
            None => {
                let nanos = live().max(self.last_monotonic);
                self.record_call(Event::MonotonicClock { nanos });
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
                Event::Random { bytes } => Ok(bytes.clone()),
                _ => unreachable!("matched a random call"),
            },
            None => {
                let bytes = live(len);
                self.record_call(Event::Random {
                    bytes: bytes.clone(),
                });
                Ok(bytes)
            }
        }
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
        let finish = match (outcome, &self.pending) {
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
            let recorded = describe_recorded(&self.journal[self.calls[self.cursor]]);
            return Err(Fault::Divergence {
                position: self.cursor + 1,
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

    /// Ends the execution with `error` after the invocation could not finish
    /// (a trap, a limit, a misuse). What was recorded before stays.
    pub fn fail_execution(&mut self, error: ErrorObject, now: Millis) {
        self.open_step = None;
        self.journal.push(Event::InvocationCompleted { at: now });
        self.journal.push(Event::ExecutionFailed { error, at: now });
    }

    /// While replaying, the journal index of the recorded event for `call`
    /// (checked against it) and of the event completing it; else `None`.
    fn replay_call(&mut self, call: Call<'_>) -> Result<Option<(usize, Option<usize>)>, Fault> {
        if let Some((position, pending)) = &self.pending {
            return Err(Fault::Misuse(format!(
                "the workflow made a {call} after {pending} at position {position} returned pending; \
                 propagate pending errors to the end of the workflow (with `?`)"
            )));
        }
        if !self.is_replaying() {
            return Ok(None);
        }
        let index = self.calls[self.cursor];
        let event = &self.journal[index];
        if !call.matches(event) {
            return Err(Fault::Divergence {
                position: self.cursor + 1,
                recorded: describe_recorded(event),
                new: call.to_string(),
            });
        }
        let completion = self.completions[self.cursor];
        self.cursor += 1;
        Ok(Some((index, completion)))
    }

    fn record_call(&mut self, event: Event) {
        self.calls.push(self.journal.len());
        self.journal.push(event);
        self.cursor += 1;
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

/// Timers started and not yet fired: (operation id, scheduled end).
pub fn pending_timers(journal: &[Event]) -> Vec<(OpId, Millis)> {
    let fired: std::collections::HashSet<&str> = journal
        .iter()
        .filter_map(|event| match event {
            Event::WaitSucceeded { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    journal
        .iter()
        .filter_map(|event| match event {
            Event::WaitStarted {
                id, scheduled_end, ..
            } if !fired.contains(id.as_str()) => Some((id.clone(), *scheduled_end)),
            _ => None,
        })
        .collect()
}

/// The events that fire every pending timer due at `now` (all of them when
/// `skip_time`, as AWS's emulator does).
pub fn fire_due_timers(journal: &[Event], now: Millis, skip_time: bool) -> Vec<Event> {
    pending_timers(journal)
        .into_iter()
        .filter(|(_, due)| skip_time || *due <= now)
        .map(|(id, _)| Event::WaitSucceeded { id, at: now })
        .collect()
}

/// The execution's final outcome, if it has finished.
pub fn final_outcome(journal: &[Event]) -> Option<Result<&str, &ErrorObject>> {
    journal.iter().rev().find_map(Event::final_outcome)
}
