//! `cairn serve` under load, through its HTTP API as a client would
//! (Lambda's Invoke path), with `full` durability:
//!
//! - throughput: 1,000 concurrent 10-step executions, started by 8 client
//!   threads, steps per second from the first start to the last end;
//! - idle cost: server CPU (share of one core) and RSS with N executions
//!   suspended in a 1-hour wait, nothing due;
//! - latency: Invoke of a 1-step workflow to its result (RequestResponse),
//!   p50 and p99, beside the N suspended, then again beside a guest that
//!   loops for its whole time budget;
//! - reads that must not grow with history: one page of 10 events of
//!   GetDurableExecutionHistory (the first, and the newest) after 100,000
//!   steps, p50.
//!
//! `cargo bench -p cairn-cli --bench server [-- --suspended N --executions N
//! --rounds N]`. With `CAIRN_BASELINE=/path/to/an/earlier/cairn`, each
//! round runs the earlier build too, alternating, so the two are compared
//! on the same machine at the same time (as ratios: these machines are
//! noisy). With `--unsigned-too`, each round also runs this build with
//! `--no-auth` and an unsigned client: what authentication costs. With
//! `CAIRN_RESTATE` set (`scripts/bench-restate` does it), each round also
//! runs Restate on the same workload (see `restate/`).

#[path = "restate/mod.rs"]
mod restate;

use cairn_cli::auth::{Credentials, sign_request};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Steps of the execution whose history is paged.
const HISTORY_STEPS: usize = 100_000;

struct Options {
    suspended: usize,
    executions: usize,
    rounds: usize,
    clients: usize,
    latency_samples: usize,
    /// `--workers` for this build's server (the baseline has no such flag).
    workers: Option<usize>,
    /// Also run this build without authentication.
    unsigned_too: bool,
}

/// A build of `cairn` the rounds run.
struct Build {
    label: String,
    cairn: PathBuf,
    /// This build (it takes `--workers`, `--time-budget`, `--no-auth`).
    this_build: bool,
    no_auth: bool,
}

