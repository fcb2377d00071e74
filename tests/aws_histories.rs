//! Cairn's histories against AWS's own emulator of the durable backend: the
//! examples' Python twins (tests/peers/emulator_histories.py, written with
//! AWS's Python SDK) run on `aws-durable-execution-sdk-python-testing`, and
//! each history must match Cairn's for the same workflow and input, event by
//! event: type, subtype, name and parent.

mod support;

use cairn_engine::sqlite::Completion;
use cairn_engine::testing::TestRunner;
use serde_json::Value;
use std::process::Command;
use support::{guest, normalized, without_execution_name, workspace};

/// The emulator's histories of the twins, normalized.
fn emulator_histories() -> Value {
    let output = Command::new("python3")
        .arg(workspace().join("tests/peers/emulator_histories.py"))
        .output()
        .expect("python3 runs (.ci/run installs AWS's emulator)");
    assert!(
        output.status.success(),
        "the emulator's twins failed (pip install aws-durable-execution-sdk-python-testing):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the twins print JSON")
}

/// The twin's normalized events, its execution's own names left out.
fn without_execution_names(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(without_execution_name)
        .collect()
}

#[test]
fn histories_match_what_aws_emulator_records_for_the_same_workflows() {
    let emulator = emulator_histories();
    let runner = TestRunner::new().unwrap().answer_callback(
        "approval",
        Completion::Succeed(r#"{"approved":true,"by":"ada"}"#.into()),
    );
    runner.deploy("child", guest("child")).unwrap();
    for (name, component) in [
        ("order", "order"),
        ("flaky", "flaky"),
        ("poller", "poller"),
        ("approval", "approval"),
        ("fanout", "fanout"),
        ("fanout-early", "fanout"),
        ("parent", "parent"),
    ] {
        let twin = &emulator[name];
        assert_eq!(twin["status"], "SUCCEEDED", "the {name} twin: {twin}");
        let run = runner
            .run(guest(component), twin["input"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            normalized(&run.history),
            without_execution_names(&twin["events"]),
            "{name}: Cairn's history (left) differs from the emulator's (right)"
        );
        let result: Value = run.result().unwrap();
        // The order's ids and time come from live reads (journaled in Cairn,
        // not in the twin): only its total is comparable.
        if name == "order" {
            assert_eq!(result["total_cents"], twin["result"]["total_cents"]);
        } else {
            assert_eq!(result, twin["result"], "{name}'s result");
        }
        if name == "parent" {
            let child = runner.history(&format!("{}--1", run.name)).unwrap();
            assert_eq!(
                normalized(&child),
                without_execution_names(&emulator["child"]["events"]),
                "the invoked child: Cairn's history (left) differs from the emulator's (right)"
            );
        }
    }
}
