//! `wasi:clocks`: the wall clock and the monotonic clock, journaled.
//! Resolution queries and timer subscriptions stay wasmtime-wasi's, on a
//! monotonic clock of the journaled one's scale ([`EpochClock`]).

use super::WASI_VERSION;
use crate::invocation::HostState;
use wasmtime::StoreContextMut;
use wasmtime::component::Linker;
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;

pub(super) fn shadow(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker
        .instance(&format!("wasi:clocks/wall-clock@{WASI_VERSION}"))?
        .func_wrap(
            "now",
            |mut store: StoreContextMut<'_, HostState>, (): ()| {
                let state = store.data_mut();
                match state.replayer.wall_clock(wall_clock_now) {
                    Ok((seconds, nanoseconds)) => Ok((Datetime {
                        seconds,
                        nanoseconds,
                    },)),
                    Err(fault) => state.abort(fault),
                }
            },
        )?;
    linker
        .instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?
        .func_wrap(
            "now",
            |mut store: StoreContextMut<'_, HostState>, (): ()| {
                let state = store.data_mut();
                match state.replayer.monotonic_clock(epoch_nanos) {
                    Ok(nanos) => Ok((nanos,)),
                    Err(fault) => state.abort(fault),
                }
            },
        )?;
    Ok(())
}

/// The monotonic clock's live reading: nanoseconds since the epoch, so it
/// is monotonic across processes and hosts, which a per-process clock would
/// not be.
fn epoch_nanos() -> u64 {
    let (seconds, nanoseconds) = wall_clock_now();
    seconds * 1_000_000_000 + u64::from(nanoseconds)
}

/// The monotonic clock wasmtime-wasi keeps for itself, on the journaled
/// clock's scale: `subscribe-instant` then waits until an instant the guest
/// computed from a reading (live: the time left; replayed, from an old
/// reading: nothing).
pub(crate) struct EpochClock;

impl wasmtime_wasi::HostMonotonicClock for EpochClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        epoch_nanos()
    }
}

fn wall_clock_now() -> (u64, u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs(), now.subsec_nanos())
}
