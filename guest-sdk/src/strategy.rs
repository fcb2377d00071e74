//! Retry strategies for steps and wait strategies for `wait_for_condition`,
//! with AWS's defaults and presets (those of `aws-durable-execution-sdk-python`).
//!
//! A strategy runs only live, right after an attempt, and its decision (the
//! delay) is recorded by the host: jitter may use fresh randomness, and
//! replay never asks the strategy again.

use crate::Error;
use std::rc::Rc;
use std::time::Duration;

/// How a computed delay is spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// The delay as computed.
    None,
    /// Anywhere from 0 to the delay.
    Full,
    /// Half the delay plus anywhere from 0 to the other half.
    Half,
}

/// Exponential backoff: `initial_delay * backoff_rate^(attempt - 1)`, capped
/// at `max_delay`, jittered, rounded up to whole seconds (at least 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub backoff_rate: f64,
    pub jitter: Jitter,
}

impl Backoff {
    /// AWS's default for steps: 6 attempts, 5 s, x2, 60 s cap, full jitter.
    pub fn retry_default() -> Self {
        Backoff {
            max_attempts: 6,
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(60),
            backoff_rate: 2.0,
            jitter: Jitter::Full,
        }
    }

    /// AWS's default for `wait_for_condition`: 60 attempts, 5 s, x1.5, 300 s cap, full jitter.
    pub fn wait_default() -> Self {
        Backoff {
            max_attempts: 60,
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
            backoff_rate: 1.5,
            jitter: Jitter::Full,
        }
    }

    /// The delay after attempt `attempt` (1-based), in whole seconds.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(1000) as i32;
        let base = (self.initial_delay.as_secs_f64() * self.backoff_rate.powi(exponent))
            .min(self.max_delay.as_secs_f64());
        let jittered = match self.jitter {
            Jitter::None => base,
            Jitter::Full => unit_random() * base,
            Jitter::Half => base / 2.0 + unit_random() * (base / 2.0),
        };
        Duration::from_secs((jittered.ceil() as u64).max(1))
    }
}

/// A number in [0, 1) from the host's (live, unrecorded) randomness.
fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness is always available to a workflow");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether a failed attempt is tried again, and after how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryDecision {
    pub retry: bool,
    pub delay: Duration,
}

impl RetryDecision {
    pub fn retry_after(delay: Duration) -> Self {
        RetryDecision { retry: true, delay }
    }

    pub fn stop() -> Self {
        RetryDecision {
            retry: false,
            delay: Duration::ZERO,
        }
    }
}

/// Decides, after a step's attempt failed with an error, whether to try again.
/// `Default` is AWS's: [`Backoff::retry_default`], every error retryable.
#[derive(Clone)]
pub struct RetryStrategy(Rc<RetryFn>);

/// `(error, attempts_made) -> decision`.
type RetryFn = dyn Fn(&Error, u32) -> RetryDecision;

impl RetryStrategy {
    /// Any decision: `decide(error, attempts_made)`.
    pub fn custom(decide: impl Fn(&Error, u32) -> RetryDecision + 'static) -> Self {
        RetryStrategy(Rc::new(decide))
    }

    /// Retries every error with `backoff`.
    pub fn backoff(backoff: Backoff) -> Self {
        Self::backoff_for(backoff, Retryable::default())
    }

    /// Retries the errors `retryable` selects, with `backoff`.
    pub fn backoff_for(backoff: Backoff, retryable: Retryable) -> Self {
        RetryStrategy::custom(move |error, attempts| {
            if attempts >= backoff.max_attempts || !retryable.matches(error) {
                RetryDecision::stop()
            } else {
                RetryDecision::retry_after(backoff.delay_after(attempts))
            }
        })
    }

    /// Never retries.
    pub fn none() -> Self {
        Self::backoff(Backoff {
            max_attempts: 1,
            ..Backoff::retry_default()
        })
    }

