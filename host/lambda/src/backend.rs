//! Lambda's durable-execution backend as Cairn's journal: reading its
//! operations (the invocation's envelope, then GetDurableExecutionState
//! pages) and checkpointing what an invocation records
//! (CheckpointDurableExecution), with AWS's rules for tokens, batches and
//! errors.

use anyhow::{Context as _, Result, anyhow};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::types as aws;
use cairn_core::lambda::{AwsError, Operation, OperationUpdate, Updates, operation_from_json};
use cairn_core::{Event, Millis};
use cairn_engine::JournalSink;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// At most this many updates in one checkpoint call.
const MAX_BATCH_UPDATES: usize = 250;
/// At most this many bytes of updates in one checkpoint call.
const MAX_BATCH_BYTES: usize = 750 * 1024;
/// How often a checkpoint refused with 429 or 5xx is tried in all.
const CHECKPOINT_TRIES: u32 = 4;

/// The checkpoint was refused for a reason retrying the invocation cannot
/// fix (a 4xx other than a stale token or throttling): the execution fails.
#[derive(Debug, thiserror::Error)]
#[error("the backend refused a checkpoint: {0}")]
pub struct Refused(pub String);

/// The invocation's envelope, as Lambda sends it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope {
    pub durable_execution_arn: String,
    pub checkpoint_token: String,
    #[serde(default)]
    pub initial_execution_state: InitialState,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct InitialState {
    #[serde(default)]
    pub operations: Vec<Value>,
    #[serde(default)]
    pub next_marker: Option<String>,
}

/// Every operation of the execution: the envelope's, then the pages after.
pub async fn operations(client: &Client, envelope: &Envelope) -> Result<Vec<Operation>> {
    let mut operations = envelope
        .initial_execution_state
        .operations
        .iter()
        .map(operation_from_json)
        .collect::<Result<Vec<_>, _>>()?;
    let mut marker = envelope.initial_execution_state.next_marker.clone();
    while let Some(next) = marker.filter(|m| !m.is_empty()) {
        let page = client
            .get_durable_execution_state()
            .durable_execution_arn(&envelope.durable_execution_arn)
            .checkpoint_token(&envelope.checkpoint_token)
            .marker(next)
            .max_items(1000)
            .send()
            .await
            .context("GetDurableExecutionState failed")?;
        operations.extend(page.operations().iter().map(from_sdk));
        marker = page.next_marker().map(str::to_owned);
    }
    Ok(operations)
}

fn from_sdk(op: &aws::Operation) -> Operation {
    let millis =
        |t: &aws_sdk_lambda::primitives::DateTime| t.to_millis().unwrap_or(0).max(0) as Millis;
    let error = |e: Option<&aws::ErrorObject>| {
        e.map(|e| AwsError {
            error_type: e.error_type().map(str::to_owned),
            error_message: e.error_message().map(str::to_owned),
            error_data: e.error_data().map(str::to_owned),
            stack_trace: e.stack_trace().to_vec(),
        })
    };
    let (result, err) = if let Some(d) = op.step_details() {
        (d.result().map(str::to_owned), error(d.error()))
    } else if let Some(d) = op.context_details() {
        (d.result().map(str::to_owned), error(d.error()))
    } else if let Some(d) = op.callback_details() {
        (d.result().map(str::to_owned), error(d.error()))
    } else if let Some(d) = op.chained_invoke_details() {
        (d.result().map(str::to_owned), error(d.error()))
    } else {
        (None, None)
    };
    Operation {
        id: op.id().to_owned(),
        parent_id: op.parent_id().map(str::to_owned),
        name: op.name().map(str::to_owned),
        kind: op.r#type().as_str().to_owned(),
        sub_type: op.sub_type().map(str::to_owned),
        status: op.status().as_str().to_owned(),
        start: millis(op.start_timestamp()),
        end: op.end_timestamp().map(millis),
        input: op
            .execution_details()
            .and_then(|d| d.input_payload())
            .map(str::to_owned),
        attempt: op.step_details().map(|d| d.attempt().max(0) as u32),
        next_attempt_at: op
            .step_details()
            .and_then(|d| d.next_attempt_timestamp())
            .map(millis),
        scheduled_end: op
            .wait_details()
            .and_then(|d| d.scheduled_end_timestamp())
            .map(millis),
        wait_seconds: None,
        callback_id: op
            .callback_details()
            .and_then(|d| d.callback_id())
            .map(str::to_owned),
        result,
        error: err,
        replay_children: op
            .context_details()
            .and_then(|d| d.replay_children())
            .unwrap_or(false),
    }
}

fn to_sdk(update: &OperationUpdate) -> Result<aws::OperationUpdate> {
    let mut builder = aws::OperationUpdate::builder()
        .id(&update.id)
        .r#type(aws::OperationType::from(update.kind.as_str()))
        .action(aws::OperationAction::from(update.action.as_str()))
        .set_parent_id(update.parent_id.clone())
        .set_name(update.name.clone())
        .set_sub_type(update.sub_type.clone())
        .set_payload(update.payload.clone());
    if let Some(error) = &update.error {
        builder = builder.error(
            aws::ErrorObject::builder()
                .set_error_type(error.error_type.clone())
                .set_error_message(error.error_message.clone())
                .set_error_data(error.error_data.clone())
                .set_stack_trace((!error.stack_trace.is_empty()).then(|| error.stack_trace.clone()))
                .build(),
        );
    }
    if let Some(delay) = update.next_attempt_delay_seconds {
        builder = builder.step_options(
            aws::StepOptions::builder()
                .next_attempt_delay_seconds(delay as i32)
                .build(),
        );
    }
    if let Some(seconds) = update.wait_seconds {
        builder = builder.wait_options(
            aws::WaitOptions::builder()
                .wait_seconds(seconds as i32)
                .build(),
        );
    }
    if let Some((timeout, heartbeat)) = update.callback_timeouts {
        builder = builder.callback_options(
            aws::CallbackOptions::builder()
                .timeout_seconds(timeout as i32)
                .heartbeat_timeout_seconds(heartbeat as i32)
                .build(),
        );
    }
    if let Some(function) = &update.function_name {
        builder = builder.chained_invoke_options(
            aws::ChainedInvokeOptions::builder()
                .function_name(function)
                .set_tenant_id(update.tenant_id.clone())
                .build()
                .context("chained invoke options")?,
        );
    }
    if update.replay_children {
        builder =
            builder.context_options(aws::ContextOptions::builder().replay_children(true).build());
    }
    builder.build().context("an operation update is incomplete")
}

