//! A payment that waits for a person's approval, for at most a while.
//!
//! `cairn run examples/approval --input '{"amount_cents":12000,"approver":"ada"}'`
//! prints the callback's id; in another terminal:
//! `cairn callback succeed ID '{"approved":true,"by":"ada"}'`.

use cairn::{CallbackConfig, Context, Error};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Request {
    amount_cents: u64,
    approver: String,
    #[serde(default = "one_day")]
    timeout_seconds: u64,
    /// 0: no heartbeat needed.
    #[serde(default)]
    heartbeat_seconds: u64,
}

fn one_day() -> u64 {
    24 * 3600
}

#[derive(Deserialize)]
struct Decision {
    approved: bool,
    #[serde(default)]
    by: String,
}

#[derive(Serialize)]
struct Outcome {
    status: String,
    detail: String,
}

fn approval(ctx: &mut Context, request: Request) -> Result<Outcome, Error> {
    let config = CallbackConfig {
        timeout: Some(Duration::from_secs(request.timeout_seconds)),
        heartbeat_timeout: (request.heartbeat_seconds > 0)
            .then(|| Duration::from_secs(request.heartbeat_seconds)),
    };
    let approver = request.approver.clone();
    let decision = ctx.wait_for_callback::<Decision, Error>("approval", config, |id| {
        // A real workflow would send this to the approver (mail, chat, a ticket).
        cairn::log(
            cairn::Level::Info,
            format!("asking {approver}: cairn callback succeed {id} '{{\"approved\":true}}'"),
        );
        Ok(())
    });
    let (status, detail) = match decision {
        Ok(Decision { approved: true, by }) => {
            let receipt = ctx.step("pay", || {
                Ok::<_, Error>(format!(
                    "paid {} cents, approved by {by}",
                    request.amount_cents
                ))
            })?;
            ("paid", receipt)
        }
        Ok(Decision {
            approved: false,
            by,
        }) => ("rejected", format!("rejected by {by}")),
        Err(error)
            if error.error_type() == "Callback.Timeout"
                || error.error_type() == "Callback.Heartbeat" =>
        {
            ("expired", error.to_string())
        }
        Err(error) => return Err(error),
    };
    Ok(Outcome {
        status: status.into(),
        detail,
    })
}

cairn::workflow!(approval);
