//! Views of a journal for tools: the event list of Lambda's
//! GetDurableExecutionHistory and the summary of GetDurableExecution.

use crate::event::{ErrorObject, Event, Millis, RetryReason};
use serde_json::{Value, json};
use std::collections::HashMap;

/// An operation id as it travels on the wire: the first 16 hex digits of the
/// blake3 hash of its positional id (AWS's SDKs hash theirs too).
pub fn wire_id(positional: &str) -> String {
    blake3::hash(positional.as_bytes()).to_hex()[..16].to_string()
}

/// The error object shape of AWS's API.
pub fn error_json(error: &ErrorObject) -> Value {
    let mut object = json!({
        "ErrorType": error.error_type,
        "ErrorMessage": error.error_message,
    });
    if let Some(data) = &error.error_data {
        object["ErrorData"] = json!(data);
    }
    if !error.stack_trace.is_empty() {
        object["StackTrace"] = json!(error.stack_trace);
    }
    object
}

/// Reads AWS's error object shape (the inverse of [`error_json`]); missing
/// members are empty, and `default_type` names an error sent without a type.
pub fn error_from_json(value: &Value, default_type: &str) -> ErrorObject {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    ErrorObject {
        error_type: text("ErrorType")
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| default_type.to_owned()),
        error_message: text("ErrorMessage").unwrap_or_default(),
        error_data: text("ErrorData"),
        stack_trace: value
            .get("StackTrace")
            .and_then(Value::as_array)
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|line| line.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Timestamps of AWS's REST-JSON API: epoch seconds.
pub fn epoch_seconds(at: Millis) -> Value {
    json!(at as f64 / 1000.0)
}

fn payload(text: &str) -> Value {
    json!({ "Payload": text, "Truncated": false })
}

fn error_payload(error: &ErrorObject) -> Value {
    json!({ "Payload": error_json(error), "Truncated": false })
}

/// Leaves out the inputs and results that `aws_events` put in, as
/// GetDurableExecutionHistory does unless asked for execution data: their
/// `Payload` goes and `Truncated` turns true. Errors stay, as in AWS's
/// emulator.
pub fn without_execution_data(events: &mut [Value]) {
    for event in events {
        let Some(event) = event.as_object_mut() else {
            continue;
        };
        for (key, details) in event.iter_mut() {
            if !key.ends_with("Details") {
                continue;
            }
            for field in ["Input", "Result", "Reason"] {
                if let Some(data) = details.get_mut(field).and_then(Value::as_object_mut)
                    && data.remove("Payload").is_some()
                {
                    data.insert("Truncated".into(), json!(true));
                }
            }
        }
    }
}

/// The journal as GetDurableExecutionHistory's `Events`, numbered from 1.
/// Clock and random reads are not AWS events and do not appear.
pub fn aws_events(execution_name: &str, journal: &[Event]) -> Vec<Value> {
    let mut started: HashMap<&str, &Event> = HashMap::new();
    let mut invocations = 0;
    let mut invocation_start = journal.first().map(event_time).unwrap_or(0);
    let mut events = Vec::new();
    for event in journal {
        let before = Before {
            started: event.follows_up().and_then(|id| started.get(id).copied()),
            invocations,
            invocation_start,
        };
        if let Some(object) = aws_event(execution_name, events.len() as u64 + 1, event, &before) {
            events.push(object);
        }
        match lookup_key(event) {
            Some(INVOCATION_KEY) => {
                invocations += 1;
                invocation_start = event_time(event);
            }
            Some(id) => {
                started.insert(id, event);
            }
            None => {}
        }
    }
    events
}

/// What rendering one event needs of the events before it: a fold over
/// the whole journal keeps it ([`aws_events`]), a store looks it up by
/// [`lookup_key`] (a page of a long history).
#[derive(Default)]
pub struct Before<'a> {
    /// The latest event that started the operation this one follows up
    /// (for a step, its latest attempt's `StepStarted`).
    pub started: Option<&'a Event>,
    /// How many invocations completed before this event.
    pub invocations: u64,
    /// When the invocation this event belongs to began: the previous
    /// `InvocationCompleted`, or the execution's start.
    pub invocation_start: Millis,
}

