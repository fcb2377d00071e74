//! The replay core driven with plain data: a first run records, a second run
//! over the recorded journal answers from it, and changed calls diverge.

use cairn_core::exchange::ExchangeRecord;
use cairn_core::replay::{fire_due_timers, pending_timers, resumed_without_news};
use cairn_core::{ContextBegin, ContextKind};
use cairn_core::{
    ErrorObject, Event, Fault, Finish, GuestOutcome, Progress, Replayer, RetryReason, Semantics,
    StepBegin, StepKind,
};

const ONCE: Semantics = Semantics::AtLeastOncePerRetry;
const STEP: StepKind = StepKind::Step;

/// A tiny workflow: clock, step "a", wait "w" 5 s, step "b", random(4).
/// Returns the outcome and how many step bodies ran.
fn run_workflow(replayer: &mut Replayer, wait_seconds: u64) -> Result<(Finish, u32), Fault> {
    let mut bodies = 0;
    let (secs, _) = replayer.wall_clock(|| (1_000, 7))?;
    let a = match replayer.begin_step("a", STEP, ONCE, 10)? {
        StepBegin::Run { .. } => {
            bodies += 1;
            replayer.end_step(Ok(format!("{secs}")), 11)?;
            format!("{secs}")
        }
        StepBegin::Succeeded(result) => result,
        other => panic!("{other:?}"),
    };
    if replayer.wait("w", wait_seconds, 12)? == Progress::Pending {
        return Ok((replayer.finish(GuestOutcome::Pending, 13)?, bodies));
    }
    let b = match replayer.begin_step("b", STEP, ONCE, 20)? {
        StepBegin::Run { .. } => {
            bodies += 1;
            replayer.end_step(Err(ErrorObject::new("Boom", "b failed")), 21)?;
            "failed".to_string()
        }
        StepBegin::Succeeded(result) => result,
        StepBegin::Failed(_) => "failed".to_string(),
        other => panic!("{other:?}"),
    };
    let bytes = replayer.random(4, |n| vec![9; n as usize])?;
    let out = format!("{a}/{b}/{bytes:?}");
    Ok((replayer.finish(GuestOutcome::Succeeded(out), 30)?, bodies))
}

fn persist(journal: &mut Vec<Event>, replayer: &mut Replayer) {
    journal.extend_from_slice(replayer.unflushed());
    replayer.mark_durable();
}

#[test]
fn records_then_replays_without_running_bodies() {
    let mut journal = vec![Event::ExecutionStarted {
        input: "{}".into(),
        timeout_seconds: 0,
        at: 0,
    }];

    let mut first = Replayer::new(journal.clone());
    let (finish, bodies) = run_workflow(&mut first, 5).unwrap();
    assert_eq!(finish, Finish::Suspended);
    assert_eq!(bodies, 1);
    persist(&mut journal, &mut first);
    let timers: Vec<(&str, u64)> = pending_timers(&journal)
        .iter()
        .map(|t| (t.id, t.due))
        .collect();
    assert_eq!(timers, [("2", 12 + 5_000)]);
    assert!(fire_due_timers(&journal, 5_000, false).is_empty());
    let fired = fire_due_timers(&journal, 5_012, false);
    assert_eq!(
        fired,
        vec![Event::WaitSucceeded {
            id: "2".into(),
            at: 5_012
        }]
    );
    journal.extend(fired);

    let mut second = Replayer::new(journal.clone());
    assert!(second.is_replaying());
    let (finish, bodies) = run_workflow(&mut second, 5).unwrap();
    assert_eq!(finish, Finish::Succeeded("1000/failed/[9, 9, 9, 9]".into()));
    assert_eq!(bodies, 1, "only step b ran live");
    persist(&mut journal, &mut second);

    // A third run over the finished journal replays everything and runs no body.
    let mut third = Replayer::new(journal.clone());
    let replayed = std::panic::catch_unwind(move || {
        let mut bodies = 0;
        let _ = third.wall_clock(|| panic!("live clock read during replay"));
        if let StepBegin::Run { .. } = third.begin_step("a", STEP, ONCE, 0).unwrap() {
            bodies += 1;
        }
        (third.wait("w", 5, 0).unwrap(), bodies)
    })
    .unwrap();
    assert_eq!(replayed, (Progress::Done, 0));
}

