//! Handlers for AWS's conformance suite `invoke` (requirements 5-1 to
//! 5-16), one per requirement, chosen by the function name the component
//! is deployed under (`invoke-5-1`, ...). The functions they invoke are
//! this same component, deployed as `invoke-ID-ROLE` (gaps.yaml's
//! `functions:`) and dispatched on that name too.
//!
//! Cairn names every operation: where AWS's handler leaves an invoke (or
//! step, wait, context) unnamed, these name it; no expected history here
//! insists on a missing name.

use cairn::{Context, Error, InvokeConfig};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::time::Duration;

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    let workflow = ctx.execution().workflow;
    match workflow.as_str() {
        // 5-1: invoke an echo target with the event; return its result.
        "invoke-5-1" => ctx.invoke("invoke", "invoke-5-1-echo", &input),
        // 5-2: the invoke's name comes from the input (`event.name`), its
        // payload is `event.payload`.
        "invoke-5-2" => {
            let name = input["name"].as_str().unwrap_or("invoke").to_owned();
            ctx.invoke(&name, "invoke-5-2-echo", &input["payload"])
        }
        // 5-3: a nested JSON input, echoed back unchanged.
        "invoke-5-3" => ctx.invoke("invoke", "invoke-5-3-echo", &input),
        // 5-4: null in, null out.
        "invoke-5-4" => ctx.invoke("invoke", "invoke-5-4-echo", &Value::Null),
        // 5-5: the target fails; its error (AWS: an InvokeError) fails the
        // execution.
        "invoke-5-5" => ctx.invoke("invoke", "invoke-5-5-fail", &Value::Null),
        // 5-6: the target fails; the handler catches the error and returns
        // a fallback value.
        "invoke-5-6" => match ctx.invoke::<_, Value>("invoke", "invoke-5-6-fail", &Value::Null) {
            Err(error) if !error.is_pending() => Ok(json!({
                "fallback": true,
                "error": error.error_type(),
            })),
            other => other,
        },
        // 5-7: a payload near the size limit (Cairn's, as AWS's checkpoint
        // limit: 256 KiB); the target processes it and returns a summary.
        "invoke-5-7" => {
            let payload = json!({ "data": "x".repeat(200 * 1024) });
            ctx.invoke("invoke", "invoke-5-7-process", &payload)
        }
        // 5-8: invoke the echo target with the input's payload, for the
        // input's tenant.
        "invoke-5-8" => {
            let config = InvokeConfig {
                tenant_id: input["tenantId"].as_str().map(str::to_owned),
            };
            ctx.invoke_with("invoke", "invoke-5-8-echo", &input["payload"], config)
        }
        // 5-9: invoke, then a 1 s wait; the replay after the wait answers
        // the invoke from the record, without invoking again.
        "invoke-5-9" => {
            let result: Value = ctx.invoke("invoke", "invoke-5-9-echo", &Value::Null)?;
            ctx.wait("wait", Duration::from_secs(1))?;
            Ok(result)
        }
        // 5-10: a failing invoke caught, then a 1 s wait; the replay after
        // the wait gets the recorded error again and catches it again.
        "invoke-5-10" => {
            let caught = match ctx.invoke::<_, Value>("invoke", "invoke-5-10-fail", &Value::Null) {
                Ok(_) => None,
                Err(error) if error.is_pending() => return Err(error),
                Err(error) => Some(error.error_type().to_owned()),
            };
            ctx.wait("wait", Duration::from_secs(1))?;
            Ok(json!({ "caught": caught }))
        }
        // 5-11: a step, then an invoke of its result.
        "invoke-5-11" => {
            let value = ctx.step("step", || Ok::<_, Error>(json!({ "computed": 42 })))?;
            ctx.invoke("invoke", "invoke-5-11-echo", &value)
        }
        // 5-12: an invoke, then a step that processes its result.
        "invoke-5-12" => {
            let result: Value = ctx.invoke("invoke", "invoke-5-12-target", &Value::Null)?;
            ctx.step("process", || Ok::<_, Error>(json!({ "processed": result })))
        }
        // 5-13: an invoke inside a child context, whose result is the
        // context's.
        "invoke-5-13" => ctx.run_in_child_context("child", |child| {
            child.invoke("invoke", "invoke-5-13-echo", &Value::Null)
        }),
        // 5-14: two targets invoked one after the other.
        "invoke-5-14" => {
            let first: Value = ctx.invoke("invoke-1", "invoke-5-14-first", &Value::Null)?;
            let second: Value = ctx.invoke("invoke-2", "invoke-5-14-second", &Value::Null)?;
            Ok(json!([first, second]))
        }
        // 5-15: a custom payload serializer. AWS's serdes turns a value into
        // the payload's text; here it is a type whose Serialize writes the
        // text itself: the JSON of `event.data`, uppercased. The echo target
        // receives "HELLO".
        "invoke-5-15" => {
            let payload = UppercasedText(input["data"].clone());
            ctx.invoke("invoke", "invoke-5-15-echo", &payload)
        }
        // 5-16: a custom result deserializer. AWS's serdes turns the result's
        // text into a value; here it is a type whose Deserialize reads the
        // raw text (`"hello"`, quotes included) and uppercases it. The
        // handler returns that string, `"HELLO"`.
        "invoke-5-16" => {
            let ResultText(result) = ctx.invoke("invoke", "invoke-5-16-echo", &input)?;
            Ok(Value::String(result))
        }

        // The invoked functions.
        "invoke-5-1-echo" | "invoke-5-2-echo" | "invoke-5-3-echo" | "invoke-5-4-echo"
        | "invoke-5-8-echo" | "invoke-5-9-echo" | "invoke-5-11-echo" | "invoke-5-13-echo"
        | "invoke-5-15-echo" | "invoke-5-16-echo" => Ok(input),
        "invoke-5-5-fail" | "invoke-5-6-fail" | "invoke-5-10-fail" => Err(Error::new(
            "TargetFailure",
            "the invoked function failed on purpose",
        )),
        "invoke-5-7-process" => {
            let size = input["data"].as_str().map_or(0, str::len);
            Ok(json!({ "received": size }))
        }
        "invoke-5-12-target" => Ok(json!({ "value": "from target" })),
        "invoke-5-14-first" => Ok(json!("first")),
        "invoke-5-14-second" => Ok(json!("second")),

        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

/// 5-15's payload serdes: the value's JSON text, uppercased.
struct UppercasedText(Value);

impl Serialize for UppercasedText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(S::Error::custom)?;
        RawValue::from_string(text.to_uppercase())
            .map_err(S::Error::custom)?
            .serialize(serializer)
    }
}

/// 5-16's result serdes: the result's JSON text, uppercased, as a string.
struct ResultText(String);

impl<'de> Deserialize<'de> for ResultText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Box::<RawValue>::deserialize(deserializer)?;
        Ok(ResultText(text.get().to_uppercase()))
    }
}

cairn::workflow!(handler);
