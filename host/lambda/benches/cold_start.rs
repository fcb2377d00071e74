//! `cargo bench -p cairn-lambda --bench cold_start`: the Lambda host's cold
//! start, from the `bootstrap` process's start to its first response as
//! Lambda's runtime API receives it, with the package's precompiled artifact
//! and without it (the component compiled at start).
//!
//! The runtime API is cargo-lambda's (`pip install cargo-lambda`), which
//! queues an invocation until a runtime asks for it: each run queues one,
//! then starts a fresh `bootstrap`, so the clock runs from process start to
//! the answer, with no idle wait. The workflow (`fetch` with no calls)
//! answers without a checkpoint, so no durable backend is involved.
//! Runs alternate between the two modes; medians and the ratio are printed.

#[path = "../../../tests/lambda_lab/mod.rs"]
mod lambda_lab;
#[path = "../../../tests/support/mod.rs"]
mod support;

use cairn_engine::Engine;
use cairn_engine::crate_build::build_workspace_guests;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 7;

/// cargo-lambda's runtime API for one function, `cold`.
fn runtime_api(dir: &Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = lambda_lab::runtime_api(dir, &["cold"], port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo-lambda (pip install cargo-lambda)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "cargo-lambda never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

/// A fresh execution's envelope, as the durable backend sends it.
fn envelope(run: usize) -> String {
    serde_json::json!({
        "DurableExecutionArn": format!(
            "arn:aws:lambda:us-west-2:000000000000:function:cold:$LATEST/durable-execution/c{run}/x"
        ),
        "CheckpointToken": "t0",
        "InitialExecutionState": { "Operations": [{
            "Id": "x", "Type": "EXECUTION", "Status": "STARTED",
            "StartTimestamp": 1_700_000_000,
            "ExecutionDetails": { "InputPayload": "{\"calls\":[]}" },
        }]},
    })
    .to_string()
}

/// One cold start: a package directory (with or without the artifact), an
/// invocation queued, then a fresh bootstrap. Returns the time from its
/// spawn to the answer, and its own "ready" figure.
fn cold_start(
    port: u16,
    component: &[u8],
    artifact: Option<&(String, Vec<u8>)>,
    run: usize,
) -> (Duration, String) {
    let package = tempfile::tempdir().unwrap();
    std::fs::write(package.path().join("component.wasm"), component).unwrap();
    if let Some((name, bytes)) = artifact {
        std::fs::create_dir_all(package.path().join("cache")).unwrap();
        std::fs::write(package.path().join("cache").join(name), bytes).unwrap();
    }
    let invocation = std::thread::spawn(move || lambda_lab::invoke(port, "cold", &envelope(run)));
    std::thread::sleep(Duration::from_millis(300)); // queued at the runtime API
    let started = Instant::now();
    let mut bootstrap = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt/cold"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "cold")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-west-2")
        .env("CAIRN_COMPONENT", package.path().join("component.wasm"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answer = invocation.join().unwrap();
    let elapsed = started.elapsed();
    assert!(answer.contains("SUCCEEDED"), "{answer}");
    bootstrap.kill().unwrap();
    let mut log = String::new();
    bootstrap
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    bootstrap.wait().unwrap();
    let ready = log
        .lines()
        .find(|line| line.contains(" us after start ("))
        .unwrap_or("")
        .to_owned();
    (elapsed, ready)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let workspace: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guests =
        build_workspace_guests(&workspace, &["fetch"], &workspace.join("target/guests")).unwrap();
    let component = std::fs::read(guests.join("fetch.wasm")).unwrap();
    let target = if cfg!(target_arch = "aarch64") {
        cairn_engine::component::LINUX_ARM64
    } else {
        cairn_engine::component::LINUX_X86_64
    };
    let artifact = Engine::for_target(None, Some(target))
        .unwrap()
        .precompile(&component)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut api, port) = runtime_api(dir.path());
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (time, ready) = cold_start(port, &component, Some(&artifact), 2 * run);
        println!("with artifact:    {time:>10.2?}   ({ready})");
        with.push(time);
        let (time, ready) = cold_start(port, &component, None, 2 * run + 1);
        println!("without artifact: {time:>10.2?}   ({ready})");
        without.push(time);
    }
    let (with, without) = (median(with), median(without));
    println!(
        "cold start to first response, median of {RUNS}: {with:.2?} with the precompiled artifact, \
         {without:.2?} compiling at start ({:.1}x)",
        without.as_secs_f64() / with.as_secs_f64()
    );
    let _ = api.kill();
    let _ = api.wait();
}