#[test]
fn changed_arguments_and_order_diverge_with_both_calls_named() {
    let mut journal = vec![Event::ExecutionStarted {
        input: "{}".into(),
        timeout_seconds: 0,
        at: 0,
    }];
    let mut first = Replayer::new(journal.clone());
    run_workflow(&mut first, 5).unwrap();
    persist(&mut journal, &mut first);

    let mut changed = Replayer::new(journal.clone());
    let fault = run_workflow(&mut changed, 6).unwrap_err();
    let Fault::Divergence {
        position,
        recorded,
        new,
        ..
    } = &fault
    else {
        panic!("{fault}")
    };
    assert_eq!(*position, 3);
    assert!(recorded.starts_with("wait \"w\" of 5 s"), "{recorded}");
    assert!(new.starts_with("wait \"w\" of 6 s"), "{new}");
    assert!(
        changed.unflushed().is_empty(),
        "nothing recorded past a divergence"
    );

    let mut reordered = Replayer::new(journal.clone());
    let fault = reordered.begin_step("a", STEP, ONCE, 0).unwrap_err();
    assert!(
        fault.to_string().contains(
            "position 1: the history records wall-clock read, but the workflow now makes step \"a\""
        ),
        "{fault}"
    );

    // Returning early while recorded calls remain is a divergence too.
    let mut short = Replayer::new(journal);
    short.wall_clock(|| (0, 0)).unwrap();
    let fault = short
        .finish(GuestOutcome::Succeeded("x".into()), 1)
        .unwrap_err();
    assert!(
        matches!(fault, Fault::Divergence { position: 2, .. }),
        "{fault}"
    );
}

#[test]
fn misuse_is_reported() {
    let mut r = Replayer::new(vec![]);
    assert_eq!(r.wait("w", 1, 0).unwrap(), Progress::Pending);
    let fault = r.begin_step("after", STEP, ONCE, 0).unwrap_err();
    assert!(fault.to_string().contains("after wait \"w\""), "{fault}");
    let fault = r
        .finish(GuestOutcome::Succeeded("1".into()), 0)
        .unwrap_err();
    assert!(
        fault.to_string().contains("returned a result while wait"),
        "{fault}"
    );

    let mut r = Replayer::new(vec![]);
    assert!(r.finish(GuestOutcome::Pending, 0).is_err());
    assert!(
        r.wait("zero", 0, 0)
            .unwrap_err()
            .to_string()
            .contains("1 to 31622400")
    );
    assert_eq!(
        r.begin_step("outer", STEP, ONCE, 0).unwrap(),
        StepBegin::Run {
            attempt: 1,
            state: None
        }
    );
    assert!(
        r.begin_step("inner", STEP, ONCE, 0)
            .unwrap_err()
            .to_string()
            .contains("cannot nest")
    );
    assert!(
        r.wait("w", 1, 0)
            .unwrap_err()
            .to_string()
            .contains("inside the body")
    );
    // Clock reads inside a step body are live and not journaled.
    r.wall_clock(|| (5, 5)).unwrap();
    r.end_step(Ok("1".into()), 1).unwrap();
    assert_eq!(r.unflushed().len(), 2, "StepStarted and StepSucceeded only");
}

#[test]
fn monotonic_clock_never_goes_back_across_invocations() {
    let mut r = Replayer::new(vec![]);
    assert_eq!(r.monotonic_clock(|| 500).unwrap(), 500);
    let journal = r.unflushed().to_vec();
    let mut again = Replayer::new(journal);
    assert_eq!(again.monotonic_clock(|| 1).unwrap(), 500);
    assert_eq!(
        again.monotonic_clock(|| 100).unwrap(),
        500,
        "clamped to the last value"
    );
}

/// Persists what `replayer` recorded, then fires every timer as if due.
fn persist_and_fire(journal: &mut Vec<Event>, replayer: Replayer) {
    journal.extend_from_slice(replayer.unflushed());
    let fired = fire_due_timers(journal, 99_000, true);
    journal.extend(fired);
}

