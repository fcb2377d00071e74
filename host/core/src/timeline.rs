//! A journal as a person reads it: one row per operation (a step with all
//! its attempts, a wait, a callback, a context, an invocation, a clock or
//! random read), with its position, status, attempt, start and duration.

use crate::event::{Event, Millis, RetryReason, StepKind};
use crate::history::{clip, event_time};
use std::collections::HashMap;
use std::fmt::Write as _;

/// One operation of an execution, as far as its journal tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The journal index of the call that began it.
    pub call: usize,
    /// Where replay meets it: its 1-based position among the calls of its
    /// context, prefixed with the context (`3`, or `2:1` inside context 2).
    pub position: String,
    /// How deep it is nested in contexts (0 for the workflow's own calls).
    pub depth: usize,
    /// `Step`, `WaitForCondition`, `Wait`, `Callback`, a context's SubType,
    /// `ChainedInvoke`, `WallClock`, `MonotonicClock` or `Random`.
    pub kind: String,
    pub name: String,
    /// `STARTED`, `PENDING` (a retry's delay), `READY`, `SUCCEEDED`,
    /// `FAILED` or `TIMED_OUT`.
    pub status: &'static str,
    /// The latest attempt (steps), 1 otherwise.
    pub attempt: u32,
    pub start: Millis,
    /// When it ended, if it has.
    pub end: Option<Millis>,
    /// Its result, error or recorded value, shortened.
    pub outcome: String,
}

/// What a suspended execution waits for, as a person reads it: its
/// operations still open that the outside world or a timer will close
/// (waits, retry delays, callbacks, invocations), for example
/// `step "charge": attempt 1 failed (Flaky: once), next in 5 s`.
pub fn awaited(journal: &[Event]) -> Vec<String> {
    operations(journal)
        .into_iter()
        .filter(|op| match op.kind.as_str() {
            "Wait" | "Callback" | "ChainedInvoke" => op.status == "STARTED",
            _ => op.status == "PENDING",
        })
        .map(|op| {
            let kind = match op.kind.as_str() {
                "ChainedInvoke" => "invoke".to_owned(),
                "WaitForCondition" => "condition".to_owned(),
                other => other.to_lowercase(),
            };
            if op.outcome.is_empty() {
                format!("{kind} {:?}", op.name)
            } else {
                format!("{kind} {:?}: {}", op.name, op.outcome)
            }
        })
        .collect()
}

/// The operations of `journal`, in the order their calls were recorded.
pub fn operations(journal: &[Event]) -> Vec<Operation> {
    let mut operations: Vec<Operation> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    let mut last_time = journal.first().map(event_time).unwrap_or(0);
    for (index, event) in journal.iter().enumerate() {
        let at = match event {
            // Ambient reads carry no time of their own: the last one seen.
            Event::WallClock { .. } | Event::MonotonicClock { .. } | Event::Random { .. } => {
                last_time
            }
            other => event_time(other),
        };
        last_time = at;
        if event.is_call() {
            let context = event.context();
            let position = positions.entry(context).or_default();
            *position += 1;
            let (kind, name, status, end, outcome) = match event {
                Event::StepStarted { name, kind, .. } => (
                    match kind {
                        // A "Step" to AWS; to people, the exchange it is.
                        StepKind::Http => "Http".to_owned(),
                        other => other.subtype().to_owned(),
                    },
                    name.clone(),
                    "STARTED",
                    None,
                    String::new(),
                ),
                Event::WaitStarted {
                    name,
                    seconds,
                    scheduled_end,
                    ..
                } => (
                    "Wait".into(),
                    name.clone(),
                    "STARTED",
                    None,
                    format!(
                        "{seconds} s, until {}",
                        crate::history::iso8601(*scheduled_end)
                    ),
                ),
                Event::CallbackStarted {
                    name, callback_id, ..
                } => (
                    "Callback".into(),
                    name.clone(),
                    "STARTED",
                    None,
                    format!("id {callback_id}"),
                ),
                Event::ContextStarted { name, kind, .. } => (
                    kind.subtype().to_owned(),
                    name.clone(),
                    "STARTED",
                    None,
                    String::new(),
                ),
                Event::InvokeStarted { name, workflow, .. } => (
                    "ChainedInvoke".into(),
                    name.clone(),
                    "STARTED",
                    None,
                    format!("workflow {workflow}"),
                ),
                Event::WallClock {
                    seconds,
                    nanoseconds,
                    ..
                } => (
                    "WallClock".into(),
                    String::new(),
                    "SUCCEEDED",
                    Some(at),
                    crate::history::iso8601(seconds * 1000 + u64::from(*nanoseconds) / 1_000_000),
                ),
                Event::MonotonicClock { nanos, .. } => (
                    "MonotonicClock".into(),
                    String::new(),
                    "SUCCEEDED",
                    Some(at),
                    format!("{nanos} ns"),
                ),
                Event::Random { bytes, .. } => (
                    "Random".into(),
                    String::new(),
                    "SUCCEEDED",
                    Some(at),
                    format!("{} bytes", bytes.len()),
                ),
                _ => unreachable!("every call is listed"),
            };
            if let Some(id) = event.op_id() {
                by_id.insert(id, operations.len());
            }
            let depth = if context.is_empty() {
                0
            } else {
                context.matches('-').count() + 1
            };
            operations.push(Operation {
                call: index,
                position: if context.is_empty() {
                    position.to_string()
                } else {
                    format!("{context}:{position}")
                },
                depth,
                kind,
                name,
                status,
                attempt: 1,
                start: at,
                end,
                outcome,
            });
            continue;
        }
        let Some(&row) = event.follows_up().and_then(|id| by_id.get(id)) else {
            continue;
        };
        let operation = &mut operations[row];
        match event {
            Event::StepStarted { attempt, .. } | Event::StepReady { attempt, .. } => {
                operation.attempt = *attempt;
                operation.status = if matches!(event, Event::StepReady { .. }) {
                    "READY"
                } else {
                    "STARTED"
                };
            }
            Event::StepRetried {
                attempt,
                reason,
                delay_seconds,
                ..
            } => {
                operation.attempt = *attempt;
                operation.status = "PENDING";
                operation.outcome = match reason {
                    RetryReason::Failed(error) => format!(
                        "attempt {attempt} failed ({}), next in {delay_seconds} s",
                        clip(&error.to_string())
                    ),
                    RetryReason::Polled(state) => {
                        format!("poll {attempt}: {}, next in {delay_seconds} s", clip(state))
                    }
                };
            }
            Event::StepSucceeded { result, .. }
            | Event::ContextSucceeded { result, .. }
            | Event::CallbackSucceeded { result, .. }
            | Event::InvokeSucceeded { result, .. } => {
                operation.status = "SUCCEEDED";
                operation.end = Some(at);
                operation.outcome = clip(result);
            }
            Event::ContextReplayChildren { .. } => {
                operation.status = "SUCCEEDED";
                operation.end = Some(at);
                operation.outcome = "(too large to record: rebuilt by replaying it)".into();
            }
            Event::StepFailed { error, .. }
            | Event::ContextFailed { error, .. }
            | Event::CallbackFailed { error, .. }
            | Event::InvokeFailed { error, .. } => {
                operation.status = "FAILED";
                operation.end = Some(at);
                operation.outcome = clip(&error.to_string());
            }
            Event::WaitSucceeded { .. } => {
                operation.status = "SUCCEEDED";
                operation.end = Some(at);
            }
            Event::CallbackTimedOut { heartbeat, .. } => {
                operation.status = "TIMED_OUT";
                operation.end = Some(at);
                operation.outcome = if *heartbeat {
                    "Callback.Heartbeat: no heartbeat in time".into()
                } else {
                    "Callback.Timeout".into()
                };
            }
            _ => {}
        }
    }
    operations
}

