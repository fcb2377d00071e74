//! `parallel` of two branches (one waits `wait_seconds` between two steps,
//! the other takes one step) followed by a child context of two steps.
//! With `flat`, the branches run in the parallel's own context (FLAT).

use cairn::{BatchConfig, Branch, Context, Error, Nesting};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    wait_seconds: u64,
    #[serde(default)]
    flat: bool,
}

fn step(ctx: &mut Context, name: &str) -> Result<String, Error> {
    ctx.step(name, || {
        cairn::log(cairn::Level::Info, format!("body ran: {name}"));
        Ok::<_, Error>(name.to_uppercase())
    })
}

fn branches(ctx: &mut Context, input: Input) -> Result<String, Error> {
    let slow: Branch<'_, String> = Box::new(|ctx| {
        let first = step(ctx, "slow-1")?;
        ctx.wait("nap", Duration::from_secs(input.wait_seconds))?;
        Ok(format!("{first}+{}", step(ctx, "slow-2")?))
    });
    let quick: Branch<'_, String> = Box::new(|ctx| step(ctx, "quick"));
    let config = BatchConfig {
        nesting: if input.flat {
            Nesting::Flat
        } else {
            Nesting::Nested
        },
        ..BatchConfig::default()
    };
    let both = ctx
        .parallel("both", vec![slow, quick], config)?
        .into_results()?;
    let tail = ctx.run_in_child_context("tail", |ctx| {
        Ok(format!("{}+{}", step(ctx, "tail-1")?, step(ctx, "tail-2")?))
    })?;
    Ok(format!("{}|{tail}", both.join(",")))
}

cairn::workflow!(branches);
