//! Limits that protect the host from a hostile or buggy guest.

use std::time::Duration;

/// How often the epoch ticker advances wasmtime's epoch: the granularity of
/// the time budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default wall-clock budget of one invocation, as Lambda's invocation limit:
/// a guest that loops forever is stopped after this long.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Default cap on a guest's linear memory: a guest that allocates without
/// bound fails instead of taking the host down.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;

/// The largest memory any guest may be given (pooling allocator slot size).
pub const MAX_MEMORY_LIMIT: usize = 4 << 30;

/// Instances alive at once in the pooling allocator (one per running
/// invocation; suspended executions hold none).
pub const POOLED_INSTANCES: u32 = 64;

/// Payloads a guest may hand the host (inputs, step results, outputs): AWS's
/// safe per-operation bound.
pub const MAX_PAYLOAD_BYTES: usize = 256 << 10;

/// Longest operation name (AWS's bound): names are stored with every start.
pub const MAX_NAME_BYTES: usize = 256;

/// The most bytes one random read may ask for.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Per-invocation limits, set by whoever runs the workflow.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub time_budget: Duration,
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_budget: DEFAULT_TIME_BUDGET,
            memory: DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// Enforces [`Limits::memory`] and remembers whether the guest hit it, so
/// the resulting trap can be reported as what it is.
pub(crate) struct MemoryCap {
    pub limit: usize,
    pub exceeded: Option<usize>,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = Some(desired);
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
