//! Version 2 of the flow in flow-v1: the wait's argument changed to 6 s.
const WAIT_SECONDS: u64 = 6;
const SEPARATOR: &str = "";
const PANIC_FIRST: bool = false;
include!("flow.rs");
