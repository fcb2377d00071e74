//! Holders and their leases. A holder is a process that claims executions;
//! its claims hold while its lease does, and it renews the lease from a
//! thread of its own. Whether a holder is alive is decided by its lease
//! alone, except for a holder on this very host and PID namespace: that
//! one is gone as soon as its process is (same pid, same start time), so a
//! `kill -9` frees its executions at once, and a reused pid is no
//! impostor. Either way, the fencing token on each claim refuses the
//! writes of a holder that lost it.

use super::{Durability, connect};
use anyhow::Result;
use cairn_core::Millis;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long a holder's claims last unless it renews its lease: a process
/// that dies on another host (or in another container), hangs, or loses
/// the store loses its executions this long after its last renewal.
pub const LEASE: Duration = Duration::from_secs(10);

/// How often a holder renews its lease: several renewals fit in a lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

/// This process's name as a holder of claims: random, so that processes in
/// other PID namespaces or on other hosts never share one.
pub fn holder_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the host's entropy source failed");
        crate::component::hex(&bytes)
    })
}

/// Where a process runs: this host's boot and its PID namespace (pids
/// mean something only within both), its pid and its start time.
#[derive(Clone, PartialEq, Eq)]
struct Place {
    host: String,
    pid: i64,
    started: i64,
}

/// This process's place; `None` where `/proc` does not say, or is the
/// `/proc` of another PID namespace than this process's (then leases alone
/// decide).
fn here() -> Option<&'static Place> {
    static HERE: OnceLock<Option<Place>> = OnceLock::new();
    HERE.get_or_init(|| {
        let pid = std::process::id();
        let own = std::fs::read_link("/proc/self").ok()?;
        if own.to_str()? != pid.to_string() {
            return None; // another namespace's /proc: its pids are not ours
        }
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
        Some(Place {
            host: format!("{}/{}", boot.trim(), namespace.display()),
            pid: i64::from(pid),
            started: start_time(i64::from(pid))?,
        })
    })
    .as_ref()
}

/// What `/proc` says of process `pid`.
enum Seen {
    /// It runs, and started at this time (clock ticks since boot).
    Started(i64),
    /// There is no such process.
    Absent,
    /// `/proc` would not say (hidden, or a transient error).
    Unknown,
}

fn look_at(pid: i64) -> Seen {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command (which may hold spaces), from the state
        // on: the start time is the 22nd field of the line, the 20th here.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(19)?.parse().ok())
            .map_or(Seen::Unknown, Seen::Started),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Seen::Absent,
        Err(_) => Seen::Unknown,
    }
}

fn start_time(pid: i64) -> Option<i64> {
    match look_at(pid) {
        Seen::Started(at) => Some(at),
        Seen::Absent | Seen::Unknown => None,
    }
}

/// Whether a holder is known to be gone: it ran here, and its process has
/// exited, or its pid is another process's now. Doubt means alive.
fn gone_from_here(host: Option<&str>, pid: Option<i64>, started: Option<i64>) -> bool {
    let (Some(here), Some(host), Some(pid), Some(started)) = (here(), host, pid, started) else {
        return false;
    };
    host == here.host
        && match look_at(pid) {
            Seen::Absent => true,
            Seen::Started(at) => at != started,
            Seen::Unknown => false,
        }
}

/// Why a holder is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// It was a process of this host, and it has exited.
    Exited,
    /// It did not renew its lease in time.
    LeaseLapsed,
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gone::Exited => "its process has exited",
            Gone::LeaseLapsed => "its lease lapsed",
        })
    }
}

/// Records (or renews) this process's lease in the store.
pub(super) fn register_holder(conn: &Connection, holder: &str, now: Millis) -> Result<()> {
    let place = here();
    conn.prepare_cached(
        "INSERT INTO holders (id, lease_until, host, pid, started) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET lease_until = MAX(lease_until, excluded.lease_until)",
    )?
    .execute(params![
        holder,
        (now + LEASE.as_millis() as Millis) as i64,
        place.map(|p| &p.host),
        place.map(|p| p.pid),
        place.map(|p| p.started)
    ])?;
    Ok(())
}