/// The key under which later events look this one up ([`Before`]): an
/// operation's id for the events that start it or an attempt of it,
/// [`INVOCATION_KEY`] for the end of an invocation.
pub fn lookup_key(event: &Event) -> Option<&str> {
    match event {
        Event::InvocationCompleted { .. } | Event::InvocationCrashed { .. } => Some(INVOCATION_KEY),
        other => other.op_id(),
    }
}

/// The [`lookup_key`] of `InvocationCompleted` (no operation id looks like it).
pub const INVOCATION_KEY: &str = "#invocation";

/// Whether the event appears in GetDurableExecutionHistory: clock and
/// random reads and the backend's own bookkeeping do not.
pub fn is_aws_event(event: &Event) -> bool {
    !matches!(
        event,
        Event::StepReady { .. }
            | Event::CallbackHeartbeat { .. }
            | Event::WallClock { .. }
            | Event::MonotonicClock { .. }
            | Event::Random { .. }
    )
}

/// One event as GetDurableExecutionHistory shows it, numbered `event_id`;
/// `None` for events it does not show ([`is_aws_event`]).
pub fn aws_event(
    execution_name: &str,
    event_id: u64,
    event: &Event,
    before: &Before<'_>,
) -> Option<Value> {
    if !is_aws_event(event) {
        return None;
    }
    let started = before.started;
    // The name of the operation this event follows up, if it does.
    let follow = started.and_then(|started| match started {
        Event::StepStarted { name, .. }
        | Event::ContextStarted { name, .. }
        | Event::InvokeStarted { name, .. }
        | Event::CallbackStarted { name, .. }
        | Event::WaitStarted { name, .. } => Some(name.as_str()),
        _ => None,
    });
    let attempt = match started {
        Some(Event::StepStarted { attempt, .. }) => *attempt,
        _ => 1,
    };
    let (event_type, id, name, details): (&str, String, Option<&str>, Value) = match event {
        Event::ExecutionStarted {
            input,
            timeout_seconds,
            ..
        } => (
            "ExecutionStarted",
            execution_name.to_owned(),
            Some(execution_name),
            // No timeout: report the longest AWS allows.
            json!({
                "Input": payload(input),
                "ExecutionTimeout": if *timeout_seconds > 0 { *timeout_seconds } else { crate::replay::MAX_WAIT_SECONDS },
            }),
        ),
        Event::ExecutionTimedOut { .. } => (
            "ExecutionTimedOut",
            execution_name.to_owned(),
            Some(execution_name),
            json!({ "Error": error_payload(&ErrorObject::timed_out()) }),
        ),
        Event::ExecutionStopped { error, .. } => (
            "ExecutionStopped",
            execution_name.to_owned(),
            Some(execution_name),
            json!({ "Error": error_payload(error) }),
        ),
        Event::ExecutionPaused {
            requested_at,
            reason,
            timeout_paused,
            ..
        } => {
            let mut details = json!({
                "PauseRequestTimestamp": epoch_seconds(*requested_at),
                "ExecutionTimeoutPaused": timeout_paused,
            });
            if let Some(reason) = reason {
                details["Reason"] = payload(reason);
            }
            (
                "ExecutionPaused",
                execution_name.to_owned(),
                Some(execution_name),
                details,
            )
        }
        Event::ExecutionResumed { reason, at } => {
            let mut details = json!({ "ResumeRequestTimestamp": epoch_seconds(*at) });
            if let Some(reason) = reason {
                details["Reason"] = payload(reason);
            }
            (
                "ExecutionResumed",
                execution_name.to_owned(),
                Some(execution_name),
                details,
            )
        }
        Event::StepStarted { id, name, .. } => {
            ("StepStarted", wire_id(id), Some(name.as_str()), json!({}))
        }
        Event::StepSucceeded { id, result, .. } => (
            "StepSucceeded",
            wire_id(id),
            follow,
            json!({
                "Result": payload(result),
                "RetryDetails": { "CurrentAttempt": attempt },
            }),
        ),
        Event::StepFailed { id, error, .. } => (
            "StepFailed",
            wire_id(id),
            follow,
            json!({
                "Error": error_payload(error),
                "RetryDetails": { "CurrentAttempt": attempt },
            }),
        ),
        // As AWS's backends record a RETRY: with an error it is a failed
        // attempt, without one (a poll's state) a succeeded one.
        Event::StepRetried {
            id,
            attempt,
            reason,
            delay_seconds,
            ..
        } => {
            let retry =
                json!({ "CurrentAttempt": attempt, "NextAttemptDelaySeconds": delay_seconds });
            let name = follow;
            match reason {
                RetryReason::Failed(error) => (
                    "StepFailed",
                    wire_id(id),
                    name,
                    json!({ "Error": error_payload(error), "RetryDetails": retry }),
                ),
                RetryReason::Polled(state) => (
                    "StepSucceeded",
                    wire_id(id),
                    name,
                    json!({ "Result": payload(state), "RetryDetails": retry }),
                ),
            }
        }
        Event::ContextStarted { id, name, .. } => (
            "ContextStarted",
            wire_id(id),
            Some(name.as_str()),
            json!({}),
        ),
        Event::ContextSucceeded { id, result, .. } => (
            "ContextSucceeded",
            wire_id(id),
            follow,
            json!({ "Result": payload(result) }),
        ),
        // Lambda records no payload for it.
        Event::ContextReplayChildren { id, .. } => {
            ("ContextSucceeded", wire_id(id), follow, json!({}))
        }
        Event::ContextFailed { id, error, .. } => (
            "ContextFailed",
            wire_id(id),
            follow,
            json!({ "Error": error_payload(error) }),
        ),
        Event::InvokeStarted {
            id,
            name,
            workflow,
            input,
            tenant,
            ..
        } => {
            let mut details = json!({
                "FunctionName": workflow,
                "Input": payload(input),
                // Invoked by name, unqualified: AWS runs (and says) $LATEST.
                "ExecutedVersion": "$LATEST",
                "DurableExecutionArn": execution_arn(workflow, &invoked_execution_name(execution_name, id)),
            });
            if let Some(tenant) = tenant {
                details["TenantId"] = json!(tenant);
            }
            (
                "ChainedInvokeStarted",
                wire_id(id),
                Some(name.as_str()),
                details,
            )
        }
        Event::InvokeSucceeded { id, result, .. } => (
            "ChainedInvokeSucceeded",
            wire_id(id),
            follow,
            json!({ "Result": payload(result) }),
        ),
        Event::InvokeFailed { id, error, .. } => (
            "ChainedInvokeFailed",
            wire_id(id),
            follow,
            json!({ "Error": error_payload(error) }),
        ),
        // The backend's own bookkeeping: AWS's history has no event for it.
        Event::StepReady { .. } | Event::CallbackHeartbeat { .. } => return None,
        Event::CallbackStarted {
            id,
            name,
            callback_id,
            timeout_seconds,
            heartbeat_timeout_seconds,
            ..
        } => (
            "CallbackStarted",
            wire_id(id),
            Some(name.as_str()),
            json!({
                "CallbackId": callback_id,
                "Timeout": timeout_seconds,
                "HeartbeatTimeout": heartbeat_timeout_seconds,
            }),
        ),
        Event::CallbackSucceeded { id, result, .. } => (
            "CallbackSucceeded",
            wire_id(id),
            follow,
            json!({ "Result": payload(result) }),
        ),
        Event::CallbackFailed { id, error, .. } => (
            "CallbackFailed",
            wire_id(id),
            follow,
            json!({ "Error": error_payload(error) }),
        ),
        Event::CallbackTimedOut { id, heartbeat, .. } => {
            let error_type = if *heartbeat {
                "Callback.Heartbeat"
            } else {
                "Callback.Timeout"
            };
            (
                "CallbackTimedOut",
                wire_id(id),
                follow,
                json!({ "Error": error_payload(&ErrorObject::new(error_type, "the callback timed out")) }),
            )
        }
        Event::WaitStarted {
            id,
            name,
            seconds,
            scheduled_end,
            ..
        } => (
            "WaitStarted",
            wire_id(id),
            Some(name.as_str()),
            json!({ "Duration": seconds, "ScheduledEndTimestamp": epoch_seconds(*scheduled_end) }),
        ),
        Event::WaitSucceeded { id, .. } => {
            let seconds = match started {
                Some(Event::WaitStarted { seconds, .. }) => Some(*seconds),
                _ => None,
            };
            (
                "WaitSucceeded",
                wire_id(id),
                follow,
                json!({ "Duration": seconds }),
            )
        }
        Event::InvocationCompleted { at } | Event::InvocationCrashed { at, .. } => {
            let mut details = json!({
                "StartTimestamp": epoch_seconds(before.invocation_start),
                "EndTimestamp": epoch_seconds(*at),
                "RequestId": format!("{execution_name}-invocation-{}", before.invocations + 1),
            });
            if let Event::InvocationCrashed { error, .. } = event {
                details["Error"] = error_payload(error);
            }
            (
                "InvocationCompleted",
                execution_name.to_owned(),
                None,
                details,
            )
        }
        Event::ExecutionSucceeded { result, .. } => (
            "ExecutionSucceeded",
            execution_name.to_owned(),
            Some(execution_name),
            json!({ "Result": payload(result) }),
        ),
        Event::ExecutionFailed { error, .. } => (
            "ExecutionFailed",
            execution_name.to_owned(),
            Some(execution_name),
            json!({ "Error": error_payload(error) }),
        ),
        Event::WallClock { .. } | Event::MonotonicClock { .. } | Event::Random { .. } => {
            return None;
        }
    };
    let mut object = json!({
        "EventType": event_type,
        "EventId": event_id,
        "Id": id,
        "EventTimestamp": epoch_seconds(event_time(event)),
    });
    if let Some(name) = name {
        object["Name"] = json!(name);
    }
    let parent = event
        .op_id()
        .or(event.follows_up())
        .map_or("", crate::replay::parent_of);
    if !parent.is_empty() {
        object["ParentId"] = json!(wire_id(parent));
    }
    let start = if event.op_id().is_some() {
        Some(event)
    } else {
        started
    };
    if let Some(subtype) = start.and_then(subtype) {
        object["SubType"] = json!(subtype);
    }
    object[format!("{event_type}Details")] = details;
    Some(object)
}

