//! Handlers for AWS's conformance suite `parallel` (requirements 8-1 to
//! 8-22), one per requirement, chosen by the function name the component is
//! deployed under (`parallel-8-1`, ...).
//!
//! Cairn names every operation: where AWS's handler leaves a step (or, in
//! 8-2, the parallel operation) unnamed, these use a name; no expected
//! history insists on a name's absence. Branches that "raise an error"
//! return an `Err` from the branch closure.

use cairn::{
    BatchConfig, BatchItemStatus, BatchResult, Branch, CompletionConfig, Context, Error, Nesting,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use std::time::Duration;

/// Branches run one at a time, in index order, with the default completion
/// policy (every branch must succeed; the first failure completes the batch).
fn sequential() -> BatchConfig {
    BatchConfig {
        max_concurrency: Some(1),
        completion: CompletionConfig::default(),
        ..BatchConfig::default()
    }
}

/// One at a time, under `completion`.
fn sequential_with(completion: CompletionConfig) -> BatchConfig {
    BatchConfig {
        max_concurrency: Some(1),
        completion,
        ..BatchConfig::default()
    }
}

/// A branch that returns `value` directly, without an inner step.
fn constant<'a, T: 'a>(value: T) -> Branch<'a, T> {
    Box::new(move |_: &mut Context| Ok(value))
}

/// A branch that runs one step returning `value`.
fn one_step<'a>(step: &'a str, value: &'a str) -> Branch<'a, String> {
    Box::new(move |ctx: &mut Context| ctx.step(step, || Ok::<_, Error>(value.to_owned())))
}

/// A branch that raises an error.
fn failing<'a, T: 'a>(index: usize) -> Branch<'a, T> {
    Box::new(move |_: &mut Context| {
        Err(Error::new("BranchError", format!("branch {index} failed")))
    })
}

/// The results of the branches that succeeded, in branch index order
/// (AWS's `get_results()`).
fn results<T: Clone>(batch: &BatchResult<T>) -> Vec<T> {
    batch.succeeded().into_iter().cloned().collect()
}

/// AWS's `BatchResult.status`: FAILED if any item failed.
fn status<T>(batch: &BatchResult<T>) -> &'static str {
    if batch.failure_count() > 0 {
        "FAILED"
    } else {
        "SUCCEEDED"
    }
}

/// `{completionReason, status, successCount, failureCount, totalCount}`.
fn projection<T>(batch: &BatchResult<T>) -> Value {
    json!({
        "completionReason": batch.completion_reason,
        "status": status(batch),
        "successCount": batch.success_count(),
        "failureCount": batch.failure_count(),
        "totalCount": batch.total_count(),
    })
}

/// `{completionReason, successCount, failureCount, totalCount}`.
fn counts<T>(batch: &BatchResult<T>) -> Value {
    json!({
        "completionReason": batch.completion_reason,
        "successCount": batch.success_count(),
        "failureCount": batch.failure_count(),
        "totalCount": batch.total_count(),
    })
}

/// 8-15's custom per-branch serde: a value `v` is serialized as the
/// envelope `{"wrapped": v}` and deserialized from it back to `v`. In Rust
/// a serde belongs to the type, so the branches return `Wrapped` values.
#[derive(Clone)]
struct Wrapped<T>(T);

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    wrapped: T,
}

impl<T: Serialize> Serialize for Wrapped<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Envelope { wrapped: &self.0 }.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Wrapped<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Envelope::<T>::deserialize(deserializer).map(|envelope| Wrapped(envelope.wrapped))
    }
}

