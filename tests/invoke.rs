//! One workflow invoking another by its registered name: results, failures
//! the caller handles, unknown workflows, and a crash inside the callee.

mod support;

use support::{Cairn, count, guest};

fn deploy_child(cairn: &Cairn) {
    let child = guest("child");
    let deploy = cairn.run(&["deploy", "child", child.to_str().unwrap()]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
}

#[test]
fn a_workflow_invokes_another_and_handles_its_failure() {
    let cairn = Cairn::new();
    deploy_child(&cairn);
    let parent = guest("parent");
    let parent = parent.to_str().unwrap();
    let ok = cairn.run(&["run", parent, "--name", "p", "--input", r#"{"units":4}"#]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "\"4 units for 1000 cents\"");
    let history = cairn.history("p");
    let started: Vec<_> = history
        .iter()
        .filter(|e| e["EventType"] == "ChainedInvokeStarted")
        .collect();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0]["ChainedInvokeStartedDetails"]["FunctionName"],
        "child"
    );
    assert_eq!(count(&history, "ChainedInvokeSucceeded"), 1);
    // The callee is an execution of its own, which the caller's history
    // names as AWS's does (its ARN, the version that ran).
    let callee = cairn.get("p--1");
    assert_eq!(callee["Status"], "SUCCEEDED");
    let details = &started[0]["ChainedInvokeStartedDetails"];
    assert_eq!(
        details["DurableExecutionArn"],
        callee["DurableExecutionArn"]
    );
    assert_eq!(details["ExecutedVersion"], "$LATEST");

    let refused = cairn.run(&[
        "run",
        parent,
        "--name",
        "big",
        "--input",
        r#"{"units":400}"#,
    ]);
    assert_eq!(refused.code, 0, "{}", refused.stderr);
    assert_eq!(refused.stdout, "\"no quote: 400 units is more than 100\"");
    assert_eq!(count(&cairn.history("big"), "ChainedInvokeFailed"), 1);
    assert_eq!(cairn.get("big--1")["Status"], "FAILED");
}

#[test]
fn invoking_an_unregistered_workflow_is_an_error_to_the_caller() {
    let cairn = Cairn::new();
    let parent = guest("parent");
    let run = cairn.run(&[
        "run",
        parent.to_str().unwrap(),
        "--name",
        "lost",
        "--input",
        r#"{"units":1}"#,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(r#""ErrorType":"WorkflowNotFound""#),
        "{}",
        run.stdout
    );
    let deploy = cairn.run(&["deploy", "child", "/nonexistent/child.wasm"]);
    assert_eq!(deploy.code, 2);
}

#[test]
fn a_crash_inside_the_invoked_workflow_resumes_both() {
    let cairn = Cairn::new();
    deploy_child(&cairn);
    let parent = guest("parent");
    let args = [
        "run",
        parent.to_str().unwrap(),
        "--name",
        "p",
        "--input",
        r#"{"units":2,"wait_seconds":30}"#,
    ];
    let child = cairn.spawn(&args);
    // Killed while the callee waits.
    let killed = cairn.kill_when(child, "p--1", |events| count(events, "WaitStarted") == 1);
    assert!(killed.stdout.is_empty());
    let resumed = cairn.run(&[&args[..], &["--skip-time"]].concat());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "\"2 units for 500 cents\"");
    assert_eq!(resumed.bodies(), ["price"]);
    assert_eq!(
        count(&cairn.history("p"), "ChainedInvokeStarted"),
        1,
        "the parent invoked once"
    );
}