    /// 3 attempts, x2 from 5 s, half jitter: brief network hiccups.
    pub fn transient() -> Self {
        Self::backoff(Backoff {
            max_attempts: 3,
            max_delay: Duration::from_secs(300),
            jitter: Jitter::Half,
            ..Backoff::retry_default()
        })
    }

    /// 5 attempts, x2 from 5 s up to 5 minutes: waiting for capacity.
    pub fn resource_availability() -> Self {
        Self::backoff(Backoff {
            max_attempts: 5,
            max_delay: Duration::from_secs(300),
            ..Backoff::retry_default()
        })
    }

    /// 10 attempts, x1.5 from 1 s up to a minute, no jitter.
    pub fn critical() -> Self {
        Self::backoff(Backoff {
            max_attempts: 10,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            backoff_rate: 1.5,
            jitter: Jitter::None,
        })
    }

    /// 5 attempts, `interval` apart, no jitter.
    pub fn fixed(interval: Duration) -> Self {
        Self::backoff(Backoff {
            max_attempts: 5,
            initial_delay: interval,
            max_delay: interval,
            backoff_rate: 1.0,
            jitter: Jitter::None,
        })
    }

    pub(crate) fn decide(&self, error: &Error, attempts_made: u32) -> RetryDecision {
        (self.0)(error, attempts_made)
    }
}

impl Default for RetryStrategy {
    fn default() -> Self {
        Self::backoff(Backoff::retry_default())
    }
}

/// Which errors a [`RetryStrategy::backoff_for`] retries: those whose message
/// contains one of `messages` or whose type is one of `types`. Both empty:
/// every error. (AWS's SDKs also take regular expressions; this takes
/// substrings.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retryable {
    pub messages: Vec<String>,
    pub types: Vec<String>,
}

impl Retryable {
    fn matches(&self, error: &Error) -> bool {
        (self.messages.is_empty() && self.types.is_empty())
            || self
                .messages
                .iter()
                .any(|m| error.message().contains(m.as_str()))
            || self.types.iter().any(|t| error.error_type() == t)
    }
}

/// What a `wait_for_condition` does after a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollDecision {
    /// The condition holds: the state is the result.
    Done,
    /// Poll again after this long.
    Again(Duration),
    /// Give up with this error.
    Fail(Error),
}

/// Decides, after each poll of a `wait_for_condition`, what comes next.
pub struct WaitStrategy<S>(Box<PollFn<S>>);

/// `(state, attempts_made) -> decision`.
type PollFn<S> = dyn Fn(&S, u32) -> PollDecision;

impl<S> WaitStrategy<S> {
    /// Polls while `should_continue(state)` holds, with AWS's default backoff
    /// ([`Backoff::wait_default`]); fails once its attempts are spent.
    pub fn polling_while(should_continue: impl Fn(&S) -> bool + 'static) -> Self {
        Self::polling_while_with(should_continue, Backoff::wait_default())
    }

    /// As [`WaitStrategy::polling_while`], with `backoff`.
    pub fn polling_while_with(
        should_continue: impl Fn(&S) -> bool + 'static,
        backoff: Backoff,
    ) -> Self {
        WaitStrategy(Box::new(move |state, attempts| {
            if !should_continue(state) {
                PollDecision::Done
            } else if attempts >= backoff.max_attempts {
                PollDecision::Fail(Error::new(
                    "WaitForConditionError",
                    format!(
                        "wait_for_condition exhausted {} attempts before the condition was met",
                        backoff.max_attempts
                    ),
                ))
            } else {
                PollDecision::Again(backoff.delay_after(attempts))
            }
        }))
    }

    /// Any decision: `decide(state, attempts_made)`.
    pub fn custom(decide: impl Fn(&S, u32) -> PollDecision + 'static) -> Self {
        WaitStrategy(Box::new(decide))
    }

    pub(crate) fn decide(&self, state: &S, attempts_made: u32) -> PollDecision {
        (self.0)(state, attempts_made)
    }
}
