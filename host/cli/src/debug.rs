//! `cairn replay` and `cairn check-upgrade`: offline replays, printed for
//! people. The engine replays and judges (`cairn_engine::inspect`); this
//! module only prints.

use cairn_core::history::iso8601;
use cairn_core::timeline::{self, Operation};
use cairn_core::{Event, Fault};
use cairn_engine::component::hex;
use cairn_engine::inspect::Verdict;
use cairn_engine::invocation::{Backtrace, OfflineReplay, Traced};
use cairn_engine::{Execution, Outcome, Status};
use std::collections::HashMap;

/// `cairn replay`: replays `execution`'s `journal` on `workflow`, prints it,
/// and exits 0 when the replay matches the history, 1 when not.
pub fn replay(
    engine: &cairn_engine::Engine,
    workflow: &cairn_engine::Workflow,
    execution: &Execution,
    journal: &[Event],
) -> anyhow::Result<std::process::ExitCode> {
    let (replay, backtrace) = cairn_engine::inspect::replay(engine, workflow, execution, journal)?;
    let verdict = cairn_engine::inspect::verdict(execution, journal, &replay);
    print_replay(
        execution,
        &workflow.hash,
        journal,
        &replay,
        &backtrace,
        &verdict,
    );
    Ok(if verdict.is_clean() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// Prints an offline replay: each replayed operation and each log line, in
/// the order the guest made them, then how it ended.
fn print_replay(
    execution: &Execution,
    component: &[u8; 32],
    journal: &[Event],
    replay: &OfflineReplay,
    backtrace: &Backtrace,
    verdict: &Verdict,
) {
    println!(
        "replaying {} ({}, started {}) offline on component {}: no step body, clock, timer or request runs",
        execution.name,
        execution.status.as_str(),
        iso8601(execution.started_at),
        &hex(component)[..16]
    );
    let operations: HashMap<usize, Operation> = timeline::operations(journal)
        .into_iter()
        .map(|operation| (operation.call, operation))
        .collect();
    println!("{}", timeline::header());
    for traced in &replay.trace {
        match traced {
            Traced::Replayed(call) => {
                if let Some(operation) = operations.get(call) {
                    println!("{}", timeline::render_row(operation, execution.started_at));
                }
            }
            Traced::Log(level, message) => {
                println!(
                    "         | {} {message}",
                    cairn_engine::logs::level_name(*level)
                );
            }
        }
    }
    println!("{}", describe(verdict));
    if let Verdict::Diverges(_) | Verdict::Fails(_) = verdict
        && let Some(backtrace) = backtrace
    {
        println!("the guest's stack at that call:");
        // wasmtime's first line is a header of its own.
        for line in backtrace
            .lines()
            .filter(|line| !line.contains("wasm backtrace:"))
        {
            println!("    {line}");
        }
    }
}

/// An execution as an export from Lambda shows it (its EXECUTION
/// operation: name, status, end), to judge a replay of it by.
pub fn exported_execution(
    operations: &[cairn_core::lambda::Operation],
    journal: &[Event],
    workflow: &str,
    hash: &[u8; 32],
) -> Execution {
    let execution = operations.iter().find(|op| op.kind == "EXECUTION");
    let status = match execution.map(|op| op.status.as_str()) {
        Some("SUCCEEDED") => Status::Succeeded,
        Some("FAILED") => Status::Failed,
        Some("TIMED_OUT") => Status::TimedOut,
        Some("STOPPED") => Status::Stopped,
        _ => Status::Running,
    };
    let (input, started_at) = match journal.first() {
        Some(Event::ExecutionStarted { input, at, .. }) => (input.clone(), *at),
        _ => ("null".into(), 0),
    };
    Execution {
        id: 0,
        name: execution
            .and_then(|op| op.name.clone())
            .unwrap_or_else(|| "exported".into()),
        workflow: workflow.to_owned(),
        component_hash: *hash,
        input,
        status,
        result: execution.and_then(|op| op.result.clone()),
        error: execution
            .and_then(|op| op.error.as_ref())
            .map(cairn_core::ErrorObject::from),
        started_at,
        ended_at: execution.and_then(|op| op.end),
        pause: None,
        component_path: None,
    }
}

/// A verdict for people, on as many lines as it needs.
pub fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Reproduced(outcome) => {
            format!("reproduced the recorded end: {}", outcome_text(outcome))
        }
        Verdict::Resumes(next) => format!("replayed the whole history cleanly; {next}"),
        Verdict::Diverges(Fault::Divergence {
            position,
            context,
            recorded,
            new,
        }) => {
            let place = if context.is_empty() {
                format!("position {position}")
            } else {
                format!("position {position} in context {context}")
            };
            format!("DIVERGED at {place}:\n  recorded: {recorded}\n  now:      {new}")
        }
        Verdict::Diverges(fault) => format!("DIVERGED: {fault}"),
        Verdict::EndsOtherwise { recorded, replayed } => format!(
            "ENDS OTHERWISE: the same calls, but\n  recorded: {}\n  now:      {}",
            outcome_text(recorded),
            outcome_text(replayed)
        ),
        Verdict::Fails(error) => format!("FAILED while replaying: {error}"),
        Verdict::GoesOn(next) => {
            format!(
                "GOES ON: the history records the end, but this component would go on with {next}"
            )
        }
    }
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded(result) => format!("SUCCEEDED {result}"),
        Outcome::Failed(error) => format!("FAILED {error}"),
    }
}
