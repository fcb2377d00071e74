//! Cairn's journal in the vocabulary of Lambda's durable-execution backend:
//! the operation updates a checkpoint sends for newly recorded events, and
//! the journal rebuilt from the operations the backend holds.
//!
//! - Operation ids are Cairn's positional ids (`3`, `2-1`), which Lambda
//!   accepts as they are (1-64 of `[a-zA-Z0-9-_]`): the id says the
//!   operation's context and its place there.
//! - Clock and random reads have no operation type of their own. The reads
//!   of one checkpoint travel together as one STEP (id `r1`, `r2`, ...: a
//!   letter, so never a positional id) whose result lists them with their
//!   context and position, and they come back in their places on replay.
//! - What Lambda's records do not keep (a callback's timeouts, an invoke's
//!   input) cannot be checked on replay: those calls carry
//!   [`UNKNOWN_FINGERPRINT`] and are compared by type and name, as AWS's
//!   SDKs compare them.

use crate::call::Call;
use crate::event::{ContextKind, ErrorObject, Event, Millis, OpId, RetryReason, StepKind};
use crate::exchange::{ExchangeRecord, HTTP_ERROR_PREFIX};
use crate::replay::parent_of;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

pub use crate::event::UNKNOWN_FINGERPRINT;

/// An error object as Lambda's API shapes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_trace: Vec<String>,
}

impl From<&ErrorObject> for AwsError {
    fn from(error: &ErrorObject) -> Self {
        AwsError {
            error_type: Some(error.error_type.clone()),
            error_message: Some(error.error_message.clone()),
            error_data: error.error_data.clone(),
            stack_trace: error.stack_trace.clone(),
        }
    }
}

impl From<&AwsError> for ErrorObject {
    fn from(error: &AwsError) -> Self {
        ErrorObject {
            error_type: error.error_type.clone().unwrap_or_default(),
            error_message: error.error_message.clone().unwrap_or_default(),
            error_data: error.error_data.clone(),
            stack_trace: error.stack_trace.clone(),
        }
    }
}

/// One update of a checkpoint (Lambda's `OperationUpdate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationUpdate {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `STEP`, `WAIT`, `CALLBACK`, `CONTEXT`, `CHAINED_INVOKE`, `EXECUTION`.
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// `START`, `SUCCEED`, `FAIL`, `RETRY`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AwsError>,
    /// STEP RETRY: seconds until the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_delay_seconds: Option<u64>,
    /// WAIT START.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    /// CALLBACK START: timeout and heartbeat timeout (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_timeouts: Option<(u64, u64)>,
    /// CHAINED_INVOKE START: the function invoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// CHAINED_INVOKE START: the tenant it runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// CONTEXT SUCCEED without its result, rebuilt on replay by running
    /// the context's children again (`ContextOptions.ReplayChildren`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay_children: bool,
}

impl OperationUpdate {
    fn new(id: &str, kind: &str, action: &str) -> Self {
        let parent = parent_of(id);
        OperationUpdate {
            id: id.to_owned(),
            parent_id: (!parent.is_empty()).then(|| parent.to_owned()),
            name: None,
            kind: kind.to_owned(),
            sub_type: None,
            action: action.to_owned(),
            payload: None,
            error: None,
            next_attempt_delay_seconds: None,
            wait_seconds: None,
            callback_timeouts: None,
            function_name: None,
            tenant_id: None,
            replay_children: false,
        }
    }

    /// Roughly how many bytes it weighs in a checkpoint request.
    pub fn size(&self) -> usize {
        200 + self.id.len()
            + self.name.as_ref().map_or(0, String::len)
            + self.payload.as_ref().map_or(0, String::len)
            + self.error.as_ref().map_or(0, |e| {
                e.error_type.as_ref().map_or(0, String::len)
                    + e.error_message.as_ref().map_or(0, String::len)
                    + e.error_data.as_ref().map_or(0, String::len)
                    + e.stack_trace.iter().map(String::len).sum::<usize>()
            })
    }
}

/// The name of the STEPs that carry clock and random reads.
pub const READS_NAME: &str = "cairn: clock and random reads";

