//! An HTTP exchange record as the journal (or Lambda's backend) returns
//! it: a record that parses has a fingerprint and a readable body.
#![no_main]

use cairn_core::exchange::ExchangeRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(record) = ExchangeRecord::parse(text) {
        assert!(record.fingerprint().is_some());
        let _ = record.body();
        let again = ExchangeRecord::parse(&record.to_json()).expect("a record parses back");
        assert_eq!(again, record);
    }
});
