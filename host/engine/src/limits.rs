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

/// The largest component a server accepts for upload (AWS's own limit for
/// a function's zip is 50 MB; Cairn's guests are a few MB).
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// The longest log line kept; longer ones are cut (CloudWatch Logs takes
/// up to 1 MiB per event).
pub const MAX_LOG_LINE_BYTES: usize = 256 * 1024;

/// The most log bytes kept between two durability points; beyond, lines
/// are counted and one line says how many were dropped (a guest that logs
/// in a loop must not fill the host's memory or the store).
pub const MAX_LOG_BYTES_PER_WRITE: usize = 1024 * 1024;

/// Payloads a guest may hand the host (inputs, step results, outputs): AWS's
/// safe per-operation bound.
pub const MAX_PAYLOAD_BYTES: usize = 256 << 10;

/// Longest operation name (AWS's bound): names are stored with every start.
pub const MAX_NAME_BYTES: usize = 256;

/// The most bytes one random read may ask for.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Per-invocation limits, set by whoever runs the workflow.
#[derive(Clone, Debug)]
pub struct Limits {
    pub time_budget: Duration,
    pub memory: usize,
    pub http: std::sync::Arc<HttpPolicy>,
    /// Set from outside to interrupt the invocation (its execution was
    /// stopped): wasm code traps within [`INTERRUPT_CHECK`], and host
    /// calls that wait return as soon.
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Set from outside when the execution is paused: the invocation
    /// stops before its next step. (A store also says so at each
    /// durability point, for pauses asked of another process.)
    pub pause: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// How often a running guest looks at its interrupt flag and its time
/// budget: how late a stop or an exhausted budget may take effect.
pub const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

impl Limits {
    /// These limits, with `hosts` allowed too (a workflow's own allowlist).
    pub fn allowing(&self, hosts: Vec<AllowedHost>) -> Limits {
        if hosts.is_empty() {
            return self.clone();
        }
        let mut http = (*self.http).clone();
        http.allow.extend(hosts);
        Limits {
            http: std::sync::Arc::new(http),
            ..self.clone()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_budget: DEFAULT_TIME_BUDGET,
            memory: DEFAULT_MEMORY_LIMIT,
            http: Default::default(),
            interrupt: None,
            pause: None,
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

mod http_policy;
pub use http_policy::*;