/// Splits updates into checkpoint calls: at most 250 updates and 750 KB
/// each, and an id at most once per call, except a START followed by its
/// SUCCEED, FAIL or RETRY (as AWS's SDKs send them).
pub fn batches(updates: Vec<OperationUpdate>) -> Vec<Vec<OperationUpdate>> {
    let mut batches: Vec<Vec<OperationUpdate>> = Vec::new();
    let mut bytes = 0;
    for update in updates {
        let fits = batches.last().is_some_and(|batch| {
            batch.len() < MAX_BATCH_UPDATES
                && bytes + update.size() <= MAX_BATCH_BYTES
                && batch.iter().all(|other| {
                    other.id != update.id
                        || (other.action == "START"
                            && matches!(update.action.as_str(), "SUCCEED" | "FAIL" | "RETRY"))
                })
        });
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += update.size();
        batches.last_mut().expect("pushed").push(update);
    }
    batches
}

/// The journal's sink in Lambda: each durability point is one or more
/// checkpoint calls, each consuming the token the last one returned.
pub struct LambdaSink {
    pub client: Client,
    pub runtime: tokio::runtime::Handle,
    pub arn: String,
    pub token: String,
    pub updates: Updates,
    /// The backend's callback ids, by operation id.
    pub callbacks: HashMap<String, String>,
    /// Checkpoint calls made (for the benchmark and the logs).
    pub calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Lambda's rules for an update's id and name, which Cairn keeps itself
/// (AWS's emulator does not check them).
fn check(update: &OperationUpdate) -> Result<(), Refused> {
    let id_ok = (1..=64).contains(&update.id.len())
        && update
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(Refused(format!(
            "operation id {:?} breaks Lambda's rule (1-64 of a-z A-Z 0-9 - _): contexts nest too deep",
            update.id
        )));
    }
    if let Some(name) = &update.name
        && !((1..=256).contains(&name.len()) && name.bytes().all(|b| (0x20..=0x7e).contains(&b)))
    {
        return Err(Refused(format!(
            "operation name {name:?} breaks Lambda's rule (1-256 printable ASCII characters)"
        )));
    }
    Ok(())
}

impl JournalSink for LambdaSink {
    fn persist(&mut self, events: &[Event]) -> Result<()> {
        // Reads are made durable here even alone: a step body about to run
        // may act on them (an idempotency key drawn in workflow code).
        let updates = self.updates.for_events(events);
        for update in &updates {
            check(update)?;
        }
        for batch in batches(updates) {
            let sdk = batch.iter().map(to_sdk).collect::<Result<Vec<_>>>()?;
            self.runtime.clone().block_on(self.checkpoint(sdk))?;
        }
        Ok(())
    }

    fn names_callbacks(&self) -> bool {
        true
    }

    fn callback_name(&self, op_id: &str) -> Option<String> {
        self.callbacks.get(op_id).cloned()
    }
}

impl LambdaSink {
    async fn checkpoint(&mut self, updates: Vec<aws::OperationUpdate>) -> Result<()> {
        let client_token = random_token();
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=CHECKPOINT_TRIES {
            let sent = self
                .client
                .checkpoint_durable_execution()
                .durable_execution_arn(&self.arn)
                .checkpoint_token(&self.token)
                .client_token(&client_token)
                .set_updates(Some(updates.clone()))
                .send()
                .await;
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match sent {
                Ok(answer) => {
                    if let Some(token) = answer.checkpoint_token() {
                        self.token = token.to_owned();
                    }
                    for op in answer
                        .new_execution_state()
                        .map(|s| s.operations())
                        .unwrap_or_default()
                    {
                        if let Some(id) = op.callback_details().and_then(|d| d.callback_id()) {
                            self.callbacks.insert(op.id().to_owned(), id.to_owned());
                        }
                    }
                    return Ok(());
                }
                Err(error) => {
                    let status = error.raw_response().map(|r| r.status().as_u16());
                    let message = format!("{}", aws_sdk_lambda::error::DisplayErrorContext(&error));
                    let stale = message
                        .to_ascii_lowercase()
                        .contains("invalid checkpoint token");
                    match status {
                        // Lambda retries the invocation with a fresh token.
                        _ if stale => return Err(anyhow!("stale checkpoint token: {message}")),
                        Some(429) | Some(500..=599) | None if attempt < CHECKPOINT_TRIES => {
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                        Some(400..=499) if status != Some(429) => {
                            return Err(Refused(message).into());
                        }
                        _ => return Err(anyhow!("CheckpointDurableExecution failed: {message}")),
                    }
                }
            }
        }
        Err(anyhow!("CheckpointDurableExecution kept failing"))
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host's entropy source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
