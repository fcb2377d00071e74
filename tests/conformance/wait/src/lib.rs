//! Handlers for AWS's conformance suite `wait` (requirements 2-1 to 2-5),
//! one per requirement, chosen by the function name the component is
//! deployed under (`wait-2-1`, ...).

use cairn::{Context, Error};
use serde_json::{Value, json};
use std::time::Duration;

fn handler(ctx: &mut Context, _input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 2-1: a single wait (Cairn names every operation).
        "wait-2-1" => {
            ctx.wait("wait", Duration::from_secs(2))?;
            Ok(Value::Null)
        }
        // 2-2: a wait with a name of its own.
        "wait-2-2" => {
            ctx.wait("custom_wait_name", Duration::from_secs(2))?;
            Ok(Value::Null)
        }
        // 2-3: two waits, one after the other.
        "wait-2-3" => {
            ctx.wait("wait-1", Duration::from_secs(2))?;
            ctx.wait("wait-2", Duration::from_secs(2))?;
            Ok(json!({ "completedWaits": 2 }))
        }
        // 2-4: a minute.
        "wait-2-4" => {
            ctx.wait("wait", Duration::from_secs(60))?;
            Ok(Value::Null)
        }
        // 2-5: an hour.
        "wait-2-5" => {
            ctx.wait("wait", Duration::from_secs(3600))?;
            Ok(Value::Null)
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);
