//! `bootstrap`: Cairn's host as an AWS Lambda function with durable
//! execution (custom runtime `provided.al2023`). Lambda's durable-execution
//! backend is the journal: each invocation rebuilds the journal from the
//! backend's operations, replays the component over it with the same core
//! and guest semantics as the embedded engine, and checkpoints what it
//! records. Waits, retries, callbacks and invocations are the backend's to
//! schedule; the function answers SUCCEEDED, FAILED or PENDING.

mod backend;

use anyhow::{Context as _, Result};
use backend::{Envelope, LambdaSink, Refused};
use cairn_core::Finish;
use cairn_core::history::error_json;
use cairn_core::lambda::{Updates, journal_from};
use cairn_engine::limits::HttpPolicy;
use cairn_engine::{Engine, Identity, Input, InvocationEnd, Limits, LogLevel, Workflow, invoke};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a container sets up once and every invocation shares.
struct Host {
    engine: Engine,
    workflow: Arc<Workflow>,
    client: aws_sdk_lambda::Client,
    http: Arc<HttpPolicy>,
}

/// The function's HTTP policy: the hosts its package lists (`allow-http`
/// beside the component, one `HOST[:PORT]` a line, as `cairn package
/// --allow-http` writes it) and those of its environment's
/// `CAIRN_ALLOW_HTTP` (comma-separated); `CAIRN_ALLOW_HTTP_LINK_LOCAL=1` to
/// let them reach link-local addresses (the metadata service's);
/// `CAIRN_HTTP_BODY_CAP` (bytes) and `CAIRN_HTTP_TIMEOUT` (seconds).
fn http_policy(component: &std::path::Path) -> anyhow::Result<HttpPolicy> {
    let mut policy = HttpPolicy::default();
    let listed = component.with_file_name("allow-http");
    if listed.exists() {
        let text = std::fs::read_to_string(&listed)
            .with_context(|| format!("cannot read {}", listed.display()))?;
        let hosts = text.lines().collect::<Vec<_>>().join(",");
        policy.allow = HttpPolicy::parse_allowlist(&hosts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", listed.display()))?;
    }
    if let Ok(list) = std::env::var("CAIRN_ALLOW_HTTP") {
        let hosts = HttpPolicy::parse_allowlist(&list)
            .map_err(|e| anyhow::anyhow!("CAIRN_ALLOW_HTTP: {e}"))?;
        policy.allow.extend(hosts);
    }
    policy.allow_link_local = std::env::var("CAIRN_ALLOW_HTTP_LINK_LOCAL").is_ok_and(|v| v == "1");
    policy
        .check_entries(&policy.allow)
        .map_err(anyhow::Error::msg)?;
    if let Ok(cap) = std::env::var("CAIRN_HTTP_BODY_CAP") {
        policy.body_cap = cap
            .parse()
            .with_context(|| format!("CAIRN_HTTP_BODY_CAP={cap:?} is not a number of bytes"))?;
    }
    if let Ok(seconds) = std::env::var("CAIRN_HTTP_TIMEOUT") {
        let seconds: f64 = seconds
            .parse()
            .ok()
            .filter(|s: &f64| *s > 0.0 && s.is_finite())
            .with_context(|| {
                format!("CAIRN_HTTP_TIMEOUT={seconds:?} is not a positive number of seconds")
            })?;
        policy.timeout = Duration::from_secs_f64(seconds);
    }
    Ok(policy)
}

/// The component the function's package carries: `$CAIRN_COMPONENT`, or
/// `component.wasm` beside the bootstrap (Lambda's task root).
fn component_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CAIRN_COMPONENT") {
        return path.into();
    }
    let root = std::env::var_os("LAMBDA_TASK_ROOT")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(PathBuf::from))
        })
        .unwrap_or_default();
    root.join("component.wasm")
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = std::time::Instant::now();
    let path = component_path();
    // A precompiled artifact beside the component is used when it matches
    // the component's hash and this engine; otherwise it compiles here.
    let cache = path.parent().map(|dir| dir.join("cache"));
    // The package's artifact was compiled for the architecture's baseline:
    // this engine is made the same way, whatever this machine's CPU.
    let target = if cfg!(target_arch = "aarch64") {
        cairn_engine::component::LINUX_ARM64
    } else {
        cairn_engine::component::LINUX_X86_64
    };
    let engine = Engine::for_target(cache.clone(), Some(target))?;
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read the workflow {}", path.display()))?;
    let precompiled = cache.is_some_and(|dir| dir.join(engine.artifact_name_for(&bytes)).exists());
    let workflow = engine
        .load(&bytes)
        .with_context(|| format!("cannot load the workflow {}", path.display()))?;
    eprintln!(
        "cairn: ready {} us after start ({})",
        started.elapsed().as_micros(),
        if precompiled {
            "precompiled artifact"
        } else {
            "compiled here"
        }
    );
    let first = std::sync::Arc::new(std::sync::Once::new());
    let config = aws_config::load_from_env().await;
    let host = Arc::new(Host {
        engine,
        workflow,
        client: aws_sdk_lambda::Client::new(&config),
        http: Arc::new(http_policy(&path)?),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (host, first) = (host.clone(), first.clone());
        async move {
            let deadline = event.context.deadline();
            let answer = handle(host, event.payload, deadline)
                .await
                .map_err(|error| lambda_runtime::Error::from(format!("{error:#}")));
            first.call_once(|| {
                eprintln!(
                    "cairn: first answer {} us after start",
                    started.elapsed().as_micros()
                )
            });
            answer
        }
    }))
    .await
}

