//! What the integration tests share: guests built once, and a `cairn`
//! process on a throwaway store.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds every test guest and example once per test process (in a target
/// directory of their own, so the outer cargo's lock is never in the way)
/// and returns the component of `name`.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let guests = [
            "hello",
            "order",
            "flaky",
            "poller",
            "approval",
            "fanout",
            "parent",
            "child",
            "steps",
            "entropy",
            "misbehave",
            "flow-v1",
            "flow-v2",
            "flow-v3",
            "flow-v4",
            "flow-v5",
            "flow-v6",
            "flow-v7",
            "branches",
            "other-world",
            "fetch",
            "fetch-std",
            "restock",
            "conformance-callback",
            "conformance-child",
            "conformance-invoke",
            "conformance-map",
            "conformance-parallel",
            "conformance-step",
            "conformance-wait",
            "conformance-wait-for-callback",
            "conformance-wait-for-condition",
        ];
        cairn_engine::crate_build::build_workspace_guests(
            &workspace(),
            &guests,
            &workspace().join("target/guests"),
        )
        .expect("build the test guests")
    });
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "no component {}", path.display());
    path
}

/// A `cairn` CLI on a store of its own.
pub struct Cairn {
    dir: tempfile::TempDir,
}

impl Cairn {
    pub fn new() -> Cairn {
        Cairn {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("cairn.db")
    }

    pub fn command(&self) -> Command {
        // Tests of other packages (the Lambda host's) share this module.
        let Some(cairn) = option_env!("CARGO_BIN_EXE_cairn") else {
            panic!("`cairn` runs only in cairn-cli's tests")
        };
        let mut command = Command::new(cairn);
        command
            .arg("--db")
            .arg(self.db())
            .env("RUST_LIB_BACKTRACE", "0");
        command
    }

    /// Runs `cairn ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command().args(args).output().expect("run cairn");
        Run::from(output)
    }

    /// Creates the execution `name` of the test guest `component` on
    /// `input`, without running it (`cairn start`).
    pub fn start(&self, component: &str, name: &str, input: &str) {
        let component = guest(component);
        let start = self.run(&[
            "start",
            component.to_str().unwrap(),
            "--name",
            name,
            "--input",
            input,
        ]);
        assert_eq!(start.code, 0, "{}", start.stderr);
    }

    /// Starts `cairn ARGS` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairn")
    }

    /// Starts `cairn serve --port 0 EXTRA` and waits until it listens.
    pub fn serve(&self, extra: &[&str]) -> Server {
        self.serve_with(self.command(), extra)
    }

    /// [`Cairn::serve`] in a PID namespace of its own (`unshare`, as root),
    /// where it is process 1, as in a container; `None` where namespaces
    /// cannot be made.
    pub fn serve_in_pid_namespace(&self, extra: &[&str]) -> Option<Server> {
        if !pid_namespaces() {
            return None;
        }
        let cairn = self.command();
        let mut command = Command::new("unshare");
        command
            .args(["--pid", "--fork", "--kill-child", "--"])
            .arg(cairn.get_program())
            .args(cairn.get_args())
            .env("RUST_LIB_BACKTRACE", "0");
        Some(self.serve_with(command, extra))
    }

    fn serve_with(&self, mut command: Command, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = command
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairn serve");
        let stderr = child.stderr.take().unwrap();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        // Reads the server's log to its end, so its pipe never fills.
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line
                        .split(" at ")
                        .nth(1)
                        .filter(|u| u.starts_with("http://"))
                    {
                        let _ = url_tx.send(url.to_owned());
                    }
                    log.lock().unwrap().push_str(&line);
                    log.lock().unwrap().push('\n');
                }
            })
        };
        let url = url_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("cairn serve never listened: {}", log.lock().unwrap()));
        Server {
            child,
            url,
            credentials: self.db().with_extension("credentials"),
            log,
            reader: Some(reader),
        }
    }

    /// The execution's history, as `cairn history --json` prints it.
    pub fn history(&self, name: &str) -> Vec<Value> {
        let run = self.run(&["history", name, "--json"]);
        assert_eq!(run.code, 0, "cairn history failed: {}", run.stderr);
        let value: Value = serde_json::from_str(&run.stdout).unwrap();
        value["Events"].as_array().unwrap().clone()
    }

    /// The execution's history, or nothing if it does not exist yet.
    pub fn history_if_any(&self, name: &str) -> Vec<Value> {
        let run = self.run(&["history", name, "--json"]);
        match serde_json::from_str::<Value>(&run.stdout) {
            Ok(value) if run.code == 0 => value["Events"].as_array().unwrap().clone(),
            _ => Vec::new(),
        }
    }

    /// Polls `cairn get NAME` until the execution has `status`.
    pub fn wait_for_status(&self, name: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = self.run(&["get", name]);
            if run.code == 0 {
                let execution: Value = serde_json::from_str(&run.stdout).unwrap();
                if execution["Status"] == status {
                    return execution;
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} never became {status}: {execution}"
                );
            }
            assert!(Instant::now() < deadline, "{name} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `cairn get NAME` as JSON.
    pub fn get(&self, name: &str) -> Value {
        let run = self.run(&["get", name]);
        assert_eq!(run.code, 0, "cairn get failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// Polls the store until `ready` holds for the execution's history, then
    /// kills `child` with SIGKILL. Returns the history seen at that moment.
    pub fn kill_when(&self, mut child: Child, name: &str, ready: impl Fn(&[Value]) -> bool) -> Run {
        self.wait_for_history(name, &ready, || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
                }
                panic!("cairn exited ({status}) before it could be killed: {stderr}");
            }
        });
        child.kill().unwrap(); // SIGKILL
        Run::from(child.wait_with_output().unwrap())
    }

    /// Polls the store until `ready` holds for the execution's history,
    /// calling `check` between polls (to fail early).
    pub fn wait_for_history(
        &self,
        name: &str,
        ready: impl Fn(&[Value]) -> bool,
        mut check: impl FnMut(),
    ) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "the execution never reached the awaited point"
            );
            check();
            let run = self.run(&["history", name, "--json"]);
            if run.code == 0 {
                let value: Value = serde_json::from_str(&run.stdout).unwrap();
                let events = value["Events"].as_array().unwrap();
                if ready(events) {
                    return events.clone();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether this user can make PID namespaces (`unshare --pid`, as root).
pub fn pid_namespaces() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "true"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// A finished `cairn` process.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }
    }
}