/// The `SubType` of the operation an event starts.
fn subtype(event: &Event) -> Option<&'static str> {
    match event {
        Event::StepStarted { kind, .. } => Some(kind.subtype()),
        Event::ContextStarted { kind, .. } => Some(kind.subtype()),
        Event::InvokeStarted { .. } => Some("ChainedInvoke"),
        Event::CallbackStarted { .. } => Some("Callback"),
        Event::WaitStarted { .. } => Some("Wait"),
        _ => None,
    }
}

/// When an event happened; ambient reads carry no timestamp of their own.
pub fn event_time(event: &Event) -> Millis {
    match event {
        Event::ExecutionStarted { at, .. }
        | Event::StepStarted { at, .. }
        | Event::StepSucceeded { at, .. }
        | Event::StepFailed { at, .. }
        | Event::StepRetried { at, .. }
        | Event::StepReady { at, .. }
        | Event::CallbackStarted { at, .. }
        | Event::CallbackSucceeded { at, .. }
        | Event::CallbackFailed { at, .. }
        | Event::CallbackHeartbeat { at, .. }
        | Event::CallbackTimedOut { at, .. }
        | Event::ExecutionTimedOut { at }
        | Event::InvokeStarted { at, .. }
        | Event::InvokeSucceeded { at, .. }
        | Event::InvokeFailed { at, .. }
        | Event::ExecutionStopped { at, .. }
        | Event::ExecutionPaused { at, .. }
        | Event::ExecutionResumed { at, .. }
        | Event::ContextStarted { at, .. }
        | Event::ContextSucceeded { at, .. }
        | Event::ContextReplayChildren { at, .. }
        | Event::ContextFailed { at, .. }
        | Event::WaitStarted { at, .. }
        | Event::WaitSucceeded { at, .. }
        | Event::InvocationCompleted { at }
        | Event::InvocationCrashed { at, .. }
        | Event::ExecutionSucceeded { at, .. }
        | Event::ExecutionFailed { at, .. } => *at,
        Event::WallClock {
            seconds,
            nanoseconds,
            ..
        } => seconds
            .saturating_mul(1000)
            .saturating_add(u64::from(*nanoseconds) / 1_000_000), // a corrupt record may hold any number
        Event::MonotonicClock { .. } | Event::Random { .. } => 0,
    }
}