#[test]
fn a_failed_attempt_is_retried_after_a_durable_delay() {
    let mut journal = vec![];
    let mut first = Replayer::new(journal.clone());
    assert_eq!(
        first.begin_step("s", STEP, ONCE, 1).unwrap(),
        StepBegin::Run {
            attempt: 1,
            state: None
        }
    );
    first
        .retry_step(RetryReason::Failed(ErrorObject::new("Flaky", "no")), 5, 2)
        .unwrap();
    assert_eq!(
        first.finish(GuestOutcome::Pending, 3).unwrap(),
        Finish::Suspended
    );
    journal.extend_from_slice(first.unflushed());
    let timers: Vec<(&str, u64)> = pending_timers(&journal)
        .iter()
        .map(|t| (t.id, t.due))
        .collect();
    assert_eq!(timers, [("1", 5_002)]);

    // Not yet due: the step is still pending.
    let mut early = Replayer::new(journal.clone());
    assert_eq!(
        early.begin_step("s", STEP, ONCE, 4).unwrap(),
        StepBegin::Pending
    );

    let mut journal2 = journal.clone();
    persist_and_fire(&mut journal2, Replayer::new(vec![]));
    assert!(matches!(
        journal2.last(),
        Some(Event::StepReady {
            attempt: 2,
            state: None,
            ..
        })
    ));
    let mut second = Replayer::new(journal2.clone());
    assert_eq!(
        second.begin_step("s", STEP, ONCE, 6).unwrap(),
        StepBegin::Run {
            attempt: 2,
            state: None
        }
    );
    second.end_step(Ok("7".into()), 7).unwrap();
    let recorded: Vec<&Event> = second.unflushed().iter().collect();
    assert!(matches!(recorded[0], Event::StepStarted { attempt: 2, .. }));
    assert!(matches!(recorded[1], Event::StepSucceeded { .. }));
    journal2.extend_from_slice(second.unflushed());

    let mut third = Replayer::new(journal2);
    assert_eq!(
        third.begin_step("s", STEP, ONCE, 8).unwrap(),
        StepBegin::Succeeded("7".into())
    );
}

#[test]
fn an_at_most_once_attempt_found_started_is_interrupted() {
    let mut first = Replayer::new(vec![]);
    let most = Semantics::AtMostOncePerRetry;
    assert_eq!(
        first.begin_step("pay", STEP, most, 1).unwrap(),
        StepBegin::Run {
            attempt: 1,
            state: None
        }
    );
    // Durable before the body runs:
    assert!(matches!(
        first.unflushed(),
        [Event::StepStarted { attempt: 1, .. }]
    ));
    let journal = first.unflushed().to_vec(); // the process dies in the body

    let mut second = Replayer::new(journal.clone());
    assert_eq!(
        second.begin_step("pay", STEP, most, 2).unwrap(),
        StepBegin::Interrupted { attempt: 1 }
    );
    second
        .end_step(Err(ErrorObject::new("StepInterrupted", "x")), 3)
        .unwrap();
    assert!(
        matches!(second.unflushed(), [Event::StepFailed { .. }]),
        "{:?}",
        second.unflushed()
    );

    // At least once, the same record runs the attempt again instead.
    let mut third = Replayer::new(journal);
    assert_eq!(
        third.begin_step("pay", STEP, ONCE, 2).unwrap(),
        StepBegin::Run {
            attempt: 1,
            state: None
        }
    );
}

#[test]
fn a_poll_carries_its_state_to_the_next_attempt() {
    let poll = StepKind::WaitForCondition;
    let mut journal = vec![];
    let mut first = Replayer::new(vec![]);
    assert_eq!(
        first.begin_step("p", poll, ONCE, 1).unwrap(),
        StepBegin::Run {
            attempt: 1,
            state: None
        }
    );
    first
        .retry_step(RetryReason::Polled("3".into()), 1, 2)
        .unwrap();
    persist_and_fire(&mut journal, first);
    let mut second = Replayer::new(journal.clone());
    assert_eq!(
        second.begin_step("p", poll, ONCE, 3).unwrap(),
        StepBegin::Run {
            attempt: 2,
            state: Some("3".into())
        }
    );
    // A plain step of the same name is another call.
    let mut other = Replayer::new(journal);
    let answer = other.begin_step("p", STEP, ONCE, 3);
    assert!(
        matches!(answer, Err(Fault::Divergence { .. })),
        "{answer:?}"
    );
}

