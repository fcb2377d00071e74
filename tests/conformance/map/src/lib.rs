//! Handlers for AWS's conformance suite `map` (requirements 9-1 to 9-20),
//! one per requirement, chosen by the function name the component is
//! deployed under (`map-9-1`, ...).
//!
//! Cairn names every operation, and names a map's iterations
//! `{map name}-{index}`. Where AWS's handler leaves an operation unnamed,
//! the handler below names it (the expected histories do not insist on the
//! absence of a name).

use cairn::{
    BatchConfig, BatchItem, BatchItemStatus, BatchResult, CompletionConfig, CompletionReason,
    Context, Error, Json, MapSerdes, Nesting, Serdes,
};
use serde_json::{Value, json};
use std::time::Duration;

/// Max-concurrency 1 (items one after the other), with a completion policy.
fn sequential(completion: CompletionConfig) -> BatchConfig {
    BatchConfig {
        max_concurrency: Some(1),
        completion,
        ..BatchConfig::default()
    }
}

/// The failure an item raises.
fn item_error(index: usize) -> Error {
    Error::new("ItemError", format!("item {index} failed"))
}

/// AWS's `BatchResult.status`: FAILED when any item failed. (Cairn's
/// BatchResult has no `status`; this is what AWS's SDKs compute.)
fn status<T>(batch: &BatchResult<T>) -> &'static str {
    if batch.failure_count() > 0 {
        "FAILED"
    } else {
        "SUCCEEDED"
    }
}

/// The successful results, in item index order (AWS's `get_results()`).
fn results<T: Clone>(batch: &BatchResult<T>) -> Vec<T> {
    batch.succeeded().into_iter().cloned().collect()
}

/// 9-14's item serdes: `wrapped:VALUE`, read back by taking the prefix off.
struct Wrapped;

impl Serdes<String> for Wrapped {
    fn serialize(&self, value: &String) -> Result<String, Error> {
        Ok(format!("wrapped:{value}"))
    }

    fn deserialize(&self, text: &str) -> Result<String, Error> {
        text.strip_prefix("wrapped:")
            .map(str::to_owned)
            .ok_or_else(|| Error::new("SerdesError", format!("{text:?} is not wrapped")))
    }
}

/// 9-19 and 9-20's operation-level serdes: a batch of strings as
/// `OPSERDE:` and its successful results joined by commas; read back as a
/// batch whose items all succeeded.
struct OpSerde;

impl Serdes<BatchResult<String>> for OpSerde {
    fn serialize(&self, batch: &BatchResult<String>) -> Result<String, Error> {
        let results: Vec<&str> = batch.succeeded().into_iter().map(String::as_str).collect();
        Ok(format!("OPSERDE:{}", results.join(",")))
    }

    fn deserialize(&self, text: &str) -> Result<BatchResult<String>, Error> {
        let joined = text
            .strip_prefix("OPSERDE:")
            .ok_or_else(|| Error::new("SerdesError", format!("{text:?} is not OPSERDE")))?;
        let all = joined
            .split(',')
            .filter(|item| !item.is_empty())
            .enumerate()
            .map(|(index, item)| BatchItem {
                index,
                status: BatchItemStatus::Succeeded,
                result: Some(item.to_owned()),
                error: None,
            })
            .collect();
        Ok(BatchResult {
            all,
            completion_reason: CompletionReason::AllCompleted,
        })
    }
}

/// Uppercases each of ["x", "y"], one at a time, in map `name` recorded
/// with `serdes`.
fn uppercase_map(
    ctx: &mut Context,
    name: &str,
    serdes: MapSerdes<'_, String>,
) -> Result<BatchResult<String>, Error> {
    ctx.map_with_serdes(
        name,
        &["x", "y"],
        sequential(CompletionConfig::default()),
        |_, index| format!("{name}-{index}"),
        serdes,
        |_ctx, item, _index| Ok(item.to_uppercase()),
    )
}

