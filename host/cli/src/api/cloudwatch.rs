//! CloudWatch Logs' `FilterLogEvents` (JSON 1.1, `POST /` with
//! `X-Amz-Target: Logs_20140328.FilterLogEvents`) over the lines workflows
//! logged: a workflow is the log group `/aws/lambda/WORKFLOW`, each line a
//! record in Lambda's JSON log format carrying its execution's ARN, so that
//! `aws logs filter-log-events` and AWS's own tools read an execution's
//! lines as they would in AWS.

use super::{Api, ApiError, blocking, find_by_arn, json_response};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_core::Millis;
use cairn_engine::Identity;
use cairn_engine::logs::{FilterPattern, record};
use cairn_engine::sqlite::LogQuery;
use serde_json::{Value, json};

const FILTER_LOG_EVENTS: &str = "Logs_20140328.FilterLogEvents";

/// CloudWatch's largest page.
const MAX_LIMIT: usize = 10_000;

/// How many stored lines are read at a time while looking for matches.
const SCAN_PAGE: usize = 1_000;

/// How many stored lines one call reads at most while looking for matches;
/// a page with fewer matches still carries a token to go on from.
const MAX_SCANNED: usize = 50_000;

/// The most message bytes one answer carries (CloudWatch's answers are at
/// most 1 MB); more go on the next page.
const MAX_ANSWER_BYTES: usize = 1 << 20;

pub(super) async fn handle(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if target != FILTER_LOG_EVENTS {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "UnknownOperationException",
            message: format!(
                "cairn serve answers {FILTER_LOG_EVENTS} here (not {target:?}): the lines workflows logged"
            ),
        });
    }
    let request: Value = serde_json::from_slice(&body)
        .map_err(|error| invalid(format!("the request is not JSON: {error}")))?;
    let text = |field: &str| -> Result<Option<String>, ApiError> {
        match &request[field] {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            other => Err(invalid(format!("{field} must be a string, not {other}"))),
        }
    };
    let number = |field: &str| -> Result<Option<i64>, ApiError> {
        match &request[field] {
            Value::Null => Ok(None),
            value => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(format!("{field} must be an integer, not {value}"))),
        }
    };
    for unsupported in ["logStreamNames", "logStreamNamePrefix"] {
        if !request[unsupported].is_null() {
            return Err(invalid(format!(
                "cairn serve does not filter by {unsupported}: each execution's lines carry its ARN (filter on $.durableExecutionArn)"
            )));
        }
    }
    let group = text("logGroupName")?
        .or(text("logGroupIdentifier")?)
        .ok_or_else(|| invalid("logGroupName is required"))?;
    let workflow = group
        .strip_prefix("/aws/lambda/")
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            resource_not_found(format!(
                "the log group {group:?} does not exist: a workflow's is /aws/lambda/WORKFLOW"
            ))
        })?
        .to_owned();
    let pattern = FilterPattern::parse(&text("filterPattern")?.unwrap_or_default())
        .map_err(|why| invalid(format!("filterPattern: {why}")))?;
    let limit = match number("limit")? {
        None => MAX_LIMIT,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => return Err(invalid(format!("limit must be 1 to {MAX_LIMIT}, not {n}"))),
    };
    let after = match text("nextToken")? {
        None => None,
        Some(token) => Some(token.parse::<i64>().map_err(|_| {
            invalid(format!(
                "the nextToken {token:?} is not one this server gave"
            ))
        })?),
    };
    let (start, end) = (number("startTime")?, number("endTime")?);
    let time = |t: Option<i64>| t.map(|t| t.max(0) as Millis);
    let db = api.db.clone();
    let (events, next) = blocking(move || {
        let execution = match pattern.required_arn() {
            Some(arn) => match find_by_arn(&db, arn) {
                Ok(execution) if execution.workflow == workflow => Some(execution.id),
                // Another function's execution, or none: no line matches.
                Ok(_) => return Ok((Vec::new(), None)),
                Err(error) if error.status == StatusCode::NOT_FOUND => {
                    return Ok((Vec::new(), None));
                }
                Err(error) => return Err(error),
            },
            None => None,
        };
        let mut query = LogQuery {
            execution,
            workflow: workflow.clone(),
            start: time(start),
            end: time(end),
            after,
            limit: SCAN_PAGE,
        };
        let (mut events, mut scanned, mut bytes) = (Vec::new(), 0, 0);
        loop {
            let (page, last) = db.log_lines(&query)?;
            let Some(last) = last else {
                return Ok((events, None)); // read to the end
            };
            scanned += SCAN_PAGE;
            for kept in page {
                let (name, workflow) = &kept.execution;
                let record = record(&kept.line, &Identity::embedded(workflow, name));
                if !pattern.matches(&record) {
                    continue;
                }
                let message = record.to_string();
                if bytes + message.len() > MAX_ANSWER_BYTES && !events.is_empty() {
                    return Ok((events, Some(kept.seq - 1)));
                }
                bytes += message.len();
                events.push(json!({
                    "logStreamName": stream_name(kept.line.at, name),
                    "timestamp": kept.line.at,
                    "ingestionTime": kept.line.at,
                    "message": message,
                    "eventId": kept.seq.to_string(),
                }));
                if events.len() == limit {
                    return Ok((events, Some(kept.seq)));
                }
            }
            query.after = Some(last);
            if scanned >= MAX_SCANNED {
                return Ok((events, query.after));
            }
        }
    })
    .await?;
    let mut answer = json!({ "events": events, "searchedLogStreams": [] });
    if let Some(next) = next {
        answer["nextToken"] = json!(next.to_string());
    }
    Ok(json_response(StatusCode::OK, answer))
}

/// The stream a line is in: Lambda names streams by day and container;
/// here, by day and execution.
fn stream_name(at: Millis, execution: &str) -> String {
    let day = &cairn_core::history::iso8601(at)[..10];
    format!("{}/[$LATEST]{execution}", day.replace('-', "/"))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        kind: "InvalidParameterException",
        message: message.into(),
    }
}

fn resource_not_found(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        kind: "ResourceNotFoundException",
        message: message.into(),
    }
}
