//! Looking at recorded executions offline: replay a history on a component
//! without running anything live, and judge whether the component would
//! resume the execution cleanly (before anyone deploys it).

use crate::component::{Engine, Workflow};
use crate::invocation::{Backtrace, Identity, Input, OfflineEnd, OfflineReplay, replay_offline};
use crate::limits::Limits;
use crate::runner::{Outcome, recorded_outcome};
use crate::sqlite::{Execution, Status};
use anyhow::Result;
use cairn_core::replay::pending_timers;
use cairn_core::{ErrorObject, Event, Fault, Finish};

/// How a component fares on an execution's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It ended as the history records (a finished execution).
    Reproduced(Outcome),
    /// It replayed the whole history and stopped where the execution
    /// stands: it would resume from there. Says what comes next.
    Resumes(String),
    /// Its calls differ from the history's (or it broke the protocol).
    Diverges(Fault),
    /// It made the same calls but ended otherwise than recorded.
    EndsOtherwise {
        recorded: Outcome,
        replayed: Outcome,
    },
    /// It trapped, panicked or hit a limit while replaying.
    Fails(ErrorObject),
    /// The history records the execution's end, but this component would
    /// go on past it: what comes next.
    GoesOn(String),
}

impl Verdict {
    /// Whether the component may take the execution over.
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Reproduced(_) | Verdict::Resumes(_))
    }
}

/// Replays `execution`'s history (`journal`) on `workflow` offline.
pub fn replay(
    engine: &Engine,
    workflow: &Workflow,
    execution: &Execution,
    journal: &[Event],
) -> Result<(OfflineReplay, Backtrace)> {
    replay_offline(
        engine,
        workflow,
        journal.to_vec(),
        Input {
            payload: &execution.input,
            identity: &Identity::embedded(&execution.workflow, &execution.name),
        },
        Limits::default(),
    )
}

/// Judges an offline replay of `execution`'s `journal`.
pub fn verdict(execution: &Execution, journal: &[Event], replay: &OfflineReplay) -> Verdict {
    let recorded = recorded_outcome(execution);
    let replayed = match &replay.end {
        OfflineEnd::Finished(Finish::Succeeded(result)) => Outcome::Succeeded(result.clone()),
        OfflineEnd::Finished(Finish::Failed(error)) => Outcome::Failed(error.clone()),
        OfflineEnd::Failed(error) => match &recorded {
            // The recorded end was this very failure (a trap, a limit).
            Some(Outcome::Failed(recorded_error)) if recorded_error == error => {
                return Verdict::Reproduced(Outcome::Failed(error.clone()));
            }
            _ => return Verdict::Fails(error.clone()),
        },
        // Stopped or timed out from outside while it waited: the replay
        // reproduced all there is.
        OfflineEnd::Finished(Finish::Suspended)
        | OfflineEnd::Stopped(Fault::EndOfHistory { .. })
            if matches!(execution.status, Status::Stopped | Status::TimedOut) =>
        {
            return Verdict::Reproduced(recorded.expect("an ended execution has an outcome"));
        }
        OfflineEnd::Finished(Finish::Suspended)
        | OfflineEnd::Stopped(Fault::EndOfHistory { .. })
            if recorded.is_some() =>
        {
            return Verdict::GoesOn(match &replay.end {
                OfflineEnd::Stopped(Fault::EndOfHistory { next, .. }) => next.clone(),
                _ => "a wait".into(),
            });
        }
        OfflineEnd::Finished(Finish::Suspended) => return Verdict::Resumes(waiting_on(journal)),
        OfflineEnd::Stopped(Fault::EndOfHistory { next, .. }) => {
            return Verdict::Resumes(format!("it would go on with {next}"));
        }
        OfflineEnd::Stopped(fault) => return Verdict::Diverges(fault.clone()),
    };
    match recorded {
        Some(recorded) if recorded == replayed => Verdict::Reproduced(replayed),
        Some(recorded) => Verdict::EndsOtherwise { recorded, replayed },
        // A running execution whose history holds its whole run: only a
        // crash between the guest's return and its record leaves this.
        None => Verdict::Resumes(format!("it would end with {replayed:?}")),
    }
}

/// What a suspended execution waits on, for people.
fn waiting_on(journal: &[Event]) -> String {
    let timers = pending_timers(journal);
    match timers.iter().map(|timer| timer.due).min() {
        Some(due) => format!(
            "it waits, until {} at the latest",
            cairn_core::history::iso8601(due)
        ),
        None => "it waits on the outside world (a callback or an invoked execution)".into(),
    }
}
