//! Restocking through a stock service over HTTP.
//!
//! The stock level is read with a plain `cairn::http::get` in workflow code:
//! the host records the response, so a resumed workflow reads the same level
//! without asking again. The reservation is a step with retries: a 5xx or a
//! refused connection fails the attempt, and the step tries again later.
//!
//! Run it against the throwaway service in `tests/peers/http_service.py`
//! (see the README): requests may go only to hosts given with `--allow-http`.

use cairn::http::{self, Request};
use cairn::{Context, Error, RetryStrategy, StepConfig};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Input {
    /// The stock service, e.g. `http://127.0.0.1:8080`.
    service: String,
    item: String,
    /// Restock below this level.
    #[serde(default = "ten")]
    minimum: u64,
}

fn ten() -> u64 {
    10
}

#[derive(Deserialize)]
struct Stock {
    available: u64,
}

#[derive(Serialize, Deserialize)]
struct Reservation {
    reservation: String,
    quantity: u64,
}

#[derive(Serialize)]
struct Restocked {
    item: String,
    available: u64,
    reservation: Option<Reservation>,
}

fn restock(ctx: &mut Context, input: Input) -> Result<Restocked, Error> {
    // Durable on its own: recorded once, replayed ever after.
    let stock: Stock = http::get(&format!("{}/stock/{}", input.service, input.item))?.json()?;
    ctx.info(format!("{} in stock: {}", input.item, stock.available));
    if stock.available >= input.minimum {
        return Ok(Restocked {
            item: input.item,
            available: stock.available,
            reservation: None,
        });
    }
    let quantity = input.minimum * 2 - stock.available;
    let reservation = ctx.step_with(
        "reserve",
        StepConfig {
            retry: RetryStrategy::transient(),
            ..StepConfig::default()
        },
        || {
            Request::post(&format!("{}/reservations", input.service))
                .json(&serde_json::json!({ "item": input.item, "quantity": quantity }))
                .timeout(Duration::from_secs(10))
                .send()?
                .json::<Reservation>()
        },
    )?;
    ctx.info(format!(
        "reserved {} as {}",
        quantity, reservation.reservation
    ));
    Ok(Restocked {
        item: input.item,
        available: stock.available,
        reservation: Some(reservation),
    })
}

cairn::workflow!(restock);
