//! `cairn:workflow/durable`: steps, waits, callbacks and contexts, answered by the
//! replay core.

use crate::bindings::ErrorObject;
use crate::bindings::cairn::workflow::durable::{
    Attempt, CallbackOptions, CallbackState, ContextBegin, ContextKind, Host, InvokeOptions,
    Progress, RetryReason, Semantics, StepBegin, StepKind, StepOptions,
};
use crate::invocation::{Abort, HostState, error_size, from_wit, now_millis, to_wit};
use crate::limits::MAX_PAYLOAD_BYTES;

impl Host for HostState {
    fn begin_step(&mut self, name: String, options: StepOptions) -> wasmtime::Result<StepBegin> {
        self.check_name(&name)?;
        self.pause_point()?;
        let kind = match options.kind {
            StepKind::Step => cairn_core::StepKind::Step,
            StepKind::WaitForCondition => cairn_core::StepKind::WaitForCondition,
        };
        let semantics = match options.semantics {
            Semantics::AtLeastOncePerRetry => cairn_core::Semantics::AtLeastOncePerRetry,
            Semantics::AtMostOncePerRetry => cairn_core::Semantics::AtMostOncePerRetry,
        };
        let begin = match self
            .replayer
            .begin_step(&name, kind, semantics, now_millis())
        {
            Ok(begin) => begin,
            Err(fault) => return self.abort(fault),
        };
        if matches!(
            begin,
            cairn_core::StepBegin::Run { .. } | cairn_core::StepBegin::Interrupted { .. }
        ) {
            // Invariant 4: what the body could depend on is durable before it
            // runs (and an at-most-once attempt's start, before it runs at all).
            if let Err(error) = self.persist() {
                return self.abort(Abort::Storage(error));
            }
        }
        Ok(match begin {
            cairn_core::StepBegin::Run { attempt, state } => StepBegin::Run(Attempt {
                number: attempt,
                state,
            }),
            cairn_core::StepBegin::Interrupted { attempt } => StepBegin::Interrupted(attempt),
            cairn_core::StepBegin::Succeeded(result) => StepBegin::Succeeded(result),
            cairn_core::StepBegin::Failed(error) => StepBegin::Failed(to_wit(error)),
            cairn_core::StepBegin::Pending => StepBegin::Pending,
        })
    }

    fn end_step(&mut self, result: Result<String, ErrorObject>) -> wasmtime::Result<()> {
        let result = self.checked("a step", result)?;
        let answer = self.replayer.end_step(result, now_millis());
        self.answer(answer)
    }

    fn retry_step(&mut self, reason: RetryReason, delay_seconds: u64) -> wasmtime::Result<()> {
        let reason = match reason {
            RetryReason::Failed(error) => {
                let error = from_wit(error);
                self.check_payload("a step's error", error_size(&error))?;
                cairn_core::RetryReason::Failed(error)
            }
            RetryReason::Polled(state) => {
                self.check_payload("a poll's state", state.len())?;
                cairn_core::RetryReason::Polled(state)
            }
        };
        let answer = self
            .replayer
            .retry_step(reason, delay_seconds, now_millis());
        self.answer(answer)
    }

    fn create_callback(
        &mut self,
        name: String,
        options: CallbackOptions,
    ) -> wasmtime::Result<String> {
        self.check_name(&name)?;
        let answer = self.replayer.create_callback(
            &name,
            options.timeout_seconds,
            options.heartbeat_timeout_seconds,
            new_callback_id,
            now_millis(),
        );
        let local = self.answer(answer)?;
        // A backend that names callbacks itself (Lambda's) does so when the
        // callback is checkpointed: the guest gets that name.
        match self.persist_naming_callback(&local) {
            Ok(id) => Ok(id),
            Err(error) => self.abort(Abort::Storage(error)),
        }
    }

    fn wait_callback(&mut self, id: String) -> wasmtime::Result<CallbackState> {
        let answer = self.replayer.wait_callback(&id);
        self.answer(answer).map(callback_state)
    }

