//! `cairn:workflow/execution`: what the workflow may know of its own
//! execution. It is the same on every invocation (and on an offline
//! replay), so it is answered without a journal entry.

use crate::bindings::cairn::workflow::execution::{ExecutionInfo, Host};
use crate::invocation::HostState;

impl Host for HostState {
    fn info(&mut self) -> wasmtime::Result<ExecutionInfo> {
        let identity = &self.identity;
        Ok(ExecutionInfo {
            arn: identity.arn.clone(),
            name: identity.name.clone(),
            workflow: identity.workflow.clone(),
        })
    }
}
