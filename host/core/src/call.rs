//! A guest's import call as replay sees it, its fingerprint, and how it is
//! named in divergence reports.

use crate::event::{Event, Fingerprint};
use std::fmt;

/// An import call that replay answers in order and checks against the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call<'a> {
    Step { name: &'a str },
    Wait { name: &'a str, seconds: u64 },
    WallClock,
    MonotonicClock,
    Random { len: u64 },
}

impl Call<'_> {
    /// blake3 over the call's type, name and arguments, truncated to 8 bytes:
    /// enough to tell two calls apart, small enough to store with every record.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = blake3::Hasher::new();
        match *self {
            Call::Step { name } => {
                hasher.update(b"step\0").update(name.as_bytes());
            }
            Call::Wait { name, seconds } => {
                hasher
                    .update(b"wait\0")
                    .update(name.as_bytes())
                    .update(b"\0")
                    .update(&seconds.to_le_bytes());
            }
            Call::WallClock => {
                hasher.update(b"wall-clock");
            }
            Call::MonotonicClock => {
                hasher.update(b"monotonic-clock");
            }
            Call::Random { len } => {
                hasher.update(b"random\0").update(&len.to_le_bytes());
            }
        }
        let bytes = hasher.finalize();
        u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// Whether the recorded `event` is this call (same type, name, arguments).
    pub fn matches(&self, event: &Event) -> bool {
        match (*self, event) {
            (Call::Step { .. }, Event::StepStarted { fingerprint, .. })
            | (Call::Wait { .. }, Event::WaitStarted { fingerprint, .. }) => {
                *fingerprint == self.fingerprint()
            }
            (Call::WallClock, Event::WallClock { .. }) => true,
            (Call::MonotonicClock, Event::MonotonicClock { .. }) => true,
            (Call::Random { len }, Event::Random { bytes }) => bytes.len() as u64 == len,
            _ => false,
        }
    }
}

impl fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Call::Step { name } => write!(f, "step {name:?}")?,
            Call::Wait { name, seconds } => write!(f, "wait {name:?} of {seconds} s")?,
            Call::WallClock => write!(f, "wall-clock read")?,
            Call::MonotonicClock => write!(f, "monotonic-clock read")?,
            Call::Random { len } => write!(f, "random read of {len} bytes")?,
        }
        match self {
            Call::Step { .. } | Call::Wait { .. } => {
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
            name, fingerprint, ..
        } => format!("step {name:?} (fingerprint {fingerprint:016x})"),
        Event::WaitStarted {
            name,
            seconds,
            fingerprint,
            ..
        } => format!("wait {name:?} of {seconds} s (fingerprint {fingerprint:016x})"),
        Event::WallClock { .. } => "wall-clock read".into(),
        Event::MonotonicClock { .. } => "monotonic-clock read".into(),
        Event::Random { bytes } => format!("random read of {} bytes", bytes.len()),
        other => format!("{other:?}"),
    }
}
