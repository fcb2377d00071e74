//! `cairn:workflow/durable`: steps and waits, answered by the replay core.

use crate::bindings::ErrorObject;
use crate::bindings::cairn::workflow::durable::{Host, Progress, StepBegin};
use crate::invocation::{Abort, HostState, from_wit, now_millis, to_wit};

impl Host for HostState {
    fn begin_step(&mut self, name: String) -> wasmtime::Result<StepBegin> {
        match self.replayer.begin_step(&name, now_millis()) {
            Ok(cairn_core::StepBegin::Run) => {
                // Invariant 4: what the body could depend on is durable before it runs.
                if let Err(error) = self.persist() {
                    return self.abort(Abort::Storage(error));
                }
                Ok(StepBegin::Run)
            }
            Ok(cairn_core::StepBegin::Succeeded(result)) => Ok(StepBegin::Succeeded(result)),
            Ok(cairn_core::StepBegin::Failed(error)) => Ok(StepBegin::Failed(to_wit(error))),
            Err(fault) => self.abort(fault),
        }
    }

    fn end_step(&mut self, result: Result<String, ErrorObject>) -> wasmtime::Result<()> {
        if let Ok(payload) = &result {
            self.check_payload("a step's result", payload)?;
        }
        match self
            .replayer
            .end_step(result.map_err(from_wit), now_millis())
        {
            Ok(()) => Ok(()),
            Err(fault) => self.abort(fault),
        }
    }

    fn wait(&mut self, name: String, seconds: u64) -> wasmtime::Result<Progress> {
        match self.replayer.wait(&name, seconds, now_millis()) {
            Ok(cairn_core::Progress::Done) => Ok(Progress::Done),
            Ok(cairn_core::Progress::Pending) => Ok(Progress::Pending),
            Err(fault) => self.abort(fault),
        }
    }
}

impl crate::bindings::cairn::workflow::types::Host for HostState {}
