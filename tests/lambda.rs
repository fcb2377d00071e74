//! The Lambda host (`bootstrap`) as a durable function under AWS's own
//! emulators: dex-local-runner (the durable-execution backend) invokes it
//! through cargo-lambda (Lambda's Invoke and Runtime APIs), with time
//! skipped. The examples run through it, callbacks are completed through
//! the backend's API (tests/peers/lambda_driver.py, boto3), and each
//! history matches, event by event, what the embedded engine records for
//! the same workflow.

mod support;

use cairn_core::lambda::READS_NAME;
use cairn_engine::sqlite::Completion;
use cairn_engine::testing::TestRunner;
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{guest, workspace};

/// The emulators and one `bootstrap` per function, killed when dropped.
struct Lab {
    dir: tempfile::TempDir,
    processes: Vec<Child>,
    endpoint: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, lab: &Lab) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} never listened on {port}:\n{}",
            lab.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Lab {
    fn start(functions: &[(&str, PathBuf)]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let (backend_port, runtime_port) = (free_port(), free_port());
        let mut lab = Lab {
            endpoint: format!("http://127.0.0.1:{backend_port}"),
            dir,
            processes: Vec::new(),
        };
        let root = lab.dir.path().to_path_buf();
        // Every function is durable (what chained invokes need to know).
        let configs: serde_json::Map<String, Value> = functions
            .iter()
            .map(|(name, _)| {
                let config = json!({ "DurableConfig": { "ExecutionTimeout": 300, "RetentionPeriodInDays": 1 } });
                (name.to_string(), config)
            })
            .collect();
        let configs_path = root.join("function-configs.json");
        std::fs::write(&configs_path, Value::Object(configs).to_string()).unwrap();
        let backend = lab.spawn(
            "backend",
            Command::new("dex-local-runner").args([
                "start-server",
                "--host",
                "127.0.0.1",
                "--port",
                &backend_port.to_string(),
                "--lambda-endpoint",
                &format!("http://127.0.0.1:{runtime_port}"),
                "--skip-time",
                "--function-configs",
                &format!("file://{}", configs_path.display()),
            ]),
        );
        lab.processes.push(backend);
        // cargo-lambda serves the functions a Cargo project names.
        let project = root.join("functions");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
        let mut manifest = String::from(
            "[package]\nname = \"functions\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n",
        );
        for (name, _) in functions {
            manifest.push_str(&format!(
                "[[bin]]\nname = \"{name}\"\npath = \"src/main.rs\"\n"
            ));
        }
        std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
        let runtime = lab.spawn(
            "runtime",
            Command::new("cargo-lambda")
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "-A",
                    "127.0.0.1",
                    "-P",
                    &runtime_port.to_string(),
                ])
                .current_dir(&project),
        );
        lab.processes.push(runtime);
        wait_for_port(backend_port, "dex-local-runner", &lab);
        wait_for_port(runtime_port, "cargo-lambda", &lab);
        for (name, component) in functions {
            let function = lab.spawn(
                name,
                Command::new(env!("CARGO_BIN_EXE_bootstrap"))
                    .env("AWS_LAMBDA_FUNCTION_NAME", name)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{runtime_port}/.rt/{name}"),
                    )
                    .env("AWS_ENDPOINT_URL_LAMBDA", &lab.endpoint)
                    .env("CAIRN_COMPONENT", component),
            );
            lab.processes.push(function);
        }
        lab
    }

    /// Starts a process with AWS's dummy settings, its output in a log file.
    fn spawn(&self, name: &str, command: &mut Command) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        command
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", "us-west-2")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} (.ci/run installs it): {e}"))
    }

    fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(3000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                logs.push_str(&format!("== {}\n{tail}\n", path.display()));
            }
        }
        logs
    }

    /// Runs executions to their end through the backend; their outcomes and
    /// histories, by execution name.
    fn run(&self, jobs: Value) -> Value {
        let output = Command::new("python3")
            .arg(workspace().join("tests/peers/lambda_driver.py"))
            .arg(&self.endpoint)
            .arg(jobs.to_string())
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", "us-west-2")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the driver failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A history as `[type, SubType, name, parent's name]`, the execution's own
/// names left out. Lambda's carries Cairn's clock and random reads as STEPs
/// of their own: left out too, as the embedded history shows no reads. So
/// are invocation boundaries, which the emulator may record before or after
/// a timer it fires at once (time skipped): [`invocations`] counts them.
fn comparable(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[2] != READS_NAME && e[0] != "InvocationCompleted")
        .map(|e| {
            let mut e = e.clone();
            if e[0].as_str().unwrap().starts_with("Execution") {
                e[2] = Value::Null;
            }
            e
        })
        .collect()
}

fn invocations(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e[0] == "InvocationCompleted")
        .count()
}

/// The embedded engine's history of the same run, in the same shape.
fn embedded(history: &[Value]) -> Vec<Value> {
    let names: std::collections::HashMap<&str, &Value> = history
        .iter()
        .filter_map(|e| Some((e["Id"].as_str()?, &e["Name"])))
        .collect();
    history
        .iter()
        .map(|e| {
            let kind = e["EventType"].as_str().unwrap();
            let name = if kind.starts_with("Execution") {
                Value::Null
            } else {
                e["Name"].clone()
            };
            let parent = e["ParentId"]
                .as_str()
                .and_then(|id| names.get(id).copied())
                .cloned()
                .unwrap_or(Value::Null);
            json!([kind, e["SubType"], name, parent])
        })
        .filter(|e| e[0] != "InvocationCompleted")
        .collect()
}

fn component(name: &str) -> PathBuf {
    let path = guest(name);
    assert!(Path::new(&path).exists());
    path
}

