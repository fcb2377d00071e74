//! Retries with durable backoff, at-most-once attempts, and
//! wait_for_condition, on real components and real processes.

mod support;

use serde_json::Value;
use support::{Cairn, count, guest};

fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["EventType"] == event_type)
        .collect()
}

#[test]
fn a_failing_step_is_retried_with_backoff_until_it_succeeds() {
    let cairn = Cairn::new();
    let flaky = guest("flaky");
    let run = cairn.run(&[
        "run",
        flaky.to_str().unwrap(),
        "--name",
        "f",
        "--input",
        r#"{"failures":2}"#,
        "--skip-time",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "\"answered on attempt 3\"");
    assert_eq!(run.bodies(), ["attempt 1", "attempt 2", "attempt 3"]);

    let history = cairn.history("f");
    assert_eq!(count(&history, "StepStarted"), 3);
    let failed = of_type(&history, "StepFailed");
    assert_eq!(failed.len(), 2);
    for (attempt, event) in (1..).zip(&failed) {
        let details = &event["StepFailedDetails"];
        assert_eq!(details["RetryDetails"]["CurrentAttempt"], attempt);
        // Backoff without jitter: 1 s, then 2 s.
        assert_eq!(
            details["RetryDetails"]["NextAttemptDelaySeconds"],
            1 << (attempt - 1)
        );
        assert_eq!(details["Error"]["Payload"]["ErrorType"], "Unavailable");
    }
    let succeeded = of_type(&history, "StepSucceeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(
        succeeded[0]["StepSucceededDetails"]["RetryDetails"]["CurrentAttempt"],
        3
    );
    // One invocation per attempt: each delay suspended the execution.
    assert_eq!(count(&history, "InvocationCompleted"), 3);
}

#[test]
fn unretryable_errors_fail_at_once_and_spent_attempts_fail_the_step() {
    let cairn = Cairn::new();
    let flaky = guest("flaky");
    let flaky = flaky.to_str().unwrap();
    let bad = cairn.run(&[
        "run",
        flaky,
        "--name",
        "bad",
        "--input",
        r#"{"failures":2,"error_type":"BadRequest"}"#,
        "--skip-time",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stdout.contains(r#""ErrorType":"BadRequest""#),
        "{}",
        bad.stdout
    );
    assert_eq!(bad.bodies(), ["attempt 1"]);

    let spent = cairn.run(&[
        "run",
        flaky,
        "--name",
        "spent",
        "--input",
        r#"{"failures":9,"max_attempts":3}"#,
        "--skip-time",
    ]);
    assert_eq!(spent.code, 1, "{}", spent.stderr);
    assert!(
        spent.stdout.contains("attempt 3: the dependency is down"),
        "{}",
        spent.stdout
    );
    assert_eq!(spent.bodies(), ["attempt 1", "attempt 2", "attempt 3"]);
    let history = cairn.history("spent");
    assert_eq!(count(&history, "StepFailed"), 3);
    assert_eq!(cairn.get("spent")["Status"], "FAILED");
}

#[test]
fn a_crash_during_a_retry_delay_resumes_with_the_next_attempt() {
    let cairn = Cairn::new();
    let flaky = guest("flaky");
    let args = [
        "run",
        flaky.to_str().unwrap(),
        "--name",
        "f",
        "--input",
        r#"{"failures":1}"#,
    ];
    let killed = cairn.kill_when(cairn.spawn(&args), "f", |events| {
        count(events, "StepFailed") == 1
    });
    assert_eq!(killed.bodies(), ["attempt 1"]);
    let resumed = cairn.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "\"answered on attempt 2\"");
    assert_eq!(
        resumed.bodies(),
        ["attempt 2"],
        "the failed attempt did not run again"
    );
}

#[test]
fn an_at_most_once_attempt_cut_short_is_interrupted_not_rerun() {
    let cairn = Cairn::new();
    let flaky = guest("flaky");
    let args = [
        "run",
        flaky.to_str().unwrap(),
        "--name",
        "once",
        "--input",
        r#"{"failures":0,"at_most_once":true,"first_call_ms":30000}"#,
    ];
    // The attempt's start is durable before its body runs: kill the body.
    let killed = cairn.kill_when(cairn.spawn(&args), "once", |events| {
        count(events, "StepStarted") == 1
    });
    assert_eq!(killed.bodies(), ["attempt 1"]);

    let resumed = cairn.run(&[&args[..], &["--skip-time"]].concat());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "\"answered on attempt 2\"");
    assert_eq!(resumed.bodies(), ["attempt 2"], "attempt 1 never ran twice");
    let history = cairn.history("once");
    let failed = of_type(&history, "StepFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["StepFailedDetails"]["Error"]["Payload"]["ErrorType"],
        "StepInterrupted"
    );
    assert_eq!(count(&history, "StepStarted"), 2);
}

#[test]
fn wait_for_condition_polls_with_carried_state_until_done() {
    let cairn = Cairn::new();
    let poller = guest("poller");
    let poller = poller.to_str().unwrap();
    let run = cairn.run(&[
        "run",
        poller,
        "--name",
        "p",
        "--input",
        r#"{"step_percent":30}"#,
        "--skip-time",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, r#"{"percent":100,"polls":4}"#);

    let history = cairn.history("p");
    let started = of_type(&history, "StepStarted");
    assert_eq!(started.len(), 4);
    assert!(started.iter().all(|e| e["SubType"] == "WaitForCondition"));
    // Three polls that were not done yet (AWS records a RETRY without an
    // error as a succeeded attempt), then the final result.
    let polls = of_type(&history, "StepSucceeded");
    let states: Vec<&str> = polls
        .iter()
        .map(|e| {
            e["StepSucceededDetails"]["Result"]["Payload"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        states,
        [
            r#"{"percent":30,"polls":1}"#,
            r#"{"percent":60,"polls":2}"#,
            r#"{"percent":90,"polls":3}"#,
            r#"{"percent":100,"polls":4}"#
        ]
    );
    assert!(polls[..3].iter().all(|e| {
        e["StepSucceededDetails"]["RetryDetails"]["NextAttemptDelaySeconds"].as_u64() >= Some(1)
    }));

    let exhausted = cairn.run(&[
        "run",
        poller,
        "--name",
        "slow",
        "--input",
        r#"{"step_percent":10,"max_polls":3}"#,
        "--skip-time",
    ]);
    assert_eq!(exhausted.code, 1, "{}", exhausted.stderr);
    assert!(
        exhausted.stdout.contains("WaitForConditionError"),
        "{}",
        exhausted.stdout
    );
    assert!(
        exhausted.stdout.contains("exhausted 3 attempts"),
        "{}",
        exhausted.stdout
    );
}

#[test]
fn a_step_body_that_crashes_ends_the_invocation_and_its_strategy_decides() {
    let cairn = Cairn::new();
    let misbehave = guest("misbehave");
    // At least once: run again after each crash, as AWS's SDKs do, until
    // MAX_CRASHES_PER_ATTEMPT (3) crashes; then interrupted, and with no retries
    // the step fails, and the execution with it.
    let run = cairn.run(&[
        "run",
        misbehave.to_str().unwrap(),
        "--name",
        "panics",
        "--input",
        r#""panic-in-step""#,
    ]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.bodies(),
        ["before panic-in-step", "fragile", "fragile", "fragile"]
    );
    let history = cairn.history("panics");
    let crashed: Vec<&Value> = of_type(&history, "InvocationCompleted")
        .into_iter()
        .filter(|e| !e["InvocationCompletedDetails"]["Error"].is_null())
        .collect();
    assert_eq!(crashed.len(), 3, "{history:#?}");
    for event in &crashed {
        let error = &event["InvocationCompletedDetails"]["Error"]["Payload"];
        assert_eq!(error["ErrorType"], "Runtime.Trap");
        assert!(
            error["ErrorMessage"]
                .as_str()
                .unwrap()
                .contains("the step gave up on purpose"),
            "{error}"
        );
    }
    // One StepStarted for the attempt, however often its body ran.
    let fragile: Vec<&Value> = history.iter().filter(|e| e["Name"] == "fragile").collect();
    assert_eq!(
        fragile
            .iter()
            .map(|e| e["EventType"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["StepStarted", "StepFailed"]
    );
    assert_eq!(
        fragile[1]["StepFailedDetails"]["Error"]["Payload"]["ErrorType"],
        "StepInterrupted"
    );
    assert_eq!(
        of_type(&history, "ExecutionFailed")[0]["ExecutionFailedDetails"]["Error"]["Payload"]["ErrorType"],
        "StepInterrupted"
    );

    // At most once: the attempt that exited is interrupted, never rerun;
    // the strategy retries it and the next attempt succeeds.
    let run = cairn.run(&[
        "run",
        misbehave.to_str().unwrap(),
        "--name",
        "exits",
        "--input",
        r#""exit-in-step""#,
        "--skip-time",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "2");
    assert_eq!(run.bodies(), ["before exit-in-step", "once 1", "once 2"]);
    let history = cairn.history("exits");
    let once: Vec<(&str, &Value)> = history
        .iter()
        .filter(|e| e["Name"] == "once")
        .map(|e| (e["EventType"].as_str().unwrap(), e))
        .collect();
    assert_eq!(
        once.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(),
        ["StepStarted", "StepFailed", "StepStarted", "StepSucceeded"]
    );
    assert_eq!(
        once[1].1["StepFailedDetails"]["Error"]["Payload"]["ErrorType"],
        "StepInterrupted"
    );
    let exited = of_type(&history, "InvocationCompleted")
        .into_iter()
        .find(|e| !e["InvocationCompletedDetails"]["Error"].is_null())
        .expect("the exit ended an invocation");
    assert_eq!(
        exited["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"],
        "Runtime.ExitError"
    );
}
