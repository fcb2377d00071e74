//! A guest's import call as replay sees it, its fingerprint, and how it is
//! named in divergence reports.

use crate::event::{ContextKind, Event, Fingerprint, StepKind, UNKNOWN_FINGERPRINT};
use std::fmt;
use std::sync::LazyLock;

/// An import call that replay answers in order and checks against the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call<'a> {
    Step {
        name: &'a str,
        kind: StepKind,
    },
    Wait {
        name: &'a str,
        seconds: u64,
    },
    WallClock,
    MonotonicClock,
    Random {
        len: u64,
    },
    Callback {
        name: &'a str,
        timeout_seconds: u64,
        heartbeat_timeout_seconds: u64,
    },
    Context {
        name: &'a str,
        kind: ContextKind,
    },
    Invoke {
        name: &'a str,
        workflow: &'a str,
        input: &'a str,
        tenant: Option<&'a str>,
    },
    /// An HTTP request outside any step (a `StepKind::Http` step), named
    /// `METHOD URL`; `request` fingerprints method, URL, headers and body.
    Http {
        name: &'a str,
        request: Fingerprint,
    },
}

impl Call<'_> {
    /// blake3 over the call's type and arguments (not its name, which is
    /// compared as is), truncated to 8 bytes: enough to tell two calls apart,
    /// small enough to store with every record.
    pub fn fingerprint(&self) -> Fingerprint {
        match *self {
            // A step has no arguments but its name: one constant per kind, hashed once.
            Call::Step { kind, .. } => {
                static STEP: LazyLock<Fingerprint> = LazyLock::new(|| hash(b"step", &[]));
                static POLL: LazyLock<Fingerprint> =
                    LazyLock::new(|| hash(b"wait-for-condition", &[]));
                static HTTP: LazyLock<Fingerprint> = LazyLock::new(|| hash(b"http", &[]));
                match kind {
                    StepKind::Step => *STEP,
                    StepKind::WaitForCondition => *POLL,
                    StepKind::Http => *HTTP,
                }
            }
            Call::Http { request, .. } => request,
            Call::Wait { seconds, .. } => hash(b"wait", &seconds.to_le_bytes()),
            Call::WallClock => hash(b"wall-clock", &[]),
            Call::MonotonicClock => hash(b"monotonic-clock", &[]),
            Call::Random { len } => hash(b"random", &len.to_le_bytes()),
            Call::Context { kind, .. } => hash(b"context", kind.subtype().as_bytes()),
            Call::Invoke {
                workflow,
                input,
                tenant,
                ..
            } => {
                let mut args = workflow.as_bytes().to_vec();
                args.push(0);
                args.extend_from_slice(input.as_bytes());
                // Without a tenant, the fingerprint invokes always had.
                if let Some(tenant) = tenant {
                    args.push(0);
                    args.extend_from_slice(tenant.as_bytes());
                }
                hash(b"invoke", &args)
            }
            Call::Callback {
                timeout_seconds,
                heartbeat_timeout_seconds,
                ..
            } => {
                let mut args = [0u8; 16];
                args[..8].copy_from_slice(&timeout_seconds.to_le_bytes());
                args[8..].copy_from_slice(&heartbeat_timeout_seconds.to_le_bytes());
                hash(b"callback", &args)
            }
        }
    }

    /// Whether the recorded `event` is this call: same type, same name, same
    /// argument fingerprint.
    pub fn matches(&self, event: &Event) -> bool {
        match (*self, event) {
            (
                Call::Step { name, .. } | Call::Http { name, .. },
                Event::StepStarted {
                    name: recorded,
                    fingerprint,
                    ..
                },
            )
            | (
                Call::Wait { name, .. },
                Event::WaitStarted {
                    name: recorded,
                    fingerprint,
                    ..
                },
            )
            | (
                Call::Invoke { name, .. },
                Event::InvokeStarted {
                    name: recorded,
                    fingerprint,
                    ..
                },
            )
            | (
                Call::Context { name, .. },
                Event::ContextStarted {
                    name: recorded,
                    fingerprint,
                    ..
                },
            )
            | (
                Call::Callback { name, .. },
                Event::CallbackStarted {
                    name: recorded,
                    fingerprint,
                    ..
                },
            ) => {
                name == recorded
                    && (*fingerprint == UNKNOWN_FINGERPRINT || *fingerprint == self.fingerprint())
            }
            (Call::WallClock, Event::WallClock { .. }) => true,
            (Call::MonotonicClock, Event::MonotonicClock { .. }) => true,
            (Call::Random { len }, Event::Random { bytes, .. }) => bytes.len() as u64 == len,
            _ => false,
        }
    }
}

