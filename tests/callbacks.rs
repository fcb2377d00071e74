//! Callbacks completed from outside (the `cairn callback` command) while the
//! workflow waits, suspended: success, failure, timeout, heartbeats, and a
//! crash while waiting.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Cairn, count, guest};

/// Polls the history until the callback exists, and returns its id.
fn callback_id(cairn: &Cairn, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no callback was created");
        let run = cairn.run(&["history", name, "--json"]);
        if run.code == 0 {
            let history: Value = serde_json::from_str(&run.stdout).unwrap();
            let started = history["Events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["EventType"] == "CallbackStarted")
                .map(|e| {
                    e["CallbackStartedDetails"]["CallbackId"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                });
            // The submitter step ran: the workflow is waiting.
            if let Some(id) = started.filter(|_| run.stdout.contains("approval submitter")) {
                return id;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output(child: std::process::Child) -> (i32, Value, String) {
    let run = support::Run::from(child.wait_with_output().unwrap());
    let value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run.code, value, run.stderr)
}

#[test]
fn a_callback_completed_from_outside_resumes_the_workflow() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let approval = approval.to_str().unwrap();
    let child = cairn.spawn(&[
        "run",
        approval,
        "--name",
        "ok",
        "--input",
        r#"{"amount_cents":500,"approver":"ada"}"#,
    ]);
    let id = callback_id(&cairn, "ok");
    assert_eq!(id.len(), 32, "128 random bits, in hex");

    // Only one process runs an execution at a time.
    let twice = cairn.run(&[
        "run",
        approval,
        "--name",
        "ok",
        "--input",
        r#"{"amount_cents":500,"approver":"ada"}"#,
    ]);
    assert_eq!(twice.code, 2);
    assert!(
        twice.stderr.contains("is being run by another process"),
        "{}",
        twice.stderr
    );

    let done = cairn.run(&[
        "callback",
        "succeed",
        &id,
        r#"{"approved":true,"by":"ada"}"#,
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let (code, result, stderr) = output(child);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(result["status"], "paid");
    assert_eq!(result["detail"], "paid 500 cents, approved by ada");

    let history = cairn.history("ok");
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["EventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "ContextStarted",
            "CallbackStarted",
            "StepStarted",
            "StepSucceeded",
            "InvocationCompleted",
            "CallbackSucceeded",
            "ContextSucceeded",
            "StepStarted",
            "StepSucceeded",
            "InvocationCompleted",
            "ExecutionSucceeded"
        ]
    );
    // As AWS's SDKs shape wait_for_callback: a context around the callback
    // and the step that hands out its id.
    assert_eq!(history[1]["SubType"], "WaitForCallback");
    assert_eq!(history[2]["ParentId"], history[1]["Id"]);
    assert_eq!(history[3]["Name"], "approval submitter");
    assert_eq!(
        history[6]["CallbackSucceededDetails"]["Result"]["Payload"],
        r#"{"approved":true,"by":"ada"}"#
    );

    // A closed callback, and an unknown one, are clear errors.
    let again = cairn.run(&["callback", "succeed", &id, "{}"]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("is already closed (SUCCEEDED)"),
        "{}",
        again.stderr
    );
    let unknown = cairn.run(&["callback", "fail", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no callback has the id"),
        "{}",
        unknown.stderr
    );
    assert_eq!(
        cairn.history("ok"),
        history,
        "the refused completions changed nothing"
    );
}

#[test]
fn a_failed_callback_is_an_error_the_workflow_sees() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let child = cairn.spawn(&[
        "run",
        approval.to_str().unwrap(),
        "--name",
        "no",
        "--input",
        r#"{"amount_cents":500,"approver":"ada"}"#,
    ]);
    let id = callback_id(&cairn, "no");
    let failed = cairn.run(&[
        "callback",
        "fail",
        &id,
        "--type",
        "Rejected",
        "--message",
        "not in budget",
    ]);
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    let (code, result, stderr) = output(child);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(result["ErrorType"], "Rejected");
    assert_eq!(result["ErrorMessage"], "not in budget");
    assert_eq!(count(&cairn.history("no"), "CallbackFailed"), 1);
}

#[test]
fn callbacks_time_out_and_heartbeats_keep_them_alive() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let approval = approval.to_str().unwrap();

    // No answer within 1 s: Callback.Timeout (skipping time does not skip it).
    let expired = cairn.run(&[
        "run",
        approval,
        "--name",
        "late",
        "--skip-time",
        "--input",
        r#"{"amount_cents":1,"approver":"bo","timeout_seconds":1}"#,
    ]);
    assert_eq!(expired.code, 0, "{}", expired.stderr);
    let result: Value = serde_json::from_str(&expired.stdout).unwrap();
    assert_eq!(result["status"], "expired");
    assert!(
        result["detail"]
            .as_str()
            .unwrap()
            .starts_with("Callback.Timeout"),
        "{result}"
    );
    let timed_out: Vec<Value> = cairn
        .history("late")
        .into_iter()
        .filter(|e| e["EventType"] == "CallbackTimedOut")
        .collect();
    assert_eq!(timed_out.len(), 1);
    assert_eq!(
        timed_out[0]["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"],
        "Callback.Timeout"
    );

    // Heartbeats every 300 ms keep a 1 s heartbeat timeout from firing for
    // well over a second; then silence makes it fire.
    let input = r#"{"amount_cents":1,"approver":"bo","heartbeat_seconds":1}"#;
    let child = cairn.spawn(&["run", approval, "--name", "beat", "--input", input]);
    let id = callback_id(&cairn, "beat");
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(300));
        let beat = cairn.run(&["callback", "heartbeat", &id]);
        assert_eq!(beat.code, 0, "{}", beat.stderr);
    }
    let (code, result, stderr) = output(child);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(result["status"], "expired");
    assert!(
        result["detail"]
            .as_str()
            .unwrap()
            .starts_with("Callback.Heartbeat"),
        "{result}"
    );
    // The heartbeats kept it alive well past one heartbeat timeout.
    let history = cairn.history("beat");
    let at = |event_type: &str| {
        history
            .iter()
            .find(|e| e["EventType"] == event_type)
            .unwrap()["EventTimestamp"]
            .as_f64()
            .unwrap()
    };
    assert!(
        at("CallbackTimedOut") - at("CallbackStarted") > 2.4,
        "{history:?}"
    );
}

#[test]
fn a_callback_completed_while_the_engine_is_down_is_seen_on_resume() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let args = [
        "run",
        approval.to_str().unwrap(),
        "--name",
        "down",
        "--input",
        r#"{"amount_cents":7,"approver":"cy"}"#,
    ];
    let child = cairn.spawn(&args);
    let id = callback_id(&cairn, "down");
    let killed = cairn.kill_when(child, "down", |_| true);
    assert!(killed.stdout.is_empty());

    let done = cairn.run(&[
        "callback",
        "succeed",
        &id,
        r#"{"approved":false,"by":"cy"}"#,
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let resumed = cairn.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let result: Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(result["status"], "rejected");
    assert_eq!(result["detail"], "rejected by cy");
    // The submitter step (which handed out the id) did not run again.
    assert_eq!(count(&cairn.history("down"), "StepStarted"), 1);
}

#[test]
fn a_completion_after_the_deadline_is_refused_even_with_no_engine_running() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let args = [
        "run",
        approval.to_str().unwrap(),
        "--name",
        "late",
        "--input",
        r#"{"amount_cents":7,"approver":"cy","timeout_seconds":1}"#,
    ];
    let child = cairn.spawn(&args);
    let id = callback_id(&cairn, "late");
    cairn.kill_when(child, "late", |_| true);
    std::thread::sleep(Duration::from_millis(1500));

    let refused = cairn.run(&["callback", "succeed", &id, r#"{"approved":true}"#]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("has timed out"),
        "{}",
        refused.stderr
    );
    let resumed = cairn.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let result: Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(result["status"], "expired");
    assert_eq!(count(&cairn.history("late"), "CallbackSucceeded"), 0);
}
