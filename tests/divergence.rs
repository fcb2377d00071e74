//! Resuming with another component: refused unless asked for, and then
//! checked call by call; a divergence leaves the execution untouched.

mod support;

use support::{Cairn, count, guest};

#[test]
fn changed_component_and_changed_arguments_are_refused_and_history_kept() {
    let cairn = Cairn::new();
    let (v1, v2) = (guest("flow-v1"), guest("flow-v2"));
    let (v1, v2) = (v1.to_str().unwrap(), v2.to_str().unwrap());
    cairn.kill_when(cairn.spawn(&["run", v1, "--name", "f"]), "f", |events| {
        count(events, "WaitStarted") == 1
    });
    let before = cairn.history("f");

    // Another component: the execution is pinned to v1.
    let pinned = cairn.run(&["run", v2, "--name", "f", "--skip-time"]);
    assert_eq!(pinned.code, 2);
    assert!(
        pinned
            .stderr
            .contains("execution \"f\" is pinned to component"),
        "{}",
        pinned.stderr
    );
    assert_eq!(cairn.history("f"), before);

    // Explicitly upgraded: replay finds the changed wait argument.
    let diverged = cairn.run(&["run", v2, "--name", "f", "--skip-time", "--upgrade"]);
    assert_eq!(diverged.code, 2);
    assert!(
        diverged.stderr.contains(
            "replay diverged at position 2: the history records wait \"w\" of 5 s (fingerprint "
        ) && diverged
            .stderr
            .contains("but the workflow now makes wait \"w\" of 6 s (fingerprint "),
        "{}",
        diverged.stderr
    );
    let after = cairn.history("f");
    // Only the timer the scheduler fired before invoking was added.
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(count(&after, "WaitSucceeded"), 1);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(cairn.get("f")["Status"], "RUNNING");

    // The right component still finishes it.
    let finished = cairn.run(&["run", v1, "--name", "f", "--skip-time"]);
    assert_eq!(finished.code, 0, "{}", finished.stderr);
    assert_eq!(finished.stdout, "\"ab\"");
}

#[test]
fn an_upgrade_that_replays_cleanly_finishes_on_the_new_component() {
    let cairn = Cairn::new();
    let (v1, v3, v4) = (guest("flow-v1"), guest("flow-v3"), guest("flow-v4"));
    let (v1, v3, v4) = (
        v1.to_str().unwrap(),
        v3.to_str().unwrap(),
        v4.to_str().unwrap(),
    );
    cairn.kill_when(cairn.spawn(&["run", v1, "--name", "f"]), "f", |events| {
        count(events, "WaitStarted") == 1
    });

    // A component that traps while replaying: refused, nothing recorded.
    let before = cairn.history("f");
    let broken = cairn.run(&["run", v4, "--name", "f", "--upgrade"]);
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(
        broken.stderr.contains("failed while replaying its recorded history, at position 1: Runtime.Trap: the workflow panicked"),
        "{}",
        broken.stderr
    );
    assert_eq!(cairn.history("f")[..before.len()], before[..]);
    assert_eq!(cairn.get("f")["Status"], "RUNNING");

    // Same calls, new code: it resumes, finishes, and is pinned to v3.
    let upgraded = cairn.run(&["run", v3, "--name", "f", "--upgrade", "--skip-time"]);
    assert_eq!(upgraded.code, 0, "{}", upgraded.stderr);
    assert_eq!(upgraded.stdout, "\"a+b\"");
    let execution = cairn.get("f");
    assert_eq!(execution["Status"], "SUCCEEDED");
    assert_eq!(execution["Result"], "\"a+b\"");
}