/// One clock or random read, as a reads STEP's result lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Read {
    /// The context it was made in (empty: the workflow's own).
    #[serde(rename = "c", default, skip_serializing_if = "String::is_empty")]
    context: String,
    /// Its 1-based position among its context's calls.
    #[serde(rename = "p")]
    position: usize,
    #[serde(rename = "v")]
    value: ReadValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum ReadValue {
    #[serde(rename = "w")]
    WallClock(u64, u32),
    #[serde(rename = "m")]
    MonotonicClock(u64),
    /// Hex.
    #[serde(rename = "r")]
    Random(String),
}

/// Turns newly recorded events into checkpoint updates. It remembers where
/// each context's calls stand, so that reads keep their positions.
#[derive(Default)]
pub struct Updates {
    /// Calls recorded so far, per context.
    calls: HashMap<String, usize>,
    /// Reads STEPs written so far.
    read_batches: usize,
    /// Each operation's name and SubType, repeated on its later updates
    /// (as AWS's SDKs send them).
    names: HashMap<OpId, (String, String)>,
}

impl Updates {
    /// Picks up after `journal`, rebuilt from `operations` (what the
    /// backend already holds).
    pub fn after(journal: &[Event], operations: &[Operation]) -> Self {
        let mut calls: HashMap<String, usize> = HashMap::new();
        for event in journal.iter().filter(|event| event.is_call()) {
            *calls.entry(event.context().to_owned()).or_default() += 1;
        }
        let names = operations
            .iter()
            .filter_map(|op| {
                Some((
                    op.id.clone(),
                    (op.name.clone()?, op.sub_type.clone().unwrap_or_default()),
                ))
            })
            .collect();
        Updates {
            calls,
            read_batches: operations.iter().filter(|op| is_reads(op)).count(),
            names,
        }
    }

    /// The updates for `events`, recorded since the last call, in order.
    /// Reads come first, in one STEP, so they are durable before anything
    /// that may depend on them.
    pub fn for_events(&mut self, events: &[Event]) -> Vec<OperationUpdate> {
        let mut reads = Vec::new();
        let mut updates = Vec::new();
        for event in events {
            let position = if event.is_call() {
                let count = self.calls.entry(event.context().to_owned()).or_default();
                *count += 1;
                *count
            } else {
                0
            };
            let read = |value| Read {
                context: event.context().to_owned(),
                position,
                value,
            };
            match event {
                Event::WallClock {
                    seconds,
                    nanoseconds,
                    ..
                } => reads.push(read(ReadValue::WallClock(*seconds, *nanoseconds))),
                Event::MonotonicClock { nanos, .. } => {
                    reads.push(read(ReadValue::MonotonicClock(*nanos)))
                }
                Event::Random { bytes, .. } => reads.push(read(ReadValue::Random(
                    bytes.iter().map(|b| format!("{b:02x}")).collect(),
                ))),
                other => {
                    if let Some(mut update) = update_for(other) {
                        match (&update.name, &update.sub_type) {
                            (Some(name), Some(sub_type)) => {
                                self.names
                                    .insert(update.id.clone(), (name.clone(), sub_type.clone()));
                            }
                            _ => {
                                if let Some((name, sub_type)) = self.names.get(&update.id) {
                                    update.name = Some(name.clone());
                                    update.sub_type = Some(sub_type.clone());
                                }
                            }
                        }
                        updates.push(update);
                    }
                }
            }
        }
        // As many reads STEPs as Lambda's payload bound asks for.
        let mut carriers = Vec::new();
        let mut chunk: Vec<Read> = Vec::new();
        let mut bytes = 0;
        for read in reads {
            let size = serde_json::to_string(&read).map_or(0, |text| text.len()) + 1;
            if !chunk.is_empty() && bytes + size > MAX_READS_PAYLOAD {
                carriers.extend(self.reads_step(std::mem::take(&mut chunk)));
                bytes = 0;
            }
            bytes += size;
            chunk.push(read);
        }
        if !chunk.is_empty() {
            carriers.extend(self.reads_step(chunk));
        }
        updates.splice(0..0, carriers);
        updates
    }

    /// The START and SUCCEED of a STEP carrying `reads`.
    fn reads_step(&mut self, reads: Vec<Read>) -> [OperationUpdate; 2] {
        self.read_batches += 1;
        let id = format!("r{}", self.read_batches);
        let mut start = OperationUpdate::new(&id, "STEP", "START");
        start.parent_id = None;
        start.name = Some(READS_NAME.into());
        start.sub_type = Some("Step".into());
        let mut succeed = start.clone();
        succeed.action = "SUCCEED".into();
        succeed.payload = Some(serde_json::to_string(&reads).expect("reads always serialize"));
        [start, succeed]
    }
}

