//! wit-bindgen's bindings for the `cairn:workflow` world. Private: authors use
//! [`crate::Context`] and [`crate::workflow!`].

wit_bindgen::generate!({
    path: "../wit",
    world: "workflow",
    pub_export_macro: true,
    default_bindings_module: "::cairn::__private::bindings",
    runtime_path: "::cairn::__private::wit_bindgen::rt",
});

pub use self::cairn::workflow::{durable, execution, log, types};
