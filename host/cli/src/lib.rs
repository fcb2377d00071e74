//! What the `cairn` binary shares with its tests and benches: request
//! signing (the server's authentication).

pub mod auth;
