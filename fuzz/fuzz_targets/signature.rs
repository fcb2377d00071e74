//! The server's first look at a request: its Authorization header and the
//! headers it names, checked against the server's credentials. Whatever
//! arrives is refused with a reason or (never, by chance) accepted;
//! nothing panics.
#![no_main]

#[path = "../../host/cli/src/auth.rs"]
#[allow(dead_code)]
mod auth;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lines: the method, the request target, then headers as `name: value`;
    // after an empty line, the body.
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let method = lines.next().unwrap_or("GET");
    let target = lines.next().unwrap_or("/");
    let mut headers = http::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    let credentials = auth::Credentials {
        access_key_id: "AKCNFUZZ".into(),
        secret_access_key: "secret".into(),
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
    let _ = auth::verify(method, target, &headers, body.as_bytes(), &credentials, now);
});