/// One operation as a line: position, kind, name (indented by depth),
/// status, attempt, start since `origin`, duration, outcome.
pub fn render_row(operation: &Operation, origin: Millis) -> String {
    let name = format!("{}{}", "  ".repeat(operation.depth), operation.name);
    let duration = operation.end.map_or_else(
        || "-".to_owned(),
        |end| seconds(end.saturating_sub(operation.start)),
    );
    format!(
        "{:<8} {:<17} {:<24} {:<9} {:>3} {:>10} {:>9}  {}",
        operation.position,
        operation.kind,
        name,
        operation.status,
        operation.attempt,
        format!("+{}", seconds(operation.start.saturating_sub(origin))),
        duration,
        operation.outcome
    )
}

/// The header over [`render_row`]'s lines.
pub fn header() -> String {
    format!(
        "{:<8} {:<17} {:<24} {:<9} {:>3} {:>10} {:>9}  OUTCOME",
        "POS", "TYPE", "NAME", "STATUS", "TRY", "START", "DURATION"
    )
}

/// The execution as a table: a line for the execution, then one per
/// operation, then how it ended.
pub fn render(journal: &[Event]) -> String {
    let origin = journal.first().map(event_time).unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "{}", header());
    for operation in operations(journal) {
        let _ = writeln!(out, "{}", render_row(&operation, origin));
    }
    let invocations = journal
        .iter()
        .filter(|event| {
            matches!(
                event,
                Event::InvocationCompleted { .. } | Event::InvocationCrashed { .. }
            )
        })
        .count();
    let end = journal.iter().rev().find_map(|event| match event {
        Event::ExecutionSucceeded { result, at } => {
            Some((*at, format!("SUCCEEDED {}", clip(result))))
        }
        Event::ExecutionFailed { error, at } => {
            Some((*at, format!("FAILED {}", clip(&error.to_string()))))
        }
        Event::ExecutionStopped { error, at } => {
            Some((*at, format!("STOPPED {}", clip(&error.to_string()))))
        }
        Event::ExecutionTimedOut { at } => Some((*at, "TIMED_OUT".to_owned())),
        _ => None,
    });
    let _ = match end {
        Some((at, how)) => writeln!(
            out,
            "ended after {} and {invocations} invocation(s): {how}",
            seconds(at.saturating_sub(origin))
        ),
        None => match journal.iter().rev().find_map(|event| match event {
            Event::ExecutionPaused { at, .. } => Some(Some(*at)),
            Event::ExecutionResumed { .. } => Some(None),
            _ => None,
        }) {
            Some(Some(at)) => writeln!(
                out,
                "paused at +{}, after {invocations} invocation(s)",
                seconds(at.saturating_sub(origin))
            ),
            _ => writeln!(out, "running, after {invocations} invocation(s)"),
        },
    };
    out
}

/// A duration for people: `12ms`, `3.4s`, `2m05s`, `3h02m`, `2d04h`.
fn seconds(millis: Millis) -> String {
    let s = millis / 1000;
    match millis {
        0..1_000 => format!("{millis}ms"),
        1_000..60_000 => format!("{:.1}s", millis as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}