fn handler(ctx: &mut Context, input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 9-1: map "map" over the input (["World", "Kiro"]), one step per
        // item returning "Hello, <item>!", max-concurrency 1.
        "map-9-1" => {
            let items: Vec<String> = serde_json::from_value(input)
                .map_err(|e| Error::new("InvalidInput", e.to_string()))?;
            let batch = ctx.map(
                "map",
                &items,
                sequential(CompletionConfig::default()),
                |ctx, item, _index| ctx.step("greet", || Ok::<_, Error>(format!("Hello, {item}!"))),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-2: the items-only form; Cairn has no unnamed map, so it is named
        // "map". Each item (the input, [1, 2]) is doubled directly, no step.
        "map-9-2" => {
            let items: Vec<i64> = serde_json::from_value(input)
                .map_err(|e| Error::new("InvalidInput", e.to_string()))?;
            let batch = ctx.map(
                "map",
                &items,
                sequential(CompletionConfig::default()),
                |_ctx, item, _index| Ok(item * 2),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-3: map "indexed" over [10, 20, 30]; each item returns item + index.
        "map-9-3" => {
            let items: Vec<i64> = serde_json::from_value(input)
                .map_err(|e| Error::new("InvalidInput", e.to_string()))?;
            let batch = ctx.map(
                "indexed",
                &items,
                sequential(CompletionConfig::default()),
                |_ctx, item, index| Ok(item + index as i64),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-4: map "empty" over no items (the input, []).
        "map-9-4" => {
            let items: Vec<Value> = serde_json::from_value(input)
                .map_err(|e| Error::new("InvalidInput", e.to_string()))?;
            let batch = ctx.map(
                "empty",
                &items,
                BatchConfig::default(),
                |_ctx, item, _index| Ok(item.clone()),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-5: map "failfast" over three items, tolerated-failure-count 0:
        // item 0 returns "ok", item 1 fails, item 2 never starts. Returns
        // the batch projection.
        "map-9-5" => {
            let completion = CompletionConfig {
                tolerated_failure_count: Some(0),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "failfast",
                &["i0", "i1", "i2"],
                sequential(completion),
                |_ctx, _item, index| match index {
                    1 => Err(item_error(index)),
                    _ => Ok("ok".to_owned()),
                },
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "status": status(&batch),
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-6: map "throwing" over two items, tolerated-failure-count 0:
        // item 0 fails; the handler rethrows the first failure
        // (`into_results`, Cairn's throw_if_error) and does not catch it.
        "map-9-6" => {
            let completion = CompletionConfig {
                tolerated_failure_count: Some(0),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "throwing",
                &["i0", "i1"],
                sequential(completion),
                |_ctx, _item, index| match index {
                    0 => Err(item_error(index)),
                    _ => Ok("ok".to_owned()),
                },
            )?;
            let results = batch.into_results()?;
            Ok(json!(results))
        }
        // 9-7: map "min-successful" over four items returning a constant,
        // min-successful 2: items 2 and 3 never start.
        "map-9-7" => {
            let completion = CompletionConfig {
                min_successful: Some(2),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "min-successful",
                &["i0", "i1", "i2", "i3"],
                sequential(completion),
                |_ctx, _item, _index| Ok("done".to_owned()),
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "successCount": batch.success_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-8: map "tolerated" over three items, tolerated-failure-count 1:
        // item 1 fails, items 0 and 2 succeed; every item runs.
        "map-9-8" => {
            let completion = CompletionConfig {
                tolerated_failure_count: Some(1),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "tolerated",
                &["i0", "i1", "i2"],
                sequential(completion),
                |_ctx, _item, index| match index {
                    1 => Err(item_error(index)),
                    _ => Ok("ok".to_owned()),
                },
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "status": status(&batch),
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-9: map "tolerated-exceeded" over three items,
        // tolerated-failure-count 1: items 0 and 1 fail, item 2 never starts.
        "map-9-9" => {
            let completion = CompletionConfig {
                tolerated_failure_count: Some(1),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "tolerated-exceeded",
                &["i0", "i1", "i2"],
                sequential(completion),
                |_ctx, _item, index| match index {
                    0 | 1 => Err(item_error(index)),
                    _ => Ok("ok".to_owned()),
                },
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-10: map "tolerated-pct" over four items,
        // tolerated-failure-percentage 25: items 0 and 1 fail (50% > 25%),
        // items 2 and 3 never start.
        "map-9-10" => {
            let completion = CompletionConfig {
                tolerated_failure_percentage: Some(25.0),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "tolerated-pct",
                &["i0", "i1", "i2", "i3"],
                sequential(completion),
                |_ctx, _item, index| match index {
                    0 | 1 => Err(item_error(index)),
                    _ => Ok("ok".to_owned()),
                },
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-11: map "concurrent" over three items returning "r0".."r2"
        // directly, max-concurrency 2; results in index order.
        "map-9-11" => {
            let config = BatchConfig {
                max_concurrency: Some(2),
                completion: CompletionConfig::default(),
                ..BatchConfig::default()
            };
            let batch = ctx.map(
                "concurrent",
                &["i0", "i1", "i2"],
                config,
                |_ctx, _item, index| Ok(format!("r{index}")),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-12: FLAT nesting: map "flat" over ["fa", "fb"], one at a time,
        // each item's step (returning the item) recorded directly in the
        // Map context.
        "map-9-12" => {
            let batch = ctx.map(
                "flat",
                &["fa", "fb"],
                BatchConfig {
                    nesting: Nesting::Flat,
                    ..sequential(CompletionConfig::default())
                },
                |ctx, item, _index| ctx.step(item, || Ok::<_, Error>(item.to_string())),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-13: a custom item namer ("item-1", "item-2", from the item);
        // each item times 10, directly.
        "map-9-13" => {
            let items: Vec<i64> = serde_json::from_value(input)
                .map_err(|e| Error::new("InvalidInput", e.to_string()))?;
            let batch = ctx.map_named(
                "named-items",
                &items,
                sequential(CompletionConfig::default()),
                |item, _index| format!("item-{item}"),
                |_ctx, item, _index| Ok(item * 10),
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-15: map "suspend" over ["r0", "r1"], max-concurrency 1: each
        // iteration runs a step returning its item; iteration 1 first waits
        // a second, which suspends the execution mid-map.
        "map-9-15" => {
            let batch = ctx.map(
                "suspend",
                &["r0", "r1"],
                sequential(CompletionConfig::default()),
                |ctx, item, index| {
                    if index == 1 {
                        ctx.wait("wait", Duration::from_secs(1))?;
                    }
                    ctx.step("step", || Ok::<_, Error>(item.to_string()))
                },
            )?;
            Ok(json!(results(&batch)))
        }
        // 9-16: map "large" over four items, each returning a ~70 KB string
        // (280 KB in all, over AWS's 256 KB checkpoint threshold).
        // Returns {successCount, totalCount}.
        "map-9-16" => {
            let batch = ctx.map(
                "large",
                &[0, 1, 2, 3],
                sequential(CompletionConfig::default()),
                |_ctx, item, _index| Ok(item.to_string().repeat(70 * 1024)),
            )?;
            Ok(json!({
                "successCount": batch.success_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-17: map "then-wait" over ["a", "b"] returning each uppercased
        // directly, then a durable wait of a second; returns the results.
        "map-9-17" => {
            let batch = ctx.map(
                "then-wait",
                &["a", "b"],
                sequential(CompletionConfig::default()),
                |_ctx, item, _index| Ok(item.to_uppercase()),
            )?;
            ctx.wait("wait", Duration::from_secs(1))?;
            Ok(json!(results(&batch)))
        }
        // 9-18: map "fail-then-wait" over ["ok", "fail"],
        // tolerated-failure-count 1: item 1 fails and is not rethrown; then a
        // durable wait of a second; returns the batch projection.
        "map-9-18" => {
            let completion = CompletionConfig {
                tolerated_failure_count: Some(1),
                ..CompletionConfig::default()
            };
            let batch = ctx.map(
                "fail-then-wait",
                &["ok", "fail"],
                sequential(completion),
                |_ctx, item, index| match *item {
                    "fail" => Err(item_error(index)),
                    other => Ok(other.to_owned()),
                },
            )?;
            ctx.wait("wait", Duration::from_secs(1))?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "status": status(&batch),
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 9-14: map "serdes" over ["x", "y"], each item uppercased and
        // recorded through the `wrapped:` item serdes.
        "map-9-14" => {
            let serdes = MapSerdes {
                item: &Wrapped,
                result: &Json,
            };
            Ok(json!(results(&uppercase_map(ctx, "serdes", serdes)?)))
        }
        // 9-19: map "op-serde" over ["x", "y"], the whole batch recorded
        // through the OPSERDE serdes.
        "map-9-19" => {
            let serdes = MapSerdes {
                item: &Json,
                result: &OpSerde,
            };
            Ok(json!(results(&uppercase_map(ctx, "op-serde", serdes)?)))
        }
        // 9-20: as 9-19 (map "op-serde-replay"), then a durable wait of a
        // second: the result returned after it is the one replay read back
        // through OPSERDE.
        "map-9-20" => {
            let serdes = MapSerdes {
                item: &Json,
                result: &OpSerde,
            };
            let batch = uppercase_map(ctx, "op-serde-replay", serdes)?;
            ctx.wait("wait", Duration::from_secs(1))?;
            Ok(json!(results(&batch)))
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);
