//! Version 4 of the flow in flow-v1: panics before its first call.
const WAIT_SECONDS: u64 = 5;
const SEPARATOR: &str = "";
const PANIC_FIRST: bool = true;
include!("../../flow-v2/src/flow.rs");
