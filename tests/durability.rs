//! Steps run once, clock and randomness replay identically, and executions
//! survive `kill -9` of the `cairn` process: real components, real SQLite,
//! real processes.

mod support;

use cairn_core::Event;
use cairn_engine::{Db, Durability, Engine, InvocationEnd, JournalSink, Limits};
use serde_json::Value;
use std::sync::Arc;
use support::{Cairn, count, guest, succeeded_steps};

#[test]
fn a_step_body_runs_once_across_replays_and_resumes() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    let steps = steps.to_str().unwrap();
    let input = r#"{"count":5,"wait_after":2,"fail_at":4}"#;
    let first = cairn.run(&[
        "run",
        steps,
        "--name",
        "once",
        "--input",
        input,
        "--skip-time",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // 1 + 4 + 9 + 1_000_000 (step 4 failed, recorded) + 25
    assert_eq!(first.stdout, "1000039");
    // The wait made the workflow suspend and replay steps 1-2: their bodies did not run again.
    assert_eq!(
        first.bodies(),
        ["step-1", "step-2", "step-3", "step-4", "step-5"]
    );

    let history = cairn.history("once");
    assert_eq!(count(&history, "StepStarted"), 5, "one attempt per step");
    assert_eq!(count(&history, "StepSucceeded"), 4);
    let failed: Vec<&Value> = history
        .iter()
        .filter(|e| e["EventType"] == "StepFailed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["Name"], "step-4");
    assert_eq!(
        failed[0]["StepFailedDetails"]["Error"]["Payload"]["ErrorType"],
        "StepBroke"
    );
    assert_eq!(
        count(&history, "InvocationCompleted"),
        2,
        "suspended once, finished once"
    );

    // Running a finished execution again returns its recorded result and runs nothing.
    let again = cairn.run(&["run", steps, "--name", "once", "--input", input]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout);
    assert!(again.bodies().is_empty());
    assert_eq!(cairn.history("once"), history);

    // The compiled component was cached beside the store, once.
    let cached: Vec<_> = std::fs::read_dir(cairn.db().with_file_name("cache"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1);

    // The same name with another input is refused.
    let other = cairn.run(&["run", steps, "--name", "once", "--input", r#"{"count":6}"#]);
    assert_eq!(other.code, 2);
    assert!(
        other
            .stderr
            .contains("already exists with a different input"),
        "{}",
        other.stderr
    );
}

/// Collects what an invocation would persist, without persisting it.
struct Discard;

impl JournalSink for Discard {
    fn persist(&mut self, _events: &[Event]) -> anyhow::Result<()> {
        Ok(())
    }
}

#[test]
fn clock_and_randomness_replay_identically() {
    let cairn = Cairn::new();
    let entropy = guest("entropy");
    let run = cairn.run(&[
        "run",
        entropy.to_str().unwrap(),
        "--name",
        "e",
        "--input",
        r#"{"reads":1000}"#,
        "--skip-time",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let output: Value = serde_json::from_str(&run.stdout).unwrap();
    // The second invocation replayed the first 500 reads from the journal.
    assert_eq!(output["first_half_recorded"], output["first_half_seen"]);
    assert_eq!(output["monotonic_ok"], true);

    // Every read was journaled.
    let db = Db::open(&cairn.db(), Durability::Full).unwrap();
    let execution = db.find("e").unwrap().unwrap();
    let journal = db.journal(execution.id).unwrap();
    let clock_reads = journal
        .iter()
        .filter(|e| matches!(e, Event::WallClock { .. }))
        .count();
    assert_eq!(clock_reads, 1000);

    // Replaying the whole finished execution on a fresh engine gives the same output.
    let engine = Engine::new(None).unwrap();
    let workflow = engine.load_file(&entropy).unwrap();
    let (end, _) = cairn_engine::invoke(
        &engine,
        &workflow,
        journal,
        cairn_engine::Input {
            payload: &execution.input,
            identity: &cairn_engine::Identity::embedded(&execution.workflow, &execution.name),
        },
        Box::new(Discard),
        Limits::default(),
        Arc::new(|_, _| panic!("a replay logged")),
    )
    .unwrap();
    match end {
        InvocationEnd::Finished(cairn_core::Finish::Succeeded(result)) => {
            assert_eq!(result, run.stdout)
        }
        other => panic!("replay ended with {other:?}"),
    }
}

#[test]
fn clock_and_randomness_survive_a_crash() {
    let cairn = Cairn::new();
    let entropy = guest("entropy");
    // Killed inside the body of a slow step that follows 500 clock and random
    // reads in workflow code.
    let args = [
        "run",
        entropy.to_str().unwrap(),
        "--name",
        "e",
        "--input",
        r#"{"reads":1000,"slow_step_ms":1500}"#,
    ];
    let child = cairn.spawn(&args);
    let killed = cairn.kill_when(child, "e", |events| {
        succeeded_steps(events) == ["digest-first-half"]
    });
    assert!(killed.stdout.is_empty(), "it was killed before it finished");

    // The reads were durable before the body started (invariant 4).
    let db = Db::open(&cairn.db(), Durability::Full).unwrap();
    let journal = db.journal(db.find("e").unwrap().unwrap().id).unwrap();
    let reads = journal
        .iter()
        .filter(|e| matches!(e, Event::WallClock { .. }))
        .count();
    assert_eq!(reads, 500);
    drop(db);

    let resumed = cairn.run(&[&args[..], &["--skip-time"]].concat());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let output: Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(output["first_half_recorded"], output["first_half_seen"]);
    assert_eq!(output["monotonic_ok"], true);
}

#[test]
fn kill_during_a_wait_then_resume() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    let steps = steps.to_str().unwrap();
    let input = r#"{"count":4,"wait_after":2,"wait_seconds":2}"#;
    let uninterrupted = cairn.run(&[
        "run",
        steps,
        "--name",
        "calm",
        "--input",
        input,
        "--skip-time",
    ]);
    assert_eq!(uninterrupted.code, 0, "{}", uninterrupted.stderr);

    let args = ["run", steps, "--name", "killed", "--input", input];
    let killed = cairn.kill_when(cairn.spawn(&args), "killed", |events| {
        count(events, "WaitStarted") == 1
    });
    assert_eq!(killed.bodies(), ["step-1", "step-2"]);
    assert_eq!(cairn.get("killed")["Status"], "RUNNING");

    // Resumed without --skip-time: it sleeps out the rest of the 2 s wait.
    let resumed = cairn.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, uninterrupted.stdout);
    assert_eq!(
        resumed.bodies(),
        ["step-3", "step-4"],
        "no completed step ran again"
    );
    let history = cairn.history("killed");
    assert_eq!(count(&history, "StepStarted"), 4);
    assert_eq!(count(&history, "WaitSucceeded"), 1);
}

#[test]
fn kill_during_a_long_run_of_steps_then_resume() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    let steps = steps.to_str().unwrap();
    let input = r#"{"count":60,"sleep_ms":20}"#;
    let uninterrupted = cairn.run(&[
        "run",
        steps,
        "--name",
        "calm",
        "--input",
        input,
        "--durability",
        "process",
    ]);
    assert_eq!(uninterrupted.code, 0, "{}", uninterrupted.stderr);

    let args = ["run", steps, "--name", "killed", "--input", input];
    cairn.kill_when(cairn.spawn(&args), "killed", |events| {
        count(events, "StepSucceeded") >= 10
    });
    let completed = succeeded_steps(&cairn.history("killed"));
    assert!(
        completed.len() >= 10 && completed.len() < 60,
        "{completed:?}"
    );

    let resumed = cairn.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.stdout, uninterrupted.stdout);
    let rerun = resumed.bodies();
    assert!(
        completed.iter().all(|step| !rerun.contains(step)),
        "a completed step ran again: {rerun:?}"
    );
    // At least once: what was in flight at the kill runs again; nothing else is missing.
    assert_eq!(completed.len() + rerun.len(), 60);
    let history = cairn.history("killed");
    assert_eq!(count(&history, "StepSucceeded"), 60);
}

#[test]
fn sleeping_until_a_clock_instant_sleeps_live_and_not_on_replay() {
    let cairn = Cairn::new();
    let misbehave = guest("misbehave");
    let mut child = cairn.spawn(&[
        "run",
        misbehave.to_str().unwrap(),
        "--skip-time",
        "--input",
        "\"sleep-until\"",
    ]);
    // The instant comes from the journaled clock (nanoseconds since the
    // epoch): measured against another clock, it would be decades away.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the guest still sleeps on its instant after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let elapsed: u64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(elapsed >= 200, "the clock says {elapsed} ms passed");
}