    fn begin_context(&mut self, name: String, kind: ContextKind) -> wasmtime::Result<ContextBegin> {
        self.check_name(&name)?;
        let kind = match kind {
            ContextKind::Child => cairn_core::ContextKind::Child,
            ContextKind::Parallel => cairn_core::ContextKind::Parallel,
            ContextKind::ParallelBranch => cairn_core::ContextKind::ParallelBranch,
            ContextKind::Map => cairn_core::ContextKind::Map,
            ContextKind::MapIteration => cairn_core::ContextKind::MapIteration,
            ContextKind::WaitForCallback => cairn_core::ContextKind::WaitForCallback,
        };
        match self.replayer.begin_context(&name, kind, now_millis()) {
            Ok(cairn_core::ContextBegin::Run) => Ok(ContextBegin::Run),
            Ok(cairn_core::ContextBegin::Succeeded(result)) => Ok(ContextBegin::Succeeded(result)),
            Ok(cairn_core::ContextBegin::Failed(error)) => Ok(ContextBegin::Failed(to_wit(error))),
            Err(fault) => self.abort(fault),
        }
    }

    fn end_context(&mut self, result: Result<String, ErrorObject>) -> wasmtime::Result<()> {
        // A result too large to record is rebuilt on replay by running the
        // context again over its recorded children (ReplayChildren).
        if matches!(&result, Ok(json) if json.len() > MAX_PAYLOAD_BYTES) {
            let answer = self.replayer.end_context_unrecorded(now_millis());
            return self.answer(answer);
        }
        let result = self.checked("a context", result)?;
        let answer = self.replayer.end_context(result, now_millis());
        self.answer(answer)
    }

    fn invoke(
        &mut self,
        name: String,
        workflow: String,
        input: String,
    ) -> wasmtime::Result<CallbackState> {
        self.invoke_with(name, workflow, input, InvokeOptions { tenant_id: None })
    }

    fn invoke_with(
        &mut self,
        name: String,
        workflow: String,
        input: String,
        options: InvokeOptions,
    ) -> wasmtime::Result<CallbackState> {
        self.check_name(&name)?;
        self.check_payload("an invocation's input", input.len())?;
        if let Some(tenant) = &options.tenant_id {
            self.check_name(tenant)?;
        }
        let answer = self.replayer.invoke(
            &name,
            &workflow,
            &input,
            options.tenant_id.as_deref(),
            now_millis(),
        );
        self.answer(answer).map(callback_state)
    }

    fn has_recorded_call(&mut self) -> wasmtime::Result<bool> {
        Ok(self.replayer.is_replaying())
    }

    fn suspend_context(&mut self) -> wasmtime::Result<()> {
        let answer = self.replayer.suspend_context();
        self.answer(answer)
    }

    fn wait(&mut self, name: String, seconds: u64) -> wasmtime::Result<Progress> {
        self.check_name(&name)?;
        match self.replayer.wait(&name, seconds, now_millis()) {
            Ok(cairn_core::Progress::Done) => Ok(Progress::Done),
            Ok(cairn_core::Progress::Pending) => Ok(Progress::Pending),
            Err(fault) => self.abort(fault),
        }
    }
}

impl crate::bindings::cairn::workflow::types::Host for HostState {}

/// A callback's or an invocation's state, for the guest.
fn callback_state(state: cairn_core::CallbackState) -> CallbackState {
    match state {
        cairn_core::CallbackState::Succeeded(result) => CallbackState::Succeeded(result),
        cairn_core::CallbackState::Failed(error) => CallbackState::Failed(to_wit(error)),
        cairn_core::CallbackState::Pending => CallbackState::Pending,
    }
}

impl HostState {
    /// The guest's result for `what`, in the core's terms, within the payload limit.
    fn checked(
        &mut self,
        what: &str,
        result: Result<String, ErrorObject>,
    ) -> wasmtime::Result<Result<String, cairn_core::ErrorObject>> {
        let result = result.map_err(from_wit);
        match &result {
            Ok(payload) => self.check_payload(&format!("{what}'s result"), payload.len())?,
            Err(error) => self.check_payload(&format!("{what}'s error"), error_size(error))?,
        }
        Ok(result)
    }

    /// The core's answer, or the trap that stops the guest when it refused.
    fn answer<T>(&mut self, answer: Result<T, cairn_core::Fault>) -> wasmtime::Result<T> {
        match answer {
            Ok(value) => Ok(value),
            Err(fault) => self.abort(fault),
        }
    }
}

/// 128 random bits from the host's entropy, as hex: a callback id nobody can
/// guess. (Recorded with the callback, so replay hands out the same id.)
fn new_callback_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host's entropy source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
