//! `cairn`: run durable workflows on the embedded engine and inspect them.
//!
//! Exit codes: 0 the workflow succeeded (or the command worked), 1 the
//! workflow failed, 2 Cairn could not do what was asked.

mod api;
mod client;
mod debug;
mod package;

use anyhow::{Context as _, Result, bail};
use cairn_cli::auth;
use cairn_core::{ErrorObject, history};
use cairn_engine::crate_build::build_crate;
use cairn_engine::invocation::now_millis;
use cairn_engine::sqlite::{Completion, PauseRequest, PauseState, Shown, Stopped};
use cairn_engine::{
    Db, Durability, Engine, Limits, LogLevel, Notice, Outcome, RunOptions, RunRequest, Status,
};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Durable workflows as WebAssembly components"
)]
struct Cli {
    /// The embedded store (SQLite); compiled components are cached beside
    /// it. Default: `.cairn/cairn.db` in this directory or the nearest one
    /// above it that has one (as git finds its repository), else here.
    #[arg(long, global = true, env = "CAIRN_DB")]
    db: Option<PathBuf>,
    /// Send start, stop, callback and deploy to this `cairn serve` (its
    /// URL, e.g. http://127.0.0.1:9000) instead of writing the store.
    #[arg(long, global = true, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// The credentials `serve` checks requests against and `--server`
    /// signs them with (an AWS shared-credentials file, its `[default]`
    /// profile). Default: `cairn.credentials` beside the store, which
    /// `serve` writes (mode 0600) at first start.
    /// `$CAIRN_ACCESS_KEY_ID` and `$CAIRN_SECRET_ACCESS_KEY` take precedence.
    #[arg(long, global = true, env = "CAIRN_CREDENTIALS")]
    credentials: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Where a workflow's HTTP requests may go. The sandbox has no network:
/// a request to a host not allowed here fails at once, naming the host.
#[derive(clap::Args)]
struct HttpArgs {
    /// Allow HTTP requests to HOST (any port) or HOST:PORT; repeatable.
    #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
    allow_http: Vec<cairn_engine::limits::AllowedHost>,
    /// Let workflows reach link-local addresses (169.254.0.0/16, fe80::/10,
    /// fd00:ec2::254), where cloud machines serve their credentials:
    /// refused by default, by address and by a name that resolves to one.
    #[arg(long)]
    allow_http_link_local: bool,
    /// The largest HTTP response body a workflow may receive, in bytes. (A
    /// response to a request outside a step is recorded whole, and a record
    /// holds at most 256 KiB.)
    #[arg(long, default_value_t = cairn_engine::limits::DEFAULT_HTTP_BODY_CAP)]
    http_body_cap: usize,
    /// Timeout of an HTTP request (to connect, to its first byte, between
    /// bytes), in seconds, where the workflow sets none.
    #[arg(long, default_value_t = cairn_engine::limits::DEFAULT_HTTP_TIMEOUT.as_secs_f64())]
    http_timeout: f64,
}

impl HttpArgs {
    fn policy(&self) -> Result<cairn_engine::limits::HttpPolicy> {
        if !(self.http_timeout > 0.0 && self.http_timeout.is_finite()) {
            bail!("--http-timeout must be a positive number of seconds");
        }
        let policy = cairn_engine::limits::HttpPolicy {
            allow: self.allow_http.clone(),
            allow_link_local: self.allow_http_link_local,
            body_cap: self.http_body_cap,
            timeout: Duration::from_secs_f64(self.http_timeout),
        };
        policy
            .check_entries(&policy.allow)
            .map_err(anyhow::Error::msg)?;
        Ok(policy)
    }
}

/// What one invocation may use.
#[derive(clap::Args)]
struct BudgetArgs {
    /// Wall-clock budget of one invocation, in seconds.
    #[arg(long, default_value_t = Limits::default().time_budget.as_secs_f64())]
    time_budget: f64,
    /// Memory cap of the guest, in MiB.
    #[arg(long, default_value_t = Limits::default().memory >> 20)]
    memory_limit: usize,
}

impl BudgetArgs {
    /// The limits these arguments set, with `http`.
    fn limits(&self, http: &HttpArgs) -> Result<Limits> {
        if !(self.time_budget > 0.0 && self.time_budget.is_finite()) {
            bail!("--time-budget must be a positive number of seconds");
        }
        let max = cairn_engine::limits::MAX_MEMORY_LIMIT >> 20;
        if self.memory_limit == 0 || self.memory_limit > max {
            bail!("--memory-limit must be 1 to {max} MiB");
        }
        Ok(Limits {
            time_budget: Duration::from_secs_f64(self.time_budget),
            memory: self.memory_limit << 20,
            http: Arc::new(http.policy()?),
            interrupt: None,
            pause: None,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run an execution to its end in the foreground and print its result.
    ///
    /// Running again with the same name resumes the execution if it is
    /// unfinished, and prints its recorded result if it is finished.
    Run {
        /// A component (.wasm) or a workflow crate directory (built first).
        target: PathBuf,
        /// The workflow's input, JSON (default: null for a new execution; a
        /// resumed one keeps the input it was started with).
        #[arg(long)]
        input: Option<String>,
        /// The execution's name (default: the workflow's name and a random suffix).
        #[arg(long)]
        name: Option<String>,
        /// Fire durable timers at once instead of sleeping through them.
        #[arg(long)]
        skip_time: bool,
        /// `full`: fsync at every durability point; `process`: survive a killed
        /// process, not a power cut.
        #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
        durability: DurabilityArg,
        #[command(flatten)]
        budget: BudgetArgs,
        /// How long a new execution may take in all, in seconds (at most 366
        /// days); past it, it ends as TIMED_OUT.
        #[arg(long)]
        timeout: Option<u64>,
        /// Resume an execution started by another component: replay checks
        /// that this one makes the same calls, then pins the execution to it.
        #[arg(long)]
        upgrade: bool,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// List executions, newest first.
    List {
        /// Only executions with this status (RUNNING, SUCCEEDED, FAILED,
        /// TIMED_OUT, STOPPED).
        #[arg(long)]
        status: Option<String>,
        /// Only executions of this workflow (needed with --server: Lambda
        /// lists by function).
        #[arg(long)]
        workflow: Option<String>,
        /// Print JSON (ListDurableExecutionsByFunction's items).
        #[arg(long)]
        json: bool,
    },
    /// Show one execution, as Lambda's GetDurableExecution does.
    Get { name: String },
    /// Create an execution without running it: `cairn serve` runs it.
    Start {
        /// A component (.wasm), a workflow crate directory, or a workflow
        /// registered with `cairn deploy`.
        target: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "null")]
        input: String,
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Run the engine as a long-lived process: it resumes every running
    /// execution when its timers, retries or callbacks are due, and serves
    /// Lambda's durable-execution API on 127.0.0.1.
    Serve {
        /// The HTTP port (0: any free port; the address is printed).
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// The address to listen on. Beyond loopback only with
        /// authentication on.
        #[arg(long, default_value = "127.0.0.1")]
        listen: std::net::IpAddr,
        /// Accept unsigned requests: anyone who can reach the port (every
        /// user and every web page on this machine) may then start, stop
        /// and complete anything. Loopback only.
        #[arg(long)]
        no_auth: bool,
        /// Fire waits and retry delays at once.
        #[arg(long)]
        skip_time: bool,
        /// How many invocations run at once (default: 32 per core, at most 64; they
        /// mostly wait for their commits).
        #[arg(long)]
        workers: Option<usize>,
        #[command(flatten)]
        budget: BudgetArgs,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// Register a workflow by name, so that other workflows can invoke it.
    Deploy {
        name: String,
        /// A component (.wasm) or a workflow crate directory (built first).
        target: PathBuf,
        /// Let every execution of this workflow send HTTP requests to HOST
        /// (any port) or HOST:PORT; repeatable. Replaces the list a previous
        /// deploy set.
        #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
        allow_http: Vec<cairn_engine::limits::AllowedHost>,
    },
    /// Stop a running execution, with an error.
    Stop {
        name: String,
        #[arg(long = "type", default_value = "Execution.Stopped")]
        error_type: String,
        #[arg(long, default_value = "stopped by request")]
        message: String,
    },
    /// Pause a running execution: it is not invoked until resumed, while
    /// its waits, callbacks and invoked executions go on completing (an
    /// invocation in progress stops before its next step).
    Pause {
        name: String,
        /// Why, recorded in its history.
        #[arg(long)]
        reason: Option<String>,
        /// Let its timeout run on while it is paused (by default the pause
        /// holds it still).
        #[arg(long)]
        timeout_runs: bool,
    },
    /// Resume a paused execution: invoked again if anything completed
    /// meanwhile or the pause cut an invocation short.
    Resume {
        name: String,
        /// Why, recorded in its history.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Delete an ended execution and all it recorded (its history,
    /// callbacks and log lines).
    Delete { name: String },
    /// Complete, fail or heartbeat a callback, by its id.
    Callback {
        #[command(subcommand)]
        action: CallbackAction,
    },
    /// List the deployed workflows (their latest versions), or NAME's
    /// versions, newest first.
    Workflows {
        name: Option<String>,
        /// Print Lambda's shapes (ListFunctions, ListVersionsByFunction).
        #[arg(long)]
        json: bool,
    },
    /// Show an execution's history: a row per operation, with its status,
    /// attempt, start and duration.
    History {
        name: String,
        /// Print the shape of Lambda's GetDurableExecutionHistory.
        #[arg(long)]
        json: bool,
    },
    /// Print the lines an execution logged, in order, each once per time it
    /// was really logged (replays log nothing, unless replay logging is on).
    Logs {
        name: String,
        /// One record per line, in Lambda's JSON log format.
        #[arg(long)]
        json: bool,
    },
    /// Re-run a recorded execution offline, from its history alone: no step
    /// body, clock, timer or request runs. Prints each operation and every
    /// log line in order, then the recorded end or where replay diverges.
    Replay {
        /// An execution of the store (or give --history).
        #[arg(required_unless_present = "history")]
        name: Option<String>,
        /// Replay on this component (.wasm or crate dir) instead of the
        /// execution's own.
        #[arg(long, required_unless_present = "name")]
        component: Option<PathBuf>,
        /// A history exported from Lambda instead (`aws lambda
        /// get-durable-execution-history --include-execution-data`, JSON).
        #[arg(long, conflicts_with = "name")]
        history: Option<PathBuf>,
    },
    /// Make a zip for an AWS Lambda function (runtime provided.al2023,
    /// durable execution on): the Lambda host, the component, and its
    /// precompiled artifact.
    Package {
        /// A component (.wasm) or a workflow crate directory (built first).
        target: PathBuf,
        #[arg(long, value_enum, default_value_t = package::Arch::X86_64)]
        arch: package::Arch,
        /// The Lambda host to put in (default: the `bootstrap` built beside
        /// this `cairn`).
        #[arg(long)]
        bootstrap: Option<PathBuf>,
        #[arg(short, long, default_value = "function.zip")]
        output: PathBuf,
        /// Let the function's HTTP requests reach HOST (any port) or
        /// HOST:PORT; repeatable. (Its `CAIRN_ALLOW_HTTP` adds to these.)
        #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
        allow_http: Vec<cairn_engine::limits::AllowedHost>,
    },
    /// Replay executions on a new build, offline, and say which would
    /// resume cleanly and which would diverge.
    CheckUpgrade {
        /// The new build (.wasm or crate dir).
        #[arg(long)]
        component: PathBuf,
        /// Which executions: `running` ones, or `all`.
        #[arg(long, value_enum, default_value_t = Selection::Running)]
        executions: Selection,
        /// Only executions of this workflow (default: the component's name).
        #[arg(long)]
        workflow: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Selection {
    Running,
    All,
}

#[derive(Subcommand)]
enum CallbackAction {
    /// Complete the callback with a result (JSON).
    Succeed {
        id: String,
        #[arg(default_value = "null")]
        result: String,
        /// Send the result as it is, even if it is not JSON (for a workflow
        /// that reads its callback's result as text).
        #[arg(long)]
        raw: bool,
    },
    /// Fail the callback with an error.
    Fail {
        id: String,
        #[arg(long = "type", default_value = "CallbackFailed")]
        error_type: String,
        #[arg(long, default_value = "")]
        message: String,
        /// JSON data carried by the error.
        #[arg(long)]
        data: Option<String>,
    },
    /// Tell the workflow the callback's holder is still at work.
    Heartbeat { id: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Full,
    Process,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cairn: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let store = locate_store(cli.db.clone());
    match cli.command {
        Command::Run {
            target,
            input,
            name,
            skip_time,
            durability,
            budget,
            upgrade,
            timeout,
            http,
        } => {
            if timeout.is_some_and(|t| t == 0 || t > cairn_core::replay::MAX_WAIT_SECONDS) {
                bail!(
                    "--timeout must be 1 to {} seconds",
                    cairn_core::replay::MAX_WAIT_SECONDS
                );
            }
            let durability = match durability {
                DurabilityArg::Full => Durability::Full,
                DurabilityArg::Process => Durability::Process,
            };
            let limits = budget.limits(&http)?;
            // A resumed execution keeps its input unless another is given.
            let recorded = match (&input, &name, store.exists()) {
                (None, Some(name), true) => Db::open(&store, durability)?
                    .find(name)?
                    .map(|execution| execution.input),
                _ => None,
            };
            let input = input.or(recorded).unwrap_or_else(|| "null".into());
            // Check the input before building or loading anything.
            cairn_engine::runner::canonical_input(&input)?;
            let (wasm, workflow_name) = resolve_target(&target)?;
            let wasm = wasm
                .canonicalize()
                .with_context(|| format!("cannot find {}", wasm.display()))?;
            let db = Db::open(&store, durability)?;
            let engine = Engine::new(Some(cache_dir(&store)))?;
            let (bytes, workflow) = engine.read_file(&wasm)?;
            // The execution points at a copy: rebuilding `wasm` strands nothing.
            let kept = db.keep_component(&bytes, &workflow.hash)?;
            let name = match name {
                Some(name) => {
                    check_execution_name(&name)?;
                    name
                }
                None => format!("{workflow_name}-{}", random_suffix()),
            };
            let label = name.clone();
            let options = RunOptions {
                skip_time,
                upgrade,
                limits,
                logger: Arc::new(move |level: LogLevel, message: &str| {
                    eprintln!(
                        "[{label}] {} {message}",
                        cairn_engine::logs::level_name(level)
                    );
                }),
                notify: Arc::new(|notice| match notice {
                    Notice::Suspended { until, awaiting } => {
                        let until = match until {
                            Some(until) => history::iso8601(until),
                            None => "a callback is completed (cairn callback ...)".into(),
                        };
                        eprintln!(
                            "cairn: suspended until {until}, awaiting {} (no instance is held meanwhile)",
                            awaiting.join("; ")
                        );
                    }
                    Notice::Resumed => eprintln!("cairn: resuming by replay"),
                }),
            };
            eprintln!("cairn: running execution {name}");
            let request = RunRequest {
                workflow: &workflow,
                workflow_name: &workflow_name,
                name: &name,
                input: &input,
                timeout: timeout.map(Duration::from_secs),
                component_path: Some(&kept),
                parent: None,
            };
            match cairn_engine::run_to_completion(&engine, &db, &request, &options)? {
                Outcome::Succeeded(result) => {
                    println!("{result}");
                    Ok(ExitCode::SUCCESS)
                }
                Outcome::Failed(error) => {
                    eprintln!("cairn: execution {name} failed: {error}");
                    println!("{}", history::error_json(&error));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::List {
            status,
            workflow,
            json,
        } => {
            let status = match status {
                Some(text) => {
                    Some(Shown::parse(&text).with_context(|| format!("unknown status {text:?}"))?)
                }
                None => None,
            };
            let shown = |status: Shown| match status {
                Shown::Is(status) => status.as_str(),
                Shown::Pausing => "PAUSING",
                Shown::Paused => "PAUSED",
            };
            // As ListDurableExecutionsByFunction shapes them, from either side.
            let items: Vec<serde_json::Value> = match &cli.server {
                Some(server) => {
                    let workflow = workflow.as_deref().context(
                        "with --server, name the workflow (--workflow NAME): Lambda lists executions by function",
                    )?;
                    client(server, cli.credentials.as_deref(), &store)?
                        .list(workflow, status.map(shown))?
                }
                None => existing_store(&store)?
                    .list(status.map(|status| match status {
                        Shown::Is(status) => status,
                        Shown::Pausing | Shown::Paused => Status::Running,
                    }))?
                    .iter()
                    .filter(|e| workflow.as_ref().is_none_or(|w| *w == e.workflow))
                    .filter(|e| status.is_none_or(|status| e.shown_status() == shown(status)))
                    .map(api::list_item)
                    .collect(),
            };
            if json {
                return print_out(&serde_json::to_string_pretty(
                    &serde_json::json!({ "DurableExecutions": items }),
                )?);
            }
            let mut table = format!(
                "{:<40} {:<16} {:<10} {:<24} ENDED\n",
                "NAME", "WORKFLOW", "STATUS", "STARTED"
            );
            let time = |item: &serde_json::Value, key: &str| {
                item[key].as_f64().map_or_else(
                    || "-".to_owned(),
                    |seconds| history::iso8601((seconds * 1000.0).round() as u64),
                )
            };
            for item in &items {
                let workflow = item["FunctionArn"].as_str().unwrap_or("");
                table.push_str(&format!(
                    "{:<40} {:<16} {:<10} {:<24} {}\n",
                    item["DurableExecutionName"].as_str().unwrap_or(""),
                    workflow.rsplit(':').next().unwrap_or(workflow),
                    item["Status"].as_str().unwrap_or(""),
                    time(item, "StartTimestamp"),
                    time(item, "EndTimestamp"),
                ));
            }
            print_out(table.trim_end())
        }
        Command::Start {
            target,
            name,
            input,
            timeout,
        } => {
            let input = cairn_engine::runner::canonical_input(&input)?;
            if let Some(name) = &name {
                check_execution_name(name)?;
            }
            if let Some(server) = &cli.server {
                if timeout.is_some() {
                    bail!("--timeout is not part of Lambda's Invoke: start without --server");
                }
                let client = client(server, cli.credentials.as_deref(), &store)?;
                // A path is registered under its workflow's name first.
                let function = if Path::new(&target).exists() {
                    let (wasm, workflow_name) = resolve_target(Path::new(&target))?;
                    let wasm = wasm
                        .canonicalize()
                        .with_context(|| format!("cannot find {}", wasm.display()))?;
                    client.deploy(&workflow_name, &read_component(&wasm)?, None)?;
                    workflow_name
                } else {
                    target
                };
                let name = name.unwrap_or_else(|| format!("{function}-{}", random_suffix()));
                client.start(&function, &name, &input)?;
                println!("{name}");
                return Ok(ExitCode::SUCCESS);
            }
            let db = Db::open(&store, Durability::Full)?;
            let (wasm, workflow_name) = match db.workflow_path(&target)? {
                Some(path) if !Path::new(&target).exists() => (path, target.clone()),
                _ => resolve_target(Path::new(&target))?,
            };
            let wasm = wasm
                .canonicalize()
                .with_context(|| format!("cannot find {}", wasm.display()))?;
            let (bytes, workflow) = Engine::new(Some(cache_dir(&store)))?.read_file(&wasm)?;
            let wasm = db.keep_component(&bytes, &workflow.hash)?;
            let name = name.unwrap_or_else(|| format!("{workflow_name}-{}", random_suffix()));
            let request = RunRequest {
                workflow: &workflow,
                workflow_name: &workflow_name,
                name: &name,
                input: &input,
                timeout: timeout.map(Duration::from_secs),
                component_path: Some(&wasm),
                parent: None,
            };
            cairn_engine::runner::start(&db, &request)?;
            println!("{name}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            port,
            listen,
            no_auth,
            skip_time,
            workers,
            budget,
            http,
        } => {
            let engine = Arc::new(Engine::new(Some(cache_dir(&store)))?);
            let options = cairn_engine::server::ServeOptions {
                run: RunOptions {
                    skip_time,
                    upgrade: false,
                    limits: budget.limits(&http)?,
                    logger: Arc::new(|level: LogLevel, message: &str| {
                        eprintln!(
                            "{} {} {message}",
                            history::iso8601(now_millis()),
                            cairn_engine::logs::level_name(level)
                        )
                    }),
                    notify: Arc::new(|_| {}),
                },
                workers: workers.unwrap_or_else(cairn_engine::server::default_workers),
            };
            let max_workers = cairn_engine::limits::POOLED_INSTANCES as usize;
            if !(1..=max_workers).contains(&options.workers) {
                bail!("--workers must be 1 to {max_workers} (the instance pool's size)");
            }
            // One writer commits for the scheduler, the workers and the API;
            // each reads on a connection of its own.
            let opened = Db::open(&store, Durability::Full)?;
            let writer = opened.start_writer()?;
            let db = opened.with_writer(&writer);
            let server = Arc::new(cairn_engine::server::Server::default());
            let api = api::Api {
                db: db.reopen()?,
                engine: engine.clone(),
                server: server.clone(),
                http: options.run.limits.http.clone(),
            };
            if no_auth && !listen.is_loopback() {
                bail!(
                    "--no-auth serves only loopback: on {listen} anyone on the network could \
                     drive the server (leave authentication on)"
                );
            }
            let credentials = if no_auth {
                None
            } else {
                Some(server_credentials(cli.credentials.as_deref(), &store)?)
            };
            let listener = std::net::TcpListener::bind((listen, port))
                .with_context(|| format!("cannot listen on {listen}:{port}"))?;
            listener.set_nonblocking(true)?;
            let address = listener.local_addr()?;
            // On loopback only this machine's names reach the server; beyond
            // it, the names it is known by are not ours to know, and every
            // request is signed anyway.
            let guard = Arc::new(api::Guard {
                credentials,
                hosts: listen.is_loopback().then(|| api::Guard::hosts_for(address)),
            });
            if guard.credentials.is_none() {
                eprintln!(
                    "cairn: authentication is off (--no-auth): any local process may drive this server"
                );
            }
            eprintln!(
                "cairn: serving {} with {} workers at http://{address}",
                store.display(),
                options.workers,
            );
            std::thread::spawn(move || {
                let stop = std::sync::atomic::AtomicBool::new(false);
                if let Err(error) =
                    cairn_engine::server::serve(engine, &db, &options, server, &stop)
                {
                    eprintln!("cairn: the server stopped: {error:#}");
                    std::process::exit(2);
                }
            });
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, api::router(api, guard)).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy {
            name,
            target,
            allow_http,
        } => {
            check_workflow_name(&name)?;
            // A server that allows link-local addresses says so itself
            // (`serve --allow-http-link-local`); a workflow's list may not.
            cairn_engine::limits::HttpPolicy::default()
                .check_entries(&allow_http)
                .map_err(anyhow::Error::msg)?;
            let (wasm, _) = resolve_target(&target)?;
            let wasm = wasm
                .canonicalize()
                .with_context(|| format!("cannot find {}", wasm.display()))?;
            let (version, hash) = if let Some(server) = &cli.server {
                // The server is sent the bytes: it opens no path it is given.
                let bytes = read_component(&wasm)?;
                let deployed = client(server, cli.credentials.as_deref(), &store)?.deploy(
                    &name,
                    &bytes,
                    Some(&allow_http),
                )?;
                let field = |key: &str| deployed[key].as_str().unwrap_or("?").to_owned();
                (field("Version"), field("ComponentHash"))
            } else {
                // Refuse what could never run before anything invokes it.
                let (bytes, workflow) = Engine::new(Some(cache_dir(&store)))?.read_file(&wasm)?;
                let db = Db::open(&store, Durability::Full)?;
                let version = db.deploy_component(&name, &bytes, &workflow.hash, now_millis())?;
                db.set_http_allowlist(&name, &allow_http)?;
                (
                    version.to_string(),
                    cairn_engine::component::hex(&workflow.hash),
                )
            };
            eprintln!(
                "cairn: workflow {name} is version {version}, {} (blake3 {hash})",
                wasm.display()
            );
            println!("{hash}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Stop {
            name,
            error_type,
            message,
        } => {
            let error = ErrorObject::new(error_type, message);
            if let Some(server) = &cli.server {
                client(server, cli.credentials.as_deref(), &store)?.stop(&name, &error)?;
                return Ok(ExitCode::SUCCESS);
            }
            let stopped = existing_store(&store)?
                .stop(&name, error, now_millis())
                .with_context(|| format!("in the store {}", store.display()))?;
            if let Stopped::AlreadyEnded(status, _) = stopped {
                bail!("execution {name:?} has already ended ({})", status.as_str());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Pause {
            name,
            reason,
            timeout_runs,
        } => {
            match &cli.server {
                Some(server) => client(server, cli.credentials.as_deref(), &store)?.pause(
                    &name,
                    reason.as_deref(),
                    !timeout_runs,
                )?,
                None => {
                    let request = PauseRequest {
                        reason,
                        timeout_paused: !timeout_runs,
                        client_token: None,
                    };
                    let state = existing_store(&store)?
                        .pause(&name, request, now_millis())
                        .with_context(|| format!("in the store {}", store.display()))?;
                    if state == PauseState::Pausing {
                        eprintln!(
                            "cairn: execution {name} is pausing: its invocation in progress stops before its next step"
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Resume { name, reason } => {
            match &cli.server {
                Some(server) => client(server, cli.credentials.as_deref(), &store)?
                    .resume(&name, reason.as_deref())?,
                None => {
                    let request = PauseRequest {
                        reason,
                        ..PauseRequest::default()
                    };
                    existing_store(&store)?
                        .resume(&name, request, now_millis())
                        .with_context(|| format!("in the store {}", store.display()))?
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { name } => {
            match &cli.server {
                Some(server) => {
                    client(server, cli.credentials.as_deref(), &store)?.delete(&name)?
                }
                None => existing_store(&store)?
                    .delete(&name)
                    .with_context(|| format!("in the store {}", store.display()))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Callback { action } => {
            let (id, completion) = match action {
                CallbackAction::Succeed { id, result, raw } => {
                    if !raw && let Err(error) = serde_json::from_str::<serde_json::Value>(&result) {
                        bail!(
                            "the result is not JSON ({error}); nothing was sent. Quote it as \
                             JSON (for example '\"text\"' or '{{\"approved\":true}}'), or pass \
                             --raw to send it as it is"
                        );
                    }
                    if result.len() > cairn_engine::limits::MAX_PAYLOAD_BYTES {
                        bail!(
                            "the result is {} bytes; the limit is {} bytes",
                            result.len(),
                            cairn_engine::limits::MAX_PAYLOAD_BYTES
                        );
                    }
                    (id, Completion::Succeed(result))
                }
                CallbackAction::Fail {
                    id,
                    error_type,
                    message,
                    data,
                } => {
                    let mut error = ErrorObject::new(error_type, message);
                    error.error_data = data;
                    (id, Completion::Fail(error))
                }
                CallbackAction::Heartbeat { id } => (id, Completion::Heartbeat),
            };
            match &cli.server {
                Some(server) => {
                    client(server, cli.credentials.as_deref(), &store)?.callback(&id, completion)?
                }
                None => existing_store(&store)?
                    .complete_callback(&id, completion, now_millis())
                    .with_context(|| format!("in the store {}", store.display()))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { name } => {
            let summary = match &cli.server {
                Some(server) => client(server, cli.credentials.as_deref(), &store)?.get(&name)?,
                None => api::summary(&find(&existing_store(&store)?, &name, &store)?, true),
            };
            print_out(&serde_json::to_string_pretty(&summary)?)
        }
        Command::Replay {
            name: None,
            component: Some(component),
            history: Some(history),
        } => {
            let text = std::fs::read_to_string(&history)
                .with_context(|| format!("cannot read {}", history.display()))?;
            let exported: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", history.display()))?;
            // GetDurableExecutionState's operations, or the history's events.
            let operations = match (exported.get("Operations"), exported.get("Events")) {
                (Some(operations), _) => operations
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(cairn_core::lambda::operation_from_json)
                    .collect::<Result<Vec<_>, _>>()?,
                (None, events) => cairn_core::lambda::operations_from_history(
                    events.unwrap_or(&exported).as_array().with_context(|| {
                        format!(
                            "{} holds no history events or operations",
                            history.display()
                        )
                    })?,
                )?,
            };
            let (wasm, workflow_name) = resolve_target(&component)?;
            let engine = Engine::new(Some(cache_dir(&store)))?;
            let workflow = engine.load_file(&wasm)?;
            let journal = cairn_core::lambda::journal_from(&operations)?;
            let execution =
                debug::exported_execution(&operations, &journal, &workflow_name, &workflow.hash);
            debug::replay(&engine, &workflow, &execution, &journal)
        }
        Command::Replay {
            name, component, ..
        } => {
            let name = name.context("name an execution, or give --history")?;
            let db = existing_store(&store)?;
            let execution = find(&db, &name, &store)?;
            let path = match component {
                Some(target) => resolve_target(&target)?.0,
                None => execution.component_path.clone().with_context(|| {
                    format!("execution {name:?} does not record its component: pass --component")
                })?,
            };
            let engine = Engine::new(Some(cache_dir(&store)))?;
            let workflow = engine.load_file(&path)?;
            let journal = db.journal(execution.id)?;
            debug::replay(&engine, &workflow, &execution, &journal)
        }
        Command::Package {
            target,
            arch,
            bootstrap,
            output,
            allow_http,
        } => {
            let (wasm, _) = resolve_target(&target)?;
            let bootstrap = match bootstrap {
                Some(path) => path,
                None => std::env::current_exe()?
                    .parent()
                    .context("cannot find the directory of this cairn")?
                    .join("bootstrap"),
            };
            let packaged = package::package(&wasm, &bootstrap, arch, &allow_http, &output)?;
            match packaged.artifact {
                Some(name) => eprintln!(
                    "cairn: {} holds bootstrap, component.wasm and cache/{name}",
                    output.display()
                ),
                None => eprintln!(
                    "cairn: {} holds bootstrap and component.wasm; no precompiled artifact (this machine compiles for its own architecture only): the function compiles the component at its first cold start",
                    output.display()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckUpgrade {
            component,
            executions,
            workflow,
        } => {
            let (path, workflow_name) = resolve_target(&component)?;
            let workflow_name = workflow.unwrap_or(workflow_name);
            let db = Db::open(&store, Durability::Full)?;
            let engine = Engine::new(Some(cache_dir(&store)))?;
            let new = engine.load_file(&path)?;
            let status = match executions {
                Selection::Running => Some(Status::Running),
                Selection::All => None,
            };
            let selected: Vec<_> = db
                .list(status)?
                .into_iter()
                .filter(|execution| execution.workflow == workflow_name)
                .collect();
            if selected.is_empty() {
                // A gate that checked nothing must not pass.
                eprintln!(
                    "cairn: no {}executions of workflow {workflow_name:?} in the store {}: nothing \
                     was checked (name the workflow with --workflow)",
                    match executions {
                        Selection::Running => "running ",
                        Selection::All => "",
                    },
                    store.display()
                );
                return Ok(ExitCode::from(1));
            }
            let mut clean = 0;
            for execution in &selected {
                let journal = db.journal(execution.id)?;
                let (replay, _) =
                    cairn_engine::inspect::replay(&engine, &new, execution, &journal)?;
                let verdict = cairn_engine::inspect::verdict(execution, &journal, &replay);
                let mark = if verdict.is_clean() {
                    clean += 1;
                    "ok  "
                } else {
                    "FAIL"
                };
                println!(
                    "{mark} {} ({}): {}",
                    execution.name,
                    execution.status.as_str(),
                    debug::describe(&verdict).replace('\n', "\n       ")
                );
            }
            println!(
                "{clean} of {} execution(s) would resume cleanly on {}",
                selected.len(),
                path.display()
            );
            Ok(if clean == selected.len() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Workflows { name, json } => {
            let (key, items) = match &cli.server {
                Some(server) => {
                    let client = client(server, cli.credentials.as_deref(), &store)?;
                    match &name {
                        Some(name) => ("Versions", client.versions(name)?),
                        None => ("Functions", client.functions()?),
                    }
                }
                None => {
                    let db = existing_store(&store)?;
                    let deployed = db.deployed(name.as_deref())?;
                    if let Some(name) = &name
                        && deployed.is_empty()
                    {
                        bail!(
                            "no workflow is deployed as {name:?} in the store {}",
                            store.display()
                        );
                    }
                    let key = if name.is_some() {
                        "Versions"
                    } else {
                        "Functions"
                    };
                    (
                        key,
                        deployed.iter().map(api::function_configuration).collect(),
                    )
                }
            };
            if json {
                return print_out(&serde_json::to_string_pretty(
                    &serde_json::json!({ key: items }),
                )?);
            }
            let mut table = format!(
                "{:<24} {:<8} {:<18} {:>10} DEPLOYED\n",
                "NAME", "VERSION", "BLAKE3", "BYTES"
            );
            let text =
                |item: &serde_json::Value, key: &str| item[key].as_str().unwrap_or("-").to_owned();
            // Workflows by name; a workflow's versions newest first.
            let mut rows: Vec<&serde_json::Value> = items.iter().collect();
            if key == "Versions" {
                rows.reverse();
            }
            for item in rows {
                let hash = text(item, "ComponentHash");
                table.push_str(&format!(
                    "{:<24} {:<8} {:<18} {:>10} {}\n",
                    text(item, "FunctionName"),
                    text(item, "Version"),
                    &hash[..hash.len().min(16)],
                    item["CodeSize"]
                        .as_u64()
                        .map_or("-".into(), |n| n.to_string()),
                    text(item, "LastModified"),
                ));
            }
            print_out(table.trim_end())
        }
        Command::History { name, json } => {
            if let Some(server) = &cli.server {
                let events = client(server, cli.credentials.as_deref(), &store)?.history(&name)?;
                if json {
                    return print_out(&serde_json::to_string_pretty(
                        &serde_json::json!({ "Events": events }),
                    )?);
                }
                // The server gives Lambda's events, not the journal: one
                // row per event.
                let rows: Vec<String> = events
                    .iter()
                    .map(|event| {
                        let at = event["EventTimestamp"].as_f64().unwrap_or(0.0);
                        format!(
                            "{:<6} {:<24} {:<28} {}",
                            event["EventId"],
                            event["EventType"].as_str().unwrap_or(""),
                            event["Name"].as_str().unwrap_or("-"),
                            history::iso8601((at * 1000.0).round() as u64),
                        )
                    })
                    .collect();
                return print_out(&rows.join("\n"));
            }
            let db = existing_store(&store)?;
            let execution = find(&db, &name, &store)?;
            let journal = db.journal(execution.id)?;
            if json {
                let events = history::aws_events(&execution.name, &journal);
                print_out(&serde_json::to_string_pretty(
                    &serde_json::json!({ "Events": events }),
                )?)
            } else {
                print_out(cairn_core::timeline::render(&journal).trim_end())
            }
        }
        Command::Logs { name, json } => {
            let records = match &cli.server {
                Some(server) => client(server, cli.credentials.as_deref(), &store)?.logs(&name)?,
                None => {
                    let db = existing_store(&store)?;
                    let execution = find(&db, &name, &store)?;
                    let identity =
                        cairn_engine::Identity::embedded(&execution.workflow, &execution.name);
                    let mut query = cairn_engine::sqlite::LogQuery {
                        execution: Some(execution.id),
                        limit: 1000,
                        ..Default::default()
                    };
                    let mut records = Vec::new();
                    while let (page, Some(last)) = db.log_lines(&query)? {
                        records.extend(
                            page.iter()
                                .map(|kept| cairn_engine::logs::record(&kept.line, &identity)),
                        );
                        query.after = Some(last);
                    }
                    records
                }
            };
            let lines: Vec<String> = records
                .iter()
                .map(|record| {
                    if json {
                        record.to_string()
                    } else {
                        let field = |key: &str| record[key].as_str().unwrap_or_default();
                        format!(
                            "{} {:<5} {}",
                            field("timestamp"),
                            field("level"),
                            field("message")
                        )
                    }
                })
                .collect();
            print_out(&lines.join("\n"))
        }
    }
}

/// The component to run and the workflow's name.
fn resolve_target(target: &Path) -> Result<(PathBuf, String)> {
    if target.is_dir() {
        let built = build_crate(target)?;
        return Ok((built.wasm, built.name));
    }
    if !target.exists() {
        bail!("{} does not exist", target.display());
    }
    let name = target
        .file_stem()
        .map(|s| s.to_string_lossy().replace('_', "-"))
        .unwrap_or_else(|| "workflow".into());
    Ok((target.to_path_buf(), name))
}

fn cache_dir(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("cache")
}

fn find(db: &Db, name: &str, store: &Path) -> Result<cairn_engine::Execution> {
    db.find(name)?.with_context(|| {
        format!(
            "no execution named {name:?} in the store {}",
            store.display()
        )
    })
}

/// The store to use: `--db` or `$CAIRN_DB` if given; else `.cairn/cairn.db`
/// in this directory or the nearest one above it that has one (as git
/// finds its repository); else a new one here.
fn locate_store(given: Option<PathBuf>) -> PathBuf {
    let default = Path::new(".cairn").join("cairn.db");
    if let Some(path) = given {
        return path;
    }
    let here = std::env::current_dir().unwrap_or_default();
    here.ancestors()
        .map(|dir| dir.join(&default))
        .find(|path| path.is_file())
        .unwrap_or(default)
}

/// The store at `path` for commands that read what is there: one that
/// does not exist is an error (opening it would make an empty one).
fn existing_store(path: &Path) -> Result<Db> {
    if !path.exists() {
        bail!(
            "there is no store at {} (none in this directory or above it): run a workflow here \
             first, or name the store with --db or CAIRN_DB",
            path.display()
        );
    }
    Db::open(path, Durability::Full)
}

/// Prints `text` and a newline; a reader that went away (`| head`) ends
/// the output quietly.
fn print_out(text: &str) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// An execution's name, as Lambda's: 1 to 64 letters, digits, hyphens and
/// underscores.
fn check_execution_name(name: &str) -> Result<()> {
    check_name("execution", name)
}

/// A workflow's name, as Lambda's function names: the same characters
/// (never a path).
fn check_workflow_name(name: &str) -> Result<()> {
    check_name("workflow", name)
}

fn check_name(what: &str, name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        bail!("{what} name {name:?}: a name is 1 to 64 of the characters a-z A-Z 0-9 - _");
    }
    Ok(())
}

/// What `serve` checks requests against: the environment's pair, the
/// file given, or the file beside the store (written at first start).
fn server_credentials(file: Option<&Path>, store: &Path) -> Result<auth::Credentials> {
    if let Some(credentials) = auth::Credentials::from_env()? {
        eprintln!("cairn: requests must be signed with CAIRN_ACCESS_KEY_ID's credentials");
        return Ok(credentials);
    }
    let file = file.map_or_else(|| auth::file_beside(store), Path::to_path_buf);
    let (credentials, created) = auth::Credentials::read_or_create(&file)?;
    eprintln!(
        "cairn: requests must be signed with the credentials in {}{} \
         (AWS tools: AWS_SHARED_CREDENTIALS_FILE={0})",
        file.display(),
        if created { ", written now" } else { "" },
    );
    Ok(credentials)
}

/// A client of `cairn serve` at `server`, signing as `serve` expects.
fn client(server: &str, file: Option<&Path>, store: &Path) -> Result<client::Client> {
    let credentials = match auth::Credentials::from_env()? {
        Some(credentials) => credentials,
        None => {
            let file = file.map_or_else(|| auth::file_beside(store), Path::to_path_buf);
            if !file.exists() {
                bail!(
                    "no credentials to sign requests to {server} with: {} does not exist. Give \
                     --credentials FILE (the file `cairn serve` wrote beside its store) or set \
                     CAIRN_ACCESS_KEY_ID and CAIRN_SECRET_ACCESS_KEY",
                    file.display()
                );
            }
            auth::Credentials::read(&file)?
        }
    };
    Ok(client::Client::new(server, credentials))
}

/// A component's bytes, to upload: refused here when over the server's
/// limit, before they are sent.
fn read_component(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))?;
    let limit = cairn_engine::limits::MAX_COMPONENT_BYTES;
    if bytes.len() > limit {
        bail!(
            "{} is {} bytes: a server takes components of at most {limit} bytes",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes)
}

/// 8 random bytes as hex: names that do not collide.
fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the host's entropy source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
