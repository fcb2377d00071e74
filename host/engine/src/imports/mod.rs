//! Cairn's imports, one module per WIT interface, and the linker that holds
//! them. WASI comes from wasmtime-wasi with no filesystem, environment or
//! sockets; its clocks and random are shadowed by journaled versions.
//! Outgoing HTTP is wasmtime-wasi-http's, under Cairn's hooks and journal.

pub(crate) mod clocks;
mod durable;
mod execution;
pub(crate) mod http;
mod io;
mod log;
mod random;

use crate::bindings::Workflow;
use crate::invocation::HostState;
use anyhow::{Result, anyhow};
use wasmtime::component::{HasSelf, Linker};

/// The WASI 0.2 version wasmtime-wasi provides; guests' older 0.2.x imports
/// resolve to it, so the shadowing functions must use this name.
const WASI_VERSION: &str = "0.2.12";

pub(crate) fn linker(engine: &wasmtime::Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("{e}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
        .map_err(|e| anyhow!("{e}"))?;
    Workflow::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
        .map_err(|e| anyhow!("{e}"))?;
    linker.allow_shadowing(true);
    clocks::shadow(&mut linker).map_err(|e| anyhow!("{e}"))?;
    random::shadow(&mut linker).map_err(|e| anyhow!("{e}"))?;
    http::shadow(&mut linker).map_err(|e| anyhow!("{e}"))?;
    io::shadow(&mut linker).map_err(|e| anyhow!("{e}"))?;
    Ok(linker)
}
