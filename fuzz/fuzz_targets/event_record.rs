//! The store's event records (postcard): whatever the bytes of a corrupt
//! or hostile store, decoding fails cleanly or yields an event that
//! encodes back to a record decoding to the same event, and the history
//! API can show it.
#![no_main]

use cairn_core::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = postcard::from_bytes::<Event>(data) else {
        return;
    };
    let encoded = postcard::to_stdvec(&event).expect("a decoded event encodes");
    let again: Event = postcard::from_bytes(&encoded).expect("an encoded event decodes");
    assert_eq!(again, event);
    let _ = cairn_core::history::aws_events("fuzz", std::slice::from_ref(&event));
});