/// The most a reads STEP's result holds, under Lambda's 256 KiB bound for an
/// operation's payload.
const MAX_READS_PAYLOAD: usize = 200 * 1024;

/// The update a recorded event asks of the backend, if any: the backend
/// itself records timers firing, callbacks completing and invocations
/// ending.
fn update_for(event: &Event) -> Option<OperationUpdate> {
    let update = match event {
        Event::StepStarted { id, name, kind, .. } => {
            let mut update = OperationUpdate::new(id, "STEP", "START");
            update.name = Some(name.clone());
            update.sub_type = Some(kind.subtype().into());
            update
        }
        Event::StepSucceeded { id, result, .. } => {
            let mut update = OperationUpdate::new(id, "STEP", "SUCCEED");
            update.payload = Some(result.clone());
            update
        }
        Event::StepFailed { id, error, .. } => {
            let mut update = OperationUpdate::new(id, "STEP", "FAIL");
            update.error = Some(error.into());
            update
        }
        Event::StepRetried {
            id,
            reason,
            delay_seconds,
            ..
        } => {
            let mut update = OperationUpdate::new(id, "STEP", "RETRY");
            update.next_attempt_delay_seconds = Some(*delay_seconds);
            match reason {
                RetryReason::Failed(error) => update.error = Some(error.into()),
                RetryReason::Polled(state) => update.payload = Some(state.clone()),
            }
            update
        }
        Event::WaitStarted {
            id, name, seconds, ..
        } => {
            let mut update = OperationUpdate::new(id, "WAIT", "START");
            update.name = Some(name.clone());
            update.sub_type = Some("Wait".into());
            update.wait_seconds = Some(*seconds);
            update
        }
        Event::CallbackStarted {
            id,
            name,
            timeout_seconds,
            heartbeat_timeout_seconds,
            ..
        } => {
            let mut update = OperationUpdate::new(id, "CALLBACK", "START");
            update.name = Some(name.clone());
            update.sub_type = Some("Callback".into());
            update.callback_timeouts = Some((*timeout_seconds, *heartbeat_timeout_seconds));
            update
        }
        Event::ContextStarted { id, name, kind, .. } => {
            let mut update = OperationUpdate::new(id, "CONTEXT", "START");
            update.name = Some(name.clone());
            update.sub_type = Some(kind.subtype().into());
            update
        }
        Event::ContextSucceeded { id, result, .. } => {
            let mut update = OperationUpdate::new(id, "CONTEXT", "SUCCEED");
            update.payload = Some(result.clone());
            update
        }
        Event::ContextReplayChildren { id, .. } => {
            let mut update = OperationUpdate::new(id, "CONTEXT", "SUCCEED");
            update.replay_children = true;
            update
        }
        Event::ContextFailed { id, error, .. } => {
            let mut update = OperationUpdate::new(id, "CONTEXT", "FAIL");
            update.error = Some(error.into());
            update
        }
        Event::InvokeStarted {
            id,
            name,
            workflow,
            input,
            tenant,
            ..
        } => {
            let mut update = OperationUpdate::new(id, "CHAINED_INVOKE", "START");
            update.name = Some(name.clone());
            update.sub_type = Some("ChainedInvoke".into());
            update.function_name = Some(workflow.clone());
            update.tenant_id = tenant.clone();
            update.payload = Some(input.clone());
            update
        }
        // The execution's end travels in the invocation's answer.
        _ => return None,
    };
    Some(update)
}

/// An operation as the backend holds it (Lambda's `Operation`), with
/// timestamps in epoch milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: Option<String>,
    /// `EXECUTION`, `STEP`, `WAIT`, `CALLBACK`, `CONTEXT`, `CHAINED_INVOKE`.
    pub kind: String,
    pub sub_type: Option<String>,
    /// `STARTED`, `PENDING`, `READY`, `SUCCEEDED`, `FAILED`, `CANCELLED`,
    /// `TIMED_OUT`, `STOPPED`.
    pub status: String,
    pub start: Millis,
    pub end: Option<Millis>,
    /// The execution's input (EXECUTION).
    pub input: Option<String>,
    /// A step's latest attempt.
    pub attempt: Option<u32>,
    pub next_attempt_at: Option<Millis>,
    pub scheduled_end: Option<Millis>,
    /// A wait's length, when the record says it (histories do).
    pub wait_seconds: Option<u64>,
    pub callback_id: Option<String>,
    /// A step's, context's, callback's or invocation's result.
    pub result: Option<String>,
    pub error: Option<AwsError>,
    /// A context that succeeded without its result: replay rebuilds it
    /// from its children (`ContextDetails.ReplayChildren`).
    pub replay_children: bool,
}

