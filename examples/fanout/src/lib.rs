//! `map` with a completion policy: each item is processed in its own child
//! context. An item named `slow-N` first waits N seconds (durably: the
//! others go on meanwhile); an item named `fail-...` fails.
//!
//! `cairn run examples/fanout --input '{"items":["a","slow-3","b"]}'`

use cairn::{
    Backoff, BatchConfig, CompletionConfig, Context, Error, Jitter, RetryStrategy, StepConfig,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    items: Vec<String>,
    min_successful: Option<usize>,
    tolerated_failures: Option<usize>,
    max_concurrency: Option<usize>,
    /// Retry a failing item once, a second later.
    #[serde(default)]
    retry_once: bool,
}

#[derive(Serialize)]
struct Summary {
    processed: Vec<String>,
    failed: Vec<String>,
    not_finished: Vec<usize>,
    /// How many items started (those the batch completed without never did).
    started: usize,
    reason: cairn::CompletionReason,
}

fn fanout(ctx: &mut Context, input: Input) -> Result<Summary, Error> {
    let config = BatchConfig {
        max_concurrency: input.max_concurrency,
        completion: CompletionConfig {
            min_successful: input.min_successful,
            tolerated_failure_count: input.tolerated_failures,
            ..CompletionConfig::default()
        },
        ..BatchConfig::default()
    };
    let batch = ctx.map("process", &input.items, config, |ctx, item, _index| {
        if let Some(seconds) = item.strip_prefix("slow-").and_then(|s| s.parse().ok()) {
            ctx.wait("pause", Duration::from_secs(seconds))?;
        }
        // Not retried unless asked: a failure counts against the policy at once.
        let retry = if input.retry_once {
            RetryStrategy::backoff(Backoff {
                max_attempts: 2,
                initial_delay: Duration::from_secs(1),
                jitter: Jitter::None,
                ..Backoff::retry_default()
            })
        } else {
            RetryStrategy::none()
        };
        let config = StepConfig {
            retry,
            ..StepConfig::default()
        };
        ctx.step_with("work", config, || {
            cairn::log(cairn::Level::Info, format!("body ran: {item}"));
            if item.starts_with("fail-") {
                return Err(Error::new(
                    "ItemFailed",
                    format!("{item} cannot be processed"),
                ));
            }
            Ok(format!("{item} done"))
        })
    })?;
    Ok(Summary {
        processed: batch.succeeded().into_iter().cloned().collect(),
        failed: batch
            .failed()
            .iter()
            .map(|e| e.message().to_owned())
            .collect(),
        not_finished: batch
            .all
            .iter()
            .filter(|item| item.status == cairn::BatchItemStatus::Started)
            .map(|item| item.index)
            .collect(),
        started: batch.total_count(),
        reason: batch.completion_reason,
    })
}

cairn::workflow!(fanout);
