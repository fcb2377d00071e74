//! `cairn serve` as a server: invocations of different executions run at
//! once, a bad guest holds up only itself, a stop interrupts a running
//! invocation, several servers on one store run each execution once, and a
//! killed server's executions are taken over by another.
//!
//! Every assertion is on histories, statuses and what ran how often, never
//! on how long something took.

mod support;

use support::{Cairn, count, succeeded_steps};

/// Starts `count` executions of `steps` named `PREFIX-0`... with `input`.
fn start_steps(cairn: &Cairn, prefix: &str, count: usize, input: &str) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    for name in &names {
        cairn.start("steps", name, input);
    }
    names
}

/// Step bodies that ran, by the log lines of servers.
fn bodies(logs: &[&str]) -> usize {
    logs.iter()
        .map(|log| log.matches("body ran: ").count())
        .sum()
}

/// Waits until the server's log says `times` misbehaving guests reached
/// their mode (their first step's body logs it).
fn wait_for_misbehaviour(server: &support::Server, times: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.log().matches("body ran: before").count() < times {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The execution is still inside the invocation that went wrong: running,
/// and no invocation of it has ended.
fn stuck_in_its_invocation(cairn: &Cairn, name: &str) {
    assert_eq!(cairn.get(name)["Status"], "RUNNING");
    let history = cairn.history(name);
    assert_eq!(count(&history, "InvocationCompleted"), 0, "{history:?}");
}

#[test]
fn a_looping_and_a_sleeping_guest_hold_up_only_themselves() {
    let cairn = Cairn::new();
    cairn.start("misbehave", "spin", r#""spin""#);
    cairn.start("misbehave", "sleep", r#""oversleep""#);
    // Three workers: one for each bad guest, one left for the others.
    let server = cairn.serve(&["--workers", "3", "--time-budget", "3600"]);
    wait_for_misbehaviour(&server, 2);
    for i in 0..4 {
        cairn.start("steps", &format!("ok-{i}"), r#"{"count":3}"#);
    }
    for i in 0..4 {
        let done = cairn.wait_for_status(&format!("ok-{i}"), "SUCCEEDED");
        assert_eq!(done["Result"], "14", "1 + 4 + 9");
    }
    // The bad ones are still in their invocations, each on its worker.
    for name in ["spin", "sleep"] {
        stuck_in_its_invocation(&cairn, name);
    }
    let log = server.kill();
    assert_eq!(bodies(&[&log]), 4 * 3 + 2, "every body ran once: {log}");
}

#[test]
fn a_stop_interrupts_a_running_loop_and_frees_its_worker() {
    let cairn = Cairn::new();
    cairn.start("misbehave", "spin", r#""spin""#);
    // One worker, held by the loop: nothing else runs until it is free.
    let server = cairn.serve(&["--workers", "1", "--time-budget", "3600"]);
    wait_for_misbehaviour(&server, 1);
    stuck_in_its_invocation(&cairn, "spin");
    cairn.start("steps", "after", r#"{"count":2}"#);
    // Stopped from another process (the CLI on the store), which the
    // server notices by the store's changes alone.
    let stop = cairn.run(&["stop", "spin", "--message", "runaway"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let after = cairn.wait_for_status("after", "SUCCEEDED");
    assert_eq!(after["Result"], "5", "1 + 4");
    let spin = cairn.get("spin");
    assert_eq!(spin["Status"], "STOPPED");
    assert_eq!(spin["Error"]["ErrorMessage"], "runaway");
    let history = cairn.history("spin");
    assert_eq!(
        history.last().unwrap()["EventType"],
        "ExecutionStopped",
        "nothing was recorded after the stop"
    );

    // A stop through the server's API interrupts too.
    cairn.start("misbehave", "spin-2", r#""spin""#);
    wait_for_misbehaviour(&server, 2);
    let stop = cairn.run(&["--server", &server.url, "stop", "spin-2"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    cairn.start("steps", "after-2", r#"{"count":1}"#);
    cairn.wait_for_status("after-2", "SUCCEEDED");
    assert_eq!(cairn.get("spin-2")["Status"], "STOPPED");
    server.kill();
}

/// Every execution of `names` succeeded with each of its `steps` steps run
/// and recorded exactly once.
fn each_ran_once(cairn: &Cairn, names: &[String], steps: usize) {
    for name in names {
        cairn.wait_for_status(name, "SUCCEEDED");
        let history = cairn.history(name);
        let expected: Vec<String> = (1..=steps).map(|i| format!("step-{i}")).collect();
        assert_eq!(succeeded_steps(&history), expected, "{name}: {history:?}");
        assert_eq!(count(&history, "StepStarted"), steps, "{name}: {history:?}");
    }
}

/// Four steps around a wait: each execution is taken up twice.
const TWICE: &str = r#"{"count":4,"wait_after":2,"wait_seconds":1}"#;

#[test]
fn two_servers_on_one_store_run_each_execution_once() {
    let cairn = Cairn::new();
    // A wait in the middle: each execution is taken up twice, perhaps by
    // different servers.
    let names = start_steps(&cairn, "e", 24, TWICE);
    let one = cairn.serve(&["--workers", "4"]);
    let two = cairn.serve(&["--workers", "4"]);
    each_ran_once(&cairn, &names, 4);
    let (one, two) = (one.kill(), two.kill());
    assert_eq!(bodies(&[&one, &two]), 24 * 4, "no body ran twice");
}

#[test]
fn two_servers_in_their_own_pid_namespaces_run_each_execution_once() {
    let cairn = Cairn::new();
    // Both are process 1 of their namespace: a claim by pid could not
    // tell them apart.
    let Some(one) = cairn.serve_in_pid_namespace(&["--workers", "4"]) else {
        eprintln!("skipped: this user cannot make PID namespaces (unshare --pid needs root)");
        return;
    };
    let two = cairn
        .serve_in_pid_namespace(&["--workers", "4"])
        .expect("a second namespace");
    let names = start_steps(&cairn, "n", 24, TWICE);
    each_ran_once(&cairn, &names, 4);
    let (one, two) = (one.kill(), two.kill());
    assert_eq!(bodies(&[&one, &two]), 24 * 4, "no body ran twice");
}

/// Kills a server inside a step's body, holding its claim, and lets
/// another take the execution over. `serve` starts each server.
fn taken_over_after_a_kill(serve: impl Fn(&Cairn) -> support::Server, why: &str) {
    let cairn = Cairn::new();
    // Its first step's body takes a while: the server is killed inside it.
    cairn.start("steps", "held", r#"{"count":3,"sleep_ms":1500}"#);
    let doomed = serve(&cairn);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !doomed.log().contains("body ran: step-1") {
        assert!(std::time::Instant::now() < deadline, "{}", doomed.log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let log = doomed.kill();
    assert_eq!(bodies(&[&log]), 1, "{log}");

    let heir = serve(&cairn);
    let done = cairn.wait_for_status("held", "SUCCEEDED");
    assert_eq!(done["Result"], "14", "1 + 4 + 9");
    let history = cairn.history("held");
    assert_eq!(succeeded_steps(&history), ["step-1", "step-2", "step-3"]);
    let log = heir.kill();
    let takeover = log
        .lines()
        .find(|line| line.contains("taking over 1 execution(s) of holder"))
        .unwrap_or_else(|| panic!("the heir took the execution over: {log}"));
    assert!(takeover.contains(why), "because {why}: {takeover}");
    // The server's own lines carry their time, as workflows' lines do.
    let (time, rest) = takeover.split_once(' ').unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && rest.starts_with("cairn: "),
        "{takeover}"
    );
    assert!(
        log.contains("body ran: step-1"),
        "the interrupted step ran again on the heir (at least once): {log}"
    );
    assert_eq!(bodies(&[&log]), 3, "{log}");
}

#[test]
fn a_killed_servers_executions_are_taken_over_by_another() {
    // On one host: the dead holder's process is known gone at once.
    taken_over_after_a_kill(|cairn| cairn.serve(&[]), "its process has exited");
}

#[test]
fn a_killed_servers_executions_are_taken_over_across_pid_namespaces() {
    // Where pids say nothing (another container): the lease lapses.
    if !support::pid_namespaces() {
        eprintln!("skipped: this user cannot make PID namespaces (unshare --pid needs root)");
        return;
    }
    taken_over_after_a_kill(
        |cairn| cairn.serve_in_pid_namespace(&[]).unwrap(),
        "its lease lapsed",
    );
}

#[test]
fn many_overdue_timers_fire_once_after_a_restart() {
    let cairn = Cairn::new();
    let names = start_steps(
        &cairn,
        "t",
        40,
        r#"{"count":2,"wait_after":1,"wait_seconds":4}"#,
    );
    let server = cairn.serve(&[]);
    for name in &names {
        cairn.wait_for_history(name, |events| count(events, "WaitStarted") == 1, || {});
    }
    let first = server.kill();
    // Those whose waits had not fired when the server died (on a slow
    // machine some may have).
    let unfired: Vec<&String> = names
        .iter()
        .filter(|name| count(&cairn.history(name), "WaitSucceeded") == 0)
        .collect();
    // Every wait is overdue by the time a server comes back.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let server = cairn.serve(&[]);
    each_ran_once(&cairn, &names, 2);
    for name in &names {
        let history = cairn.history(name);
        assert_eq!(count(&history, "WaitSucceeded"), 1, "{name}: {history:?}");
    }
    let second = server.kill();
    assert_eq!(first.matches("body ran: step-1").count(), 40, "{first}");
    assert!(
        second.matches("body ran: step-2").count() >= unfired.len(),
        "the second server ran what followed each overdue wait: {second}"
    );
    assert_eq!(second.matches("body ran: step-1").count(), 0, "{second}");
}
