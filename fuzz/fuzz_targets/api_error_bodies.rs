//! The error objects clients send the server's API (StopDurableExecution,
//! SendDurableExecutionCallbackFailure), read as the handlers read them
//! and recorded in the journal: whatever JSON arrives becomes an error
//! that prints back to itself and survives the store's encoding.
#![no_main]

use cairn_core::Event;
use cairn_core::history::{error_from_json, error_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let error = error_from_json(&value, "CallbackFailed");
    assert_eq!(
        error_from_json(&error_json(&error), "CallbackFailed"),
        error
    );
    let event = Event::ExecutionStopped { error, at: 0 };
    let record = postcard::to_stdvec(&event).expect("an event encodes");
    assert_eq!(postcard::from_bytes::<Event>(&record).unwrap(), event);
    let _ = cairn_core::history::aws_events("fuzz", std::slice::from_ref(&event));
});
