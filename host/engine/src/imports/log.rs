//! `cairn:workflow/log`: log lines reach the logger only when live (but for
//! `log-always`'s); an offline replay traces them all, in order with the
//! calls it replays.

use crate::bindings::cairn::workflow::log::{Host, Level};
use crate::invocation::{HostState, Traced};

/// Longest panic message kept for the error report.
const MAX_PANIC_MESSAGE: usize = 4096;

impl HostState {
    /// A log line: traced by an offline replay; else handed to the logger,
    /// unless the guest is replaying and the line is not to be `always` logged.
    fn log_line(&mut self, level: Level, message: String, always: bool) {
        if let Some(trace) = &mut self.trace {
            let replayed = self.replayer.take_replayed();
            trace.extend(replayed.into_iter().map(Traced::Replayed));
            trace.push(Traced::Log(level, message));
        } else if always || !self.replayer.is_replaying() {
            (self.logger)(level, &message);
        }
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log_line(level, message, false);
        Ok(())
    }

    fn log_always(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log_line(level, message, true);
        Ok(())
    }

    fn panicked(&mut self, mut message: String) -> wasmtime::Result<()> {
        if message.len() > MAX_PANIC_MESSAGE {
            let mut cut = MAX_PANIC_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        self.panic_message = Some(message);
        Ok(())
    }
}
