//! What Lambda's backend (or an exported history) hands the host: JSON
//! operations and history events, rebuilt into Cairn's journal. Anything
//! may fail to read; nothing may panic.
#![no_main]

use cairn_core::lambda::{journal_from, operation_from_json, operations_from_history};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // GetDurableExecutionState's operations, one by one.
    let operations: Vec<_> = items
        .iter()
        .filter_map(|item| operation_from_json(item).ok())
        .collect();
    if let Ok(journal) = journal_from(&operations) {
        let _ = cairn_core::history::aws_events("fuzz", &journal);
    }
    // A history export (`replay --history`).
    if let Ok(operations) = operations_from_history(&items) {
        let _ = journal_from(&operations);
    }
});
