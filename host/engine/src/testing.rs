//! Testing workflows from `cargo test`: run a component on a throwaway
//! store with time skipped, answer its callbacks from the test, and assert
//! on its result and its history.
//!
//! ```no_run
//! use cairn_engine::testing::TestRunner;
//! use cairn_engine::sqlite::Completion;
//!
//! let runner = TestRunner::new()?
//!     .answer_callback("approval", Completion::Succeed(r#"{"approved":true}"#.into()));
//! let run = runner.run("target/wasm32-wasip2/release/approval.wasm", r#"{"amount_cents":5,"approver":"ada"}"#)?;
//! assert_eq!(run.result::<serde_json::Value>()?["status"], "paid");
//! assert_eq!(run.events_of_type("CallbackSucceeded").len(), 1);
//! # Ok::<(), anyhow::Error>(())
//! ```

use crate::invocation::{Logger, now_millis};
use crate::runner::{Notify, Outcome, RunOptions, RunRequest, run_to_completion};
use crate::sqlite::{Completion, Db, Durability};
use crate::{Engine, Limits, LogLevel};
use anyhow::{Context as _, Result, bail};
use cairn_core::{Event, history};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs workflows on a store of its own, deleted when it is dropped.
pub struct TestRunner {
    dir: PathBuf,
    engine: Engine,
    db: Db,
    skip_time: bool,
    answers: HashMap<String, Completion>,
}

/// One execution a [`TestRunner`] ran to its end.
pub struct TestRun {
    /// The execution's name; what it invoked is named `NAME--OPERATION`.
    pub name: String,
    pub outcome: Outcome,
    /// The journal, as Cairn recorded it.
    pub journal: Vec<Event>,
    /// The history, as Lambda's GetDurableExecutionHistory shows it.
    pub history: Vec<serde_json::Value>,
    /// The guest's log lines, in order.
    pub logs: Vec<String>,
}

impl TestRunner {
    /// A runner on a fresh store, skipping time (waits and retry delays
    /// fire at once; callback timeouts still take their time).
    pub fn new() -> Result<Self> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).context("no entropy for a store name")?;
        let dir =
            std::env::temp_dir().join(format!("cairn-test-{}", crate::component::hex(&bytes)));
        std::fs::create_dir_all(&dir)?;
        Ok(TestRunner {
            engine: Engine::new(Some(dir.join("cache")))?,
            db: Db::open(&dir.join("cairn.db"), Durability::Process)?,
            dir,
            skip_time: true,
            answers: HashMap::new(),
        })
    }

    /// Sleep through waits instead of skipping them.
    pub fn real_time(mut self) -> Self {
        self.skip_time = false;
        self
    }

    /// Answers every callback named `name` with `completion`, as the outside
    /// world would, once the workflow waits on it.
    pub fn answer_callback(mut self, name: &str, completion: Completion) -> Self {
        self.answers.insert(name.to_owned(), completion);
        self
    }

    /// Registers `component` as the workflow `name`, for `invoke`.
    pub fn deploy(&self, name: &str, component: impl AsRef<Path>) -> Result<()> {
        let bytes = std::fs::read(component.as_ref())?;
        let workflow = self.engine.load(&bytes)?;
        let now = crate::invocation::now_millis();
        self.db
            .deploy_component(name, &bytes, &workflow.hash, now)
            .map(drop)
    }

    /// Runs `component` on `input` (JSON) to its end.
    pub fn run(&self, component: impl AsRef<Path>, input: &str) -> Result<TestRun> {
        let workflow = self.engine.load_file(component.as_ref())?;
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).context("no entropy for an execution name")?;
        let name = format!("test-{}", crate::component::hex(&bytes));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let logger: Logger = Arc::new(move |_level: LogLevel, message: &str| {
            sink.lock().unwrap().push(message.to_owned())
        });
        let notify: Notify = Arc::new(|_| {});
        let options = RunOptions {
            skip_time: self.skip_time,
            upgrade: false,
            limits: Limits::default(),
            logger,
            notify,
        };
        let request = RunRequest {
            workflow: &workflow,
            workflow_name: "test",
            name: &name,
            input,
            timeout: None,
            component_path: Some(component.as_ref()),
            parent: None,
        };
        // The test's answers arrive from outside, as a person's would.
        let done = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            scope.spawn(|| self.answer_until(&done));
            let outcome = run_to_completion(&self.engine, &self.db, &request, &options);
            done.store(true, Ordering::Relaxed);
            outcome
        })?;
        let execution = self.db.find(&name)?.context("the execution vanished")?;
        let journal = self.db.journal(execution.id)?;
        let history = history::aws_events(&name, &journal);
        let logs = logs.lock().unwrap().clone();
        Ok(TestRun {
            name,
            outcome,
            journal,
            history,
            logs,
        })
    }

    /// The history of execution `name` (one a run invoked, say), as Lambda's
    /// GetDurableExecutionHistory shows it.
    pub fn history(&self, name: &str) -> Result<Vec<serde_json::Value>> {
        let execution = self
            .db
            .find(name)?
            .with_context(|| format!("no execution named {name:?}"))?;
        Ok(history::aws_events(name, &self.db.journal(execution.id)?))
    }

    /// Completes open callbacks that have an answer, until `done`.
    fn answer_until(&self, done: &AtomicBool) {
        while !done.load(Ordering::Relaxed) {
            for (callback_id, name) in self.db.open_callbacks().unwrap_or_default() {
                if let Some(completion) = self.answers.get(&name) {
                    let _ =
                        self.db
                            .complete_callback(&callback_id, completion.clone(), now_millis());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TestRunner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestRun {
    /// The workflow's result, decoded; its error if it failed.
    pub fn result<T: DeserializeOwned>(&self) -> Result<T> {
        match &self.outcome {
            Outcome::Succeeded(json) => Ok(serde_json::from_str(json)?),
            Outcome::Failed(error) => bail!("the workflow failed: {error}"),
        }
    }

    /// The history's events of one type (`StepSucceeded`, `CallbackStarted`, ...).
    pub fn events_of_type(&self, event_type: &str) -> Vec<&serde_json::Value> {
        self.history
            .iter()
            .filter(|e| e["EventType"] == event_type)
            .collect()
    }
}
