//! The test runner authors use from `cargo test`: time skipped, callbacks
//! answered from the test, assertions on the result and the history.

mod support;

use cairn_engine::sqlite::Completion;
use cairn_engine::testing::TestRunner;
use serde_json::Value;
use support::guest;

#[test]
fn a_test_answers_callbacks_and_checks_the_history() {
    let runner = TestRunner::new().unwrap().answer_callback(
        "approval",
        Completion::Succeed(r#"{"approved":true,"by":"a test"}"#.into()),
    );
    let run = runner
        .run(guest("approval"), r#"{"amount_cents":9,"approver":"tess"}"#)
        .unwrap();
    let result: Value = run.result().unwrap();
    assert_eq!(result["status"], "paid");
    assert_eq!(result["detail"], "paid 9 cents, approved by a test");
    assert_eq!(run.events_of_type("CallbackSucceeded").len(), 1);
    assert!(
        run.logs.iter().any(|line| line.starts_with("asking tess")),
        "{:?}",
        run.logs
    );

    // Time is skipped: the third attempt started before the first retry
    // delay (1 s) would have passed.
    let run = runner.run(guest("flaky"), r#"{"failures":2}"#).unwrap();
    assert_eq!(run.result::<String>().unwrap(), "answered on attempt 3");
    assert_eq!(run.events_of_type("StepFailed").len(), 2);
    let at = |event: &Value| event["EventTimestamp"].as_f64().unwrap();
    let started = run.events_of_type("StepStarted");
    assert!(
        at(started[2]) - at(started[0]) < 1.0,
        "the retry delays were skipped"
    );

    // A failed workflow's error is the test's error.
    let run = runner
        .run(
            guest("flaky"),
            r#"{"failures":1,"error_type":"BadRequest"}"#,
        )
        .unwrap();
    let error = run.result::<String>().unwrap_err().to_string();
    assert!(error.contains("BadRequest"), "{error}");

    // Invocations between deployed workflows work as in the engine.
    runner.deploy("child", guest("child")).unwrap();
    let run = runner.run(guest("parent"), r#"{"units":3}"#).unwrap();
    assert_eq!(run.result::<String>().unwrap(), "3 units for 750 cents");
}
