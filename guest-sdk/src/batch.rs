//! `parallel` and `map`: items run as child contexts of a batch context,
//! each replayed on its own, so an item that waits does not hold up the
//! others. The batch completes by its completion policy.

use crate::Error;
use serde::{Deserialize, Serialize};

/// When a batch is complete. Nothing set: every item must succeed, and the
/// first failure completes the batch (fail fast).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompletionConfig {
    /// Complete once this many items succeeded.
    pub min_successful: Option<usize>,
    /// Complete (as failed) once more than this many items failed.
    pub tolerated_failure_count: Option<usize>,
    /// Complete (as failed) once more than this share of items failed, in percent.
    pub tolerated_failure_percentage: Option<f64>,
}

impl CompletionConfig {
    /// Why the batch is complete after these counts, if it is.
    fn reason(&self, succeeded: usize, failed: usize, total: usize) -> Option<CompletionReason> {
        let tolerance_set =
            self.tolerated_failure_count.is_some() || self.tolerated_failure_percentage.is_some();
        let exceeded = self
            .tolerated_failure_count
            .is_some_and(|count| failed > count)
            || self
                .tolerated_failure_percentage
                .is_some_and(|percent| total > 0 && failed as f64 * 100.0 / total as f64 > percent)
            || (!tolerance_set && self.min_successful.is_none() && failed > 0);
        if exceeded {
            Some(CompletionReason::FailureToleranceExceeded)
        } else if self.min_successful.is_some_and(|min| succeeded >= min) {
            Some(CompletionReason::MinSuccessfulReached)
        } else if succeeded + failed == total {
            Some(CompletionReason::AllCompleted)
        } else {
            None
        }
    }
}

/// How a batch runs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchConfig {
    /// At most this many items in flight (started, not finished) at once.
    pub max_concurrency: Option<usize>,
    pub completion: CompletionConfig,
    pub nesting: Nesting,
}

/// Whether each item of a batch runs in a context of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nesting {
    /// Each item in a child context (ParallelBranch, MapIteration): an
    /// item that waits does not hold up the others.
    #[default]
    Nested,
    /// Items run directly in the batch's context, one after the other,
    /// recording no context of their own (AWS's FLAT mode): fewer records,
    /// but an item that waits holds up those after it.
    Flat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchItemStatus {
    Succeeded,
    Failed,
    /// Started and not finished when the batch completed. (Items the batch
    /// never started are not in its result, as in AWS's SDKs.)
    Started,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompletionReason {
    AllCompleted,
    MinSuccessfulReached,
    FailureToleranceExceeded,
}

/// One item of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchItem<T> {
    pub index: usize,
    pub status: BatchItemStatus,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

fn none<T>() -> Option<T> {
    None
}

impl BatchConfig {
    /// Refuses a configuration no batch can run under, before the batch
    /// records anything (AWS's SDKs raise a validation error likewise).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let invalid = |message: String| Err(Error::new("ValidationError", message));
        if self.max_concurrency == Some(0) {
            return invalid(
                "max_concurrency must be at least 1 (or None, for no limit)".to_owned(),
            );
        }
        if let Some(percent) = self.completion.tolerated_failure_percentage
            && !(0.0..=100.0).contains(&percent)
        {
            return invalid(format!(
                "tolerated_failure_percentage must be 0 to 100, not {percent}"
            ));
        }
        Ok(())
    }
}

/// How a map records its results ([`crate::Context::map_with_serdes`]):
/// each item's, and the whole batch's.
pub struct MapSerdes<'a, T> {
    pub item: &'a dyn crate::Serdes<T>,
    pub result: &'a dyn crate::Serdes<BatchResult<T>>,
}

/// Every item of a batch that started, in order, and why it completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult<T> {
    pub all: Vec<BatchItem<T>>,
    pub completion_reason: CompletionReason,
}

impl<T> BatchResult<T> {
    fn count(&self, status: BatchItemStatus) -> usize {
        self.all.iter().filter(|item| item.status == status).count()
    }

    /// Items that succeeded (AWS's `successCount`).
    pub fn success_count(&self) -> usize {
        self.count(BatchItemStatus::Succeeded)
    }

    /// Items that failed (`failureCount`).
    pub fn failure_count(&self) -> usize {
        self.count(BatchItemStatus::Failed)
    }

    /// Items started and not finished when the batch completed (`startedCount`).
    pub fn started_count(&self) -> usize {
        self.count(BatchItemStatus::Started)
    }

    /// Items that started (`totalCount`): never-started ones do not count.
    pub fn total_count(&self) -> usize {
        self.all.len()
    }

    /// The results of the items that succeeded, in order.
    pub fn succeeded(&self) -> Vec<&T> {
        self.all
            .iter()
            .filter_map(|item| item.result.as_ref())
            .collect()
    }

    /// The errors of the items that failed, in order.
    pub fn failed(&self) -> Vec<&Error> {
        self.all
            .iter()
            .filter_map(|item| item.error.as_ref())
            .collect()
    }

    /// Every item's result, or the first failure.
    pub fn into_results(self) -> Result<Vec<T>, Error> {
        self.all
            .into_iter()
            .map(|item| match (item.result, item.error) {
                (Some(result), _) => Ok(result),
                (None, Some(error)) => Err(error),
                (None, None) => Err(Error::new(
                    "BatchItemNotCompleted",
                    format!("item {} had not completed when the batch did", item.index),
                )),
            })
            .collect()
    }
}

/// Runs items `0..count` (through `run_item`) until `config` says the batch
/// is complete. `Err(pending)`: items are waiting.
pub(crate) fn run_items<T>(
    count: usize,
    config: &BatchConfig,
    mut run_item: impl FnMut(usize) -> Result<T, Error>,
) -> Result<BatchResult<T>, Error> {
    let mut all: Vec<BatchItem<T>> = (0..count)
        .map(|index| BatchItem {
            index,
            status: BatchItemStatus::Started,
            result: None,
            error: None,
        })
        .collect();
    let (mut succeeded, mut failed, mut in_flight) = (0, 0, 0);
    let mut started = count;
    for (index, item) in all.iter_mut().enumerate() {
        // An item an earlier run started is started again, whatever the
        // outcomes so far now say: the decisions must replay as they were made.
        let full = config.completion.reason(succeeded, failed, count).is_some()
            || config.max_concurrency.is_some_and(|max| in_flight >= max);
        if full && !crate::bindings::durable::has_recorded_call() {
            started = index;
            break;
        }
        match run_item(index) {
            Ok(result) => {
                item.status = BatchItemStatus::Succeeded;
                item.result = Some(result);
                succeeded += 1;
            }
            Err(error) if error.is_pending() => {
                in_flight += 1;
                // Flat: the items share one call sequence, and none may
                // call after one that waits.
                if config.nesting == Nesting::Flat {
                    started = index + 1;
                    break;
                }
            }
            Err(error) => {
                item.status = BatchItemStatus::Failed;
                item.error = Some(error);
                failed += 1;
            }
        }
    }
    // Items are started in order: those after the first left out never were.
    all.truncate(started);
    match config.completion.reason(succeeded, failed, count) {
        Some(completion_reason) => Ok(BatchResult {
            all,
            completion_reason,
        }),
        None => Err(Error::pending()),
    }
}