/// The operations a history (GetDurableExecutionHistory's `Events`, as
/// `aws lambda get-durable-execution-history --include-execution-data`
/// exports them) tells of: each operation as its last event left it.
/// Timestamps may be epoch seconds or milliseconds; others read as 0.
pub fn operations_from_history(events: &[Value]) -> Result<Vec<Operation>, Unreadable> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let millis = |v: &Value, key: &str| {
        v.get(key).and_then(Value::as_f64).map(|t| {
            if t > 1e11 {
                t.round() as Millis
            } else {
                (t * 1000.0).round() as Millis
            }
        })
    };
    let mut operations: Vec<Operation> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for event in events {
        let event_type = text(event, "EventType")
            .ok_or_else(|| Unreadable(format!("an event has no EventType: {event}")))?;
        let details = event
            .get(format!("{event_type}Details"))
            .cloned()
            .unwrap_or(Value::Null);
        let at = millis(event, "EventTimestamp").unwrap_or(0);
        let payload = |key: &str| details.get(key).and_then(|p| text(p, "Payload"));
        let error = details
            .get("Error")
            .and_then(|e| e.get("Payload"))
            .and_then(|e| serde_json::from_value::<AwsError>(e.clone()).ok());
        let (kind, phase) = [
            ("Execution", "EXECUTION"),
            ("Step", "STEP"),
            ("Wait", "WAIT"),
            ("Callback", "CALLBACK"),
            ("Context", "CONTEXT"),
            ("ChainedInvoke", "CHAINED_INVOKE"),
        ]
        .iter()
        .find_map(|(prefix, kind)| Some((*kind, event_type.strip_prefix(prefix)?)))
        .unwrap_or(("", ""));
        if kind.is_empty() {
            continue; // InvocationCompleted and the like
        }
        let Some(id) = text(event, "Id") else {
            continue;
        };
        let row = *index.entry(id.clone()).or_insert_with(|| {
            operations.push(Operation {
                id: id.clone(),
                parent_id: text(event, "ParentId"),
                name: text(event, "Name"),
                kind: kind.to_owned(),
                sub_type: text(event, "SubType"),
                start: at,
                ..Operation::default()
            });
            operations.len() - 1
        });
        let op = &mut operations[row];
        match phase {
            "Started" => {
                op.status = "STARTED".into();
                op.input = op.input.take().or_else(|| payload("Input"));
                op.scheduled_end = millis(&details, "ScheduledEndTimestamp");
                op.wait_seconds = details.get("Duration").and_then(Value::as_u64);
                op.callback_id = text(&details, "CallbackId").or(op.callback_id.take());
            }
            "Succeeded" => {
                // A poll that was not done yet: a retry carrying its state.
                // (A delay of 0 marks the last attempt: AWS's backend writes
                // it so; a retry waits a second at least.)
                let next = details
                    .get("RetryDetails")
                    .and_then(|r| r.get("NextAttemptDelaySeconds"))
                    .and_then(Value::as_u64)
                    .filter(|delay| *delay > 0);
                op.status = match next {
                    Some(delay) => {
                        op.next_attempt_at = Some(at + delay * 1000);
                        "PENDING".into()
                    }
                    None => "SUCCEEDED".into(),
                };
                op.result = payload("Result");
                op.end = Some(at);
            }
            "Failed" | "TimedOut" | "Stopped" | "Cancelled" => {
                let retry = details.get("RetryDetails");
                let next = retry
                    .and_then(|r| r.get("NextAttemptDelaySeconds"))
                    .and_then(Value::as_u64)
                    .filter(|delay| *delay > 0);
                op.status = match (phase, next) {
                    ("Failed", Some(delay)) => {
                        op.next_attempt_at = Some(at + delay * 1000);
                        "PENDING".into()
                    }
                    ("Failed", None) => "FAILED".into(),
                    ("TimedOut", _) => "TIMED_OUT".into(),
                    ("Stopped", _) => "STOPPED".into(),
                    _ => "CANCELLED".into(),
                };
                op.error = error;
                op.end = Some(at);
            }
            _ => {}
        }
        if let Some(attempt) = details
            .get("RetryDetails")
            .and_then(|r| r.get("CurrentAttempt"))
            .and_then(Value::as_u64)
        {
            op.attempt = Some(attempt as u32);
        }
    }
    Ok(operations)
}

