//! Version 1 of a flow: step "a", wait "w" of 5 s, step "b"; returns "ab".
const WAIT_SECONDS: u64 = 5;
const SEPARATOR: &str = "";
const PANIC_FIRST: bool = false;
include!("../../flow-v2/src/flow.rs");
