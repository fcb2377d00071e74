//! The scheduler: sleeps until the earliest due time in the store's index,
//! until the bell rings (news through this server's API, a worker done),
//! or until another process commits to the store (the store's change
//! token: SQLite's `data_version`, an O(1) check), then claims what is due, as many as
//! there are idle workers, earliest first. It also frees the executions of
//! holders that are gone, and interrupts invocations whose claims no
//! longer hold (stopped from outside, or taken over).
//!
//! Nothing it does while idle depends on how many executions wait: a
//! waiting execution is a row in an index, read only when it falls due.

use super::Server;
use super::store::ScheduleStore;
use super::workers::{Job, Pool};
use crate::invocation::now_millis;
use anyhow::Result;
use cairn_core::Millis;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the scheduler looks for commits by other processes (the CLI
/// without `--server`, another server): how late their news may be seen.
const CHANGE_POLL: Duration = Duration::from_millis(50);

/// How often it looks for holders whose leases ran out.
const REAP_EVERY: Duration = Duration::from_secs(2);

/// The longest pause after the store failed (a full disk, a lock held too
/// long), doubling from 100 ms.
const MAX_FAULT_PAUSE: Duration = Duration::from_secs(10);

struct Scheduler<'a> {
    store: &'a dyn ScheduleStore,
    pool: &'a Pool,
    server: &'a Server,
    /// The store's change token when last looked at.
    version: Option<i64>,
    /// When the earliest unclaimed execution falls due, as last read.
    next_due: Option<Millis>,
    next_reap: Millis,
}

pub(super) fn run(store: &dyn ScheduleStore, pool: &Pool, server: &Server, stop: &AtomicBool) {
    let mut scheduler = Scheduler {
        store,
        pool,
        server,
        version: None,
        next_due: None,
        next_reap: 0,
    };
    let mut faults = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match scheduler.round() {
            Ok(sleep) => {
                if faults > 0 {
                    note!("the store answers again");
                    faults = 0;
                }
                server.bell.wait(sleep);
            }
            Err(error) => {
                // Nothing is lost: what was committed stays, what was not
                // is done again once the store answers.
                let pause =
                    (Duration::from_millis(100) * 2u32.pow(faults.min(7))).min(MAX_FAULT_PAUSE);
                note!("the store failed ({error:#}); trying again in {pause:?}");
                faults += 1;
                scheduler.version = None;
                std::thread::sleep(pause);
            }
        }
    }
}

impl Scheduler<'_> {
    /// Does what is due now; how long to sleep before the next round.
    fn round(&mut self) -> Result<Duration> {
        let now = now_millis();
        let version = self.store.change_token()?;
        if self.version != Some(version) {
            self.version = Some(version);
            self.next_due = self.store.next_due()?;
            self.interrupt_lost()?;
        }
        if now >= self.next_reap {
            let reaped = self.store.reap(now)?;
            for (holder, why, count) in &reaped {
                note!("taking over {count} execution(s) of holder {holder}: {why}");
            }
            if !reaped.is_empty() {
                self.next_due = self.store.next_due()?;
            }
            self.next_reap = now + REAP_EVERY.as_millis() as Millis;
        }
        let (retries, next_retry) = self.pool.due_retries(now);
        for job in retries {
            self.pool.dispatch(job);
        }
        let free = self.pool.free();
        if free > 0 && self.next_due.is_some_and(|due| due <= now) {
            for (execution, claim) in self.store.claim_due(now, free)? {
                self.pool.dispatch(Job {
                    execution,
                    claim,
                    release: None,
                    failures: 0,
                });
            }
            self.next_due = self.store.next_due()?;
        }
        // Asleep until the next thing to do; news cuts it short.
        let mut wake_at = now + CHANGE_POLL.as_millis() as Millis;
        if self.pool.free() > 0
            && let Some(due) = self.next_due
        {
            wake_at = wake_at.min(due);
        }
        if let Some(retry) = next_retry {
            wake_at = wake_at.min(retry);
        }
        wake_at = wake_at.min(self.next_reap);
        Ok(Duration::from_millis(wake_at.saturating_sub(now_millis())))
    }

    /// Interrupts the invocations here whose claims no longer hold: their
    /// executions ended from outside (a stop written by another process),
    /// or another process took them over.
    fn interrupt_lost(&self) -> Result<()> {
        let running: Vec<_> = (self.server.running.lock().unwrap().values())
            .map(|running| running.claim)
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        for id in self.store.lost_among(&running)? {
            self.server.interrupt(id);
        }
        Ok(())
    }
}
