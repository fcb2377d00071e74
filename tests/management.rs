//! Managing executions from outside: stop, execution timeouts, listing by
//! status.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Cairn, count, guest};

#[test]
fn stopping_a_waiting_execution_ends_it_for_good() {
    let cairn = Cairn::new();
    // An hour-long wait: a run that slept through it would never end here.
    let steps = guest("steps");
    let args = [
        "run",
        steps.to_str().unwrap(),
        "--name",
        "h",
        "--input",
        r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#,
    ];
    let child = cairn.spawn(&args);
    let started = Instant::now();
    // Wait until it is suspended in its wait.
    while count(&cairn.history_if_any("h"), "InvocationCompleted") == 0 {
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
    let stop = cairn.run(&["stop", "h", "--message", "no longer needed"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let run = support::Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(error["ErrorType"], "Execution.Stopped");
    assert_eq!(error["ErrorMessage"], "no longer needed");

    assert_eq!(cairn.get("h")["Status"], "STOPPED");
    let history = cairn.history("h");
    // It ended at the stop, not after its wait.
    assert_eq!(history.last().unwrap()["EventType"], "ExecutionStopped");
    assert_eq!(count(&history, "WaitSucceeded"), 0);

    let again = cairn.run(&["stop", "h"]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("has already ended (STOPPED)"),
        "{}",
        again.stderr
    );
    let rerun = cairn.run(&args);
    assert_eq!(
        rerun.code, 1,
        "a stopped execution stays stopped: {}",
        rerun.stderr
    );
    let unknown = cairn.run(&["stop", "nobody"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no execution named \"nobody\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_execution_past_its_timeout_times_out() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    let hello = guest("hello");
    // An hour-long wait: a run that slept through it would never end here.
    let run = cairn.run(&[
        "run",
        steps.to_str().unwrap(),
        "--name",
        "t",
        "--input",
        r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#,
        "--timeout",
        "2",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(error["ErrorType"], "Execution.TimedOut");
    assert_eq!(cairn.get("t")["Status"], "TIMED_OUT");
    let history = cairn.history("t");
    assert_eq!(history[0]["ExecutionStartedDetails"]["ExecutionTimeout"], 2);
    // It ended at its timeout, not after its wait.
    assert_eq!(history.last().unwrap()["EventType"], "ExecutionTimedOut");
    assert_eq!(count(&history, "WaitSucceeded"), 0);

    let ok = cairn.run(&[
        "run",
        hello.to_str().unwrap(),
        "--name",
        "ok",
        "--input",
        r#"{"name":"Cy"}"#,
        "--skip-time",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let timed_out = cairn.run(&["list", "--status", "TIMED_OUT"]);
    assert!(
        timed_out.stdout.lines().any(|l| l.starts_with("t ")),
        "{}",
        timed_out.stdout
    );
    assert!(
        !timed_out.stdout.lines().any(|l| l.starts_with("ok ")),
        "{}",
        timed_out.stdout
    );
}

/// The position of the first event of `event_type` in a history.
fn position(history: &[Value], event_type: &str) -> usize {
    history
        .iter()
        .position(|e| e["EventType"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type} in {history:?}"))
}

#[test]
fn a_pause_holds_the_timeout_still_and_a_resume_with_nothing_new_invokes_nothing() {
    let cairn = Cairn::new();
    let _server = cairn.serve(&[]);
    let steps = guest("steps");
    // An hour-long wait in a 10-second execution: only the timeout ends it.
    let start = cairn.run(&[
        "start",
        steps.to_str().unwrap(),
        "--name",
        "held",
        "--input",
        r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#,
        "--timeout",
        "10",
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_history(
        "held",
        |events| count(events, "InvocationCompleted") == 1,
        || {},
    );
    // Paused from the CLI, on the store the server runs (no --server).
    let pause = cairn.run(&["pause", "held", "--reason", "over lunch"]);
    assert_eq!(pause.code, 0, "{}", pause.stderr);
    assert_eq!(cairn.get("held")["Status"], "PAUSED");
    let listed = cairn.run(&["list", "--status", "PAUSED"]);
    assert!(
        listed.stdout.lines().any(|l| l.starts_with("held ")),
        "{}",
        listed.stdout
    );
    // Past its timeout while paused: a timeout that ran on would end it.
    std::thread::sleep(Duration::from_secs(11));
    assert_eq!(cairn.get("held")["Status"], "PAUSED");
    let resume = cairn.run(&["resume", "held"]);
    assert_eq!(resume.code, 0, "{}", resume.stderr);
    let resume_again = cairn.run(&["resume", "held"]);
    assert_ne!(resume_again.code, 0);
    assert!(
        resume_again.stderr.contains("is not paused"),
        "{}",
        resume_again.stderr
    );

    cairn.wait_for_status("held", "TIMED_OUT");
    let history = cairn.history("held");
    let paused = position(&history, "ExecutionPaused");
    assert_eq!(
        history[paused]["ExecutionPausedDetails"]["Reason"]["Payload"],
        "over lunch"
    );
    assert_eq!(
        history[paused]["ExecutionPausedDetails"]["ExecutionTimeoutPaused"],
        true
    );
    // Resumed with nothing new: not invoked; timed out later by as long
    // as it was paused.
    let types: Vec<&str> = history[paused..]
        .iter()
        .map(|e| e["EventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["ExecutionPaused", "ExecutionResumed", "ExecutionTimedOut"]
    );
    assert_eq!(count(&history, "InvocationCompleted"), 1);
}

#[test]
fn a_pause_that_lets_the_timeout_run_ends_in_the_timeout() {
    let cairn = Cairn::new();
    let _server = cairn.serve(&[]);
    let steps = guest("steps");
    let start = cairn.run(&[
        "start",
        steps.to_str().unwrap(),
        "--name",
        "runs",
        "--input",
        r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#,
        "--timeout",
        "2",
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let pause = cairn.run(&["pause", "runs", "--timeout-runs"]);
    assert_eq!(pause.code, 0, "{}", pause.stderr);
    cairn.wait_for_status("runs", "TIMED_OUT");
    let history = cairn.history("runs");
    let paused = position(&history, "ExecutionPaused");
    assert_eq!(
        history[paused]["ExecutionPausedDetails"]["ExecutionTimeoutPaused"],
        false
    );
    assert!(paused < position(&history, "ExecutionTimedOut"));
    assert_eq!(count(&history, "ExecutionResumed"), 0);
    // Ended: it can be deleted, and then nothing is left of it.
    let delete = cairn.run(&["delete", "runs"]);
    assert_eq!(delete.code, 0, "{}", delete.stderr);
    let gone = cairn.run(&["get", "runs"]);
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("no execution named \"runs\""),
        "{}",
        gone.stderr
    );
}
