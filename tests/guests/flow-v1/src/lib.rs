//! Version 1 of a flow: step "a", wait "w" of 5 s, step "b".
const WAIT_SECONDS: u64 = 5;
include!("../../flow-v2/src/flow.rs");