#[test]
fn an_unfired_wait_stays_pending_and_a_failed_execution_keeps_its_record() {
    let mut first = Replayer::new(vec![]);
    assert_eq!(first.wait("w", 60, 0).unwrap(), Progress::Pending);
    first.finish(GuestOutcome::Pending, 1).unwrap();
    let journal = first.unflushed().to_vec();

    let mut again = Replayer::new(journal.clone());
    assert_eq!(again.wait("w", 60, 2).unwrap(), Progress::Pending);
    assert!(
        again.unflushed().is_empty(),
        "a replayed wait records nothing"
    );
    again.fail_execution(ErrorObject::new("Runtime.Trap", "boom"), 3);
    assert!(matches!(
        again.unflushed(),
        [Event::InvocationCompleted { at: 3 }, Event::ExecutionFailed { error, .. }] if error.error_type == "Runtime.Trap"
    ));
}

/// Two parallel branches, one suspended on a wait while the other finishes:
/// on resume the first goes on with a new call and the second replays from
/// its record, although their calls now interleave differently.
#[test]
fn contexts_replay_their_own_calls_whatever_the_interleaving() {
    fn run(r: &mut Replayer) -> Result<Finish, Fault> {
        assert_eq!(
            r.begin_context("p", ContextKind::Parallel, 1)?,
            ContextBegin::Run
        );
        // Branch a: a wait, then a step.
        assert_eq!(
            r.begin_context("a", ContextKind::ParallelBranch, 1)?,
            ContextBegin::Run
        );
        let a_done = if r.wait("w", 5, 1)? == Progress::Done {
            assert!(matches!(
                r.begin_step("a2", STEP, ONCE, 2)?,
                StepBegin::Run { .. }
            ));
            r.end_step(Ok("2".into()), 2)?;
            r.end_context(Ok("a".into()), 2)?;
            true
        } else {
            r.suspend_context()?;
            false
        };
        // Branch b: one step.
        match r.begin_context("b", ContextKind::ParallelBranch, 1)? {
            ContextBegin::Run => {
                assert!(matches!(
                    r.begin_step("b1", STEP, ONCE, 1)?,
                    StepBegin::Run { .. }
                ));
                r.end_step(Ok("1".into()), 1)?;
                r.end_context(Ok("b".into()), 1)?;
            }
            ContextBegin::Succeeded(result) => assert_eq!(result, "b"),
            other => panic!("{other:?}"),
        }
        if a_done {
            r.end_context(Ok("ab".into()), 3)?;
            r.finish(GuestOutcome::Succeeded("ab".into()), 3)
        } else {
            r.suspend_context()?;
            r.finish(GuestOutcome::Pending, 3)
        }
    }

    let mut journal = vec![];
    let mut first = Replayer::new(vec![]);
    assert_eq!(run(&mut first).unwrap(), Finish::Suspended);
    persist_and_fire(&mut journal, first);
    let ids: Vec<&str> = journal.iter().filter_map(Event::op_id).collect();
    assert_eq!(ids, ["1", "1-1", "1-1-1", "1-2", "1-2-1"]);

    let mut second = Replayer::new(journal.clone());
    assert_eq!(run(&mut second).unwrap(), Finish::Succeeded("ab".into()));
    let new_ids: Vec<&str> = second.unflushed().iter().filter_map(Event::op_id).collect();
    assert_eq!(new_ids, ["1-1-2"], "only branch a's next step is new");

    // A context may not end with a result while something in it is pending.
    let mut bad = Replayer::new(vec![]);
    bad.begin_context("c", ContextKind::Child, 0).unwrap();
    bad.wait("w", 1, 0).unwrap();
    assert!(
        bad.end_context(Ok("x".into()), 0)
            .unwrap_err()
            .to_string()
            .contains("was pending")
    );
    assert!(
        bad.finish(GuestOutcome::Pending, 0)
            .unwrap_err()
            .to_string()
            .contains("context 1 was open")
    );
}

