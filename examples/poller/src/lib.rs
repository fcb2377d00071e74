//! `wait_for_condition`: polls a (pretend) export job until it reports
//! done, carrying the job's state from one poll to the next and sleeping
//! durably between polls, with backoff.
//!
//! `cairn run examples/poller --input '{"step_percent":25}'`

use cairn::{Backoff, Context, Error, Jitter, WaitStrategy};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    /// How far the job gets between two polls.
    step_percent: u32,
    #[serde(default = "ten")]
    max_polls: u32,
}

fn ten() -> u32 {
    10
}

#[derive(Serialize, Deserialize, Default)]
struct Job {
    percent: u32,
    polls: u32,
}

fn poller(ctx: &mut Context, input: Input) -> Result<Job, Error> {
    let backoff = Backoff {
        max_attempts: input.max_polls,
        initial_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        backoff_rate: 1.5,
        jitter: Jitter::Full,
    };
    let job = ctx.wait_for_condition(
        "export-finished",
        Job::default(),
        |job, attempt| {
            cairn::log(
                cairn::Level::Info,
                format!("poll {attempt}: {}%", job.percent),
            );
            Ok(Job {
                percent: (job.percent + input.step_percent).min(100),
                polls: job.polls + 1,
            })
        },
        WaitStrategy::polling_while_with(|job: &Job| job.percent < 100, backoff),
    )?;
    ctx.info(format!("export finished after {} polls", job.polls));
    Ok(job)
}

cairn::workflow!(poller);