/// What the workflow may know of its execution: the ARN Lambda gave it
/// (`...:function:NAME:QUALIFIER/durable-execution/EXECUTION/ID`), the
/// execution's name from it, and the function's name.
fn identity(arn: &str) -> Identity {
    use cairn_core::history::{execution_of, function_of};
    let name = execution_of(arn).unwrap_or_default();
    let workflow =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| function_of(arn).to_owned());
    Identity {
        arn: arn.to_owned(),
        name: name.to_owned(),
        workflow,
    }
}

/// One invocation: read the journal, replay and run, answer.
async fn handle(host: Arc<Host>, payload: Value, deadline: std::time::SystemTime) -> Result<Value> {
    let envelope: Envelope = serde_json::from_value(payload)
        .context("the event is not a durable execution's envelope")?;
    let operations = backend::operations(&host.client, &envelope).await?;
    let journal = journal_from(&operations)?;
    let input = match journal.first() {
        Some(cairn_core::Event::ExecutionStarted { input, .. }) => input.clone(),
        _ => "null".to_owned(),
    };
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sink = LambdaSink {
        client: host.client.clone(),
        runtime: tokio::runtime::Handle::current(),
        arn: envelope.durable_execution_arn.clone(),
        token: envelope.checkpoint_token.clone(),
        updates: Updates::after(&journal, &operations),
        callbacks: Default::default(),
        calls: calls.clone(),
    };
    // Leave a second to checkpoint and answer before Lambda's deadline (an
    // emulator's may make no sense: the default budget stands then).
    let remaining = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(1));
    let time_budget = if remaining > Duration::from_secs(1) {
        remaining.min(Limits::default().time_budget)
    } else {
        Limits::default().time_budget
    };
    let limits = Limits {
        time_budget,
        http: host.http.clone(),
        ..Limits::default()
    };
    let identity = identity(&envelope.durable_execution_arn);
    // One JSON record per line on stdout, in Lambda's JSON log format with
    // the execution's ARN: CloudWatch Logs keeps them in the function's log
    // group, where AWS's tools filter an execution's lines by its ARN.
    let logger: cairn_engine::Logger = {
        let identity = identity.clone();
        Arc::new(move |level: LogLevel, message: &str| {
            let line = cairn_engine::logs::LogLine {
                at: cairn_engine::invocation::now_millis(),
                level,
                message: message.to_owned(),
            };
            println!("{}", cairn_engine::logs::record(&line, &identity));
        })
    };
    let ran = tokio::task::spawn_blocking(move || {
        invoke(
            &host.engine,
            &host.workflow,
            journal,
            Input {
                payload: &input,
                identity: &identity,
            },
            Box::new(sink),
            limits,
            logger,
        )
    })
    .await
    .context("the invocation panicked")?;
    let end = match ran {
        Ok((end, _)) => end,
        // Refused for good: the execution fails. Anything else (a stale
        // token, throttling that outlasted the retries) fails the
        // invocation, and Lambda retries it.
        Err(error) => {
            return match error.downcast_ref::<Refused>() {
                Some(refused) => Ok(failed(&cairn_core::ErrorObject::new(
                    "Runtime.CheckpointRefused",
                    refused.to_string(),
                ))),
                None => Err(error),
            };
        }
    };
    let answer = answer(end);
    eprintln!(
        "cairn: {}: {} after {} checkpoint call(s)",
        envelope.durable_execution_arn,
        match &answer {
            Ok(answer) => answer["Status"].as_str().unwrap_or("?").to_owned(),
            Err(crash) => format!("CRASHED ({crash})"),
        },
        calls.load(std::sync::atomic::Ordering::Relaxed)
    );
    answer
}

/// What the function answers Lambda for how the invocation ended. `Err`:
/// the guest crashed inside a step body, which crashes the invocation:
/// Lambda records it and invokes the function again, where the step's
/// attempt (checkpointed as begun) counts as interrupted.
fn answer(end: InvocationEnd) -> Result<Value> {
    Ok(match end {
        InvocationEnd::Finished(Finish::Succeeded(result)) => {
            json!({ "Status": "SUCCEEDED", "Result": result })
        }
        InvocationEnd::Finished(Finish::Failed(error)) | InvocationEnd::Failed(error) => {
            failed(&error)
        }
        InvocationEnd::Finished(Finish::Suspended) => json!({ "Status": "PENDING" }),
        // A version of the function must replay its own executions: this
        // one cannot, and retrying will not change that.
        InvocationEnd::CannotReplay(why) => {
            failed(&cairn_core::ErrorObject::new("Runtime.CannotReplay", why))
        }
        InvocationEnd::Crashed(error) => anyhow::bail!("{error}"),
        // Lambda pauses executions itself; this sink never asks for one.
        InvocationEnd::Paused => json!({ "Status": "PENDING" }),
    })
}

fn failed(error: &cairn_core::ErrorObject) -> Value {
    json!({ "Status": "FAILED", "Error": error_json(error) })
}