#[test]
fn an_offline_replay_answers_from_the_history_only() {
    let mut journal = vec![Event::ExecutionStarted {
        input: "{}".into(),
        timeout_seconds: 0,
        at: 0,
    }];
    // Recorded up to the wait, which then fired.
    let mut first = Replayer::new(journal.clone());
    run_workflow(&mut first, 5).unwrap();
    persist(&mut journal, &mut first);
    persist_and_fire(&mut journal, first);

    // Offline, the calls past the history are not made: step "b" would run.
    let mut offline = Replayer::offline(journal.clone());
    let stopped = run_workflow(&mut offline, 5).unwrap_err();
    assert_eq!(
        stopped,
        Fault::EndOfHistory {
            position: 4,
            context: String::new(),
            next: "step \"b\"".into()
        }
    );
    // What it replayed, in order: the clock read, step "a", wait "w".
    let replayed: Vec<&Event> = offline
        .take_replayed()
        .into_iter()
        .map(|index| &journal[index])
        .collect();
    assert!(matches!(replayed[0], Event::WallClock { .. }));
    assert!(matches!(replayed[1], Event::StepStarted { name, .. } if name == "a"));
    assert!(matches!(replayed[2], Event::WaitStarted { name, .. } if name == "w"));
    assert_eq!(replayed.len(), 3);
    assert!(offline.unflushed().is_empty(), "nothing new was recorded");

    // A finished history replays to its end and ends the same way.
    let mut live = Replayer::new(journal.clone());
    let (finish, _) = run_workflow(&mut live, 5).unwrap();
    persist(&mut journal, &mut live);
    let mut offline = Replayer::offline(journal.clone());
    let (again, bodies) = run_workflow(&mut offline, 5).unwrap();
    assert_eq!((again, bodies), (finish, 0));
}

/// `journal` as a backend that keeps no fingerprints gives it back (a
/// worst case: Lambda's rebuild takes an exchange's from its record).
fn without_step_fingerprints(journal: Vec<Event>) -> Vec<Event> {
    journal
        .into_iter()
        .map(|event| match event {
            Event::StepStarted {
                id,
                name,
                attempt,
                at,
                ..
            } => Event::StepStarted {
                id,
                name,
                kind: StepKind::Step,
                fingerprint: cairn_core::lambda::UNKNOWN_FINGERPRINT,
                attempt,
                at,
            },
            other => other,
        })
        .collect()
}

/// One exchange outside a step: its recorded response, or a divergence.
fn exchange(replayer: &mut Replayer, name: &str, request: u64) -> Result<String, Fault> {
    let _ = replayer.begin_step("before", STEP, ONCE, 1)?;
    match replayer.begin_exchange(name, request, 2)? {
        StepBegin::Run { .. } => {
            let record = ExchangeRecord::new(request, 200, vec![], b"live".to_vec()).to_json();
            replayer.end_step(Ok(record.clone()), 3)?;
            Ok(record)
        }
        StepBegin::Succeeded(record) => Ok(record),
        other => panic!("{other:?}"),
    }
}

#[test]
fn exchanges_replay_their_response_and_only_for_the_same_request() {
    let start = Event::ExecutionStarted {
        input: "{}".into(),
        timeout_seconds: 0,
        at: 0,
    };
    let mut first = Replayer::new(vec![start]);
    first.begin_step("before", STEP, ONCE, 1).unwrap();
    first.end_step(Ok("1".into()), 1).unwrap();
    let record = match first.begin_exchange("GET http://a/", 42, 2).unwrap() {
        StepBegin::Run { .. } => ExchangeRecord::new(42, 200, vec![], b"live".to_vec()).to_json(),
        other => panic!("{other:?}"),
    };
    first.end_step(Ok(record.clone()), 3).unwrap();
    let journal = first.into_journal();

    // The same request answers from the record, and is journaled as an HTTP step.
    assert!(journal.iter().any(|e| matches!(
        e,
        Event::StepStarted {
            kind: StepKind::Http,
            fingerprint: 42,
            ..
        }
    )));
    assert_eq!(
        exchange(&mut Replayer::new(journal.clone()), "GET http://a/", 42).unwrap(),
        record
    );

    // Another body under the same name diverges, naming both fingerprints.
    match exchange(&mut Replayer::new(journal.clone()), "GET http://a/", 43) {
        Err(Fault::Divergence {
            position,
            recorded,
            new,
            ..
        }) => {
            assert_eq!(position, 2);
            assert!(recorded.contains("000000000000002a"), "{recorded}");
            assert!(new.contains("000000000000002b"), "{new}");
        }
        other => panic!("{other:?}"),
    }

    // A journal rebuilt from Lambda keeps no fingerprint with the step: the
    // record's own catches the change.
    let rebuilt = without_step_fingerprints(journal.clone());
    assert_eq!(
        exchange(&mut Replayer::new(rebuilt.clone()), "GET http://a/", 42).unwrap(),
        record
    );
    assert!(matches!(
        exchange(&mut Replayer::new(rebuilt), "GET http://a/", 43),
        Err(Fault::Divergence { position: 2, .. })
    ));
}