/// An operation as Lambda's JSON shapes it (an invocation's envelope,
/// GetDurableExecutionState's answer); timestamps in epoch milliseconds or
/// seconds.
pub fn operation_from_json(value: &Value) -> Result<Operation, Unreadable> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let time = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).map(millis_of);
    let details = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
    let step = details("StepDetails");
    let callback = details("CallbackDetails");
    // Whichever details the operation has carry its result or error.
    let outcome = [
        "StepDetails",
        "ContextDetails",
        "CallbackDetails",
        "ChainedInvokeDetails",
    ]
    .iter()
    .map(|key| details(key))
    .find(|d| !d.is_null())
    .unwrap_or(Value::Null);
    Ok(Operation {
        id: text(value, "Id")
            .ok_or_else(|| Unreadable(format!("an operation has no Id: {value}")))?,
        parent_id: text(value, "ParentId"),
        name: text(value, "Name"),
        kind: text(value, "Type").unwrap_or_default(),
        sub_type: text(value, "SubType"),
        status: text(value, "Status").unwrap_or_default(),
        start: time(value, "StartTimestamp").unwrap_or(0),
        end: time(value, "EndTimestamp"),
        input: text(&details("ExecutionDetails"), "InputPayload"),
        attempt: step
            .get("Attempt")
            .and_then(Value::as_u64)
            .map(|a| a as u32),
        next_attempt_at: time(&step, "NextAttemptTimestamp"),
        scheduled_end: time(&details("WaitDetails"), "ScheduledEndTimestamp"),
        wait_seconds: None,
        callback_id: text(&callback, "CallbackId"),
        result: text(&outcome, "Result"),
        error: outcome
            .get("Error")
            .and_then(|e| serde_json::from_value(e.clone()).ok()),
        replay_children: details("ContextDetails")
            .get("ReplayChildren")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Epoch milliseconds from a timestamp in milliseconds or in seconds.
fn millis_of(value: f64) -> Millis {
    if value > 1e11 {
        value.round() as Millis
    } else {
        (value * 1000.0).round() as Millis
    }
}

/// Why operations could not be read back as a journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the backend's record cannot be read as Cairn's journal: {0}")]
pub struct Unreadable(pub String);

/// Rebuilds the journal from the backend's operations: the EXECUTION
/// first, then each context's calls in their order, each followed by what
/// the backend recorded of it.
pub fn journal_from(operations: &[Operation]) -> Result<Vec<Event>, Unreadable> {
    let execution = operations
        .iter()
        .find(|op| op.kind == "EXECUTION")
        .ok_or_else(|| Unreadable("no EXECUTION operation".into()))?;
    let mut journal = vec![Event::ExecutionStarted {
        input: execution.input.clone().unwrap_or_else(|| "null".into()),
        timeout_seconds: 0,
        at: execution.start,
    }];
    // Each context's calls: operations by their counter, reads by position.
    let mut ops: HashMap<&str, Vec<(u64, &Operation)>> = HashMap::new();
    let mut reads: HashMap<String, Vec<Read>> = HashMap::new();
    for op in operations.iter().filter(|op| op.kind != "EXECUTION") {
        if is_reads(op) {
            let listed: Vec<Read> = serde_json::from_str(op.result.as_deref().unwrap_or("[]"))
                .map_err(|e| Unreadable(format!("reads {}: {e}", op.id)))?;
            for read in listed {
                reads.entry(read.context.clone()).or_default().push(read);
            }
            continue;
        }
        let (context, counter) = match op.id.rsplit_once('-') {
            Some((context, n)) => (context, n),
            None => ("", op.id.as_str()),
        };
        let counter: u64 = counter
            .parse()
            .map_err(|_| Unreadable(format!("operation id {:?} is not Cairn's", op.id)))?;
        ops.entry(context).or_default().push((counter, op));
    }
    let mut contexts: Vec<String> = ops
        .keys()
        .map(|c| c.to_string())
        .chain(reads.keys().cloned())
        .collect();
    contexts.sort();
    contexts.dedup();
    for context in contexts {
        let mut context_ops = ops.remove(context.as_str()).unwrap_or_default();
        context_ops.sort_by_key(|(counter, _)| *counter);
        let mut context_reads = reads.remove(&context).unwrap_or_default();
        context_reads.sort_by_key(|read| read.position);
        let mut ops_iter = context_ops.into_iter();
        let mut reads_iter = context_reads.into_iter().peekable();
        let mut position = 1;
        loop {
            if reads_iter
                .peek()
                .is_some_and(|read| read.position == position)
            {
                let read = reads_iter.next().expect("peeked");
                journal.push(read_event(read)?);
            } else if let Some((_, op)) = ops_iter.next() {
                push_operation(&mut journal, op)?;
            } else {
                // Reads past the last operation that reached the backend
                // (a checkpoint split in two whose second call failed): no
                // step body saw them, as that call came before any; they
                // are read again.
                break;
            }
            position += 1;
        }
    }
    Ok(journal)
}

/// Whether `op` carries clock and random reads.
fn is_reads(op: &Operation) -> bool {
    op.name.as_deref() == Some(READS_NAME) && op.id.starts_with('r')
}

fn read_event(read: Read) -> Result<Event, Unreadable> {
    let context = read.context;
    Ok(match read.value {
        ReadValue::WallClock(seconds, nanoseconds) => Event::WallClock {
            context,
            seconds,
            nanoseconds,
        },
        ReadValue::MonotonicClock(nanos) => Event::MonotonicClock { context, nanos },
        ReadValue::Random(hex) => Event::Random {
            context,
            bytes: decode_hex(&hex).ok_or_else(|| Unreadable("a random read is not hex".into()))?,
        },
    })
}

/// Hex digits as bytes; `None` for anything else (an odd length, a
/// character that is not a hex digit, multibyte ones included).
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The call event of `op`, then its follow-ups.
fn push_operation(journal: &mut Vec<Event>, op: &Operation) -> Result<(), Unreadable> {
    let id: OpId = op.id.clone();
    let name = op.name.clone().unwrap_or_default();
    let end = op.end.unwrap_or(op.start);
    let error = || {
        op.error
            .as_ref()
            .map(ErrorObject::from)
            .unwrap_or_else(|| ErrorObject::new("Unknown", "the backend recorded no error"))
    };
    let result = || op.result.clone().unwrap_or_else(|| "null".into());
    match op.kind.as_str() {
        "STEP" => {
            let mut kind = match op.sub_type.as_deref() {
                Some("WaitForCondition") => StepKind::WaitForCondition,
                _ => StepKind::Step,
            };
            // The backend counts the attempts that ended.
            let ended = op.attempt.unwrap_or(0);
            let attempt = ended.max(1);
            let mut fingerprint = Call::Step { name: &name, kind }.fingerprint();
            // An HTTP exchange made outside a step is a "Step" to Lambda: its
            // record (or a failed one's error data) carries its fingerprint.
            let recorded = match op.status.as_str() {
                "SUCCEEDED" => op
                    .result
                    .as_deref()
                    .and_then(ExchangeRecord::parse)
                    .and_then(|record| record.fingerprint()),
                "FAILED" => op
                    .error
                    .as_ref()
                    .filter(|e| {
                        e.error_type
                            .as_deref()
                            .is_some_and(|t| t.starts_with(HTTP_ERROR_PREFIX))
                    })
                    .and_then(|e| e.error_data.as_deref())
                    .and_then(ExchangeRecord::failed_fingerprint),
                _ => None,
            };
            if let Some(request) = recorded {
                (kind, fingerprint) = (StepKind::Http, request);
            }
            journal.push(Event::StepStarted {
                id: id.clone(),
                fingerprint,
                name: name.clone(),
                kind,
                attempt: 1,
                at: op.start,
            });
            match op.status.as_str() {
                "SUCCEEDED" => journal.push(Event::StepSucceeded {
                    id,
                    result: result(),
                    at: end,
                }),
                "FAILED" => journal.push(Event::StepFailed {
                    id,
                    error: error(),
                    at: end,
                }),
                "PENDING" => {
                    let next_attempt_at = op.next_attempt_at.unwrap_or(end);
                    journal.push(Event::StepRetried {
                        id,
                        attempt,
                        reason: match &op.error {
                            Some(error) => RetryReason::Failed(error.into()),
                            None => RetryReason::Polled(result()),
                        },
                        delay_seconds: next_attempt_at.saturating_sub(end).div_ceil(1000).max(1),
                        next_attempt_at,
                        at: end,
                    })
                }
                "READY" => journal.push(Event::StepReady {
                    id,
                    attempt: attempt + 1,
                    state: if op.error.is_none() {
                        op.result.clone()
                    } else {
                        None
                    },
                    at: end,
                }),
                // An attempt begun and not ended (at most once per retry):
                // the one after those that ended.
                _ if ended >= 1 => journal.push(Event::StepStarted {
                    id,
                    fingerprint,
                    name,
                    kind,
                    attempt: ended + 1,
                    at: op.start,
                }),
                _ => {}
            }
        }
        "WAIT" => {
            let scheduled_end = op.scheduled_end.unwrap_or(op.start);
            let seconds = op.wait_seconds.unwrap_or_else(|| {
                scheduled_end.saturating_sub(op.start).saturating_add(500) / 1000
            });
            journal.push(Event::WaitStarted {
                id: id.clone(),
                fingerprint: Call::Wait {
                    name: &name,
                    seconds,
                }
                .fingerprint(),
                name,
                seconds,
                scheduled_end,
                at: op.start,
            });
            if op.status == "SUCCEEDED" {
                journal.push(Event::WaitSucceeded { id, at: end });
            }
        }
        "CALLBACK" => {
            journal.push(Event::CallbackStarted {
                id: id.clone(),
                name,
                fingerprint: UNKNOWN_FINGERPRINT,
                callback_id: op.callback_id.clone().unwrap_or_default(),
                timeout_seconds: 0,
                heartbeat_timeout_seconds: 0,
                at: op.start,
            });
            match op.status.as_str() {
                "SUCCEEDED" => journal.push(Event::CallbackSucceeded {
                    id,
                    result: result(),
                    at: end,
                }),
                "FAILED" => journal.push(Event::CallbackFailed {
                    id,
                    error: error(),
                    at: end,
                }),
                "TIMED_OUT" => journal.push(Event::CallbackTimedOut {
                    id,
                    heartbeat: op
                        .error
                        .as_ref()
                        .and_then(|e| e.error_type.as_deref())
                        .is_some_and(|t| t.contains("Heartbeat")),
                    at: end,
                }),
                _ => {}
            }
        }
        "CONTEXT" => {
            let kind = match op.sub_type.as_deref() {
                Some("Parallel") => ContextKind::Parallel,
                Some("ParallelBranch") => ContextKind::ParallelBranch,
                Some("Map") => ContextKind::Map,
                Some("MapIteration") => ContextKind::MapIteration,
                Some("WaitForCallback") => ContextKind::WaitForCallback,
                _ => ContextKind::Child,
            };
            journal.push(Event::ContextStarted {
                id: id.clone(),
                fingerprint: Call::Context { name: &name, kind }.fingerprint(),
                name,
                kind,
                at: op.start,
            });
            match op.status.as_str() {
                "SUCCEEDED" if op.replay_children => {
                    journal.push(Event::ContextReplayChildren { id, at: end })
                }
                "SUCCEEDED" => journal.push(Event::ContextSucceeded {
                    id,
                    result: result(),
                    at: end,
                }),
                "FAILED" => journal.push(Event::ContextFailed {
                    id,
                    error: error(),
                    at: end,
                }),
                _ => {}
            }
        }
        "CHAINED_INVOKE" => {
            journal.push(Event::InvokeStarted {
                id: id.clone(),
                name,
                fingerprint: UNKNOWN_FINGERPRINT,
                workflow: String::new(),
                input: String::new(),
                at: op.start,
                tenant: None,
            });
            match op.status.as_str() {
                "SUCCEEDED" => journal.push(Event::InvokeSucceeded {
                    id,
                    result: result(),
                    at: end,
                }),
                "FAILED" | "TIMED_OUT" | "STOPPED" => journal.push(Event::InvokeFailed {
                    id,
                    error: op.error.as_ref().map(ErrorObject::from).unwrap_or_else(|| {
                        ErrorObject::new(
                            format!("ChainedInvoke.{}", op.status),
                            "the invoked execution did not succeed",
                        )
                    }),
                    at: end,
                }),
                _ => {}
            }
        }
        other => return Err(Unreadable(format!("unknown operation type {other:?}"))),
    }
    Ok(())
}