impl Run {
    /// The step bodies that ran in this process, from their log lines.
    pub fn bodies(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|line| line.split("body ran: ").nth(1))
            .map(str::to_owned)
            .collect()
    }
}

/// Events of `event_type` in a history.
pub fn count(events: &[Value], event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e["EventType"] == event_type)
        .count()
}

/// Names of the steps that succeeded in a history.
pub fn succeeded_steps(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["EventType"] == "StepSucceeded")
        .map(|e| e["Name"].as_str().unwrap().to_owned())
        .collect()
}

/// A running `cairn serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The credentials file it checks signatures against (AWS's format),
    /// which it writes beside the store at first start.
    pub credentials: PathBuf,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Kills the server (SIGKILL) and returns its log.
    pub fn kill(mut self) -> String {
        self.stop();
        self.log()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A history (AWS's event shapes) as `[EventType, SubType, Name, parent's
/// Name]` per event, as the peers' scripts normalize AWS's own. An
/// execution's own events go by its name, which each side picks its own
/// way: left out.
pub fn normalized(history: &[Value]) -> Vec<Value> {
    let names: std::collections::HashMap<&str, &Value> = history
        .iter()
        .filter_map(|e| Some((e["Id"].as_str()?, &e["Name"])))
        .collect();
    history
        .iter()
        .map(|e| {
            let kind = e["EventType"].as_str().unwrap();
            let parent = e["ParentId"]
                .as_str()
                .and_then(|id| names.get(id).copied())
                .unwrap_or(&Value::Null);
            without_execution_name(serde_json::json!([kind, e["SubType"], e["Name"], parent]))
        })
        .collect()
}

/// A normalized event (from [`normalized`] or a peer), its name left out if
/// it is the execution's own.
pub fn without_execution_name(mut event: Value) -> Value {
    if event[0]
        .as_str()
        .is_some_and(|kind| kind.starts_with("Execution"))
    {
        event[2] = Value::Null;
    }
    event
}

/// The throwaway HTTP service of `tests/peers/http_service.py` on a free
/// port of 127.0.0.1: it counts the requests it receives, by path.
pub struct HttpService {
    child: Child,
    pub port: u16,
}

impl HttpService {
    pub fn start() -> HttpService {
        let mut child = Command::new("python3")
            .arg(workspace().join("tests/peers/http_service.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 tests/peers/http_service.py");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the HTTP service said {line:?}"));
        HttpService { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:PORT`, for `--allow-http`.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many requests each path received.
    pub fn counts(&self) -> Value {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"GET /__counts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(body).unwrap()
    }

    /// How many requests `path` received.
    pub fn count(&self, path: &str) -> u64 {
        self.counts()[path].as_u64().unwrap_or(0)
    }
}

impl Drop for HttpService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// AWS's conformance driver (tests/peers/conformance.py) over every
/// suite's handlers, with `backend` naming what it judges (`--cairn BIN`,
/// or `--backend lambda ...`). Asserts that exactly the known failures fail
/// and every other expressible requirement passes; returns its summary.
pub fn conformance(backend: &[&std::ffi::OsStr]) -> Value {
    let output = conformance_driver(backend)
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("python3 runs (scripts/test installs the peers)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // AWS's own report, for whoever reads the test's output.
    println!("{stdout}");
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("the driver printed no summary:\n{stdout}\n{stderr}"));
    assert_eq!(
        summary["unexpected_failures"],
        Value::Array(vec![]),
        "requirements that fail and are not known to:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        summary["known_failures_now_passing"],
        Value::Array(vec![]),
        "known failures that pass now: take them out of gaps.yaml"
    );
    assert_eq!(summary["uncovered"], Value::Array(vec![]), "{summary}");
    assert!(
        summary["counts"]["PASSED"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    summary
}

/// `python3 tests/peers/conformance.py` with the handlers' components, the
/// suites and AWS's unpacked package, then `args`.
pub fn conformance_driver(args: &[&std::ffi::OsStr]) -> Command {
    let components = guest("conformance-wait").parent().unwrap().to_path_buf();
    let package = workspace().join("target/test-peers/conformance");
    assert!(
        package
            .join("aws_durable_execution_conformance_tests")
            .is_dir(),
        "AWS's conformance suite is not unpacked in {} (scripts/test does it)",
        package.display()
    );
    let mut command = Command::new("python3");
    command
        .arg(workspace().join("tests/peers/conformance.py"))
        .arg("--components")
        .arg(&components)
        .arg("--suites")
        .arg(workspace().join("tests/conformance"))
        .arg("--package")
        .arg(&package)
        .args(args);
    command
}
