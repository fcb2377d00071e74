//! The HTTP allowlist as operators and clients write it (`--allow-http`,
//! `CAIRN_ALLOW_HTTP`, a deploy's `X-Cairn-Allow-Http`), and the check of
//! a guest's request URI against it: parse errors are messages, never
//! panics; a parsed list prints back to itself.
#![no_main]

#[path = "../../host/engine/src/limits/http_policy.rs"]
#[allow(dead_code)]
mod policy;

use libfuzzer_sys::fuzz_target;
use policy::HttpPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the list, the rest a request URI.
    let (list, uri) = text.split_once('\n').unwrap_or((text, "http://127.0.0.1/"));
    let Ok(allow) = HttpPolicy::parse_allowlist(list) else {
        return;
    };
    let printed: Vec<String> = allow.iter().map(ToString::to_string).collect();
    let again = HttpPolicy::parse_allowlist(&printed.join(",")).expect("a printed list parses");
    assert_eq!(again, allow);
    let policy = HttpPolicy {
        allow,
        ..HttpPolicy::default()
    };
    let _ = policy.check_entries(&policy.allow);
    if let Ok(uri) = uri.parse::<http::Uri>() {
        let _ = policy.refusal(&uri);
    }
});
