//! Debugging recorded executions: `cairn replay` (offline, from the history
//! alone), divergence reports, `cairn check-upgrade`, and the history as a
//! table of operations.

mod support;

use support::{Cairn, count, guest};

const ORDER: &str = r#"{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}"#;

#[test]
fn replay_reproduces_the_result_and_logs_and_runs_no_step_body() {
    let cairn = Cairn::new();
    let order = guest("order");
    let run = cairn.run(&[
        "run",
        order.to_str().unwrap(),
        "--name",
        "o",
        "--skip-time",
        "--input",
        ORDER,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The log line carries the journaled clock and random id.
    let logged = run
        .stderr
        .lines()
        .find_map(|line| {
            line.split("INFO ")
                .nth(1)
                .filter(|l| l.starts_with("order ord-"))
        })
        .expect("the order logs its id")
        .to_owned();
    let before = cairn.history("o");

    let replay = cairn.run(&["replay", "o"]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let lines: Vec<&str> = replay.stdout.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", replay.stdout))
    };
    // Every log line, replayed ones included, in order with the operations.
    assert!(at("Random") < at(&logged) && at(&logged) < at("price"));
    assert!(at("price") < at("await-pickup") && at("await-pickup") < at("ship"));
    assert!(
        replay.stdout.contains(&format!(
            "reproduced the recorded end: SUCCEEDED {}",
            run.stdout
        )),
        "{}",
        replay.stdout
    );
    assert_eq!(
        cairn.history("o"),
        before,
        "an offline replay writes nothing"
    );

    // No step body runs: the steps guest logs from inside each body.
    let steps = guest("steps");
    let run = cairn.run(&[
        "run",
        steps.to_str().unwrap(),
        "--name",
        "s",
        "--input",
        r#"{"count":3}"#,
    ]);
    assert_eq!(run.bodies(), ["step-1", "step-2", "step-3"]);
    let replay = cairn.run(&["replay", "s"]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(
        !replay.stdout.contains("body ran") && !replay.stderr.contains("body ran"),
        "{}",
        replay.stdout
    );
    assert_eq!(
        replay.stdout.matches(" Step ").count(),
        3,
        "{}",
        replay.stdout
    );
    assert!(
        replay
            .stdout
            .contains("reproduced the recorded end: SUCCEEDED 14")
    );
}

#[test]
fn a_divergence_report_names_the_position_and_both_calls() {
    let cairn = Cairn::new();
    let v1 = guest("flow-v1");
    let run = cairn.run(&["run", v1.to_str().unwrap(), "--name", "f", "--skip-time"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let before = cairn.history("f");
    for (version, report) in [
        (
            "flow-v5", // steps swapped
            "DIVERGED at position 1:\n  recorded: step \"a\"\n  now:      step \"b\"",
        ),
        (
            "flow-v6", // first step renamed
            "DIVERGED at position 1:\n  recorded: step \"a\"\n  now:      step \"alpha\"",
        ),
        (
            "flow-v2", // the wait's argument changed
            "DIVERGED at position 2:\n  recorded: wait \"w\" of 5 s (fingerprint ",
        ),
    ] {
        let component = guest(version);
        let replay = cairn.run(&["replay", "f", "--component", component.to_str().unwrap()]);
        assert_eq!(replay.code, 1, "{version}: {}", replay.stderr);
        assert!(
            replay.stdout.contains(report),
            "{version}:\n{}",
            replay.stdout
        );
        // The guest's stack at the new call, its functions named (the
        // workflow's own are inlined into `run` by the guest profile).
        let stack = replay
            .stdout
            .split("the guest's stack at that call:")
            .nth(1)
            .unwrap_or_else(|| panic!("{version}: no stack in\n{}", replay.stdout));
        let frame = format!("{}.wasm!run", version.replace('-', "_"));
        assert!(stack.contains(&frame), "{version}: {stack}");
    }
    let v2 = cairn.run(&[
        "replay",
        "f",
        "--component",
        guest("flow-v2").to_str().unwrap(),
    ]);
    assert!(
        v2.stdout
            .contains("  now:      wait \"w\" of 6 s (fingerprint ")
    );
    assert_eq!(cairn.history("f"), before, "replays write nothing");
    assert_eq!(cairn.get("f")["Status"], "SUCCEEDED");
}

#[test]
fn check_upgrade_tells_which_executions_would_resume() {
    let cairn = Cairn::new();
    let v1 = guest("flow-v1");
    let v1 = v1.to_str().unwrap();
    // One execution waits between its steps; another has finished.
    cairn.kill_when(
        cairn.spawn(&["run", v1, "--name", "waiting"]),
        "waiting",
        |events| count(events, "WaitStarted") == 1,
    );
    let done = cairn.run(&["run", v1, "--name", "done", "--skip-time"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let histories = (cairn.history("waiting"), cairn.history("done"));

    // Renaming the step after the wait: safe for the waiting one only.
    let v7 = guest("flow-v7");
    let all = cairn.run(&[
        "check-upgrade",
        "--component",
        v7.to_str().unwrap(),
        "--workflow",
        "flow-v1",
        "--executions",
        "all",
    ]);
    assert_eq!(all.code, 1, "{}", all.stderr);
    let line = |name: &str| {
        all.stdout
            .lines()
            .find(|line| line.contains(&format!(" {name} (")))
            .unwrap_or_else(|| panic!("no {name} in\n{}", all.stdout))
            .to_owned()
    };
    assert!(
        line("waiting").starts_with("ok   waiting (RUNNING): replayed the whole history cleanly"),
        "{}",
        all.stdout
    );
    assert!(
        line("done").starts_with("FAIL done (SUCCEEDED): DIVERGED at position 3"),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout.contains("now:      step \"b2\""),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout
            .contains("1 of 2 execution(s) would resume cleanly")
    );

    let running = cairn.run(&[
        "check-upgrade",
        "--component",
        v7.to_str().unwrap(),
        "--workflow",
        "flow-v1",
    ]);
    assert_eq!(running.code, 0, "{}", running.stdout);
    assert!(
        running
            .stdout
            .contains("1 of 1 execution(s) would resume cleanly")
    );

    // Renaming the first step: the waiting one would diverge too.
    let v6 = guest("flow-v6");
    let renamed = cairn.run(&[
        "check-upgrade",
        "--component",
        v6.to_str().unwrap(),
        "--workflow",
        "flow-v1",
    ]);
    assert_eq!(renamed.code, 1);
    assert!(
        renamed
            .stdout
            .contains("FAIL waiting (RUNNING): DIVERGED at position 1"),
        "{}",
        renamed.stdout
    );
    assert_eq!((cairn.history("waiting"), cairn.history("done")), histories);
}

#[test]
fn a_history_exported_from_lambda_replays_like_a_stored_one() {
    // Captured from AWS's emulator running the order example in Cairn's
    // Lambda host (tests/lambda.rs): its clock and random reads travel in a
    // STEP of their own.
    let exported = support::workspace().join("tests/fixtures/order-lambda-history.json");
    let exported = exported.to_str().unwrap();
    let cairn = Cairn::new();
    let order = guest("order");
    let replay = cairn.run(&[
        "replay",
        "--history",
        exported,
        "--component",
        order.to_str().unwrap(),
    ]);
    assert_eq!(replay.code, 0, "{}\n{}", replay.stdout, replay.stderr);
    // The reads came back in their places: the same id and time, logged.
    assert!(
        replay
            .stdout
            .contains("| INFO order ord-53bae1cc4a11cda2 for ada placed at 1795758935"),
        "{}",
        replay.stdout
    );
    assert!(
        replay.stdout.contains(
            r#"reproduced the recorded end: SUCCEEDED {"order_id":"ord-53bae1cc4a11cda2""#
        ),
        "{}",
        replay.stdout
    );
    assert_eq!(
        replay.stdout.matches(" Step ").count(),
        4,
        "{}",
        replay.stdout
    );

    // Another workflow's component diverges at once.
    let other = guest("flow-v1");
    let diverged = cairn.run(&[
        "replay",
        "--history",
        exported,
        "--component",
        other.to_str().unwrap(),
    ]);
    assert_eq!(diverged.code, 1);
    assert!(
        diverged.stdout.contains(
            "DIVERGED at position 1:\n  recorded: wall-clock read\n  now:      step \"a\""
        ),
        "{}",
        diverged.stdout
    );
}

#[test]
fn the_history_is_a_table_of_operations() {
    let cairn = Cairn::new();
    let flaky = guest("flaky");
    let run = cairn.run(&[
        "run",
        flaky.to_str().unwrap(),
        "--name",
        "k",
        "--skip-time",
        "--input",
        r#"{"failures":2}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let table = cairn.run(&["history", "k"]);
    assert_eq!(table.code, 0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("POS") && lines[0].contains("DURATION"),
        "{}",
        table.stdout
    );
    // One row for the step and its three attempts.
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("call-dependency"))
        .collect();
    assert_eq!(rows.len(), 1, "{}", table.stdout);
    let cells: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        ["1", "Step", "call-dependency", "SUCCEEDED", "3"],
        "{}",
        table.stdout
    );
    assert!(
        lines.last().unwrap().starts_with("ended after")
            && lines.last().unwrap().contains("3 invocation(s): SUCCEEDED"),
        "{}",
        table.stdout
    );
}
