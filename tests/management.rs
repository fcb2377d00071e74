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