#[test]
fn a_failed_exchange_answers_only_the_same_request() {
    let start = Event::ExecutionStarted {
        input: "{}".into(),
        timeout_seconds: 0,
        at: 0,
    };
    let mut first = Replayer::new(vec![start]);
    assert!(matches!(
        first.begin_exchange("GET http://a/", 7, 1).unwrap(),
        StepBegin::Run { .. }
    ));
    let mut refused = ErrorObject::new("Http.ConnectionRefused", "refused");
    refused.error_data = Some(ExchangeRecord::failed_data(7));
    first.end_step(Err(refused.clone()), 2).unwrap();
    // As Lambda gives it back: no fingerprint with the step, only the error's data.
    let journal = without_step_fingerprints(first.into_journal());
    assert_eq!(
        Replayer::new(journal.clone()).begin_exchange("GET http://a/", 7, 3),
        Ok(StepBegin::Failed(refused))
    );
    assert!(matches!(
        Replayer::new(journal).begin_exchange("GET http://a/", 8, 3),
        Err(Fault::Divergence { position: 1, .. })
    ));
}

fn paused(at: u64, timeout_paused: bool, interrupted: bool) -> Event {
    Event::ExecutionPaused {
        requested_at: at,
        reason: None,
        timeout_paused,
        interrupted,
        at,
    }
}

fn resumed(at: u64) -> Event {
    Event::ExecutionResumed { reason: None, at }
}

/// The execution's timeout (the timer with no operation id), if pending.
fn execution_deadline(journal: &[Event]) -> Option<u64> {
    pending_timers(journal)
        .iter()
        .find(|timer| timer.id.is_empty())
        .map(|timer| timer.due)
}

#[test]
fn a_pause_holds_the_execution_timeout_still_when_asked_to() {
    let started = Event::ExecutionStarted {
        input: "null".into(),
        timeout_seconds: 10,
        at: 1_000,
    };
    let mut journal = vec![started.clone(), paused(4_000, true, false)];
    // Paused: no deadline at all, and nothing fires however late it is.
    assert_eq!(execution_deadline(&journal), None);
    assert!(fire_due_timers(&journal, 1_000_000, false).is_empty());
    // Resumed after 5 s: 5 s later than it was.
    journal.push(resumed(9_000));
    assert_eq!(execution_deadline(&journal), Some(16_000));
    // A second pause adds its own time.
    journal.extend([paused(10_000, true, false), resumed(12_000)]);
    assert_eq!(execution_deadline(&journal), Some(18_000));
    // A pause that lets the timeout run changes nothing.
    let running = vec![started.clone(), paused(4_000, false, false)];
    assert_eq!(execution_deadline(&running), Some(11_000));
    // However long the pauses, AWS's bound holds: 366 days from the start.
    let year = 400 * 24 * 3600 * 1000;
    let long = vec![started, paused(2_000, true, false), resumed(year)];
    assert_eq!(
        execution_deadline(&long),
        Some(1_000 + cairn_core::replay::MAX_PAUSED_TIMEOUT_SECONDS * 1000)
    );
}

#[test]
fn a_resume_invokes_only_when_something_is_new() {
    let started = Event::ExecutionStarted {
        input: "null".into(),
        timeout_seconds: 0,
        at: 0,
    };
    let suspended = Event::InvocationCompleted { at: 10 };
    let waited = Event::WaitSucceeded {
        id: "1".into(),
        at: 20,
    };
    // Paused while suspended, resumed with nothing new: not invoked.
    let idle = [
        started.clone(),
        suspended.clone(),
        paused(11, true, false),
        resumed(30),
    ];
    assert!(resumed_without_news(&idle));
    // A timer fired meanwhile: invoked.
    let fired = [
        started.clone(),
        suspended.clone(),
        paused(11, true, false),
        waited,
        resumed(30),
    ];
    assert!(!resumed_without_news(&fired));
    // The pause cut an invocation short: invoked to go on.
    let cut = [
        started.clone(),
        suspended.clone(),
        paused(11, true, true),
        resumed(30),
    ];
    assert!(!resumed_without_news(&cut));
    // Paused before it ever ran: invoked.
    let never = [started.clone(), paused(1, true, false), resumed(30)];
    assert!(!resumed_without_news(&never));
    // Not resumed at all: the rule does not apply.
    assert!(!resumed_without_news(&[started, suspended]));
}
