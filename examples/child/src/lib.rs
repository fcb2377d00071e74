//! The workflow `examples/parent` invokes: it quotes a price for a number
//! of units, after a short durable wait; more than 100 units fail.

use cairn::{Context, Error};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Request {
    units: u32,
    #[serde(default)]
    wait_seconds: u64,
}

#[derive(Serialize)]
struct Quote {
    units: u32,
    cents: u64,
}

fn child(ctx: &mut Context, request: Request) -> Result<Quote, Error> {
    if request.units > 100 {
        return Err(Error::new(
            "TooManyUnits",
            format!("{} units is more than 100", request.units),
        ));
    }
    if request.wait_seconds > 0 {
        ctx.wait("settle", Duration::from_secs(request.wait_seconds))?;
    }
    let cents = ctx.step("price", || {
        cairn::log(cairn::Level::Info, "body ran: price");
        Ok::<_, Error>(u64::from(request.units) * 250)
    })?;
    Ok(Quote {
        units: request.units,
        cents,
    })
}

cairn::workflow!(child);
