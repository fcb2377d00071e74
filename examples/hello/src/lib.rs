//! Two steps around a 10-second wait: run it and watch it suspend and resume.
//!
//! `cairn run examples/hello --input '{"name":"Ada"}'`

use cairn::{Context, Error};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    name: String,
}

fn hello(ctx: &mut Context, input: Input) -> Result<String, Error> {
    let greeting = ctx.step("greet", || {
        Ok::<_, Error>(format!("Hello, {}!", input.name))
    })?;
    ctx.info("greeting composed; waiting 10 seconds");
    ctx.wait("pause", Duration::from_secs(10))?;
    let signed = ctx.step("sign", || {
        Ok::<_, Error>(format!("{greeting} Signed, Cairn."))
    })?;
    ctx.info("done");
    Ok(signed)
}

cairn::workflow!(hello);