/// A holder's row.
struct Holder {
    lease_until: i64,
    host: Option<String>,
    pid: Option<i64>,
    started: Option<i64>,
}

impl Holder {
    const COLUMNS: &str = "lease_until, host, pid, started";

    fn read(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Holder> {
        Ok(Holder {
            lease_until: row.get(first)?,
            host: row.get(first + 1)?,
            pid: row.get(first + 2)?,
            started: row.get(first + 3)?,
        })
    }

    /// Whether it is gone: it ran here and its process has exited, or its
    /// lease ran out.
    fn gone(&self, now: Millis) -> Option<Gone> {
        if gone_from_here(self.host.as_deref(), self.pid, self.started) {
            Some(Gone::Exited)
        } else if self.lease_until < now as i64 {
            Some(Gone::LeaseLapsed)
        } else {
            None
        }
    }
}

/// Holders that are gone, and why.
pub(super) fn gone_holders(conn: &Connection, now: Millis) -> Result<Vec<(String, Gone)>> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT id, {} FROM holders", Holder::COLUMNS))?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, Holder::read(row, 1)?))
    })?;
    let mut gone = Vec::new();
    for row in rows {
        let (id, holder) = row?;
        if let Some(why) = holder.gone(now) {
            gone.push((id, why));
        }
    }
    Ok(gone)
}

/// Frees the executions of `holder`, if it is still gone: they fall due
/// now. How many.
pub(super) fn reap(tx: &rusqlite::Transaction<'_>, holder: &str, now: Millis) -> Result<usize> {
    if holder == holder_id() {
        return Ok(0);
    }
    let found = tx
        .prepare_cached(&format!(
            "SELECT {} FROM holders WHERE id = ?1",
            Holder::COLUMNS
        ))?
        .query_row([holder], |row| Holder::read(row, 0))
        .optional()?;
    // Renewed meanwhile: alive after all.
    if found.is_some_and(|found| found.gone(now).is_none()) {
        return Ok(0);
    }
    tx.prepare_cached("DELETE FROM holders WHERE id = ?1")?
        .execute([holder])?;
    // Those still running fall due; an ended one stays out of the index.
    Ok(tx
        .prepare_cached(
            "UPDATE executions SET owner = NULL, \
             due_at = CASE WHEN status = 'RUNNING' THEN ?2 END WHERE owner = ?1",
        )?
        .execute(params![holder, now as i64])?)
}

/// Before claiming execution `id`: if its holder is gone, frees it.
pub(super) fn reap_if_gone(tx: &rusqlite::Transaction<'_>, id: i64, now: Millis) -> Result<()> {
    let owner: Option<String> = tx
        .prepare_cached("SELECT owner FROM executions WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?
        .flatten();
    if let Some(owner) = owner {
        reap(tx, &owner, now)?;
    }
    Ok(())
}

/// Renews this process's lease in the store at `path` every
/// [`RENEW_EVERY`], from a thread of its own (one for all the stores this
/// process has claimed in), for as long as the process lives.
pub(super) fn start_renewing(path: &Path, durability: Durability) {
    static STORES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static NEW: Mutex<Vec<Connection>> = Mutex::new(Vec::new());
    let mut stores = STORES.lock().unwrap();
    if stores.iter().any(|known| known == path) {
        return;
    }
    let Ok(conn) = connect(path, durability) else {
        return; // the claims lapse; another process takes them over
    };
    stores.push(path.to_owned());
    let first = stores.len() == 1;
    NEW.lock().unwrap().push(conn);
    if first {
        std::thread::Builder::new()
            .name("cairn-lease".into())
            .spawn(|| {
                let mut conns: Vec<Connection> = Vec::new();
                loop {
                    conns.append(&mut NEW.lock().unwrap());
                    let now = crate::invocation::now_millis();
                    for conn in &conns {
                        // A failure is tried again at the next renewal.
                        let _ = register_holder(conn, holder_id(), now);
                    }
                    std::thread::sleep(RENEW_EVERY);
                }
            })
            .expect("spawn the lease renewer");
    }
}