/// What GetDurableExecution shows of an execution.
pub struct ExecutionInfo<'a> {
    pub name: &'a str,
    pub workflow: &'a str,
    pub status: &'a str,
    pub input: &'a str,
    pub result: Option<&'a str>,
    pub error: Option<&'a ErrorObject>,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
}

/// An execution as GetDurableExecution's answer shapes it.
pub fn execution_summary(info: &ExecutionInfo<'_>) -> Value {
    let mut object = json!({
        "DurableExecutionArn": execution_arn(info.workflow, info.name),
        "DurableExecutionName": info.name,
        "FunctionArn": function_arn(info.workflow),
        "InputPayload": info.input,
        "Status": info.status,
        "StartTimestamp": epoch_seconds(info.started_at),
    });
    if let Some(result) = info.result {
        object["Result"] = json!(result);
    }
    if let Some(error) = info.error {
        object["Error"] = error_json(error);
    }
    if let Some(ended_at) = info.ended_at {
        object["EndTimestamp"] = epoch_seconds(ended_at);
    }
    object
}

/// A local, ARN-shaped name for a workflow (a "function" in AWS's terms).
pub fn function_arn(workflow: &str) -> String {
    format!("arn:aws:lambda:local:000000000000:function:{workflow}")
}

/// The execution an invoke by the execution `caller` at operation `id`
/// starts: `CALLER--ID`, so that a replayed invoke finds it again.
pub fn invoked_execution_name(caller: &str, id: &str) -> String {
    format!("{caller}--{id}")
}

