//! `invoke`: a parent workflow asks the `child` workflow for a quote, and
//! falls back when the child fails.
//!
//! `cairn deploy child examples/child && cairn run examples/parent --input '{"units":4}'`

use cairn::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Request {
    units: u32,
    #[serde(default)]
    wait_seconds: u64,
}

#[derive(Deserialize, Serialize, Debug)]
struct Quote {
    units: u32,
    cents: u64,
}

fn parent(ctx: &mut Context, request: Request) -> Result<String, Error> {
    match ctx.invoke::<_, Quote>("quote", "child", &request) {
        Ok(quote) => Ok(format!("{} units for {} cents", quote.units, quote.cents)),
        Err(error) if error.error_type() == "TooManyUnits" => {
            Ok(format!("no quote: {}", error.message()))
        }
        Err(error) => Err(error),
    }
}

cairn::workflow!(parent);