const ORDER: &str = r#"{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}"#;
const APPROVED: &str = r#"{"approved":true,"by":"ada"}"#;

#[test]
fn the_examples_run_in_lambda_as_on_the_embedded_engine() {
    let examples = [
        "order", "flaky", "poller", "approval", "fanout", "parent", "child",
    ];
    let functions: Vec<(&str, PathBuf)> = examples.iter().map(|n| (*n, component(n))).collect();
    let lab = Lab::start(&functions);
    let inputs = [
        ("order", ORDER),
        ("flaky", r#"{"failures":2}"#),
        ("poller", r#"{"step_percent":30}"#),
        ("approval", r#"{"amount_cents":12000,"approver":"ada"}"#),
        (
            "fanout",
            r#"{"items":["fail-a","b","c"],"tolerated_failures":1,"max_concurrency":1}"#,
        ),
        ("parent", r#"{"units":4}"#),
    ];
    let jobs: Vec<Value> = inputs
        .iter()
        .map(|(name, input)| {
            let mut job = json!({ "function": name, "input": input, "name": format!("{name}-1") });
            if *name == "approval" {
                job["callback"] = json!(APPROVED);
            }
            job
        })
        .collect();
    let lambda = lab.run(Value::Array(jobs));

    let runner = TestRunner::new()
        .unwrap()
        .answer_callback("approval", Completion::Succeed(APPROVED.into()));
    runner.deploy("child", component("child")).unwrap();
    for (name, input) in inputs {
        let there = &lambda[format!("{name}-1")];
        assert_eq!(
            there["status"],
            "SUCCEEDED",
            "{name} in Lambda: {there}\n{}",
            lab.logs()
        );
        let here = runner.run(component(name), input).unwrap();
        let result: Value = serde_json::from_str(there["result"].as_str().unwrap()).unwrap();
        // The order's ids and time are live reads: only its total compares.
        if name == "order" {
            assert_eq!(result["total_cents"], 900);
        } else {
            assert_eq!(result, here.result::<Value>().unwrap(), "{name}'s result");
        }
        assert_eq!(
            comparable(&there["events"]),
            embedded(&here.history),
            "{name}: Lambda's history (left) differs from the embedded engine's (right)"
        );
        let there_events = there["events"].as_array().unwrap();
        let here_invocations = here
            .history
            .iter()
            .filter(|e| e["EventType"] == "InvocationCompleted")
            .count();
        assert_eq!(
            invocations(there_events),
            here_invocations,
            "{name}'s invocations"
        );
        // The exported history replays offline to the same end.
        let exported = there["history"].as_array().unwrap();
        let operations = cairn_core::lambda::operations_from_history(exported).unwrap();
        let journal = cairn_core::lambda::journal_from(&operations).unwrap();
        let engine = cairn_engine::Engine::new(None).unwrap();
        let workflow = engine.load_file(&component(name)).unwrap();
        let (replayed, _) = cairn_engine::invocation::replay_offline(
            &engine,
            &workflow,
            journal,
            input,
            cairn_engine::Limits::default(),
        )
        .unwrap();
        match replayed.end {
            cairn_engine::invocation::OfflineEnd::Finished(cairn_core::Finish::Succeeded(json)) => {
                assert_eq!(
                    Some(json.as_str()),
                    there["result"].as_str(),
                    "{name} replayed"
                )
            }
            other => panic!("{name}'s exported history replays to {other:?}"),
        }
        if name == "parent" {
            let child = runner.history(&format!("{}--1", here.name)).unwrap();
            assert_eq!(
                comparable(&there["invoked"][0]),
                embedded(&child),
                "the invoked child"
            );
        }
    }
    // The order's clock and random reads travelled in one STEP per checkpoint.
    let order = lambda["order-1"]["events"].as_array().unwrap();
    assert!(order.iter().any(|e| e[2] == READS_NAME), "{order:?}");
}

/// Checkpoint calls an execution needed, from the bootstrap's log.
fn checkpoint_calls(log: &str, arn: &str) -> usize {
    log.lines()
        .filter(|line| line.contains(arn))
        .filter_map(|line| {
            line.split(" after ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

#[test]
fn clock_reads_cost_no_checkpoint_calls() {
    let lab = Lab::start(&[("steps", component("steps"))]);
    let done = lab.run(json!([
        { "function": "steps", "input": r#"{"count":10}"#, "name": "plain" },
        { "function": "steps", "input": r#"{"count":10,"clock_reads":10}"#, "name": "reads" },
    ]));
    for name in ["plain", "reads"] {
        assert_eq!(done[name]["status"], "SUCCEEDED", "{name}: {}", lab.logs());
        assert_eq!(done[name]["result"], "385");
    }
    let log = std::fs::read_to_string(lab.dir.path().join("steps.log")).unwrap();
    let plain = checkpoint_calls(&log, done["plain"]["arn"].as_str().unwrap());
    let reads = checkpoint_calls(&log, done["reads"]["arn"].as_str().unwrap());
    assert!(
        plain >= 10,
        "a checkpoint per step at least: {plain}\n{log}"
    );
    assert_eq!(
        reads, plain,
        "100 clock reads need no more checkpoint calls than none"
    );
    // All 100 reads travelled, in at most one STEP per checkpoint.
    let carriers: Vec<&Value> = done["reads"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["EventType"] == "StepSucceeded" && e["Name"] == READS_NAME)
        .collect();
    assert!(!carriers.is_empty() && carriers.len() <= reads);
    let carried: usize = carriers
        .iter()
        .map(|e| {
            let payload = e["StepSucceededDetails"]["Result"]["Payload"]
                .as_str()
                .unwrap();
            serde_json::from_str::<Vec<Value>>(payload).unwrap().len()
        })
        .sum();
    assert_eq!(carried, 100);
}