/// A function's name from its name or ARN (`arn:...:function:NAME[:QUALIFIER...]`).
pub fn function_of(function: &str) -> &str {
    match function.split_once(":function:") {
        Some((_, rest)) => rest.split([':', '/']).next().unwrap_or(rest),
        None => function,
    }
}

/// The execution's name in an execution ARN: Cairn's end in
/// `/durable-execution/NAME`, Lambda's in `/durable-execution/NAME/ID`.
pub fn execution_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once("/durable-execution/")?;
    rest.split('/').next()
}

pub fn execution_arn(workflow: &str, name: &str) -> String {
    format!(
        "{}:$LATEST/durable-execution/{name}",
        function_arn(workflow)
    )
}

/// `text`, cut to a line's worth.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil,
/// the inverse of the computation in [`iso8601`]).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-27T02:44:44.123Z` for a time in epoch milliseconds.
pub fn iso8601(at: Millis) -> String {
    let seconds = at / 1000;
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        at % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_out_of_cairns_arns_and_lambdas() {
        let cairn = execution_arn("order", "o1");
        assert_eq!(
            (function_of(&cairn), execution_of(&cairn)),
            ("order", Some("o1"))
        );
        let lambda = "arn:aws:lambda:us-east-1:1:function:order:$LATEST/durable-execution/o1/abc";
        assert_eq!(
            (function_of(lambda), execution_of(lambda)),
            ("order", Some("o1"))
        );
        assert_eq!(function_of(&function_arn("order")), "order");
        assert_eq!((function_of("order"), execution_of("o1")), ("order", None));
    }

    #[test]
    fn iso8601_matches_known_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_747_484_123), "2026-11-27T02:44:44.123Z");
        assert_eq!(days_from_civil(2000, 2, 29), 951_782_400 / 86_400);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn a_corrupt_wall_clock_record_saturates_instead_of_overflowing() {
        let event = Event::WallClock {
            context: Default::default(),
            seconds: u64::MAX / 10,
            nanoseconds: 999_999_999,
        };
        assert_eq!(event_time(&event), u64::MAX);
    }
}