fn hash(kind: &[u8], args: &[u8]) -> Fingerprint {
    let mut hasher = blake3::Hasher::new();
    hasher.update(kind).update(b"\0").update(args);
    u64::from_le_bytes(
        hasher.finalize().as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

impl fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Call::Step {
                name,
                kind: StepKind::Step,
            } => write!(f, "step {name:?}")?,
            Call::Step {
                name,
                kind: StepKind::WaitForCondition,
            } => write!(f, "wait_for_condition {name:?}")?,
            Call::Step {
                name,
                kind: StepKind::Http,
            }
            | Call::Http { name, .. } => write!(f, "HTTP request {name:?}")?,
            Call::Wait { name, seconds } => write!(f, "wait {name:?} of {seconds} s")?,
            Call::WallClock => write!(f, "wall-clock read")?,
            Call::MonotonicClock => write!(f, "monotonic-clock read")?,
            Call::Random { len } => write!(f, "random read of {len} bytes")?,
            Call::Context { name, kind } => write!(f, "context {name:?} ({})", kind.subtype())?,
            Call::Invoke { name, workflow, .. } => {
                write!(f, "invoke {name:?} of workflow {workflow:?}")?
            }
            Call::Callback {
                name,
                timeout_seconds,
                heartbeat_timeout_seconds,
            } => write!(
                f,
                "callback {name:?} (timeout {timeout_seconds} s, heartbeat timeout {heartbeat_timeout_seconds} s)"
            )?,
        }
        match self {
            Call::Wait { .. } | Call::Invoke { .. } | Call::Http { .. } => {
                write!(f, " (fingerprint {:016x})", self.fingerprint())
            }
            _ => Ok(()),
        }
    }
}

/// How a recorded call event reads in a divergence report.
pub fn describe_recorded(event: &Event) -> String {
    match event {
        Event::StepStarted {
            name,
            kind: StepKind::Http,
            fingerprint,
            ..
        } => Call::Http {
            name,
            request: *fingerprint,
        }
        .to_string(),
        Event::StepStarted { name, kind, .. } => Call::Step { name, kind: *kind }.to_string(),
        Event::WaitStarted {
            name,
            seconds,
            fingerprint,
            ..
        } => format!("wait {name:?} of {seconds} s (fingerprint {fingerprint:016x})"),
        Event::WallClock { .. } => "wall-clock read".into(),
        Event::MonotonicClock { .. } => "monotonic-clock read".into(),
        Event::Random { bytes, .. } => format!("random read of {} bytes", bytes.len()),
        Event::ContextStarted { name, kind, .. } => Call::Context { name, kind: *kind }.to_string(),
        Event::InvokeStarted {
            name,
            workflow,
            fingerprint,
            ..
        } => format!("invoke {name:?} of workflow {workflow:?} (fingerprint {fingerprint:016x})"),
        Event::CallbackStarted {
            name,
            timeout_seconds,
            heartbeat_timeout_seconds,
            ..
        } => Call::Callback {
            name,
            timeout_seconds: *timeout_seconds,
            heartbeat_timeout_seconds: *heartbeat_timeout_seconds,
        }
        .to_string(),
        other => format!("{other:?}"),
    }
}
