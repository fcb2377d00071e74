//! `cairn start` and `cairn serve`: the engine as a long-lived process that
//! resumes executions when their timers are due or callbacks arrive, and
//! honours them after being killed and restarted.

#[path = "support/signed.rs"]
mod signed;
mod support;

use serde_json::Value;
use std::time::Duration;
use support::{Cairn, count, guest, succeeded_steps};

const ORDER: &str = r#"{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}"#;

#[test]
fn the_server_runs_started_executions_through_waits_and_callbacks() {
    let cairn = Cairn::new();
    let (order, approval) = (guest("order"), guest("approval"));
    let start = cairn.run(&[
        "start",
        order.to_str().unwrap(),
        "--name",
        "o",
        "--input",
        ORDER,
    ]);
    assert_eq!(
        (start.code, start.stdout.as_str()),
        (0, "o"),
        "{}",
        start.stderr
    );
    let again = cairn.run(&[
        "start",
        order.to_str().unwrap(),
        "--name",
        "o",
        "--input",
        ORDER,
    ]);
    assert_eq!(
        again.code, 0,
        "starting the same execution again is idempotent: {}",
        again.stderr
    );
    let start = cairn.run(&[
        "start",
        approval.to_str().unwrap(),
        "--name",
        "a",
        "--input",
        r#"{"amount_cents":5,"approver":"x"}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert_eq!(cairn.get("o")["Status"], "RUNNING");

    let server = cairn.serve(&[]);
    let order = cairn.wait_for_status("o", "SUCCEEDED");
    let receipt: Value = serde_json::from_str(order["Result"].as_str().unwrap()).unwrap();
    assert_eq!(receipt["total_cents"], 900);

    let history = cairn.history_if_any("a");
    let id = history
        .iter()
        .find(|e| e["EventType"] == "CallbackStarted")
        .map(|e| {
            e["CallbackStartedDetails"]["CallbackId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .expect("the approval waits on its callback");
    let done = cairn.run(&[
        "callback",
        "succeed",
        &id,
        r#"{"approved":true,"by":"srv"}"#,
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let approval = cairn.wait_for_status("a", "SUCCEEDED");
    assert!(
        approval["Result"]
            .as_str()
            .unwrap()
            .contains("approved by srv")
    );
    server.kill();
}

#[test]
fn a_killed_server_honours_due_timers_when_it_comes_back() {
    let cairn = Cairn::new();
    let order = guest("order");
    let start = cairn.run(&[
        "start",
        order.to_str().unwrap(),
        "--name",
        "o",
        "--input",
        ORDER,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let server = cairn.serve(&[]);
    cairn.wait_for_history("o", |events| count(events, "WaitStarted") == 1, || {});
    server.kill();
    let before = succeeded_steps(&cairn.history("o"));
    assert_eq!(before, ["price", "reserve-stock", "charge-card"]);
    std::thread::sleep(Duration::from_millis(2500)); // the 2 s wait is now overdue

    let server = cairn.serve(&[]);
    cairn.wait_for_status("o", "SUCCEEDED");
    server.kill();
    let history = cairn.history("o");
    assert_eq!(
        succeeded_steps(&history),
        ["price", "reserve-stock", "charge-card", "ship"]
    );
    assert_eq!(count(&history, "StepStarted"), 4, "no step ran twice");
}

#[test]
fn an_invoked_execution_runs_on_its_own_and_holds_up_nothing() {
    let cairn = Cairn::new();
    let child = guest("child");
    let deploy = cairn.run(&["deploy", "child", child.to_str().unwrap()]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    let parent = guest("parent");
    let start = cairn.run(&[
        "start",
        parent.to_str().unwrap(),
        "--name",
        "p",
        "--input",
        r#"{"units":4,"wait_seconds":8}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let server = cairn.serve(&[]);
    // The callee is an execution of its own, waiting on its timer...
    cairn.wait_for_history("p--1", |events| count(events, "WaitStarted") == 1, || {});
    // ...while the server goes on with other work.
    let start = cairn.run(&[
        "start",
        "child",
        "--name",
        "quick",
        "--input",
        r#"{"units":1}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_status("quick", "SUCCEEDED");
    assert_eq!(
        cairn.get("p--1")["Status"],
        "RUNNING",
        "another execution finished while the callee waits"
    );
    assert_eq!(cairn.get("p")["Status"], "RUNNING");

    let parent = cairn.wait_for_status("p", "SUCCEEDED");
    assert_eq!(parent["Result"], "\"4 units for 1000 cents\"");
    let log = server.kill();
    assert_eq!(
        log.matches("body ran: price").count(),
        2,
        "each child's step ran once: {log}"
    );
    // Each line of a guest's log carries its time and its execution.
    for line in log.lines().filter(|line| line.contains("body ran: price")) {
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{line}");
        assert!(
            rest.starts_with("INFO [") && rest.contains("] body ran"),
            "{line}"
        );
    }
    assert!(log.contains("INFO [p--1] body ran: price"), "{log}");
    let history = cairn.history("p");
    assert_eq!(count(&history, "ChainedInvokeStarted"), 1);
    assert_eq!(count(&history, "ChainedInvokeSucceeded"), 1);
}

/// An execution points at a copy of its component kept beside the store
/// (named by its hash), not at the file it was started from: rebuilding
/// that file in place (as `cargo build` does) strands nothing, and the
/// other build takes nothing over.
#[test]
fn a_component_rebuilt_in_place_strands_nothing() {
    let cairn = Cairn::new();
    let path = cairn.db().with_file_name("flow.wasm");
    std::fs::copy(guest("flow-v1"), &path).unwrap();
    let start = cairn.run(&["start", path.to_str().unwrap(), "--name", "f"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    // Rebuilt: v3 returns "a+b" where v1 returns "ab".
    std::fs::copy(guest("flow-v3"), &path).unwrap();

    let server = cairn.serve(&["--skip-time"]);
    let done = cairn.wait_for_status("f", "SUCCEEDED");
    assert_eq!(done["Result"], "\"ab\"", "it ran on its own build");
    let log = server.kill();
    assert!(!log.contains("is pinned to component"), "{log}");
    let kept = cairn
        .db()
        .with_file_name("components")
        .read_dir()
        .unwrap()
        .count();
    assert_eq!(kept, 1, "one copy, of the build it started with");
}

#[test]
fn heartbeats_through_the_server_invoke_nothing() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let input = r#"{"amount_cents":1,"approver":"bo","heartbeat_seconds":60}"#;
    let start = cairn.run(&[
        "start",
        approval.to_str().unwrap(),
        "--name",
        "hb",
        "--input",
        input,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let server = cairn.serve(&[]);
    let suspended = cairn.wait_for_history(
        "hb",
        |events| count(events, "InvocationCompleted") == 1,
        || {},
    );
    let id = suspended
        .iter()
        .find(|e| e["EventType"] == "CallbackStarted")
        .and_then(|e| e["CallbackStartedDetails"]["CallbackId"].as_str())
        .expect("the approval waits on its callback")
        .to_owned();
    for _ in 0..3 {
        let beat = cairn.run(&["--server", &server.url, "callback", "heartbeat", &id]);
        assert_eq!(beat.code, 0, "{}", beat.stderr);
    }
    let done = cairn.run(&[
        "--server",
        &server.url,
        "callback",
        "succeed",
        &id,
        r#"{"approved":true,"by":"bo"}"#,
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    cairn.wait_for_status("hb", "SUCCEEDED");
    // One invocation up to the callback, one after its success: the
    // heartbeats made none (as in AWS's histories).
    assert_eq!(count(&cairn.history("hb"), "InvocationCompleted"), 2);
    server.kill();
}

#[test]
fn a_callback_succeeded_without_a_result_is_recorded_as_null() {
    let cairn = Cairn::new();
    let approval = guest("approval");
    let start = cairn.run(&[
        "start",
        approval.to_str().unwrap(),
        "--name",
        "empty",
        "--input",
        r#"{"amount_cents":1,"approver":"bo"}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let server = cairn.serve(&[]);
    let suspended = cairn.wait_for_history(
        "empty",
        |events| count(events, "InvocationCompleted") == 1,
        || {},
    );
    let id = suspended
        .iter()
        .find(|e| e["EventType"] == "CallbackStarted")
        .and_then(|e| e["CallbackStartedDetails"]["CallbackId"].as_str())
        .expect("the approval waits on its callback")
        .to_owned();
    // SendDurableExecutionCallbackSuccess with no Result at all.
    let response = signed::request(
        &server,
        "POST",
        &format!("/2025-12-01/durable-execution-callbacks/{id}/succeed"),
        &[],
        b"",
    );
    assert_eq!(response.status(), 200);
    let history = cairn.wait_for_history(
        "empty",
        |events| count(events, "CallbackSucceeded") == 1,
        || {},
    );
    let succeeded = history
        .iter()
        .find(|e| e["EventType"] == "CallbackSucceeded")
        .unwrap();
    assert_eq!(
        succeeded["CallbackSucceededDetails"]["Result"]["Payload"], "null",
        "{succeeded}"
    );
    server.kill();
}
