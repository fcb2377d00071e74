//! wasmtime's bindings for the `cairn:workflow` world (see `wit/`).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "workflow",
    imports: { default: trappable },
});
