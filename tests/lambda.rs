//! The Lambda host (`bootstrap`) as a durable function under AWS's own
//! emulators: dex-local-runner (the durable-execution backend) invokes it
//! through cargo-lambda (Lambda's Invoke and Runtime APIs), with time
//! skipped. The examples run through it, callbacks are completed through
//! the backend's API (tests/peers/lambda_driver.py, boto3), and each
//! history matches, event by event, what the embedded engine records for
//! the same workflow.

mod lambda_lab;
mod support;

use cairn_core::lambda::READS_NAME;
use cairn_engine::sqlite::Completion;
use cairn_engine::testing::TestRunner;
use lambda_lab::{Function, Lab};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::{guest, normalized, without_execution_name};

/// A history as `[type, SubType, name, parent's name]`, the execution's own
/// names left out. Lambda's carries Cairn's clock and random reads as STEPs
/// of their own: left out too, as the embedded history shows no reads. So
/// are invocation boundaries, which the emulator may record before or after
/// a timer it fires at once (time skipped): [`invocations`] counts them.
fn comparable(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[2] != READS_NAME && e[0] != "InvocationCompleted")
        .cloned()
        .map(without_execution_name)
        .collect()
}

fn invocations(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e[0] == "InvocationCompleted")
        .count()
}

/// The embedded engine's history of the same run, in the same shape.
fn embedded(history: &[Value]) -> Vec<Value> {
    normalized(history)
        .into_iter()
        .filter(|e| e[0] != "InvocationCompleted")
        .collect()
}

/// The function `name`, served by this package's bootstrap.
fn function(name: &str) -> Function {
    Function {
        name: name.to_owned(),
        bootstrap: env!("CARGO_BIN_EXE_bootstrap").into(),
        env: vec![(
            "CAIRN_COMPONENT".into(),
            component(name).to_string_lossy().into_owned(),
        )],
    }
}

fn component(name: &str) -> PathBuf {
    let path = guest(name);
    assert!(Path::new(&path).exists());
    path
}

const ORDER: &str = r#"{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}"#;
const APPROVED: &str = r#"{"approved":true,"by":"ada"}"#;

