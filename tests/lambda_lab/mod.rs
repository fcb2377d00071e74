//! AWS's emulators for a Lambda durable function, as tests start them:
//! dex-local-runner (the durable-execution backend, time skipped) invokes
//! each function through cargo-lambda (Lambda's Invoke and Runtime APIs),
//! and one `bootstrap` process serves each function.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A function to serve: its name, its bootstrap, and what that needs.
pub struct Function {
    pub name: String,
    pub bootstrap: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The emulators and one `bootstrap` per function, killed when dropped.
pub struct Lab {
    pub dir: tempfile::TempDir,
    processes: Vec<Child>,
    endpoint: String,
    /// cargo-lambda's Invoke and Runtime APIs.
    runtime_port: u16,
    /// One lab at a time: several at once, on two cores, start their
    /// bootstraps (compiling their components) so slowly that the
    /// emulator gives up on invocations.
    _alone: std::sync::MutexGuard<'static, ()>,
}

static ONE_LAB_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

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

/// cargo-lambda serving Lambda's Invoke and Runtime APIs on `port` for
/// the functions `names` (it serves those a Cargo project names, made in `dir`).
pub fn runtime_api(dir: &Path, names: &[&str], port: u16) -> Command {
    let project = dir.join("functions");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
    let mut manifest = String::from(
        "[package]\nname = \"functions\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n",
    );
    for name in names {
        manifest.push_str(&format!(
            "[[bin]]\nname = \"{name}\"\npath = \"src/main.rs\"\n"
        ));
    }
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    let mut command = Command::new("cargo-lambda");
    command
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .current_dir(&project);
    command
}

/// Invokes `function` through cargo-lambda's Invoke API on `port`, as the
/// backend would (an envelope as `payload`); the raw HTTP answer.
pub fn invoke(port: u16, function: &str, payload: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

impl Lab {
    /// The emulators with time skipped (waits and retry delays end at
    /// once), serving `functions`.
    pub fn start(functions: &[Function]) -> Lab {
        Lab::start_with(functions, true)
    }

    /// The emulators, skipping time or not, serving `functions`.
    pub fn start_with(functions: &[Function], skip_time: bool) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let alone = ONE_LAB_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (backend_port, runtime_port) = (free_port(), free_port());
        let mut lab = Lab {
            endpoint: format!("http://127.0.0.1:{backend_port}"),
            runtime_port,
            _alone: alone,
            dir,
            processes: Vec::new(),
        };
        let root = lab.dir.path().to_path_buf();
        // Every function is durable (what chained invokes need to know).
        let configs: serde_json::Map<String, Value> = functions
            .iter()
            .map(|function| {
                let config = json!({ "DurableConfig": { "ExecutionTimeout": 300, "RetentionPeriodInDays": 1 } });
                (function.name.clone(), config)
            })
            .collect();
        let configs_path = root.join("function-configs.json");
        std::fs::write(&configs_path, Value::Object(configs).to_string()).unwrap();
        let mut backend = Command::new("dex-local-runner");
        backend.args([
            "start-server",
            "--host",
            "127.0.0.1",
            "--port",
            &backend_port.to_string(),
            "--lambda-endpoint",
            &format!("http://127.0.0.1:{runtime_port}"),
            "--function-configs",
            &format!("file://{}", configs_path.display()),
        ]);
        if skip_time {
            backend.arg("--skip-time");
        }
        let backend = lab.spawn("backend", &mut backend);
        lab.processes.push(backend);
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        let runtime = lab.spawn("runtime", &mut runtime_api(&root, &names, runtime_port));
        lab.processes.push(runtime);
        wait_for_port(backend_port, "dex-local-runner", &lab);
        wait_for_port(runtime_port, "cargo-lambda", &lab);
        // The first bootstrap of each component compiles it into the cache
        // beside it, alone; the others find it there (compiling one
        // component many times at once, on two cores, starves them all).
        let mut compiled = std::collections::HashSet::new();
        for Function {
            name,
            bootstrap,
            env,
        } in functions
        {
            let first = compiled.insert(env.clone());
            let function = lab.spawn(
                name,
                Command::new(bootstrap)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("AWS_LAMBDA_FUNCTION_NAME", name)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{runtime_port}/.rt/{name}"),
                    )
                    .env("AWS_ENDPOINT_URL_LAMBDA", &lab.endpoint),
            );
            lab.processes.push(function);
            if first {
                lab.wait_until_ready(name);
            }
        }
        lab
    }

    /// Waits until the bootstrap of `function` has loaded its component.
    fn wait_until_ready(&self, function: &str) {
        let log = self.dir.path().join(format!("{function}.log"));
        let deadline = Instant::now() + Duration::from_secs(300);
        while !std::fs::read_to_string(&log).is_ok_and(|text| text.contains("cairn: ready")) {
            assert!(
                Instant::now() < deadline,
                "the bootstrap of {function} never got ready:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The backend's endpoint (dex-local-runner's).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
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

    pub fn logs(&self) -> String {
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

    /// Invokes `function` directly through cargo-lambda's Invoke API, as
    /// the backend would (an envelope as `payload`); the raw HTTP answer.
    pub fn invoke(&self, function: &str, payload: &str) -> String {
        invoke(self.runtime_port, function, payload)
    }

    /// Runs executions to their end through the backend; their outcomes and
    /// histories, by execution name.
    pub fn run(&self, jobs: Value) -> Value {
        let output = Command::new("python3")
            .arg(crate::support::workspace().join("tests/peers/lambda_driver.py"))
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
