//! The journal rebuilt from Lambda's operations, from plain data.

use cairn_core::Event;
use cairn_core::lambda::{Operation, journal_from};

fn execution() -> Operation {
    Operation {
        id: "exec".into(),
        kind: "EXECUTION".into(),
        status: "STARTED".into(),
        input: Some("{}".into()),
        ..Operation::default()
    }
}

#[test]
fn an_attempt_begun_after_ended_ones_gets_the_next_number() {
    // One attempt failed and was retried; the second began and never ended.
    let step = Operation {
        id: "1".into(),
        name: Some("charge".into()),
        kind: "STEP".into(),
        sub_type: Some("Step".into()),
        status: "STARTED".into(),
        attempt: Some(1),
        ..Operation::default()
    };
    let journal = journal_from(&[execution(), step]).unwrap();
    let attempts: Vec<u32> = journal
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2]);
}

#[test]
fn a_wait_keeps_its_length_whatever_the_rounding_of_its_times() {
    let wait = Operation {
        id: "1".into(),
        name: Some("w".into()),
        kind: "WAIT".into(),
        status: "STARTED".into(),
        start: 1_700_000_000_122,
        scheduled_end: Some(1_700_000_010_123),
        ..Operation::default()
    };
    let journal = journal_from(&[execution(), wait]).unwrap();
    assert!(
        matches!(&journal[1], Event::WaitStarted { seconds: 10, .. }),
        "{journal:?}"
    );
}

#[test]
fn reads_past_the_last_recorded_operation_are_left_to_be_read_again() {
    // A reads STEP whose second read sits after an operation that never
    // reached the backend (the checkpoint's second call failed).
    let reads = Operation {
        id: "r1".into(),
        name: Some(cairn_core::lambda::READS_NAME.into()),
        kind: "STEP".into(),
        status: "SUCCEEDED".into(),
        result: Some(r#"[{"p":1,"v":{"m":5}},{"p":4,"v":{"m":9}}]"#.into()),
        ..Operation::default()
    };
    let step = Operation {
        id: "1".into(),
        name: Some("a".into()),
        kind: "STEP".into(),
        status: "SUCCEEDED".into(),
        result: Some("1".into()),
        ..Operation::default()
    };
    let journal = journal_from(&[execution(), reads, step]).unwrap();
    let reads: Vec<u64> = journal
        .iter()
        .filter_map(|e| match e {
            Event::MonotonicClock { nanos, .. } => Some(*nanos),
            _ => None,
        })
        .collect();
    assert_eq!(reads, [5]);
    assert!(matches!(journal[2], Event::StepStarted { .. }));
}

#[test]
fn large_reads_are_split_under_lambdas_payload_bound_and_come_back_whole() {
    let reads: Vec<Event> = (0..5u8)
        .map(|n| Event::Random {
            context: String::new(),
            bytes: vec![n; 64 * 1024],
        })
        .collect();
    let updates = cairn_core::lambda::Updates::default().for_events(&reads);
    let carried: Vec<Operation> = updates
        .iter()
        .filter(|u| u.action == "SUCCEED")
        .map(|u| {
            assert!(u.payload.as_ref().unwrap().len() <= 256 * 1024, "{}", u.id);
            Operation {
                id: u.id.clone(),
                name: u.name.clone(),
                kind: u.kind.clone(),
                status: "SUCCEEDED".into(),
                result: u.payload.clone(),
                ..Operation::default()
            }
        })
        .collect();
    assert!(carried.len() >= 3, "{} STEPs", carried.len());
    let mut operations = vec![execution()];
    operations.extend(carried);
    let journal = journal_from(&operations).unwrap();
    assert_eq!(journal[1..], reads[..]);
}
