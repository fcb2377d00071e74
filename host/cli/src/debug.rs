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

/// Prints an offline replay: each replayed operation and each log line, in
/// the order the guest made them, then how it ended.
pub fn print_replay(
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
                println!("         | {} {message}", crate::level_name(*level));
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

/// An execution as an exported Lambda history shows it (its name, status
/// and end), to judge a replay of it by.
pub fn exported_execution(
    events: &[serde_json::Value],
    journal: &[Event],
    workflow: &str,
    hash: &[u8; 32],
) -> Execution {
    let text =
        |e: &serde_json::Value, key: &str| e.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let started = events.first();
    let last = events.iter().rev().find(|e| {
        text(e, "EventType").is_some_and(|t| t.starts_with("Execution") && t != "ExecutionStarted")
    });
    let last_type = last.and_then(|e| text(e, "EventType")).unwrap_or_default();
    let details = last
        .and_then(|e| e.get(format!("{last_type}Details")))
        .cloned()
        .unwrap_or_default();
    let status = match last_type.as_str() {
        "ExecutionSucceeded" => Status::Succeeded,
        "ExecutionFailed" => Status::Failed,
        "ExecutionTimedOut" => Status::TimedOut,
        "ExecutionStopped" => Status::Stopped,
        _ => Status::Running,
    };
    let (input, started_at) = match journal.first() {
        Some(Event::ExecutionStarted { input, at, .. }) => (input.clone(), *at),
        _ => ("null".into(), 0),
    };
    Execution {
        id: 0,
        name: started
            .and_then(|e| text(e, "Name"))
            .unwrap_or_else(|| "exported".into()),
        workflow: workflow.to_owned(),
        component_hash: *hash,
        input,
        status,
        result: details
            .get("Result")
            .and_then(|r| r.get("Payload"))
            .and_then(|p| p.as_str())
            .map(str::to_owned),
        error: details
            .get("Error")
            .and_then(|e| e.get("Payload"))
            .map(|e| cairn_core::history::error_from_json(e, "Unknown")),
        started_at,
        ended_at: None,
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
    }
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded(result) => format!("SUCCEEDED {result}"),
        Outcome::Failed(error) => format!("FAILED {error}"),
    }
}