fn handler(ctx: &mut Context, _input: Value) -> Result<Value, Error> {
    match ctx.execution().workflow.as_str() {
        // 8-1: two branches, each a single step (named after its value,
        // as Cairn names every step), one at a time.
        "parallel-8-1" => {
            let batch = ctx.parallel(
                "parallel",
                vec![one_step("task-1", "task-1"), one_step("task-2", "task-2")],
                sequential(),
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-2: the branches-only form. Cairn's parallel always takes a
        // name: "parallel" stands in for AWS's unnamed operation.
        "parallel-8-2" => {
            let batch = ctx.parallel(
                "parallel",
                vec![constant("alpha".to_owned()), constant("beta".to_owned())],
                sequential(),
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-3: two named branches, "first" and "second", each returning a
        // constant.
        "parallel-8-3" => {
            let batch = ctx.parallel_named(
                "named",
                vec![
                    ("first".to_owned(), constant("one".to_owned())),
                    ("second".to_owned(), constant("two".to_owned())),
                ],
                sequential(),
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-4: branches returning a string, a number and an object; each
        // result is a JSON value of its own type.
        "parallel-8-4" => {
            let batch = ctx.parallel(
                "hetero",
                vec![
                    constant(json!("hello")),
                    constant(json!(42)),
                    constant(json!({ "k": "v" })),
                ],
                sequential(),
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-5: no branches at all.
        "parallel-8-5" => {
            let batch = ctx.parallel::<Value>("empty", Vec::new(), BatchConfig::default())?;
            Ok(json!(results(&batch)))
        }
        // 8-6: fail fast (tolerated failure count 0): branch 1 fails, so
        // branch 2 never starts; the batch result is returned, not raised.
        "parallel-8-6" => {
            let batch = ctx.parallel(
                "failfast",
                vec![
                    constant("ok".to_owned()),
                    failing(1),
                    constant("never".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(0),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(projection(&batch))
        }
        // 8-7: fail fast, then the batch result rethrows its first failure
        // (AWS's `throw_if_error()`; Cairn's `into_results()` returns it).
        "parallel-8-7" => {
            let batch = ctx.parallel(
                "throwing",
                vec![failing(0), constant("never".to_owned())],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(0),
                    ..CompletionConfig::default()
                }),
            )?;
            let values = batch.into_results()?;
            Ok(json!(values))
        }
        // 8-8: min successful 2 of four: branches 2 and 3 never start.
        "parallel-8-8" => {
            let batch = ctx.parallel(
                "min-successful",
                (0..4).map(|index| constant(format!("b{index}"))).collect(),
                sequential_with(CompletionConfig {
                    min_successful: Some(2),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(json!({
                "completionReason": batch.completion_reason,
                "successCount": batch.success_count(),
                "totalCount": batch.total_count(),
            }))
        }
        // 8-9: one failure tolerated: all three branches run.
        "parallel-8-9" => {
            let batch = ctx.parallel(
                "tolerated",
                vec![
                    constant("b0".to_owned()),
                    failing(1),
                    constant("b2".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(1),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(projection(&batch))
        }
        // 8-10: one failure tolerated, two happen: branch 2 never starts.
        "parallel-8-10" => {
            let batch = ctx.parallel(
                "tolerated-exceeded",
                vec![failing(0), failing(1), constant("b2".to_owned())],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(1),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(counts(&batch))
        }
        // 8-11: up to two branches in flight; results in branch index order.
        "parallel-8-11" => {
            let batch = ctx.parallel(
                "concurrent",
                (0..3).map(|index| constant(format!("r{index}"))).collect(),
                BatchConfig {
                    max_concurrency: Some(2),
                    completion: CompletionConfig::default(),
                    ..BatchConfig::default()
                },
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-12: FLAT nesting: two branches, one step each ("fa", "fb"),
        // one at a time, their steps recorded directly in the Parallel
        // context.
        "parallel-8-12" => {
            let batch = ctx.parallel(
                "flat",
                vec![one_step("fa", "fa"), one_step("fb", "fb")],
                BatchConfig {
                    nesting: Nesting::Flat,
                    ..sequential()
                },
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-13: 25% failures tolerated of four: the second failure (50%)
        // exceeds it, branches 2 and 3 never start.
        "parallel-8-13" => {
            let batch = ctx.parallel(
                "tolerated-pct",
                vec![
                    failing(0),
                    failing(1),
                    constant("b2".to_owned()),
                    constant("b3".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    tolerated_failure_percentage: Some(25.0),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(counts(&batch))
        }
        // 8-14: branch 0 runs a step, branch 1 waits 2 s then returns; on
        // replay branch 0's recorded result is used, not re-run.
        "parallel-8-14" => {
            let batch = ctx.parallel(
                "replay",
                vec![
                    one_step("b0", "b0"),
                    Box::new(|ctx: &mut Context| {
                        ctx.wait("wait", Duration::from_secs(2))?;
                        Ok("b1".to_owned())
                    }),
                ],
                sequential(),
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-15: a custom per-branch serde wrapping each result as
        // {"wrapped": v}: in Rust the serde is the type's, so each branch
        // returns its string as a `Wrapped`, and the handler unwraps the
        // deserialized values.
        "parallel-8-15" => {
            let batch = ctx.parallel(
                "serde",
                vec![
                    constant(Wrapped("x".to_owned())),
                    constant(Wrapped("y".to_owned())),
                ],
                sequential(),
            )?;
            let values: Vec<String> = results(&batch).into_iter().map(|w| w.0).collect();
            Ok(json!(values))
        }
        // 8-16: all three fail, three tolerated: all run, ALL_COMPLETED.
        "parallel-8-16" => {
            let batch = ctx.parallel::<String>(
                "all-fail",
                vec![failing(0), failing(1), failing(2)],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(3),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(projection(&batch))
        }
        // 8-17: min successful 3 never reached; no tolerance set, so the
        // failure does not stop the batch.
        "parallel-8-17" => {
            let batch = ctx.parallel(
                "min-not-reached",
                vec![
                    constant("b0".to_owned()),
                    failing(1),
                    constant("b2".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    min_successful: Some(3),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(projection(&batch))
        }
        // 8-18: min successful 3 and one failure tolerated: two failures
        // exceed the tolerance first; branches 2 and 3 never start.
        "parallel-8-18" => {
            let batch = ctx.parallel(
                "combined",
                vec![
                    failing(0),
                    failing(1),
                    constant("b2".to_owned()),
                    constant("b3".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    min_successful: Some(3),
                    tolerated_failure_count: Some(1),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(counts(&batch))
        }
        // 8-19: max concurrency 0 is refused before anything runs; the
        // validation error is not caught.
        "parallel-8-19" => {
            let batch = ctx.parallel(
                "bad-concurrency",
                vec![constant("b0".to_owned()), constant("b1".to_owned())],
                BatchConfig {
                    max_concurrency: Some(0),
                    completion: CompletionConfig::default(),
                    ..BatchConfig::default()
                },
            )?;
            Ok(json!(results(&batch)))
        }
        // 8-20: the batch result's accessors. Cairn's `failed()` is AWS's
        // `get_errors()` (the failed items' errors); AWS's `failed()` (the
        // failed items) is counted from `all` by status.
        "parallel-8-20" => {
            let batch = ctx.parallel(
                "accessors",
                vec![
                    constant("b0".to_owned()),
                    failing(1),
                    constant("b2".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    tolerated_failure_count: Some(1),
                    ..CompletionConfig::default()
                }),
            )?;
            let failed_items = batch
                .all
                .iter()
                .filter(|item| item.status == BatchItemStatus::Failed)
                .count();
            Ok(json!({
                "hasFailure": failed_items > 0,
                "successCount": batch.succeeded().len(),
                "failureCount": failed_items,
                "errorCount": batch.failed().len(),
            }))
        }
        // 8-21: a parallel inside a parallel's single branch; the branch
        // returns the inner results, the handler the outer ones.
        "parallel-8-21" => {
            let outer: Branch<'_, Vec<String>> = Box::new(|ctx: &mut Context| {
                let inner = ctx.parallel(
                    "inner",
                    vec![one_step("i1", "i1"), one_step("i2", "i2")],
                    sequential(),
                )?;
                Ok(results(&inner))
            });
            let batch = ctx.parallel("outer", vec![outer], sequential())?;
            Ok(json!(results(&batch)))
        }
        // 8-22: 25% tolerated of four, exactly 25% fail: not exceeded (the
        // check is strictly greater), all four run.
        "parallel-8-22" => {
            let batch = ctx.parallel(
                "pct-boundary",
                vec![
                    failing(0),
                    constant("b1".to_owned()),
                    constant("b2".to_owned()),
                    constant("b3".to_owned()),
                ],
                sequential_with(CompletionConfig {
                    tolerated_failure_percentage: Some(25.0),
                    ..CompletionConfig::default()
                }),
            )?;
            Ok(projection(&batch))
        }
        other => Err(Error::new(
            "UnknownHandler",
            format!("no handler for {other}"),
        )),
    }
}

cairn::workflow!(handler);
