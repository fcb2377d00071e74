//! Handlers for AWS's conformance suite `callback` (requirements 4-1 to
//! 4-19), one per requirement, chosen by the function name the component is
//! deployed under (`callback-4-1`, ...).
//!
//! AWS's handlers create a callback and block on `callback.result()`; in
//! Cairn that is `ctx.create_callback` then `ctx.wait_callback`. An uncaught
//! callback error (the sender's, `Callback.Timeout`, `Callback.Heartbeat`)
//! is passed on with `?` and fails the execution with that error, where
//! AWS's SDKs wrap it in a `CallbackError` (the histories accept any type).

use cairn::{CallbackConfig, Context, Error};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 4-1: a callback named by the input; its result is returned.
        "callback-4-1" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            ctx.wait_callback(&callback)
        }
        // 4-2: a callback with the explicit name "approval".
        "callback-4-2" => {
            let callback = ctx.create_callback::<Value>("approval", CallbackConfig::default())?;
            ctx.wait_callback(&callback)
        }
        // 4-3: a 5-second timeout that nobody beats; the timeout fails the execution.
        "callback-4-3" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                timeout: Some(Duration::from_secs(5)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            ctx.wait_callback(&callback)
        }
        // 4-4: a 5-second heartbeat timeout, no heartbeat; the execution fails.
        "callback-4-4" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                heartbeat_timeout: Some(Duration::from_secs(5)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            ctx.wait_callback(&callback)
        }
        // 4-5: a 10-second heartbeat timeout, kept alive by a heartbeat, then succeeded.
        "callback-4-5" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                heartbeat_timeout: Some(Duration::from_secs(10)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            ctx.wait_callback(&callback)
        }
        // 4-6: the sender fails the callback; the error is not caught.
        "callback-4-6" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            ctx.wait_callback(&callback)
        }
        // 4-7: callback, then a step, then the callback's result (a failure, not caught).
        // AWS's step is unnamed; Cairn names it "step".
        "callback-4-7" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            ctx.step("step", || Ok::<_, Error>("step done".to_owned()))?;
            ctx.wait_callback(&callback)
        }
        // 4-8: callback with a 5-second timeout, then a step, then the result (timed out).
        // AWS's step is unnamed; Cairn names it "step".
        "callback-4-8" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                timeout: Some(Duration::from_secs(5)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            ctx.step("step", || Ok::<_, Error>("step done".to_owned()))?;
            ctx.wait_callback(&callback)
        }
        // 4-9: callback, a 5-second wait (the callback succeeds meanwhile), then its result.
        // AWS's wait is unnamed; Cairn names it "wait".
        "callback-4-9" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            ctx.wait("wait", Duration::from_secs(5))?;
            ctx.wait_callback(&callback)
        }
        // 4-10: as 4-9, but the callback fails during the wait; not caught.
        "callback-4-10" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            ctx.wait("wait", Duration::from_secs(5))?;
            ctx.wait_callback(&callback)
        }
        // 4-11: callback with a 3-second timeout, a 6-second wait (the callback
        // times out meanwhile), then its result: the timeout, not caught.
        "callback-4-11" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                timeout: Some(Duration::from_secs(3)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            ctx.wait("wait", Duration::from_secs(6))?;
            ctx.wait_callback(&callback)
        }
        // 4-12: the callback's result, then a 2-second wait, then that result.
        "callback-4-12" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            let result = ctx.wait_callback(&callback)?;
            ctx.wait("wait", Duration::from_secs(2))?;
            Ok(result)
        }
        // 4-13: the callback's failure is caught and kept as a message; then a
        // 2-second wait; the message is returned.
        "callback-4-13" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Value>(&name, CallbackConfig::default())?;
            let message = match ctx.wait_callback(&callback) {
                Ok(result) => format!("callback succeeded: {result}"),
                Err(error) if error.is_pending() => return Err(error),
                Err(error) => format!("callback failed: {}", error.message()),
            };
            ctx.wait("wait", Duration::from_secs(2))?;
            Ok(json!(message))
        }
        // 4-14: a 3-second timeout, caught and kept as a message; then a
        // 2-second wait; the handler returns.
        "callback-4-14" => {
            let name = name_from(&input)?;
            let config = CallbackConfig {
                timeout: Some(Duration::from_secs(3)),
                ..CallbackConfig::default()
            };
            let callback = ctx.create_callback::<Value>(&name, config)?;
            let message = match ctx.wait_callback(&callback) {
                Ok(result) => format!("callback succeeded: {result}"),
                Err(error) if error.is_pending() => return Err(error),
                Err(error) => format!("callback timed out: {}", error.error_type()),
            };
            ctx.wait("wait", Duration::from_secs(2))?;
            Ok(json!(message))
        }
        // 4-15: a custom deserializer: the JSON payload becomes a typed object
        // whose ISO-8601 timestamp becomes epoch seconds. (Cairn's custom
        // deserialization is the result type's `Deserialize`; the record stays
        // the sender's JSON.)
        "callback-4-15" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Received>(&name, CallbackConfig::default())?;
            let received = ctx.wait_callback(&callback)?;
            Ok(json!({ "received": received }))
        }
        // 4-16: a custom deserializer turns the payload into a number; the
        // handler returns it and its double.
        "callback-4-16" => {
            let name = name_from(&input)?;
            let callback = ctx.create_callback::<Count>(&name, CallbackConfig::default())?;
            let Count(count) = ctx.wait_callback(&callback)?;
            Ok(json!({ "count": count, "doubled": count * 2 }))
        }
        // 4-17: callback A, its result, then callback B, its result; both returned.
        "callback-4-17" => {
            let (a, b) = names_from(&input)?;
            let callback_a = ctx.create_callback::<Value>(&a, CallbackConfig::default())?;
            let result_a = ctx.wait_callback(&callback_a)?;
            let callback_b = ctx.create_callback::<Value>(&b, CallbackConfig::default())?;
            let result_b = ctx.wait_callback(&callback_b)?;
            Ok(json!([result_a, result_b]))
        }
        // 4-18: callbacks A and B, then A's result, then B's; both returned.
        "callback-4-18" => {
            let (a, b) = names_from(&input)?;
            let callback_a = ctx.create_callback::<Value>(&a, CallbackConfig::default())?;
            let callback_b = ctx.create_callback::<Value>(&b, CallbackConfig::default())?;
            let result_a = ctx.wait_callback(&callback_a)?;
            let result_b = ctx.wait_callback(&callback_b)?;
            Ok(json!([result_a, result_b]))
        }
        // 4-19: callbacks A and B, then B's result first, then A's; both returned.
        "callback-4-19" => {
            let (a, b) = names_from(&input)?;
            let callback_a = ctx.create_callback::<Value>(&a, CallbackConfig::default())?;
            let callback_b = ctx.create_callback::<Value>(&b, CallbackConfig::default())?;
            let result_b = ctx.wait_callback(&callback_b)?;
            let result_a = ctx.wait_callback(&callback_a)?;
            Ok(json!([result_a, result_b]))
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

/// The callback's name: the input, a string.
fn name_from(input: &Value) -> Result<String, Error> {
    input
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::new("InvalidInput", format!("expected a name, got {input}")))
}

/// Two callbacks' names: the input, `[a, b]`.
fn names_from(input: &Value) -> Result<(String, String), Error> {
    match input.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((name_from(a)?, name_from(b)?)),
        _ => Err(Error::new(
            "InvalidInput",
            format!("expected two names, got {input}"),
        )),
    }
}

/// 4-15's typed callback result.
#[derive(Deserialize, Serialize)]
struct Received {
    id: String,
    message: String,
    /// Sent as ISO-8601 (`2026-01-01T00:00:00.000Z`), kept as epoch seconds.
    #[serde(deserialize_with = "epoch_seconds")]
    timestamp: i64,
}

fn epoch_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_iso8601(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("not an ISO-8601 UTC time: {text:?}")))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` as seconds since the Unix epoch.
fn parse_iso8601(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let time = time
        .split_once('.')
        .map_or(time, |(whole, _fraction)| whole);
    let mut time = time.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// 4-16's callback result: a number, sent as a JSON number or a numeric string.
struct Count(i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
        .map(Count)
        .ok_or_else(|| serde::de::Error::custom("the callback's result is not a number"))
    }
}

cairn::workflow!(handler);
