//! Version 3 of the flow in flow-v1: the same calls, another result ("a+b").
const WAIT_SECONDS: u64 = 5;
const SEPARATOR: &str = "+";
const PANIC_FIRST: bool = false;
include!("../../flow-v2/src/flow.rs");
