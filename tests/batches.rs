//! Child contexts, `parallel` and `map` with completion policies: items run
//! in contexts of their own, and an item that waits does not hold up the
//! others, before and after a crash.

mod support;

use serde_json::Value;
use support::{Cairn, count, guest, succeeded_steps};

fn fanout(cairn: &Cairn, name: &str, input: &str, skip_time: bool) -> (Value, support::Run) {
    let fanout = guest("fanout");
    let mut args = vec![
        "run",
        fanout.to_str().unwrap(),
        "--name",
        name,
        "--input",
        input,
    ];
    if skip_time {
        args.push("--skip-time");
    }
    let run = cairn.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (serde_json::from_str(&run.stdout).unwrap(), run)
}

#[test]
fn map_items_that_wait_do_not_hold_up_the_others() {
    let cairn = Cairn::new();
    let (summary, run) = fanout(&cairn, "m", r#"{"items":["a","slow-1","b"]}"#, false);
    assert_eq!(
        summary["processed"],
        serde_json::json!(["a done", "slow-1 done", "b done"])
    );
    assert_eq!(summary["reason"], "ALL_COMPLETED");
    // b ran before the slow item's wait was over, in the first invocation.
    let suspended = run.stderr.find("cairn: suspended").unwrap();
    assert!(
        run.stderr.find("body ran: b").unwrap() < suspended,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.find("body ran: slow-1").unwrap() > suspended,
        "{}",
        run.stderr
    );
    assert_eq!(run.bodies(), ["a", "b", "slow-1"], "each body ran once");

    let history = cairn.history("m");
    let contexts: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e["EventType"] == "ContextStarted")
        .map(|e| (e["Name"].as_str().unwrap(), e["SubType"].as_str().unwrap()))
        .collect();
    assert_eq!(
        contexts,
        [
            ("process", "Map"),
            ("process-0", "MapIteration"),
            ("process-1", "MapIteration"),
            ("process-2", "MapIteration")
        ]
    );
    // Items' operations name their context as parent.
    let map_id = &history.iter().find(|e| e["Name"] == "process").unwrap()["Id"];
    assert!(
        history
            .iter()
            .filter(|e| e["Name"] == "process-0")
            .all(|e| &e["ParentId"] == map_id)
    );
}

