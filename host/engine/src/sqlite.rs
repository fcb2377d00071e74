//! The embedded store: one SQLite file in WAL mode. Executions are rows;
//! their journals are postcard-encoded events keyed by (execution, sequence).
//! Each [`JournalSink::persist`] is one transaction: a group commit of every
//! event recorded since the last durability point.

use crate::component::ComponentHash;
use crate::invocation::JournalSink;
use crate::limits::{AllowedHost, HttpPolicy};
use anyhow::{Context as _, Result, anyhow, bail};
use cairn_core::{ContextKind, ErrorObject, Event, Millis};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How far a commit goes before it counts as done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync at every durability point: survives a power cut.
    Full,
    /// Written to the OS at every durability point: survives a killed
    /// process, not a power cut.
    Process,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Stopped => "STOPPED",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text.to_ascii_uppercase().as_str() {
            "RUNNING" => Some(Status::Running),
            "SUCCEEDED" => Some(Status::Succeeded),
            "FAILED" => Some(Status::Failed),
            "TIMED_OUT" => Some(Status::TimedOut),
            "STOPPED" => Some(Status::Stopped),
            _ => None,
        }
    }
}

/// A request the store turns down because of what it holds (not because
/// the store failed): servers map each kind to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No execution or callback has that name or id.
    #[error("{0}")]
    NotFound(String),
    /// The callback is closed, or its execution has ended.
    #[error("{0}")]
    Closed(String),
    /// The name is taken by an execution with another input.
    #[error("{0}")]
    Conflict(String),
}

/// What a stop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped now, at this time.
    Now(Millis),
    /// It had already ended, with this status, at this time.
    AlreadyEnded(Status, Millis),
}

/// What a new execution is made of.
#[derive(Clone, Copy)]
pub struct NewExecution<'a> {
    pub name: &'a str,
    /// The workflow's name: the component's or crate's.
    pub workflow: &'a str,
    pub hash: &'a ComponentHash,
    /// Canonical JSON.
    pub input: &'a str,
    /// 0: no execution timeout.
    pub timeout_seconds: u64,
    pub component_path: Option<&'a Path>,
}

/// An execution's row.
#[derive(Clone, Debug)]
pub struct Execution {
    pub id: i64,
    pub name: String,
    /// The workflow's name: the component's or crate's.
    pub workflow: String,
    pub component_hash: ComponentHash,
    pub input: String,
    pub status: Status,
    pub result: Option<String>,
    pub error: Option<ErrorObject>,
    pub started_at: Millis,
    /// The component it runs, if known (what a server resumes it with).
    pub component_path: Option<std::path::PathBuf>,
    pub ended_at: Option<Millis>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    component_hash BLOB NOT NULL,
    -- Where the component is, so that a server can resume the execution.
    component_path TEXT,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    -- The process running the execution now, and until when its claim holds.
    owner_pid INTEGER,
    lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status);
CREATE TABLE IF NOT EXISTS workflows (
    name TEXT PRIMARY KEY,
    component_path TEXT NOT NULL
) WITHOUT ROWID;
-- Hosts a workflow's HTTP requests may reach, as `cairn deploy --allow-http` set them.
CREATE TABLE IF NOT EXISTS http_allowlists (
    workflow TEXT PRIMARY KEY,
    hosts TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS callbacks (
    callback_id TEXT PRIMARY KEY,
    execution INTEGER NOT NULL REFERENCES executions(id),
    op_id TEXT NOT NULL,
    status TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    execution INTEGER NOT NULL REFERENCES executions(id),
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (execution, seq)
) WITHOUT ROWID;
";

const EXECUTION_COLUMNS: &str = "id, name, workflow, component_hash, input, status, result, error, started_at, ended_at, component_path";

/// How long a claim on an execution lasts unless renewed: a process that
/// hangs (rather than dies) holds its executions this long at most.
/// Longer than the default invocation budget, as an invocation does not renew it.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// The journal format this build reads and writes (`PRAGMA user_version`).
/// Events are postcard: a new variant or field is a new format.
const FORMAT: i64 = 3;

/// Switches a new store to WAL. Changing the journal mode takes a lock that
/// SQLite's busy handler does not wait for, so another process opening the
/// same new file at the same moment is waited out here.
fn enable_wal(conn: &Connection) -> Result<()> {
    for _ in 0..100 {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => return Err(error.into()),
        }
    }
    bail!("the store stayed locked while switching it to WAL mode")
}

