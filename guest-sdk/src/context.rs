use crate::Error;
use crate::bindings::durable::{self, Progress, StepBegin};
use crate::bindings::log;
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Display;
use std::time::Duration;

/// Log levels for [`Context::log`].
pub use crate::bindings::log::Level;

/// The handle a workflow uses for durable operations.
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Context { _private: () }
    }

    /// Runs `body` once and records its result (JSON) or its error. When the
    /// step is already recorded, returns the record and does not run `body`.
    ///
    /// The body runs at least once: if the process dies before its result is
    /// recorded, it runs again on resume.
    pub fn step<T, E>(
        &mut self,
        name: &str,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        E: Into<Error>,
    {
        match durable::begin_step(name) {
            StepBegin::Succeeded(json) => decode(name, &json),
            StepBegin::Failed(error) => Err(Error::from_object(error)),
            StepBegin::Run => {
                let outcome = body().map_err(Into::into).and_then(|value| {
                    serde_json::to_string(&value)
                        .map(|json| (value, json))
                        .map_err(|error| {
                            Error::new(
                                "SerializationError",
                                format!("step {name:?}: its result cannot be serialized: {error}"),
                            )
                        })
                });
                match outcome {
                    Ok((value, json)) => {
                        durable::end_step(Ok(&json));
                        Ok(value)
                    }
                    Err(error) => {
                        durable::end_step(Err(&error.clone().into_object()));
                        Err(error)
                    }
                }
            }
        }
    }

    /// A durable timer: the workflow suspends (holding no compute) and
    /// resumes after `duration`, rounded up to whole seconds (1 s to 366 days).
    pub fn wait(&mut self, name: &str, duration: Duration) -> Result<(), Error> {
        let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
        if seconds == 0 {
            return Err(Error::new(
                "ValidationError",
                format!("wait {name:?}: a wait lasts at least 1 second"),
            ));
        }
        match durable::wait(name, seconds) {
            Progress::Done => Ok(()),
            Progress::Pending => Err(Error::pending()),
        }
    }

    /// True while the workflow re-runs recorded history.
    pub fn is_replaying(&self) -> bool {
        log::is_replaying()
    }

    /// Logs `message` unless the workflow is replaying. (In a step body,
    /// where `ctx` is borrowed, use [`crate::log`].)
    pub fn log(&self, level: Level, message: impl Display) {
        crate::log(level, message)
    }

    pub fn debug(&self, message: impl Display) {
        self.log(Level::Debug, message)
    }

    pub fn info(&self, message: impl Display) {
        self.log(Level::Info, message)
    }

    pub fn warn(&self, message: impl Display) {
        self.log(Level::Warn, message)
    }

    pub fn error(&self, message: impl Display) {
        self.log(Level::Error, message)
    }
}

fn decode<T: DeserializeOwned>(name: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|error| {
        Error::new(
            "SerializationError",
            format!("step {name:?}: its recorded result does not fit the type asked for: {error}"),
        )
    })
}