#[test]
fn completion_policies_decide_when_a_batch_is_done() {
    let cairn = Cairn::new();
    // Default: the first failure completes the batch; later items never start.
    let (summary, run) = fanout(&cairn, "fast", r#"{"items":["a","fail-x","b"]}"#, true);
    assert_eq!(summary["reason"], "FAILURE_TOLERANCE_EXCEEDED");
    assert_eq!(summary["processed"], serde_json::json!(["a done"]));
    assert_eq!(
        summary["failed"],
        serde_json::json!(["fail-x cannot be processed"])
    );
    // The item that never started is not in the result (nor reported as
    // still running), as in AWS's SDKs.
    assert_eq!(summary["started"], 2);
    assert_eq!(summary["not_finished"], serde_json::json!([]));
    assert_eq!(run.bodies(), ["a", "fail-x"]);

    // An item that fails only after a retry delay: the items started while
    // it waited are started again on replay (no divergence), then the
    // failure completes the batch.
    let (summary, run) = fanout(
        &cairn,
        "late-failure",
        r#"{"items":["a","fail-x","b"],"retry_once":true}"#,
        true,
    );
    assert_eq!(summary["reason"], "FAILURE_TOLERANCE_EXCEEDED");
    assert_eq!(
        summary["processed"],
        serde_json::json!(["a done", "b done"])
    );
    assert_eq!(run.bodies(), ["a", "fail-x", "b", "fail-x"]);

    // One failure tolerated: every item runs.
    let (summary, _) = fanout(
        &cairn,
        "tolerant",
        r#"{"items":["fail-a","b","c"],"tolerated_failures":1}"#,
        true,
    );
    assert_eq!(summary["reason"], "ALL_COMPLETED");
    assert_eq!(
        summary["processed"],
        serde_json::json!(["b done", "c done"])
    );

    // Two successes are enough: the slow item is left waiting, unfinished,
    // and the run does not wait 60 s for it.
    let (summary, _) = fanout(
        &cairn,
        "enough",
        r#"{"items":["slow-60","b","c"],"min_successful":2}"#,
        false,
    );
    assert_eq!(summary["reason"], "MIN_SUCCESSFUL_REACHED");
    assert_eq!(summary["not_finished"], serde_json::json!([0]));
    let history = cairn.history("enough");
    assert_eq!(count(&history, "WaitSucceeded"), 0);

    // No batch runs with at most 0 items at a time: the execution fails
    // with a validation error before the batch records anything.
    let fanout_wasm = guest("fanout");
    let invalid = cairn.run(&[
        "run",
        fanout_wasm.to_str().unwrap(),
        "--name",
        "zero",
        "--input",
        r#"{"items":["a"],"max_concurrency":0}"#,
    ]);
    assert_eq!(invalid.code, 1, "{}", invalid.stderr);
    assert!(
        invalid.stdout.contains("ValidationError"),
        "{}",
        invalid.stdout
    );
    assert!(
        invalid.stdout.contains("max_concurrency"),
        "{}",
        invalid.stdout
    );
    let history = cairn.history("zero");
    assert_eq!(count(&history, "ContextStarted"), 0, "{history:?}");
    assert_eq!(count(&history, "ExecutionFailed"), 1);

    // One at a time: b starts only once the slow item is done.
    let (summary, run) = fanout(
        &cairn,
        "serial",
        r#"{"items":["slow-1","b"],"max_concurrency":1}"#,
        true,
    );
    assert_eq!(summary["reason"], "ALL_COMPLETED");
    assert_eq!(run.bodies(), ["slow-1", "b"]);
}

#[test]
fn parallel_branches_and_child_contexts_survive_a_crash() {
    let cairn = Cairn::new();
    let branches = guest("branches");
    let args = [
        "run",
        branches.to_str().unwrap(),
        "--name",
        "p",
        "--input",
        r#"{"wait_seconds":30}"#,
    ];
    let killed = cairn.kill_when(cairn.spawn(&args), "p", |events| {
        count(events, "InvocationCompleted") == 1
    });
    assert_eq!(
        killed.bodies(),
        ["slow-1", "quick"],
        "the quick branch ran while the slow one waited"
    );
    assert_eq!(succeeded_steps(&cairn.history("p")), ["slow-1", "quick"]);

    let resumed = cairn.run(&[&args[..], &["--skip-time"]].concat());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "\"SLOW-1+SLOW-2,QUICK|TAIL-1+TAIL-2\"");
    assert_eq!(
        resumed.bodies(),
        ["slow-2", "tail-1", "tail-2"],
        "no finished step ran again"
    );
    let history = cairn.history("p");
    let subtypes: Vec<&str> = history
        .iter()
        .filter(|e| e["EventType"] == "ContextSucceeded")
        .map(|e| e["SubType"].as_str().unwrap())
        .collect();
    assert_eq!(
        subtypes,
        [
            "ParallelBranch",
            "ParallelBranch",
            "Parallel",
            "RunInChildContext"
        ]
    );
}

#[test]
fn flat_branches_share_their_parallels_context_and_run_in_turn() {
    let cairn = Cairn::new();
    let branches = guest("branches");
    let args = [
        "run",
        branches.to_str().unwrap(),
        "--name",
        "f",
        "--input",
        r#"{"wait_seconds":30,"flat":true}"#,
    ];
    let killed = cairn.kill_when(cairn.spawn(&args), "f", |events| {
        count(events, "InvocationCompleted") == 1
    });
    assert_eq!(
        killed.bodies(),
        ["slow-1"],
        "flat: the quick branch waits for the slow one"
    );

    let resumed = cairn.run(&[&args[..], &["--skip-time"]].concat());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "\"SLOW-1+SLOW-2,QUICK|TAIL-1+TAIL-2\"");
    assert_eq!(resumed.bodies(), ["slow-2", "quick", "tail-1", "tail-2"]);
    let history = cairn.history("f");
    let contexts: Vec<&str> = history
        .iter()
        .filter(|e| e["EventType"] == "ContextSucceeded")
        .map(|e| e["SubType"].as_str().unwrap())
        .collect();
    assert_eq!(
        contexts,
        ["Parallel", "RunInChildContext"],
        "no branch contexts"
    );
    let parallel = history
        .iter()
        .find(|e| e["EventType"] == "ContextStarted" && e["SubType"] == "Parallel")
        .unwrap()["Id"]
        .clone();
    for name in ["slow-1", "slow-2", "quick"] {
        let step = history
            .iter()
            .find(|e| e["EventType"] == "StepSucceeded" && e["Name"] == name)
            .unwrap();
        assert_eq!(
            step["ParentId"], parallel,
            "{name} is in the parallel's context"
        );
    }
}