#[test]
fn the_examples_run_in_lambda_as_on_the_embedded_engine() {
    let examples = [
        "order", "flaky", "poller", "approval", "fanout", "parent", "child",
    ];
    let functions: Vec<Function> = examples.iter().map(|n| function(n)).collect();
    let lab = Lab::start(&functions);
    let inputs = [
        ("order", ORDER),
        ("flaky", r#"{"failures":2}"#),
        ("poller", r#"{"step_percent":30}"#),
        ("approval", r#"{"amount_cents":12000,"approver":"ada"}"#),
        (
            "fanout",
            r#"{"items":["fail-a","b","c"],"tolerated_failures":1,"max_concurrency":1}"#,
        ),
        ("parent", r#"{"units":4}"#),
    ];
    let jobs: Vec<Value> = inputs
        .iter()
        .map(|(name, input)| {
            let mut job = json!({ "function": name, "input": input, "name": format!("{name}-1") });
            if *name == "approval" {
                job["callback"] = json!(APPROVED);
            }
            job
        })
        .collect();
    let lambda = lab.run(Value::Array(jobs));

    let runner = TestRunner::new()
        .unwrap()
        .answer_callback("approval", Completion::Succeed(APPROVED.into()));
    runner.deploy("child", component("child")).unwrap();
    for (name, input) in inputs {
        let there = &lambda[format!("{name}-1")];
        assert_eq!(
            there["status"],
            "SUCCEEDED",
            "{name} in Lambda: {there}\n{}",
            lab.logs()
        );
        let here = runner.run(component(name), input).unwrap();
        let result: Value = serde_json::from_str(there["result"].as_str().unwrap()).unwrap();
        // The order's ids and time are live reads: only its total compares.
        if name == "order" {
            assert_eq!(result["total_cents"], 900);
        } else {
            assert_eq!(result, here.result::<Value>().unwrap(), "{name}'s result");
        }
        assert_eq!(
            comparable(&there["events"]),
            embedded(&here.history),
            "{name}: Lambda's history (left) differs from the embedded engine's (right)"
        );
        let there_events = there["events"].as_array().unwrap();
        let here_invocations = here
            .history
            .iter()
            .filter(|e| e["EventType"] == "InvocationCompleted")
            .count();
        assert_eq!(
            invocations(there_events),
            here_invocations,
            "{name}'s invocations"
        );
        // The exported history replays offline to the same end.
        let exported = there["history"].as_array().unwrap();
        let operations = cairn_core::lambda::operations_from_history(exported).unwrap();
        let journal = cairn_core::lambda::journal_from(&operations).unwrap();
        let engine = cairn_engine::Engine::new(None).unwrap();
        let workflow = engine.load_file(&component(name)).unwrap();
        let (replayed, _) = cairn_engine::invocation::replay_offline(
            &engine,
            &workflow,
            journal,
            cairn_engine::Input {
                payload: input,
                identity: &cairn_engine::Identity::default(),
            },
            cairn_engine::Limits::default(),
        )
        .unwrap();
        match replayed.end {
            cairn_engine::invocation::OfflineEnd::Finished(cairn_core::Finish::Succeeded(json)) => {
                assert_eq!(
                    Some(json.as_str()),
                    there["result"].as_str(),
                    "{name} replayed"
                )
            }
            other => panic!("{name}'s exported history replays to {other:?}"),
        }
        if name == "parent" {
            let child = runner.history(&format!("{}--1", here.name)).unwrap();
            assert_eq!(
                comparable(&there["invoked"][0]),
                embedded(&child),
                "the invoked child"
            );
        }
    }
    // The order's clock and random reads travelled in one STEP per checkpoint.
    let order = lambda["order-1"]["events"].as_array().unwrap();
    assert!(order.iter().any(|e| e[2] == READS_NAME), "{order:?}");
}

/// Checkpoint calls an execution needed, from the bootstrap's log.
fn checkpoint_calls(log: &str, arn: &str) -> usize {
    log.lines()
        .filter(|line| line.contains(arn))
        .filter_map(|line| {
            line.split(" after ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

#[test]
fn clock_reads_cost_no_checkpoint_calls() {
    let lab = Lab::start(&[function("steps")]);
    let done = lab.run(json!([
        { "function": "steps", "input": r#"{"count":10}"#, "name": "plain" },
        { "function": "steps", "input": r#"{"count":10,"clock_reads":10}"#, "name": "reads" },
    ]));
    for name in ["plain", "reads"] {
        assert_eq!(done[name]["status"], "SUCCEEDED", "{name}: {}", lab.logs());
        assert_eq!(done[name]["result"], "385");
    }
    let log = std::fs::read_to_string(lab.dir.path().join("steps.log")).unwrap();
    let plain = checkpoint_calls(&log, done["plain"]["arn"].as_str().unwrap());
    let reads = checkpoint_calls(&log, done["reads"]["arn"].as_str().unwrap());
    assert!(
        plain >= 10,
        "a checkpoint per step at least: {plain}\n{log}"
    );
    assert_eq!(
        reads, plain,
        "100 clock reads need no more checkpoint calls than none"
    );
    // All 100 reads travelled, in at most one STEP per checkpoint.
    let carriers: Vec<&Value> = done["reads"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["EventType"] == "StepSucceeded" && e["Name"] == READS_NAME)
        .collect();
    assert!(!carriers.is_empty() && carriers.len() <= reads);
    let carried: usize = carriers
        .iter()
        .map(|e| {
            let payload = e["StepSucceededDetails"]["Result"]["Payload"]
                .as_str()
                .unwrap();
            serde_json::from_str::<Vec<Value>>(payload).unwrap().len()
        })
        .sum();
    assert_eq!(carried, 100);
}

#[test]
fn failures_end_the_execution_with_their_error_not_a_retry_loop() {
    let lab = Lab::start(&[function("misbehave")]);
    let done = lab.run(json!([
        { "function": "misbehave", "input": r#""fail""#, "name": "fail" },
        { "function": "misbehave", "input": r#""panic""#, "name": "panic" },
        { "function": "misbehave", "input": r#""huge""#, "name": "huge" },
    ]));
    for (name, error_type, message) in [
        ("fail", "Refused", "the workflow refused"),
        ("panic", "Runtime.Trap", "the guest gave up on purpose"),
        (
            "huge",
            "Runtime.PayloadTooLarge",
            "the limit is 262144 bytes",
        ),
    ] {
        let execution = &done[name];
        assert_eq!(execution["status"], "FAILED", "{name}: {execution}");
        assert_eq!(
            execution["error"]["ErrorType"], error_type,
            "{name}: {execution}"
        );
        let got = execution["error"]["ErrorMessage"].as_str().unwrap();
        assert!(got.contains(message), "{name}: {got}");
        // One invocation: the failure is final, not retried.
        let events = execution["events"].as_array().unwrap();
        assert_eq!(invocations(events), 1, "{name}: {events:?}");
        // The step before the failure stays recorded.
        assert!(
            events
                .iter()
                .any(|e| e[0] == "StepSucceeded" && e[2] == "before"),
            "{name}: {events:?}"
        );
    }
}

#[test]
fn http_requests_are_recorded_in_lambda_and_not_sent_again_on_replay() {
    let service = support::HttpService::start();
    let mut fetch = function("fetch");
    fetch
        .env
        .push(("CAIRN_ALLOW_HTTP".into(), service.authority()));
    let lab = Lab::start(&[fetch]);
    let input = json!({ "calls": [
        { "url": service.url("/echo/outside") },
        { "method": "POST", "url": service.url("/echo"), "body": "inside", "in_step": true },
        // Fails once, then the step's retry suspends the execution: the next
        // invocation replays the two calls above.
        { "url": service.url("/fail"), "in_step": true, "attempts": 2 },
        { "url": service.url("/binary") },
        { "url": format!("http://localhost:{}/echo/elsewhere", service.port) },
    ]})
    .to_string();
    let done = lab.run(json!([{ "function": "fetch", "input": input, "name": "fetch-1" }]));
    let execution = &done["fetch-1"];
    assert_eq!(
        execution["status"],
        "SUCCEEDED",
        "{execution}\n{}",
        lab.logs()
    );
    let outcomes: Value = serde_json::from_str(execution["result"].as_str().unwrap()).unwrap();
    assert_eq!(outcomes[0], json!({ "status": 200, "body": "outside" }));
    assert_eq!(outcomes[1], json!({ "status": 200, "body": "inside" }));
    assert_eq!(outcomes[2]["error_type"], "Http.Status");
    assert_eq!(outcomes[3]["status"], 200);
    assert_eq!(outcomes[4]["error_type"], "Http.HttpRequestDenied");
    let events = execution["events"].as_array().unwrap();
    assert!(invocations(events) >= 2, "{events:?}");
    let counts = service.counts();
    assert_eq!(counts["/echo/outside"], 1, "{counts}");
    assert_eq!(counts["/echo"], 1, "{counts}");
    assert_eq!(counts["/fail"], 2, "{counts}");
    assert_eq!(counts["/binary"], 1, "{counts}");
    assert_eq!(counts.get("/echo/elsewhere"), None, "{counts}");
    // Lambda's own history replays offline to the same result, sending nothing.
    let exported = execution["history"].as_array().unwrap();
    let operations = cairn_core::lambda::operations_from_history(exported).unwrap();
    let journal = cairn_core::lambda::journal_from(&operations).unwrap();
    let engine = cairn_engine::Engine::new(None).unwrap();
    let workflow = engine.load_file(&component("fetch")).unwrap();
    let (replayed, _) = cairn_engine::invocation::replay_offline(
        &engine,
        &workflow,
        journal,
        cairn_engine::Input {
            payload: &input,
            identity: &cairn_engine::Identity::default(),
        },
        cairn_engine::Limits::default(),
    )
    .unwrap();
    match replayed.end {
        cairn_engine::invocation::OfflineEnd::Finished(cairn_core::Finish::Succeeded(json)) => {
            assert_eq!(Some(json.as_str()), execution["result"].as_str())
        }
        other => panic!("the exported history replays to {other:?}"),
    }
    assert_eq!(service.counts(), counts);
}

#[test]
fn a_stale_checkpoint_token_fails_the_invocation_not_the_execution() {
    let lab = Lab::start(&[function("approval")]);
    let input = r#"{"amount_cents":12000,"approver":"ada"}"#;
    // Left waiting on its callback.
    let waiting = lab.run(json!([{
        "function": "approval", "input": input, "name": "a1", "until": "CallbackStarted"
    }]));
    let arn = waiting["a1"]["arn"].as_str().unwrap().to_owned();
    let before = waiting["a1"]["events"].clone();
    assert_eq!(waiting["a1"]["status"], "RUNNING");

    // An invocation holding a token the backend no longer accepts (as a
    // duplicate delivery would): it must fail as an invocation, for Lambda
    // to retry, and record nothing.
    let envelope = json!({
        "DurableExecutionArn": arn,
        "CheckpointToken": "a-token-from-long-ago",
        "InitialExecutionState": { "Operations": [{
            "Id": "x", "Type": "EXECUTION", "Status": "STARTED",
            "StartTimestamp": 1_700_000_000,
            "ExecutionDetails": { "InputPayload": input },
        }]},
    });
    let answer = lab.invoke("approval", &envelope.to_string());
    assert!(
        answer.contains("stale checkpoint token") && !answer.contains("\"Status\""),
        "{answer}\n{}",
        lab.logs()
    );

    // The execution is as it was, and goes on to its end.
    let done = lab.run(json!([{ "arn": arn, "name": "a1", "callback": APPROVED }]));
    assert_eq!(done["a1"]["status"], "SUCCEEDED", "{}", lab.logs());
    let after = done["a1"]["events"].as_array().unwrap();
    assert_eq!(
        &after[..before.as_array().unwrap().len()],
        before.as_array().unwrap()
    );
    let runner = TestRunner::new()
        .unwrap()
        .answer_callback("approval", Completion::Succeed(APPROVED.into()));
    let here = runner.run(component("approval"), input).unwrap();
    assert_eq!(comparable(&done["a1"]["events"]), embedded(&here.history));
}

/// AWS's conformance suite (tests/conformance.rs runs it on `cairn serve`)
/// on the Lambda host: one `bootstrap` per requirement's function under
/// AWS's emulator, time not skipped (a callback's timeout must pass for
/// real), and boto3 talking to tests/peers/lambda_front.py, which serves
/// Lambda's Invoke and CloudWatch Logs in front of the emulator.
#[test]
fn aws_conformance_suite_passes_on_the_lambda_host() {
    let listed = support::conformance_driver(&["--list-functions".as_ref()])
        .output()
        .expect("python3 runs (scripts/test installs the peers)");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Vec<(String, String)> = serde_json::from_slice(&listed.stdout).unwrap();
    let functions: Vec<Function> = listed
        .into_iter()
        .map(|(name, component)| Function {
            name,
            bootstrap: env!("CARGO_BIN_EXE_bootstrap").into(),
            env: vec![("CAIRN_COMPONENT".into(), component)],
        })
        .collect();
    let lab = Lab::start_with(&functions, false);
    support::conformance(&[
        "--backend".as_ref(),
        "lambda".as_ref(),
        "--emulator".as_ref(),
        lab.endpoint().as_ref(),
        "--logs".as_ref(),
        lab.dir.path().as_os_str(),
    ]);
}
