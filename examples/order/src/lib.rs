//! A realistic order flow. It reads the clock and draws random ids in
//! workflow code: the host records both, so a resumed order keeps its id and
//! its timestamp.
//!
//! `cairn run examples/order --input '{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}'`

use cairn::{Context, Error};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Orders above this are declined by the (pretend) payment provider.
const CARD_LIMIT_CENTS: u64 = 100_000;

#[derive(Deserialize)]
struct Order {
    customer: String,
    items: Vec<Item>,
}

#[derive(Deserialize, Serialize, Clone)]
struct Item {
    sku: String,
    quantity: u32,
    unit_cents: u64,
}

#[derive(Serialize)]
struct Receipt {
    order_id: String,
    customer: String,
    placed_at: u64,
    total_cents: u64,
    reservation: String,
    charge: String,
    tracking: String,
}

fn random_id(prefix: &str) -> Result<String, Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::new("Entropy", e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{hex}"))
}

fn order(ctx: &mut Context, order: Order) -> Result<Receipt, Error> {
    // Workflow code, not a step: both values are journaled by the host.
    let placed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::new("Clock", e.to_string()))?
        .as_secs();
    let order_id = random_id("ord")?;
    ctx.info(format!(
        "order {order_id} for {} placed at {placed_at}",
        order.customer
    ));

    let total_cents = ctx.step("price", || {
        if order.items.is_empty() {
            return Err(Error::new("EmptyOrder", "an order needs at least one item"));
        }
        Ok(order
            .items
            .iter()
            .map(|i| u64::from(i.quantity) * i.unit_cents)
            .sum::<u64>())
    })?;
    let reservation = ctx.step("reserve-stock", || random_id("res"))?;
    let charge = ctx.step("charge-card", || {
        if total_cents > CARD_LIMIT_CENTS {
            return Err(Error::new(
                "PaymentDeclined",
                format!("{total_cents} cents is over the card limit"),
            ));
        }
        random_id("ch")
    });
    let charge = match charge {
        Ok(charge) => charge,
        Err(declined) => {
            ctx.warn(format!("payment declined, releasing {reservation}"));
            ctx.step("release-stock", || Ok::<_, Error>(reservation.clone()))?;
            return Err(declined);
        }
    };
    ctx.wait("await-pickup", Duration::from_secs(2))?;
    let tracking = ctx.step("ship", || random_id("trk"))?;
    Ok(Receipt {
        order_id,
        customer: order.customer,
        placed_at,
        total_cents,
        reservation,
        charge,
        tracking,
    })
}

cairn::workflow!(order);
