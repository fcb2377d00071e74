//! Workflows that go wrong on purpose, chosen by the input (and one that
//! sleeps on a clock instant).

use cairn::{Context, Error, RetryStrategy, Semantics, StepConfig};
use std::time::Duration;

fn misbehave(ctx: &mut Context, mode: String) -> Result<u64, Error> {
    // Logged, so that a test can tell when the guest has reached `mode`.
    ctx.step("before", || {
        cairn::log(cairn::Level::Info, format!("body ran: before {mode}"));
        Ok::<_, Error>(1u64)
    })?;
    match mode.as_str() {
        "spin" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        // Sleeps for an hour in workflow code, in a host call that waits.
        "oversleep" => {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
        "hog" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "panic" => panic!("the guest gave up on purpose"),
        // A step body that always panics (at least once per retry, no
        // retries): each crash ends the invocation, not the execution.
        "panic-in-step" => ctx.step_with(
            "fragile",
            StepConfig {
                retry: RetryStrategy::none(),
                semantics: Semantics::AtLeastOncePerRetry,
            },
            || -> Result<u64, Error> {
                cairn::log(cairn::Level::Info, "body ran: fragile");
                panic!("the step gave up on purpose")
            },
        ),
        // An at-most-once step whose first attempt exits the process; the
        // second (after a 1 s delay) succeeds.
        "exit-in-step" => ctx.step_with(
            "once",
            StepConfig {
                retry: RetryStrategy::fixed(Duration::from_secs(1)),
                semantics: Semantics::AtMostOncePerRetry,
            },
            || {
                let attempt = cairn::attempt();
                cairn::log(cairn::Level::Info, format!("body ran: once {attempt}"));
                if attempt == 1 {
                    std::process::exit(1);
                }
                Ok::<_, Error>(u64::from(attempt))
            },
        ),
        "ignore-pending" => {
            // Swallows the suspension instead of returning it.
            let _ = ctx.wait("ignored", Duration::from_secs(5));
            ctx.step("after", || Ok::<_, Error>(2u64))
        }
        // Sleeps until an instant computed from the (journaled) monotonic
        // clock, then suspends: the resume replays the sleep from the
        // recorded reading, so it is over at once. Returns the milliseconds
        // the clock says passed.
        "sleep-until" => {
            use wasip2::clocks::monotonic_clock;
            let start = monotonic_clock::now();
            monotonic_clock::subscribe_instant(start + 200_000_000).block();
            ctx.wait("pause", Duration::from_secs(1))?;
            Ok((monotonic_clock::now() - start) / 1_000_000)
        }
        "fail" => Err(Error::new("Refused", "the workflow refused").with_data(&42)),
        // A step result over the 256 KiB payload limit.
        "huge" => ctx
            .step("huge", || Ok::<_, Error>("x".repeat(300 * 1024)))
            .map(|text| text.len() as u64),
        other => Err(Error::new("UnknownMode", other.to_string())),
    }
}

cairn::workflow!(misbehave);
