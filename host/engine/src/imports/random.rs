//! `wasi:random`: every read, secure or not, is journaled; the insecure seed
//! is a constant of the execution.

use super::WASI_VERSION;
use crate::invocation::{Abort, HostState};
use crate::limits::MAX_RANDOM_BYTES;
use cairn_core::ErrorObject;
use wasmtime::StoreContextMut;
use wasmtime::component::Linker;

pub(super) fn shadow(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for (interface, bytes_fn, u64_fn) in [
        ("random", "get-random-bytes", "get-random-u64"),
        (
            "insecure",
            "get-insecure-random-bytes",
            "get-insecure-random-u64",
        ),
    ] {
        let mut instance = linker.instance(&format!("wasi:random/{interface}@{WASI_VERSION}"))?;
        instance.func_wrap(
            bytes_fn,
            |mut store: StoreContextMut<'_, HostState>, (len,): (u64,)| {
                Ok((read(store.data_mut(), len)?,))
            },
        )?;
        instance.func_wrap(
            u64_fn,
            |mut store: StoreContextMut<'_, HostState>, (): ()| {
                let bytes = read(store.data_mut(), 8)?;
                Ok((u64::from_le_bytes(bytes.try_into().expect("8 bytes")),))
            },
        )?;
    }
    linker
        .instance(&format!("wasi:random/insecure-seed@{WASI_VERSION}"))?
        .func_wrap(
            "insecure-seed",
            |store: StoreContextMut<'_, HostState>, (): ()| {
                Ok((store.data().replayer.insecure_seed(),))
            },
        )?;
    Ok(())
}

fn read(state: &mut HostState, len: u64) -> wasmtime::Result<Vec<u8>> {
    if len > MAX_RANDOM_BYTES {
        return state.abort(Abort::Fail(ErrorObject::new(
            "Runtime.InvalidOperation",
            format!("a random read of {len} bytes; the limit is {MAX_RANDOM_BYTES}"),
        )));
    }
    match state.replayer.random(len, live_random) {
        Ok(bytes) => Ok(bytes),
        Err(fault) => state.abort(fault),
    }
}

fn live_random(len: u64) -> Vec<u8> {
    let mut bytes = vec![0; len as usize];
    getrandom::fill(&mut bytes).expect("the host's entropy source failed");
    bytes
}
