//! `cargo bench -p cairn-engine`: the host's costs, measured on real
//! components. Prints medians; compare figures within one run (the machines
//! are noisy), as ratios where a baseline is given.
//!
//! - resume: a fresh instance replays N recorded steps, then suspends on a
//!   wait (journal in memory; and loaded from SQLite);
//! - per step: a live run of 1,000 steps with persistence discarded, per step;
//! - end to end: 1,000 sequential steps on SQLite with `full` durability,
//!   beside 1,000 plain write+fdatasync calls on the same disk, and with
//!   `process` durability.

use cairn_core::Event;
use cairn_engine::crate_build::build_workspace_guests;
use cairn_engine::{
    Db, Durability, Engine, Finish, Identity, Input, InvocationEnd, JournalSink, Limits,
    RunOptions, RunRequest, Workflow,
};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Discard;

impl JournalSink for Discard {
    fn persist(&mut self, _events: &[Event]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Median wall time of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    median_with_setup(runs, || (), |()| f())
}

/// Median wall time of `runs` calls of `f`, each on a fresh `setup()` made
/// outside the timing.
fn median_with_setup<T>(
    runs: usize,
    mut setup: impl FnMut() -> T,
    mut f: impl FnMut(T),
) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            f(input);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn invoke(
    engine: &Engine,
    workflow: &Workflow,
    journal: Vec<Event>,
    input: &str,
) -> (InvocationEnd, Vec<Event>) {
    cairn_engine::invoke(
        engine,
        workflow,
        journal,
        Input {
            payload: input,
            identity: &Identity::default(),
        },
        Box::new(Discard),
        Limits::default(),
        Arc::new(|_, _| {}),
    )
    .unwrap()
}

fn steps_input(count: u32, wait: bool) -> String {
    if wait {
        format!(r#"{{"count":{count},"wait_after":{count}}}"#)
    } else {
        format!(r#"{{"count":{count}}}"#)
    }
}

/// A loopback HTTP/1.1 server answering every request with `ok`; counts them.
fn loopback_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, served)
}

/// 100 GETs outside steps: sent and recorded live, then replayed from the
/// journal (no request leaves), beside 100 recorded steps replayed.
fn http_exchanges(engine: &Engine, workspace: &Path) {
    let guests =
        build_workspace_guests(workspace, &["fetch"], &workspace.join("target/guests")).unwrap();
    let workflow = engine.load_file(&guests.join("fetch.wasm")).unwrap();
    let (port, served) = loopback_server();
    let url = format!("http://127.0.0.1:{port}/x");
    let calls: Vec<String> = (0..100).map(|_| format!(r#"{{"url":"{url}"}}"#)).collect();
    let input = format!(r#"{{"calls":[{}]}}"#, calls.join(","));
    let limits = Limits {
        http: Arc::new(cairn_engine::limits::HttpPolicy {
            allow: vec![format!("127.0.0.1:{port}").parse().unwrap()],
            ..Default::default()
        }),
        ..Limits::default()
    };
    let run = |journal: Vec<Event>| {
        cairn_engine::invoke(
            engine,
            &workflow,
            journal,
            Input {
                payload: &input,
                identity: &Identity::default(),
            },
            Box::new(Discard),
            limits.clone(),
            Arc::new(|_, _| {}),
        )
        .unwrap()
    };
    let start = vec![Event::ExecutionStarted {
        input: input.clone(),
        timeout_seconds: 0,
        at: 0,
    }];
    let live = median(21, || {
        run(start.clone());
    });
    let (_, journal) = run(start.clone());
    // As persisted: the journal minus the execution's end, so it replays all.
    let recorded = journal[..journal.len() - 1].to_vec();
    let before = served.load(std::sync::atomic::Ordering::Relaxed);
    let replay = median_with_setup(
        201,
        || recorded.clone(),
        |journal| {
            run(journal);
        },
    );
    assert_eq!(
        served.load(std::sync::atomic::Ordering::Relaxed),
        before,
        "replay sent requests"
    );
    println!(
        "| live, 100 HTTP GETs outside steps over loopback, recorded (persistence discarded) | {:.2} ms ({:.0} us each) |",
        millis(live),
        micros(live) / 100.0
    );
    println!(
        "| replay of those 100 recorded exchanges (new instance + replay, no request) | {:.1} us ({:.2} us each) |",
        micros(replay),
        micros(replay) / 100.0
    );
}

fn main() {
    // SAFETY: set before any thread starts; backtraces cost ~6 us per error.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guests =
        build_workspace_guests(&workspace, &["steps"], &workspace.join("target/guests")).unwrap();
    let engine = Engine::new(None).unwrap();
    let workflow = engine.load_file(&guests.join("steps.wasm")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // `cargo bench -p cairn-engine -- resume` runs only the groups whose name contains "resume".
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let runs = |group: &str| group.contains(filter.as_str());
    println!("| benchmark | median |");
    println!("|---|---|");
    for count in [10u32, 100, 1000].into_iter().filter(|_| runs("resume")) {
        let input = steps_input(count, true);
        let start = vec![Event::ExecutionStarted {
            input: input.clone(),
            timeout_seconds: 0,
            at: 0,
        }];
        let (end, journal) = invoke(&engine, &workflow, start, &input);
        assert!(matches!(end, InvocationEnd::Finished(Finish::Suspended)));
        let journal: Vec<Event> = journal[..journal.len() - 1].to_vec(); // as persisted, minus the invocation's end
        let time = median_with_setup(
            201,
            || journal.clone(),
            |journal| {
                let (end, _) = invoke(&engine, &workflow, journal, &input);
                assert!(matches!(end, InvocationEnd::Finished(Finish::Suspended)));
            },
        );
        println!(
            "| resume, {count} recorded steps (new instance + replay) | {:.1} us |",
            micros(time)
        );

        let db = Db::open(
            &dir.path().join(format!("resume-{count}.db")),
            Durability::Process,
        )
        .unwrap();
        let (execution, claim) = db
            .create(
                &cairn_engine::sqlite::NewExecution {
                    name: "e",
                    workflow: "steps",
                    hash: &workflow.hash,
                    input: &input,
                    timeout_seconds: 0,
                    component_path: None,
                    parent: None,
                },
                0,
                true,
            )
            .unwrap();
        db.append(&claim.unwrap(), &journal[1..], None).unwrap();
        let time = median(201, || {
            let journal = db.journal(execution.id).unwrap();
            invoke(&engine, &workflow, journal, &input);
        });
        println!(
            "| resume, {count} recorded steps, journal loaded from SQLite | {:.1} us |",
            micros(time)
        );
    }

    if runs("http") {
        http_exchanges(&engine, &workspace);
    }

    let input = steps_input(1000, false);
    if runs("live") {
        let live = median(51, || {
            let start = vec![Event::ExecutionStarted {
                input: input.clone(),
                timeout_seconds: 0,
                at: 0,
            }];
            invoke(&engine, &workflow, start, &input);
        });
        println!(
            "| live run of 1,000 steps, persistence discarded | {:.2} ms |",
            millis(live)
        );
        println!(
            "| per live step, guest and host together (of the above) | {:.2} us |",
            micros(live) / 1000.0
        );
    }
    if !runs("sqlite") {
        return;
    }
    // Timed in alternation, round by round, so that the disk's mood on this
    // noisy machine weighs on both sides of each ratio alike.
    let sync_loop = |data_only: bool| {
        let path = dir.path().join("sync-loop.bin");
        let start = Instant::now();
        let mut file = std::fs::File::create(&path).unwrap();
        for _ in 0..1000 {
            file.write_all(&[7u8; 128]).unwrap();
            if data_only {
                file.sync_data()
            } else {
                file.sync_all()
            }
            .unwrap();
        }
        start.elapsed()
    };
    let mut round = 0;
    let mut steps_on = |durability: Durability| {
        round += 1;
        let db = Db::open(&dir.path().join(format!("e2e-{round}.db")), durability).unwrap();
        let options = RunOptions {
            skip_time: true,
            upgrade: false,
            limits: Limits::default(),
            logger: Arc::new(|_, _| {}),
            notify: Arc::new(|_| {}),
        };
        let request = RunRequest {
            workflow: &workflow,
            workflow_name: "steps",
            name: "e2e",
            input: &input,
            timeout: None,
            component_path: None,
            parent: None,
        };
        let start = Instant::now();
        cairn_engine::run_to_completion(&engine, &db, &request, &options).unwrap();
        start.elapsed()
    };
    let (mut fsyncs, mut fdatasyncs, mut full, mut process) = (vec![], vec![], vec![], vec![]);
    let (mut full_per_fsync, mut full_per_fdatasync) = (vec![], vec![]);
    for _ in 0..7 {
        let fsync = sync_loop(false);
        let fdatasync = sync_loop(true);
        let steps = steps_on(Durability::Full);
        process.push(steps_on(Durability::Process));
        full_per_fsync.push(steps.as_secs_f64() / fsync.as_secs_f64());
        full_per_fdatasync.push(steps.as_secs_f64() / fdatasync.as_secs_f64());
        fsyncs.push(fsync);
        fdatasyncs.push(fdatasync);
        full.push(steps);
    }
    let mid = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mid_ratio = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "| 1,000 x (128-byte append + fsync), same disk | {:.1} ms |",
        millis(mid(fsyncs))
    );
    println!(
        "| 1,000 x (128-byte append + fdatasync), same disk | {:.1} ms |",
        millis(mid(fdatasyncs))
    );
    println!(
        "| 1,000 steps end to end on SQLite, `full` durability | {:.1} ms ({:.2}x the fsync loop, {:.2}x the fdatasync loop, median of per-round ratios) |",
        millis(mid(full)),
        mid_ratio(full_per_fsync),
        mid_ratio(full_per_fdatasync)
    );
    println!(
        "| 1,000 steps end to end on SQLite, `process` durability | {:.1} ms |",
        millis(mid(process))
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
