//! `wasi:io`: the calls that wait (poll, block, blocking reads and writes),
//! bounded by the invocation's time budget. The budget's epoch interruption
//! stops wasm code, not a host call that waits: without this, a guest that
//! sleeps for a year, or waits on a stream nobody serves, would hold its
//! thread (and its instance) forever.

use super::WASI_VERSION;
use crate::invocation::{Abort, HostState};
use cairn_core::ErrorObject;
use std::future::Future;
use std::sync::atomic::Ordering;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi::p2::bindings::io::streams::{
    Host as _, HostInputStream as _, HostOutputStream as _, StreamError,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};

pub(super) fn shadow(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI_VERSION}"))?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, HostState>, (list,): (Vec<Resource<DynPollable>>,)| {
            store
                .data_mut()
                .bounded("wasi:io/poll.poll", |table| Box::pin(table.poll(list)))
                .and_then(|ready| ready)
                .map(|ready| (ready,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, HostState>, (pollable,): (Resource<DynPollable>,)| {
            store
                .data_mut()
                .bounded("pollable.block", |table| Box::pin(table.block(pollable)))
                .and_then(|done| done)
        },
    )?;
    let mut streams = linker.instance(&format!("wasi:io/streams@{WASI_VERSION}"))?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut store: StoreContextMut<'_, HostState>,
         (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            let state = store.data_mut();
            let written = state.bounded("output-stream.blocking-write-and-flush", |table| {
                Box::pin(table.blocking_write_and_flush(stream, bytes))
            })?;
            stream_result(&mut state.table, written).map(|r| (r,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-flush",
        |mut store: StoreContextMut<'_, HostState>, (stream,): (Resource<DynOutputStream>,)| {
            let state = store.data_mut();
            let flushed = state.bounded("output-stream.blocking-flush", |table| {
                Box::pin(table.blocking_flush(stream))
            })?;
            stream_result(&mut state.table, flushed).map(|r| (r,))
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.blocking-read",
        |mut store: StoreContextMut<'_, HostState>,
         (stream, len): (Resource<DynInputStream>, u64)| {
            let state = store.data_mut();
            let read = state.bounded("input-stream.blocking-read", |table| {
                Box::pin(table.blocking_read(stream, len))
            })?;
            stream_result(&mut state.table, read).map(|r| (r,))
        },
    )?;
    Ok(())
}

/// A stream call's result as the guest sees it (a trap stays a trap).
fn stream_result<T>(
    table: &mut ResourceTable,
    result: Result<T, wasmtime_wasi::p2::StreamError>,
) -> wasmtime::Result<Result<T, StreamError>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => table.convert_stream_error(error).map(Err),
    }
}

/// A wait on the resource table.
type Waiting<'t, T> = std::pin::Pin<Box<dyn Future<Output = T> + 't>>;

/// Resolves once the invocation is told to stop (checked every
/// `INTERRUPT_CHECK`); never without a flag (`cairn run`: nothing stops it).
pub(crate) async fn until_interrupted(flag: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>) {
    let Some(flag) = flag else {
        return std::future::pending().await;
    };
    while !flag.load(Ordering::Relaxed) {
        tokio::time::sleep(crate::limits::INTERRUPT_CHECK).await;
    }
}

impl HostState {
    /// Runs wasmtime-wasi's own `call` on the resource table until the
    /// invocation's budget runs out; then the invocation fails as a loop
    /// that never ends would.
    fn bounded<T>(
        &mut self,
        what: &str,
        call: impl for<'t> FnOnce(&'t mut ResourceTable) -> Waiting<'t, T>,
    ) -> wasmtime::Result<T> {
        let left = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        let table = &mut self.table;
        let interrupt = self.interrupt.clone();
        let waited = wasmtime_wasi::runtime::in_tokio(async {
            tokio::select! {
                waited = tokio::time::timeout(left, call(table)) => Some(waited),
                () = until_interrupted(interrupt) => None,
            }
        });
        match waited {
            None => self.abort(Abort::Interrupted),
            Some(Ok(value)) => Ok(value),
            Some(Err(_)) => {
                let error = ErrorObject::new(
                    "Runtime.TimeBudgetExceeded",
                    format!(
                        "the invocation ran longer than its time budget of {:?}, waiting in \
                         {what} (a sleep or a wait that never ends?)",
                        self.time_budget
                    ),
                );
                self.abort(Abort::Fail(error))
            }
        }
    }
}
