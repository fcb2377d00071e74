//! Bad input gets a clear error and a non-zero exit, and loses nothing:
//! the store and the other executions in it are intact.

mod support;

use support::{Cairn, guest};

#[test]
fn bad_components_inputs_and_guests_fail_clearly_and_lose_nothing() {
    let cairn = Cairn::new();
    let hello = guest("hello");
    let hello = hello.to_str().unwrap();
    let misbehave = guest("misbehave");
    let misbehave = misbehave.to_str().unwrap();
    let ok = cairn.run(&[
        "run",
        hello,
        "--name",
        "good",
        "--input",
        r#"{"name":"Ada"}"#,
        "--skip-time",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let good_history = cairn.history("good");

    let not_wasm = cairn.db().with_file_name("notes.wasm");
    std::fs::write(&not_wasm, "hello, I am text").unwrap();
    let core_module = cairn.db().with_file_name("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap();
    let other_world = guest("other-world");

    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["run", not_wasm.to_str().unwrap()],
            2,
            "not a WebAssembly component: the file does not start with the wasm magic bytes",
        ),
        (
            vec!["run", core_module.to_str().unwrap()],
            2,
            "a core WebAssembly module, not a component",
        ),
        (
            vec!["run", other_world.to_str().unwrap()],
            2,
            "does not target the cairn:workflow@0.1.0 world: no export `run` found",
        ),
        (
            vec!["run", hello, "--input", "{name:"],
            2,
            "the input is not valid JSON",
        ),
        (
            vec!["run", hello, "--name", "no spaces"],
            2,
            "a name is 1 to 64 of the characters",
        ),
        (
            vec!["run", hello, "--input", "[1,2]"],
            1,
            "InvalidInput: the workflow's input does not fit its type",
        ),
        (
            vec![
                "run",
                misbehave,
                "--name",
                "spin",
                "--input",
                "\"spin\"",
                "--time-budget",
                "1",
            ],
            1,
            "Runtime.TimeBudgetExceeded: the invocation ran longer than its time budget of 1s",
        ),
        (
            vec![
                "run",
                misbehave,
                "--name",
                "oversleep",
                "--input",
                "\"oversleep\"",
                "--time-budget",
                "1",
            ],
            1,
            "Runtime.TimeBudgetExceeded: the invocation ran longer than its time budget of 1s, waiting in",
        ),
        (
            vec![
                "run",
                misbehave,
                "--name",
                "hog",
                "--input",
                "\"hog\"",
                "--memory-limit",
                "32",
            ],
            1,
            "Runtime.MemoryLimitExceeded: the workflow tried to grow its memory to",
        ),
        (
            vec!["run", misbehave, "--name", "panic", "--input", "\"panic\""],
            1,
            "Runtime.Trap: the workflow panicked: panicked at",
        ),
        (
            vec![
                "run",
                misbehave,
                "--name",
                "ignore",
                "--input",
                "\"ignore-pending\"",
            ],
            1,
            "Runtime.InvalidOperation: the workflow made a step \"after\"",
        ),
        (
            vec!["run", misbehave, "--name", "fail", "--input", "\"fail\""],
            1,
            "Refused: the workflow refused",
        ),
    ];
    for (args, code, message) in cases {
        let run = cairn.run(&args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(message),
            "{args:?}: expected {message:?} in:\n{}",
            run.stderr
        );
    }

    // The failed executions are recorded as failed, with what they did before.
    for name in ["spin", "oversleep", "hog", "panic"] {
        let execution = cairn.get(name);
        assert_eq!(execution["Status"], "FAILED", "{name}");
        let history = cairn.history(name);
        let types: Vec<&str> = history
            .iter()
            .map(|e| e["EventType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "StepStarted",
                "StepSucceeded",
                "InvocationCompleted",
                "ExecutionFailed"
            ],
            "{name}"
        );
    }
    // The failed error keeps its data.
    assert_eq!(cairn.get("fail")["Error"]["ErrorData"], "42");

    // Nothing else changed, and the store still works.
    assert_eq!(cairn.history("good"), good_history);
    let again = cairn.run(&[
        "run",
        hello,
        "--name",
        "good2",
        "--input",
        r#"{"name":"Bo"}"#,
        "--skip-time",
    ]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "\"Hello, Bo! Signed, Cairn.\"");
}