fn main() {
    let mut options = Options {
        suspended: 100_000,
        executions: 1_000,
        rounds: 3,
        clients: 8,
        latency_samples: 300,
        workers: None,
        unsigned_too: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--suspended" => options.suspended = value(),
            "--executions" => options.executions = value(),
            "--rounds" => options.rounds = value(),
            "--clients" => options.clients = value(),
            "--samples" => options.latency_samples = value(),
            "--workers" => options.workers = Some(value()),
            "--unsigned-too" => options.unsigned_too = true,
            "--bench" => {}
            _ => {}
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guests = cairn_engine::crate_build::build_workspace_guests(
        &workspace,
        &["steps", "misbehave"],
        &workspace.join("target/guests"),
    )
    .expect("build the guests");
    let this = PathBuf::from(env!("CARGO_BIN_EXE_cairn"));
    let mut builds = vec![Build {
        label: "this build".to_owned(),
        cairn: this.clone(),
        this_build: true,
        no_auth: false,
    }];
    if options.unsigned_too {
        builds.push(Build {
            label: "this build, --no-auth".to_owned(),
            cairn: this,
            this_build: true,
            no_auth: true,
        });
    }
    if let Some(path) = std::env::var_os("CAIRN_BASELINE").filter(|path| !path.is_empty()) {
        builds.push(Build {
            label: "baseline".to_owned(),
            cairn: PathBuf::from(path),
            this_build: false,
            no_auth: false,
        });
    }

    let restate = std::env::var_os("CAIRN_RESTATE")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from);
    let subjects: Vec<String> = builds
        .iter()
        .map(|build| build.label.clone())
        .chain(restate.iter().map(|_| "Restate 1.7.12".to_owned()))
        .collect();
    let mut results: Vec<Vec<Round>> = vec![Vec::new(); subjects.len()];
    for round in 0..options.rounds {
        for (index, label) in subjects.iter().enumerate() {
            eprintln!("round {round}: {label}");
            let measured = match builds.get(index) {
                // The earlier build has no --workers or --time-budget, and
                // runs one invocation at a time: beside a loop it would wait
                // out the loop's whole budget, so that round is not run for it.
                Some(build) => measure(build, &guests, &options),
                None => restate::measure(restate.as_deref().unwrap(), &options),
            };
            eprintln!("  {measured:?}");
            results[index].push(measured);
        }
    }
    println!(
        "| build | steps/s ({} x 10 steps) | idle CPU, {} suspended | RSS | Invoke p50 | p99 | p50 beside a loop | history page after {HISTORY_STEPS} steps: first, newest |",
        options.executions, options.suspended
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (label, rounds) in subjects.iter().zip(&results) {
        let median = |f: fn(&Round) -> f64, precision: usize, unit: &str| {
            let mut values: Vec<f64> = rounds.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            let value = values[values.len() / 2];
            if value.is_nan() {
                "-".to_owned() // not measured for this subject
            } else {
                format!("{value:.precision$}{unit}")
            }
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {}, {} |",
            median(|r| r.steps_per_second, 0, ""),
            median(|r| r.idle_cpu * 100.0, 1, "% of a core"),
            median(|r| r.rss_mib, 0, " MiB"),
            median(|r| r.p50_ms, 2, " ms"),
            median(|r| r.p99_ms, 2, " ms"),
            median(|r| r.p50_beside_loop_ms, 2, " ms"),
            median(|r| r.first_page_ms, 2, " ms"),
            median(|r| r.newest_page_ms, 2, " ms"),
        );
    }
}

#[derive(Clone, Debug)]
struct Round {
    steps_per_second: f64,
    first_page_ms: f64,
    newest_page_ms: f64,
    idle_cpu: f64,
    rss_mib: f64,
    p50_ms: f64,
    p99_ms: f64,
    p50_beside_loop_ms: f64,
}

fn measure(build: &Build, guests: &Path, options: &Options) -> Round {
    let (cairn, this_build) = (build.cairn.as_path(), build.this_build);
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = Vec::new();
    if build.no_auth {
        flags.push("--no-auth".into());
    }
    if this_build {
        flags.extend(["--time-budget".into(), "3600".into()]);
        if let Some(workers) = options.workers {
            flags.extend(["--workers".into(), workers.to_string()]);
        }
    }
    let db = dir.path().join("cairn.db");
    // A long history, written before the server starts (fast: no fsync).
    let seed = Command::new(cairn)
        .arg("--db")
        .arg(&db)
        .args([
            "run",
            "--name",
            "long",
            "--durability",
            "process",
            "--input",
        ])
        .arg(format!(r#"{{"count":{HISTORY_STEPS}}}"#))
        .arg(guests.join("steps.wasm"))
        .stderr(Stdio::null())
        .output()
        .expect("run the long execution");
    assert!(seed.status.success(), "the long execution failed");
    let server = Server::start(cairn, &db, &flags);
    let client = Client::new(&server);
    client.deploy("steps", &guests.join("steps.wasm"));
    client.deploy("misbehave", &guests.join("misbehave.wasm"));

    // Throughput.
    let started = Instant::now();
    let names: Vec<String> = (0..options.executions).map(|i| format!("t-{i}")).collect();
    let ten = r#"{"count":10}"#;
    on_clients(
        &names,
        options.clients,
        || Client::new(&server),
        |client, name| {
            client.invoke("steps", name, ten, false);
        },
    );
    on_clients(
        &names,
        options.clients,
        || Client::new(&server),
        |client, name| {
            let result = client.invoke("steps", name, ten, true);
            assert_eq!(result, "385", "{name}");
        },
    );
    let steps_per_second = (options.executions * 10) as f64 / started.elapsed().as_secs_f64();

    // Idle cost.
    let names: Vec<String> = (0..options.suspended).map(|i| format!("s-{i}")).collect();
    let wait = r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#;
    on_clients(
        &names,
        options.clients,
        || Client::new(&server),
        |client, name| {
            client.invoke("steps", name, wait, false);
        },
    );
    server.wait_until_idle();
    let idle_cpu = server.cpu_over(Duration::from_secs(10));
    let rss_mib = server.rss_kib() as f64 / 1024.0;

    // Latency, then beside a looping guest.
    let one = r#"{"count":1}"#;
    let latency = |prefix: &str| {
        let mut samples: Vec<f64> = (0..options.latency_samples)
            .map(|i| {
                let started = Instant::now();
                let result = client.invoke("steps", &format!("{prefix}-{i}"), one, true);
                assert_eq!(result, "1");
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        percentiles(&mut samples)
    };
    let (p50_ms, p99_ms) = latency("l");
    let p50_beside_loop_ms = if this_build {
        client.invoke("misbehave", "spin", r#""spin""#, false);
        std::thread::sleep(Duration::from_millis(500)); // it is looping by now
        latency("m").0
    } else {
        f64::NAN
    };
    // History pages: each reads 10 events of the long one's 200,000.
    let samples = if this_build { 50 } else { 5 };
    let page_ms = |reverse: bool| {
        let mut samples: Vec<f64> = (0..samples)
            .map(|_| {
                let started = Instant::now();
                let events = client.history_page("steps", "long", reverse);
                assert_eq!(events.len(), 10);
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let first_page_ms = page_ms(false);
    let newest_page_ms = page_ms(true);
    drop(server);
    suspended_in_their_waits(&db, options.suspended);
    Round {
        steps_per_second,
        first_page_ms,
        newest_page_ms,
        idle_cpu,
        rss_mib,
        p50_ms,
        p99_ms,
        p50_beside_loop_ms,
    }
}

/// Checks that the idle figures were taken with every execution started
/// and suspended in its wait (a sample of them read from the store).
fn suspended_in_their_waits(db: &Path, count: usize) {
    let db = cairn_engine::Db::open(db, cairn_engine::Durability::Full).unwrap();
    let running = db.list(Some(cairn_engine::Status::Running)).unwrap();
    let waiting: Vec<_> = running
        .iter()
        .filter(|e| e.name.starts_with("s-"))
        .collect();
    assert_eq!(waiting.len(), count, "every suspended execution exists");
    for execution in waiting.iter().step_by((count / 100).max(1)) {
        let journal = db.journal(execution.id).unwrap();
        assert!(
            matches!(
                journal.last(),
                Some(cairn_core::Event::InvocationCompleted { .. })
            ),
            "{} is suspended in its wait",
            execution.name
        );
    }
}

/// p50 and p99 of `samples` (milliseconds).
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

/// Runs `work` for every name, spread over `clients` threads, each with a
/// client of its own.
fn on_clients<C>(
    names: &[String],
    clients: usize,
    client: impl Fn() -> C + Sync,
    work: impl Fn(&C, &str) + Sync,
) {
    std::thread::scope(|scope| {
        for share in names.chunks(names.len().div_ceil(clients).max(1)) {
            let (work, client) = (&work, &client);
            scope.spawn(move || {
                let client = client();
                for name in share {
                    work(&client, name);
                }
            });
        }
    });
}

/// A client signing as AWS's SDKs do, with the server's credentials (an
/// earlier build, without authentication, ignores the signature).
struct Client {
    url: String,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
}

impl Client {
    fn new(server: &Server) -> Client {
        Client {
            url: server.url.clone(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            credentials: server.credentials.clone(),
        }
    }

    /// Sends a signed request; returns the status and the body.
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body.to_vec()).unwrap();
        if let Some(credentials) = &self.credentials {
            sign_request(&mut request, credentials).unwrap();
        }
        let mut response = self.agent.run(request).unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    /// Uploads the component (an earlier build took its path instead).
    fn deploy(&self, name: &str, component: &Path) {
        let path = format!("/cairn/workflows/{name}");
        let bytes = std::fs::read(component).unwrap();
        let (mut status, mut answer) = self.send(
            "PUT",
            &path,
            &[("content-type", "application/wasm")],
            &bytes,
        );
        if status == 400 && self.credentials.is_none() {
            let body = serde_json::json!({ "ComponentPath": component.canonicalize().unwrap() });
            (status, answer) = self.send("PUT", &path, &[], body.to_string().as_bytes());
        }
        assert_eq!(status, 200, "{answer}");
    }

    /// Lambda's Invoke with a durable execution name; waits for the result
    /// with `wait` (RequestResponse).
    fn invoke(&self, function: &str, name: &str, input: &str, wait: bool) -> String {
        let (status, body) = self.send(
            "POST",
            &format!("/2015-03-31/functions/{function}/invocations"),
            &[
                (
                    "X-Amz-Invocation-Type",
                    if wait { "RequestResponse" } else { "Event" },
                ),
                ("X-Amz-Durable-Execution-Name", name),
            ],
            input.as_bytes(),
        );
        assert!((200..300).contains(&status), "{status}: {body}");
        body
    }

    /// One page of 10 events of the execution's history (GetDurableExecutionHistory).
    fn history_page(&self, function: &str, name: &str, reverse: bool) -> Vec<serde_json::Value> {
        let arn = format!(
            "arn:aws:lambda:local:000000000000:function:{function}:$LATEST/durable-execution/{name}"
        );
        let (status, body) = self.send(
            "GET",
            &format!(
                "/2025-12-01/durable-executions/{}/history?MaxItems=10&ReverseOrder={reverse}",
                urlencode(&arn)
            ),
            &[],
            b"",
        );
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        page["Events"].as_array().unwrap().clone()
    }
}

/// Percent-encodes a path segment.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Server {
    child: Child,
    url: String,
    /// What it checks signatures against (none: an earlier build).
    credentials: Option<Credentials>,
}

impl Server {
    fn start(cairn: &Path, db: &Path, flags: &[String]) -> Server {
        let mut child = Command::new(cairn)
            .arg("--db")
            .arg(db)
            .args(["serve", "--port", "0"])
            .args(flags)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cairn serve");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("cairn serve exited").unwrap();
            if let Some(url) = line.split(" at ").nth(1).filter(|u| u.starts_with("http")) {
                break url.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Drain its log so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let file = cairn_cli::auth::file_beside(db);
        let credentials = file.exists().then(|| Credentials::read(&file).unwrap());
        Server {
            child,
            url,
            credentials,
        }
    }

    fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(self.child.id())
    }

    /// Share of one core used over `window`.
    fn cpu_over(&self, window: Duration) -> f64 {
        let before = self.cpu_seconds();
        std::thread::sleep(window);
        (self.cpu_seconds() - before) / window.as_secs_f64()
    }

    /// Until the server has settled (every started execution suspended),
    /// or two minutes.
    fn wait_until_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline && self.cpu_over(Duration::from_secs(1)) > 0.05 {}
    }

    fn rss_kib(&self) -> u64 {
        process_rss_kib(self.child.id())
    }
}

/// A process's (user + system) CPU seconds so far.
fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

fn process_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
