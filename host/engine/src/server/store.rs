//! What the scheduler needs of a store, and nothing more: due times,
//! fenced claims, leases, and a cheap sign of other processes' commits.
//! The embedded SQLite store implements it; a store shared by several
//! machines (PostgreSQL, with `LISTEN`/`NOTIFY` for news) would implement
//! the same six calls, and the scheduler would not change.

use crate::sqlite::{Claim, Db, Execution, Gone};
use anyhow::Result;
use cairn_core::Millis;

pub trait ScheduleStore: Send + Sync {
    /// A value that changes whenever another process commits to the store:
    /// news that this server's own bell did not bring. O(1).
    fn change_token(&self) -> Result<i64>;

    /// When the earliest unclaimed, unfinished execution falls due.
    fn next_due(&self) -> Result<Option<Millis>>;

    /// Claims up to `limit` executions due by `now`, earliest first, each
    /// with a fencing token that every later write on its behalf checks.
    fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<(Execution, Claim)>>;

    /// Gives a claimed execution back, due again at `due` (or when news
    /// arrives), if the claim still holds.
    fn release(&self, claim: &Claim, due: Option<Millis>) -> Result<()>;

    /// Frees the executions of holders that are gone (leases lapsed, or
    /// processes of this host that exited): which holders, why, how many.
    fn reap(&self, now: Millis) -> Result<Vec<(String, Gone, usize)>>;

    /// Which of `claims` no longer hold (stopped from outside, taken over).
    fn lost_among(&self, claims: &[Claim]) -> Result<Vec<i64>>;
}

impl ScheduleStore for Db {
    fn change_token(&self) -> Result<i64> {
        self.data_version()
    }

    fn next_due(&self) -> Result<Option<Millis>> {
        Db::next_due(self)
    }

    fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<(Execution, Claim)>> {
        Db::claim_due(self, now, limit)
    }

    fn release(&self, claim: &Claim, due: Option<Millis>) -> Result<()> {
        Db::release(self, claim, due)
    }

    fn reap(&self, now: Millis) -> Result<Vec<(String, Gone, usize)>> {
        Db::reap(self, now)
    }

    fn lost_among(&self, claims: &[Claim]) -> Result<Vec<i64>> {
        Db::lost_among(self, claims)
    }
}
