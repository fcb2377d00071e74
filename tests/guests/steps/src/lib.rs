//! `count` sequential steps; each body logs "body ran: step-N" (so a test
//! can count how often bodies run) and may sleep `sleep_ms` inside the body.
//! With `wait_after` set, waits `wait_seconds` after that many steps. With
//! `clock_reads` set, reads the clock that many times in workflow code
//! after each step.

use cairn::{Context, Error, Level, RetryStrategy, StepConfig};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    count: u32,
    #[serde(default)]
    sleep_ms: u64,
    wait_after: Option<u32>,
    #[serde(default = "one")]
    wait_seconds: u64,
    /// Make this step fail with a recorded error.
    fail_at: Option<u32>,
    #[serde(default)]
    clock_reads: u32,
}

fn one() -> u64 {
    1
}

fn steps(ctx: &mut Context, input: Input) -> Result<u64, Error> {
    let mut sum = 0u64;
    for i in 1..=input.count {
        // No retries: this guest counts how often each body runs.
        let once = StepConfig {
            retry: RetryStrategy::none(),
            ..StepConfig::default()
        };
        let result = ctx.step_with(&format!("step-{i}"), once, || {
            cairn::log(Level::Info, format!("body ran: step-{i}"));
            if input.sleep_ms > 0 {
                std::thread::sleep(Duration::from_millis(input.sleep_ms));
            }
            if input.fail_at == Some(i) {
                return Err(Error::new("StepBroke", format!("step {i} broke")));
            }
            Ok(u64::from(i) * u64::from(i))
        });
        match result {
            Ok(value) => sum += value,
            Err(error) if error.error_type() == "StepBroke" => sum += 1_000_000,
            Err(error) => return Err(error),
        }
        for _ in 0..input.clock_reads {
            std::hint::black_box(std::time::SystemTime::now());
        }
        if input.wait_after == Some(i) {
            ctx.wait("pause", Duration::from_secs(input.wait_seconds))?;
        }
    }
    Ok(sum)
}

cairn::workflow!(steps);
