//! Reads the wall clock, the monotonic clock and randomness `reads` times,
//! in two halves around a durable wait. A step records a digest of the first
//! half when it is first seen live; after the wait (a replay of the first
//! half) the workflow digests the first half again: the two must be equal.

use cairn::{Context, Error};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Deserialize)]
struct Input {
    reads: u32,
    #[serde(default = "one")]
    wait_seconds: u64,
    /// A step after the first half whose body sleeps this long (a point to
    /// kill the process at, with the first half's reads just made durable).
    #[serde(default)]
    slow_step_ms: u64,
}

fn one() -> u64 {
    1
}

#[derive(Serialize)]
struct Output {
    first_half_recorded: String,
    first_half_seen: String,
    all: String,
    monotonic_ok: bool,
}

/// FNV-1a, folded over every value read.
struct Digest(u64);

impl Digest {
    fn add(&mut self, value: u128) {
        for byte in value.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100000001b3);
        }
    }
}

fn read_some(n: u32, digest: &mut Digest, last: &mut Option<Instant>) -> Result<bool, Error> {
    let mut monotonic_ok = true;
    for _ in 0..n {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| Error::new("Clock", e.to_string()))?;
        let now = Instant::now();
        if let Some(previous) = *last {
            monotonic_ok &= now >= previous;
        }
        *last = Some(now);
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| Error::new("Entropy", e.to_string()))?;
        digest.add(wall.as_nanos());
        digest.add(u128::from_le_bytes(bytes));
    }
    Ok(monotonic_ok)
}

fn entropy(ctx: &mut Context, input: Input) -> Result<Output, Error> {
    ctx.info(format!("reading {} times", input.reads));
    let half = input.reads / 2;
    let mut digest = Digest(0xcbf29ce484222325);
    let mut last = None;
    let mut monotonic_ok = read_some(half, &mut digest, &mut last)?;
    let seen = format!("{:016x}", digest.0);
    let recorded = ctx.step("digest-first-half", || Ok::<_, Error>(seen.clone()))?;
    if input.slow_step_ms > 0 {
        ctx.step("slow", || {
            std::thread::sleep(Duration::from_millis(input.slow_step_ms));
            Ok::<_, Error>(())
        })?;
    }
    ctx.wait("between-halves", Duration::from_secs(input.wait_seconds))?;
    monotonic_ok &= read_some(input.reads - half, &mut digest, &mut last)?;
    Ok(Output {
        first_half_recorded: recorded,
        first_half_seen: seen,
        all: format!("{:016x}", digest.0),
        monotonic_ok,
    })
}

cairn::workflow!(entropy);