/// Creates the tables of a new store, or checks an existing store's format.
fn create_schema(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == FORMAT {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    match tx.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? {
        0 => {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(&format!("PRAGMA user_version = {FORMAT}"))?;
            tx.commit()?;
            Ok(())
        }
        FORMAT => Ok(()),
        other => bail!("its journal format is {other}; this cairn reads format {FORMAT}"),
    }
}

/// A handle on the store; clones share one connection (one writer).
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(path: &Path, durability: Durability) -> Result<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            // In WAL mode NORMAL syncs only at checkpoints: commits survive a
            // killed process (they are in the OS), not a power cut.
            Durability::Process => "NORMAL",
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let context = || format!("cannot initialise the store {}", path.display());
        // Small pages: a step's commit writes about one page to the WAL, and
        // on this kind of disk a 1 KiB write syncs measurably faster than 4 KiB
        // (1.2x against 1.5x a plain fsync loop in `cargo bench`). Applies to
        // new files only.
        conn.execute_batch("PRAGMA page_size = 1024")
            .with_context(context)?;
        enable_wal(&conn).with_context(context)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON"
        ))
        .with_context(context)?;
        create_schema(&mut conn).with_context(context)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn find(&self, name: &str) -> Result<Option<Execution>> {
        let conn = self.conn.lock().unwrap();
        conn.query_row(
            &format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE name = ?1"),
            [name],
            read_execution,
        )
        .optional()
        .context("cannot read the store")
    }

    /// Executions, newest first, optionally only those with `status`.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Execution>> {
        let conn = self.conn.lock().unwrap();
        let mut statement = conn.prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC"
        ))?;
        let rows = statement.query_map([status.map(Status::as_str)], read_execution)?;
        rows.collect::<Result<_, _>>()
            .context("cannot read the store")
    }

    /// Creates an execution with its ExecutionStarted event, durably.
    pub fn create(&self, new: &NewExecution<'_>, now: Millis) -> Result<Execution> {
        let NewExecution {
            name,
            workflow,
            hash,
            input,
            timeout_seconds,
            component_path,
        } = *new;
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO executions (name, workflow, component_hash, input, status, started_at, component_path) \
             VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6)",
            params![name, workflow, &hash[..], input, now as i64, component_path.map(|p| p.to_string_lossy())],
        )
        .with_context(|| format!("cannot create execution {name:?}"))?;
        let id = tx.last_insert_rowid();
        let started = Event::ExecutionStarted {
            input: input.to_owned(),
            timeout_seconds,
            at: now,
        };
        tx.execute(
            "INSERT INTO events (execution, seq, body) VALUES (?1, 0, ?2)",
            params![id, encode(&started)?],
        )?;
        tx.commit().context("cannot commit to the store")?;
        drop(conn);
        self.find(name)?
            .ok_or_else(|| anyhow!("execution {name:?} vanished after it was created"))
    }

    /// The execution's whole journal, in order.
    pub fn journal(&self, execution: i64) -> Result<Vec<Event>> {
        read_journal(&self.conn.lock().unwrap(), execution)
    }

    /// Appends `events` in one transaction; an event that ends the
    /// execution also sets its status, and `repin` pins it to another
    /// component in the same transaction.
    pub fn append(
        &self,
        execution: i64,
        events: &[Event],
        repin: Option<&ComponentHash>,
    ) -> Result<()> {
        let mut conn = self.conn.lock().unwrap();
        // Immediate: outside writers (callbacks, stop) may commit meanwhile.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Only the process holding the claim writes the run's events.
        let owner: Option<i64> = tx.query_row(
            "SELECT owner_pid FROM executions WHERE id = ?1",
            [execution],
            |row| row.get(0),
        )?;
        if let Some(pid) = owner.filter(|pid| *pid != std::process::id() as i64) {
            bail!("execution {execution} is now run by process {pid}; this run stops writing");
        }
        if let Some(hash) = repin {
            tx.execute(
                "UPDATE executions SET component_hash = ?2 WHERE id = ?1",
                params![execution, &hash[..]],
            )?;
        }
        insert_events(&tx, execution, events)?;
        tx.commit().context("cannot commit to the store")
    }

    /// Claims the execution for this process, so that no other process runs
    /// it at the same time. A claim lapses when its lease runs out or its
    /// process is gone (a `kill -9` frees it at once on this host).
    pub fn claim(&self, execution: &Execution, now: Millis) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        let me = std::process::id() as i64;
        let (owner, lease_until): (Option<i64>, Option<i64>) = conn.query_row(
            "SELECT owner_pid, lease_until FROM executions WHERE id = ?1",
            [execution.id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if let (Some(pid), Some(until)) = (owner, lease_until)
            && pid != me
            && until > now as i64
            && Path::new(&format!("/proc/{pid}")).exists()
        {
            bail!(
                "execution {:?} is being run by process {pid}: wait for it to end, or stop that process",
                execution.name
            );
        }
        let claimed = conn.execute(
            "UPDATE executions SET owner_pid = ?2, lease_until = ?3 \
             WHERE id = ?1 AND owner_pid IS ?4 AND lease_until IS ?5",
            params![
                execution.id,
                me,
                (now + LEASE.as_millis() as Millis) as i64,
                owner,
                lease_until
            ],
        )?;
        if claimed == 0 {
            bail!(
                "execution {:?} was claimed by another process just now",
                execution.name
            );
        }
        Ok(())
    }

    /// Extends this process's claim on the execution.
    pub fn renew(&self, execution: i64, now: Millis) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "UPDATE executions SET lease_until = ?3 WHERE id = ?1 AND owner_pid = ?2",
            params![
                execution,
                std::process::id() as i64,
                (now + LEASE.as_millis() as Millis) as i64
            ],
        )?;
        Ok(())
    }

    /// Gives up this process's claim on the execution.
    pub fn release(&self, execution: i64) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "UPDATE executions SET owner_pid = NULL, lease_until = NULL WHERE id = ?1 AND owner_pid = ?2",
            params![execution, std::process::id() as i64],
        )?;
        Ok(())
    }

    /// How many events the execution's journal holds: it grows from outside
    /// (a callback completed) while the execution is suspended.
    pub fn journal_len(&self, execution: i64) -> Result<usize> {
        let conn = self.conn.lock().unwrap();
        let len: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM events WHERE execution = ?1")?
            .query_row([execution], |row| row.get(0))?;
        Ok(len as usize)
    }

    /// Registers the component at `path` as the workflow `name` (for invoke).
    pub fn deploy(&self, name: &str, path: &Path) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "INSERT INTO workflows (name, component_path) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET component_path = excluded.component_path",
            params![name, path.to_string_lossy()],
        )?;
        Ok(())
    }

    /// Sets the hosts the workflow `name`'s HTTP requests may reach (for
    /// every execution of it, beside those the running process allows).
    pub fn set_http_allowlist(&self, name: &str, hosts: &[AllowedHost]) -> Result<()> {
        let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "INSERT INTO http_allowlists (workflow, hosts) VALUES (?1, ?2) \
             ON CONFLICT (workflow) DO UPDATE SET hosts = excluded.hosts",
            params![name, hosts.join(",")],
        )?;
        Ok(())
    }

    /// The hosts the workflow `name`'s HTTP requests may reach.
    pub fn http_allowlist(&self, name: &str) -> Result<Vec<AllowedHost>> {
        let conn = self.conn.lock().unwrap();
        let hosts: Option<String> = conn
            .prepare_cached("SELECT hosts FROM http_allowlists WHERE workflow = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        HttpPolicy::parse_allowlist(&hosts.unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("the stored allowlist of {name:?}: {e}"))
    }

    /// The component registered as the workflow `name`.
    pub fn workflow_path(&self, name: &str) -> Result<Option<std::path::PathBuf>> {
        let conn = self.conn.lock().unwrap();
        let path: Option<String> = conn
            .query_row(
                "SELECT component_path FROM workflows WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?;
        Ok(path.map(Into::into))
    }

    /// Callbacks not closed yet, with their names, of executions that wait
    /// (suspended): (callback id, name). A callback of `wait_for_callback`
    /// goes by that operation's name.
    pub fn open_callbacks(&self) -> Result<Vec<(String, String)>> {
        let ids: Vec<(String, i64, String)> = {
            let conn = self.conn.lock().unwrap();
            let mut statement = conn.prepare_cached(
                "SELECT callback_id, execution, op_id FROM callbacks WHERE status = 'STARTED'",
            )?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut open = Vec::new();
        for (callback_id, execution, op_id) in ids {
            let journal = self.journal(execution)?;
            if !matches!(journal.last(), Some(Event::InvocationCompleted { .. })) {
                continue; // still running: it may not wait on it yet
            }
            let context = cairn_core::replay::parent_of(&op_id);
            let name = journal.iter().find_map(|event| match event {
                Event::ContextStarted {
                    id,
                    name,
                    kind: ContextKind::WaitForCallback,
                    ..
                } if id == context => Some(name),
                Event::CallbackStarted { id, name, .. } if *id == op_id => Some(name),
                _ => None,
            });
            open.extend(name.map(|name| (callback_id, name.clone())));
        }
        Ok(open)
    }

    /// Stops the running execution `name` with `error`, from outside. An
    /// execution that has ended stays as it ended.
    pub fn stop(&self, name: &str, error: ErrorObject, now: Millis) -> Result<Stopped> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: Option<(i64, String, Option<i64>)> = tx
            .query_row(
                "SELECT id, status, ended_at FROM executions WHERE name = ?1",
                [name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((id, status, ended_at)) = found else {
            bail!(Refused::NotFound(format!("no execution named {name:?}")));
        };
        if let (Some(status), Some(ended_at)) = (Status::parse(&status), ended_at)
            && status != Status::Running
        {
            return Ok(Stopped::AlreadyEnded(status, ended_at as Millis));
        }
        insert_events(&tx, id, &[Event::ExecutionStopped { error, at: now }])?;
        tx.commit().context("cannot commit to the store")?;
        Ok(Stopped::Now(now))
    }

    /// Completes, fails or heartbeats the callback `callback_id` from outside.
    pub fn complete_callback(
        &self,
        callback_id: &str,
        completion: Completion,
        now: Millis,
    ) -> Result<()> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT execution, op_id, status FROM callbacks WHERE callback_id = ?1",
                [callback_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((execution, id, status)) = found else {
            bail!(Refused::NotFound(format!(
                "no callback has the id {callback_id:?}"
            )));
        };
        if status != "STARTED" {
            bail!(Refused::Closed(format!(
                "callback {callback_id:?} is already closed ({status})"
            )));
        }
        let running: String = tx.query_row(
            "SELECT status FROM executions WHERE id = ?1",
            [execution],
            |row| row.get(0),
        )?;
        if running != Status::Running.as_str() {
            bail!(Refused::Closed(format!(
                "callback {callback_id:?} belongs to an execution that has ended ({running})"
            )));
        }
        // Past its deadline (no runner was there to see it): it timed out.
        let journal = read_journal(&tx, execution)?;
        let late = cairn_core::replay::pending_timers(&journal)
            .into_iter()
            .find(|timer| timer.id == id && timer.due <= now)
            .map(|timer| timer.fire(now));
        if let Some(timed_out) = late {
            insert_events(&tx, execution, &[timed_out])?;
            tx.commit().context("cannot commit to the store")?;
            bail!(Refused::Closed(format!(
                "callback {callback_id:?} has timed out"
            )));
        }
        let event = match completion {
            Completion::Succeed(result) => Event::CallbackSucceeded {
                id,
                result,
                at: now,
            },
            Completion::Fail(error) => Event::CallbackFailed { id, error, at: now },
            Completion::Heartbeat => Event::CallbackHeartbeat { id, at: now },
        };
        insert_events(&tx, execution, &[event])?;
        tx.commit().context("cannot commit to the store")
    }

    /// A sink that appends to `execution`'s journal, and pins the execution
    /// to `repin` with the first events it writes (an upgrade: only a
    /// component that replayed the history writes).
    pub fn sink(&self, execution: i64, repin: Option<ComponentHash>) -> Box<dyn JournalSink> {
        Box::new(SqliteSink {
            db: self.clone(),
            execution,
            repin,
        })
    }
}

struct SqliteSink {
    db: Db,
    execution: i64,
    repin: Option<ComponentHash>,
}

impl JournalSink for SqliteSink {
    fn persist(&mut self, events: &[Event]) -> Result<()> {
        self.db
            .append(self.execution, events, self.repin.take().as_ref())
    }
}

/// What the outside world does to a callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    Succeed(String),
    Fail(ErrorObject),
    Heartbeat,
}

/// An execution's whole journal, in order.
fn read_journal(conn: &Connection, execution: i64) -> Result<Vec<Event>> {
    let mut statement =
        conn.prepare_cached("SELECT seq, body FROM events WHERE execution = ?1 ORDER BY seq")?;
    let mut rows = statement.query([execution])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let body = row.get_ref(1)?.as_blob()?;
        if seq != events.len() as i64 {
            bail!(
                "the journal of execution {execution} has a gap at event {}",
                events.len()
            );
        }
        events.push(
            postcard::from_bytes(body)
                .with_context(|| format!("event {seq} of execution {execution} is corrupt"))?,
        );
    }
    Ok(events)
}

/// Appends `events` at the end of the journal (numbered in the statement, so
/// events from outside, such as callback completions, interleave safely)
/// and keeps the execution's and its callbacks' status in step with them.
fn insert_events(tx: &rusqlite::Transaction<'_>, execution: i64, events: &[Event]) -> Result<()> {
    // An execution that ended records nothing more (a run racing a stop).
    let (name, status): (String, String) = tx.query_row(
        "SELECT name, status FROM executions WHERE id = ?1",
        [execution],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if status != Status::Running.as_str() {
        bail!("execution {name:?} has already ended ({status})");
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (execution, seq, body) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM events WHERE execution = ?1), ?2)",
    )?;
    for event in events {
        // A callback closes once: a timeout that lost the race with a
        // completion from outside (or the reverse) is not recorded.
        if let Event::CallbackSucceeded { id, .. }
        | Event::CallbackFailed { id, .. }
        | Event::CallbackTimedOut { id, .. } = event
        {
            let status = match event {
                Event::CallbackSucceeded { .. } => "SUCCEEDED",
                Event::CallbackFailed { .. } => "FAILED",
                _ => "TIMED_OUT",
            };
            let closed = tx.execute(
                "UPDATE callbacks SET status = ?3 WHERE execution = ?1 AND op_id = ?2 AND status = 'STARTED'",
                params![execution, id, status],
            )?;
            if closed == 0 {
                continue;
            }
        }
        insert
            .execute(params![execution, encode(event)?])
            .with_context(|| format!("cannot append to the journal of execution {execution}"))?;
        match event {
            Event::ExecutionSucceeded { result, at } => {
                tx.execute(
                    "UPDATE executions SET status = 'SUCCEEDED', result = ?2, ended_at = ?3 WHERE id = ?1",
                    params![execution, result, *at as i64],
                )?;
            }
            Event::ExecutionFailed { error, at } | Event::ExecutionStopped { error, at } => {
                let status = match event {
                    Event::ExecutionFailed { .. } => Status::Failed,
                    _ => Status::Stopped,
                };
                tx.execute(
                    "UPDATE executions SET status = ?4, error = ?2, ended_at = ?3 WHERE id = ?1",
                    params![
                        execution,
                        serde_json::to_string(error)?,
                        *at as i64,
                        status.as_str()
                    ],
                )?;
            }
            Event::ExecutionTimedOut { at } => {
                tx.execute(
                    "UPDATE executions SET status = 'TIMED_OUT', error = ?2, ended_at = ?3 WHERE id = ?1",
                    params![execution, serde_json::to_string(&ErrorObject::timed_out())?, *at as i64],
                )?;
            }
            Event::CallbackStarted {
                id, callback_id, ..
            } => {
                tx.execute(
                    "INSERT INTO callbacks (callback_id, execution, op_id, status) VALUES (?1, ?2, ?3, 'STARTED')",
                    params![callback_id, execution, id],
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn encode(event: &Event) -> Result<Vec<u8>> {
    postcard::to_stdvec(event).context("cannot encode an event")
}

fn read_execution(row: &rusqlite::Row<'_>) -> rusqlite::Result<Execution> {
    let corrupt = |column: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            what.to_owned().into(),
        )
    };
    let hash: Vec<u8> = row.get(3)?;
    let status: String = row.get(5)?;
    let error: Option<String> = row.get(7)?;
    Ok(Execution {
        id: row.get(0)?,
        name: row.get(1)?,
        workflow: row.get(2)?,
        component_hash: hash
            .try_into()
            .map_err(|_| corrupt(3, "a component hash is not 32 bytes"))?,
        input: row.get(4)?,
        status: Status::parse(&status).ok_or_else(|| corrupt(5, "unknown execution status"))?,
        result: row.get(6)?,
        error: match error {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|_| corrupt(7, "unreadable error object"))?,
            ),
            None => None,
        },
        started_at: row.get::<_, i64>(8)? as Millis,
        ended_at: row.get::<_, Option<i64>>(9)?.map(|t| t as Millis),
        component_path: row.get::<_, Option<String>>(10)?.map(Into::into),
    })
}
