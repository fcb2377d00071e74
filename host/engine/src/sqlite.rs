//! The embedded store: one SQLite file in WAL mode. Executions are rows;
//! their journals are postcard-encoded events keyed by (execution, sequence).
//! Each [`JournalSink::persist`] is one transaction: a group commit of every
//! event recorded since the last durability point.

use crate::component::ComponentHash;
use crate::invocation::JournalSink;
use crate::limits::{AllowedHost, HttpPolicy};
use crate::logs::{LogBuffer, LogLine};
use anyhow::{Context as _, Result, anyhow, bail};
use cairn_core::{ContextKind, ErrorObject, Event, Millis};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

mod history;
mod lease;
mod logs;
mod writer;
pub use history::{HistoryEvent, HistoryPage};
pub use lease::{Gone, holder_id};
use lease::{register_holder, start_renewing};
pub use logs::{KeptLine, LogQuery};
pub use writer::Writer;

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

/// A status as Lambda's API shows and filters it: a running execution
/// that is paused shows as `PAUSING` (its invocation goes on to its next
/// durability point) or `PAUSED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Is(Status),
    Pausing,
    Paused,
}

impl Shown {
    pub fn parse(text: &str) -> Option<Shown> {
        match text.to_ascii_uppercase().as_str() {
            "PAUSING" => Some(Shown::Pausing),
            "PAUSED" => Some(Shown::Paused),
            other => Status::parse(other).map(Shown::Is),
        }
    }

    /// The rows it names (from a closed set: no user text).
    fn condition(self) -> &'static str {
        match self {
            Shown::Is(Status::Running) => "(status = 'RUNNING' AND pause IS NULL)",
            Shown::Is(Status::Succeeded) => "status = 'SUCCEEDED'",
            Shown::Is(Status::Failed) => "status = 'FAILED'",
            Shown::Is(Status::TimedOut) => "status = 'TIMED_OUT'",
            Shown::Is(Status::Stopped) => "status = 'STOPPED'",
            Shown::Pausing => "pause = 'PAUSING'",
            Shown::Paused => "pause = 'PAUSED'",
        }
    }
}

/// Where a pause stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseState {
    /// Asked for while an invocation ran: it takes effect at that
    /// invocation's next durability point.
    Pausing,
    /// In effect (`ExecutionPaused` is in the journal): not invoked.
    Paused,
}

/// A running execution's pause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub state: PauseState,
    pub requested_at: Millis,
    pub reason: Option<String>,
    /// Whether its timeout stands still while it is paused.
    pub timeout_paused: bool,
}

/// A pause or a resume asked for from outside.
#[derive(Clone, Debug, Default)]
pub struct PauseRequest {
    pub reason: Option<String>,
    /// For a pause: hold the execution's timeout still (AWS's default).
    pub timeout_paused: bool,
    /// The client's idempotency token: the same request again is not an
    /// error.
    pub client_token: Option<String>,
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
    /// The execution is not in a state that allows it (pausing one that
    /// ended, deleting one that runs).
    #[error("{0}")]
    State(String),
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
    /// The execution that invoked it, if one did.
    pub parent: Option<i64>,
}

/// Which of a workflow's executions to list ([`Db::list_page`]).
pub struct ListQuery<'a> {
    pub workflow: &'a str,
    /// Any of these (all when empty).
    pub statuses: &'a [Shown],
    pub name: Option<&'a str>,
    pub started_after: Option<Millis>,
    pub started_before: Option<Millis>,
    pub newest_first: bool,
    /// The id of the last execution of the previous page.
    pub after: Option<i64>,
    pub limit: usize,
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
    /// Its pause, while it runs paused (or pausing).
    pub pause: Option<Pause>,
}

impl Execution {
    /// Its status as Lambda's API shows it.
    pub fn shown_status(&self) -> &'static str {
        match &self.pause {
            Some(Pause {
                state: PauseState::Pausing,
                ..
            }) if self.status == Status::Running => "PAUSING",
            Some(Pause {
                state: PauseState::Paused,
                ..
            }) if self.status == Status::Running => "PAUSED",
            _ => self.status.as_str(),
        }
    }
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
    -- The execution that invoked this one (woken when this one ends).
    parent INTEGER,
    -- When a scheduler should next advance it; NULL: only news wakes it.
    due_at INTEGER,
    -- The holder (a process) running it now, and the fencing token of
    -- that claim: every write on the run's behalf checks both.
    owner TEXT,
    fence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS workflows (
    name TEXT PRIMARY KEY,
    component_path TEXT NOT NULL,
    component_hash BLOB
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
    -- How many of the journal's events up to this one the history API
    -- shows (this one's EventId, if it is shown), and the key later events
    -- look it up by (sqlite/history.rs): a page reads only itself.
    history_count INTEGER NOT NULL DEFAULT 0,
    lookup_key TEXT,
    PRIMARY KEY (execution, seq)
) WITHOUT ROWID;
";

/// What format 4 adds to format 3: due times, fenced claims by holders
/// with leases, parents, and deployed components' hashes.
const MIGRATE_3_TO_4: &str = "
ALTER TABLE executions ADD COLUMN parent INTEGER;
ALTER TABLE executions ADD COLUMN due_at INTEGER;
ALTER TABLE executions ADD COLUMN owner TEXT;
ALTER TABLE executions ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN component_hash BLOB;
-- Every running execution a server can resume is looked at once.
UPDATE executions SET due_at = 0 WHERE status = 'RUNNING' AND component_path IS NOT NULL;
-- A process of the old format still running an execution writes nothing
-- more: its next append finds another owner.
UPDATE executions SET owner_pid = 0 WHERE owner_pid IS NOT NULL;
";

/// What format 5 adds to format 4: each event's place in the history API,
/// and its lookup key (filled in by `history::backfill`).
const MIGRATE_4_TO_5: &str = "
ALTER TABLE events ADD COLUMN history_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN lookup_key TEXT;
-- A process of format 4 still running an execution writes nothing more:
-- its next append finds another fence.
UPDATE executions SET fence = fence + 1 WHERE owner IS NOT NULL;
";

/// What format 6 adds: every version deployed of each workflow (a new one
/// each time `deploy` registers other bytes), for `cairn workflows` and
/// Lambda's ListVersionsByFunction.
const SCHEMA_6_COMMON: &str = "
CREATE TABLE IF NOT EXISTS workflow_versions (
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    component_hash BLOB NOT NULL,
    size INTEGER,
    deployed_at INTEGER NOT NULL,
    PRIMARY KEY (workflow, version)
) WITHOUT ROWID;
-- A store of format 5: what each workflow is now is its first version.
INSERT OR IGNORE INTO workflow_versions (workflow, version, component_hash, deployed_at)
    SELECT name, 1, component_hash, 0 FROM workflows WHERE component_hash IS NOT NULL;
";

/// What format 5 reads by: the events that later events look up.
const SCHEMA_5_COMMON: &str = "
CREATE INDEX IF NOT EXISTS events_by_key ON events(execution, lookup_key, seq)
    WHERE lookup_key IS NOT NULL;
";

/// What both a new store and a migrated one get: the holders' leases, and
/// the indexes the scheduler reads (partial: only rows it may act on).
const SCHEMA_4_COMMON: &str = "
-- Processes holding claims: until when their leases hold, and where they
-- run (a host and PID namespace, the pid, its start time), so that a holder
-- on the same host that is gone is known at once.
CREATE TABLE IF NOT EXISTS holders (
    id TEXT PRIMARY KEY,
    lease_until INTEGER NOT NULL,
    host TEXT,
    pid INTEGER,
    started INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status);
CREATE INDEX IF NOT EXISTS executions_due ON executions(due_at)
    WHERE due_at IS NOT NULL AND owner IS NULL;
CREATE INDEX IF NOT EXISTS executions_by_owner ON executions(owner)
    WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_by_workflow ON executions(workflow, id);
";

/// What format 8 adds: pauses (Lambda's PauseDurableExecution) and the
/// link from an invoked execution to its caller, indexed (a deleted
/// caller unlinks its callees).
const SCHEMA_8_COMMON: &str = "
-- NULL, or 'PAUSING' (an invocation runs on to its next durability point) or 'PAUSED'.
ALTER TABLE executions ADD COLUMN pause TEXT;
ALTER TABLE executions ADD COLUMN pause_requested_at INTEGER;
ALTER TABLE executions ADD COLUMN pause_reason TEXT;
ALTER TABLE executions ADD COLUMN pause_timeout INTEGER;
-- The last pause's or resume's client token ('pause:TOKEN', 'resume:TOKEN').
ALTER TABLE executions ADD COLUMN control_token TEXT;
CREATE INDEX IF NOT EXISTS executions_by_parent ON executions(parent)
    WHERE parent IS NOT NULL;
";

const EXECUTION_COLUMNS: &str = "id, name, workflow, component_hash, input, status, result, error, started_at, ended_at, component_path, pause, pause_requested_at, pause_reason, pause_timeout";

/// A version of a deployed workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub workflow: String,
    pub version: u64,
    pub hash: ComponentHash,
    /// Its size in bytes (unknown for versions deployed before format 6).
    pub size: Option<u64>,
    /// When it was deployed (0: before format 6).
    pub deployed_at: Millis,
}

/// The journal format this build reads and writes (`PRAGMA user_version`).
/// Events are postcard: a new variant or field is a new format.
const FORMAT: i64 = 8;

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

/// Creates the tables of a new store, migrates an older one, or checks an
/// existing store's format.
fn create_schema(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == FORMAT {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from = tx.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))?;
    match from {
        0 => tx.execute_batch(SCHEMA)?,
        3 => {
            tx.execute_batch(MIGRATE_3_TO_4)?;
            link_parents(&tx)?;
        }
        4..=7 => {}
        FORMAT => return Ok(()),
        other => bail!("its journal format is {other}; this cairn reads format {FORMAT}"),
    }
    if from < 5 {
        tx.execute_batch(SCHEMA_4_COMMON)?;
        if from != 0 {
            tx.execute_batch(MIGRATE_4_TO_5)?;
            history::backfill(&tx)?;
        }
        tx.execute_batch(SCHEMA_5_COMMON)?;
    }
    if from < 7 {
        tx.execute_batch(SCHEMA_6_COMMON)?;
        tx.execute_batch(logs::SCHEMA_7_COMMON)?;
    }
    tx.execute_batch(SCHEMA_8_COMMON)?;
    if from != 0 {
        migrate_invokes(&tx)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {FORMAT}"))?;
    tx.commit()?;
    Ok(())
}

/// The first byte of a postcard-encoded `Event::InvokeStarted`: its
/// variant's index (24), a one-byte varint.
const INVOKE_STARTED_TAG: u8 = 24;

/// Format 8 added `tenant` to `InvokeStarted`, as its last field: records
/// written before lack it. They are found by their first byte, read as
/// they were written, and written again with no tenant.
fn migrate_invokes(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    /// `Event::InvokeStarted` as formats 3 to 7 wrote it.
    #[derive(serde::Deserialize)]
    struct InvokeStartedV7 {
        id: String,
        name: String,
        fingerprint: u64,
        workflow: String,
        input: String,
        at: Millis,
    }
    let rows: Vec<(i64, i64, Vec<u8>)> = tx
        .prepare("SELECT execution, seq, body FROM events WHERE substr(body, 1, 1) = ?1")?
        .query_map([vec![INVOKE_STARTED_TAG]], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (execution, seq, body) in rows {
        let (tag, old): (u32, InvokeStartedV7) =
            postcard::from_bytes(&body).with_context(|| {
                format!("event {seq} of execution {execution} is corrupt (migrating to format 8)")
            })?;
        if tag != u32::from(INVOKE_STARTED_TAG) {
            bail!(
                "event {seq} of execution {execution} is not an invocation (migrating to format 8)"
            );
        }
        let event = Event::InvokeStarted {
            id: old.id,
            name: old.name,
            fingerprint: old.fingerprint,
            workflow: old.workflow,
            input: old.input,
            at: old.at,
            tenant: None,
        };
        tx.execute(
            "UPDATE events SET body = ?3 WHERE execution = ?1 AND seq = ?2",
            params![execution, seq, encode(&event)?],
        )?;
    }
    Ok(())
}

/// Format 3 knew an invoked execution's parent by its name only
/// (`PARENT--OP`): records it as a link, once, when migrating.
fn link_parents(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let children: Vec<(i64, String)> = tx
        .prepare("SELECT id, name FROM executions WHERE name LIKE '%--%'")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, name) in children {
        if let Some((parent, _)) = name.rsplit_once("--") {
            tx.execute(
                "UPDATE executions SET parent = (SELECT id FROM executions WHERE name = ?2) WHERE id = ?1",
                params![id, parent],
            )?;
        }
    }
    Ok(())
}

/// A handle on the store. Clones share one connection; with a [`Writer`]
/// (a server), every write goes through it instead, committed together
/// with the writes of other handles (group commit).
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    writer: Option<Writer>,
    path: PathBuf,
    durability: Durability,
}

/// A claim on an execution: the holder (this process) may write its run's
/// events while the store's fencing token is still `fence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub execution: i64,
    pub fence: i64,
}

/// Why the store at `path` cannot be written, if that is so: a store is
/// written to even to be read (its WAL and the index beside it), and SQLite
/// says only that it cannot open the file.
fn unwritable(path: &Path) -> Option<String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let probe = dir.join(format!(".cairn-write-check-{}", std::process::id()));
    let error = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            // The directory is writable; the file itself may not be.
            let file = std::fs::OpenOptions::new().write(true).open(path).err()?;
            return (file.kind() != std::io::ErrorKind::NotFound)
                .then(|| format!("the store {} cannot be written ({file})", path.display()));
        }
        Err(error) => error,
    };
    let read_only = error.raw_os_error() == Some(30); // EROFS
    Some(if read_only {
        format!(
            "the store {} is on a read-only filesystem: Cairn writes to its store (and the \
             files beside it) even to read it",
            path.display()
        )
    } else {
        format!(
            "the store's directory {} cannot be written ({error})",
            dir.display()
        )
    })
}

/// Opens a connection to the store with Cairn's settings.
pub(crate) fn connect(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the store {}", path.display()))?;
    let synchronous = match durability {
        Durability::Full => "FULL",
        // In WAL mode NORMAL syncs only at checkpoints: commits survive a
        // killed process (they are in the OS), not a power cut.
        Durability::Process => "NORMAL",
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement of the hot paths stays prepared.
    conn.set_prepared_statement_cache_capacity(128);
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
    Ok(conn)
}

impl Db {
    pub fn open(path: &Path, durability: Durability) -> Result<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let opened = connect(path, durability).and_then(|mut conn| {
            create_schema(&mut conn)
                .with_context(|| format!("cannot initialise the store {}", path.display()))?;
            Ok(conn)
        });
        let conn = opened.map_err(|error| match unwritable(path) {
            Some(why) => error.context(why),
            None => error,
        })?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            writer: None,
            path: path.to_owned(),
            durability,
        })
    }

    /// This handle, with every write sent to `writer`.
    pub fn with_writer(self, writer: &Writer) -> Db {
        Db {
            writer: Some(writer.clone()),
            ..self
        }
    }

    /// Another handle on the same store, with a connection of its own (for
    /// reads that do not wait on this handle's) and this handle's writer.
    pub fn reopen(&self) -> Result<Db> {
        Ok(Db {
            conn: Arc::new(Mutex::new(connect(&self.path, self.durability)?)),
            writer: self.writer.clone(),
            path: self.path.clone(),
            durability: self.durability,
        })
    }

    /// A writer for this store: one thread, one connection, and a group
    /// commit of whatever writes are queued when it commits.
    pub fn start_writer(&self) -> Result<Writer> {
        Writer::start(connect(&self.path, self.durability)?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in a write transaction and commits it: on this handle's
    /// connection, or in the writer's next group commit. `durable`: the
    /// commit must reach the disk (as `Durability` says) before this
    /// returns; otherwise it may ride on a later commit's sync (claims and
    /// releases, which a power cut may lose harmlessly).
    fn write<T: Send + 'static>(
        &self,
        durable: bool,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        match &self.writer {
            Some(writer) => writer.write(durable, work),
            None => {
                let mut conn = self.conn.lock().unwrap();
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit().context("cannot commit to the store")?;
                Ok(value)
            }
        }
    }

    pub fn find(&self, name: &str) -> Result<Option<Execution>> {
        let conn = self.conn.lock().unwrap();
        find_execution(&conn, name)
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

    /// One page of a workflow's executions, read through the index by
    /// workflow: what `query` asks for, in the order of their ids (their
    /// start), from past `query.after` on.
    pub fn list_page(&self, query: &ListQuery<'_>) -> Result<Vec<Execution>> {
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.condition()).collect();
        let (past, order) = if query.newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE workflow = ?1 \
             AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR started_at > ?3) \
             AND (?4 IS NULL OR started_at < ?4) AND (?5 IS NULL OR id {past} ?5) {} \
             ORDER BY id {order} LIMIT ?6",
            if statuses.is_empty() {
                String::new()
            } else {
                format!("AND ({})", statuses.join(" OR "))
            }
        );
        let conn = self.conn.lock().unwrap();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![
                query.workflow,
                query.name,
                query.started_after.map(|t| t as i64),
                query.started_before.map(|t| t as i64),
                query.after,
                query.limit as i64
            ],
            read_execution,
        )?;
        rows.collect::<Result<_, _>>()
            .context("cannot read the store")
    }

    /// Creates an execution with its ExecutionStarted event, durably. A
    /// scheduler may take it up at once; with `claim`, it is born claimed
    /// by this process instead (the caller runs it).
    pub fn create(
        &self,
        new: &NewExecution<'_>,
        now: Millis,
        claim: bool,
    ) -> Result<(Execution, Option<Claim>)> {
        let NewExecution {
            name,
            workflow,
            hash,
            input,
            timeout_seconds,
            component_path,
            parent,
        } = *new;
        let (name, workflow, hash, input) = (
            name.to_owned(),
            workflow.to_owned(),
            *hash,
            input.to_owned(),
        );
        let path = component_path.map(|p| p.to_string_lossy().into_owned());
        let holder = holder_id().to_owned();
        self.write(true, move |tx| {
            if claim {
                register_holder(tx, &holder, now)?;
            }
            tx.prepare_cached("INSERT INTO executions (name, workflow, component_hash, input, status, started_at, component_path, parent, due_at, owner, fence) \
                 VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(
                params![
                    name,
                    workflow,
                    &hash[..],
                    input,
                    now as i64,
                    path,
                    parent,
                    (!claim).then_some(now as i64),
                    claim.then_some(&holder),
                    i64::from(claim)
                ],
            )
            .with_context(|| format!("cannot create execution {name:?}"))?;
            let id = tx.last_insert_rowid();
            let started = Event::ExecutionStarted {
                input: input.clone(),
                timeout_seconds,
                at: now,
            };
            let (history_count, key) = history::columns(0, &started);
            tx.prepare_cached("INSERT INTO events (execution, seq, body, history_count, lookup_key) VALUES (?1, 0, ?2, ?3, ?4)")?.execute(
                params![id, encode(&started)?, history_count, key],
            )?;
            let execution = find_execution(tx, &name)?
                .ok_or_else(|| anyhow!("execution {name:?} vanished as it was created"))?;
            Ok((execution, claim.then_some(Claim { execution: id, fence: 1 })))
        })
        .inspect(|_| {
            if claim {
                start_renewing(&self.path, self.durability);
            }
        })
    }

    /// Up to `limit` events of the execution's history, as the history API
    /// shows them, after the one `after` marks (before it, newest first,
    /// when `reverse`). Reads only the page, however long the journal.
    pub fn history_page(
        &self,
        execution: i64,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<HistoryPage> {
        history::page(&self.conn.lock().unwrap(), execution, after, reverse, limit)
    }

    /// The execution's whole journal, in order.
    pub fn journal(&self, execution: i64) -> Result<Vec<Event>> {
        read_journal(&self.conn.lock().unwrap(), execution)
    }

    /// Appends `events` to a claimed execution's journal in one
    /// transaction, if the claim still holds; an event that ends the
    /// execution also sets its status, and `repin` pins it to another
    /// component in the same transaction.
    pub fn append(
        &self,
        claim: &Claim,
        events: &[Event],
        repin: Option<&ComponentHash>,
    ) -> Result<()> {
        self.append_logged(claim, events, repin, Vec::new())
            .map(|_| ())
    }

    /// [`Db::append`], keeping the log `lines` that came before the events
    /// in the same transaction. Returns whether a pause is asked for.
    pub fn append_logged(
        &self,
        claim: &Claim,
        events: &[Event],
        repin: Option<&ComponentHash>,
        lines: Vec<LogLine>,
    ) -> Result<bool> {
        let (claim, events, repin) = (*claim, events.to_vec(), repin.copied());
        let holder = holder_id();
        // The new build's kept copy, where a server will load it from.
        let kept = repin
            .map(|hash| crate::component::kept_path(&self.components_dir(), &hash))
            .filter(|path| path.exists())
            .map(|path| path.to_string_lossy().into_owned());
        self.write(true, move |tx| {
            if let Some(hash) = repin {
                tx.prepare_cached(
                    "UPDATE executions SET component_hash = ?2, \
                     component_path = COALESCE(?3, component_path) WHERE id = ?1",
                )?
                .execute(params![claim.execution, &hash[..], kept])?;
            }
            let paused = insert_events(tx, claim.execution, Some((&claim, holder)), &events)?;
            logs::insert(tx, claim.execution, &lines)?;
            Ok(paused)
        })
    }

    /// A page of kept log lines (see [`LogQuery`]), and the number of the
    /// last row read (where the next page starts).
    pub fn log_lines(&self, query: &LogQuery) -> Result<(Vec<KeptLine>, Option<i64>)> {
        logs::page(&self.conn.lock().unwrap(), query)
    }

    /// Claims the execution for this process, so that no other process runs
    /// it at the same time. A claim lapses when its holder stops renewing
    /// its lease (a killed process, on any host): then another may claim
    /// it, and the fencing token refuses the old holder's writes.
    pub fn claim(&self, execution: &Execution, now: Millis) -> Result<Claim> {
        let (id, name) = (execution.id, execution.name.clone());
        self.write(false, move |tx| {
            claim_in(tx, id, now)?.ok_or_else(|| {
                anyhow!(
                    "execution {name:?} is being run by another process: wait for it to end, or stop that process"
                )
            })
        })
        .inspect(|_| start_renewing(&self.path, self.durability))
    }

    /// Claims executions that are due at `now`, at most `limit`, earliest
    /// first: what a scheduler runs next.
    pub fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<(Execution, Claim)>> {
        let claimed = self.write(false, move |tx| {
            let ids: Vec<i64> = tx
                .prepare_cached(
                    "SELECT id FROM executions WHERE due_at IS NOT NULL AND owner IS NULL \
                     AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
                )?
                .query_map(params![now as i64, limit as i64], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut claimed = Vec::new();
            if !ids.is_empty() {
                register_holder(tx, holder_id(), now)?;
            }
            for id in ids {
                // An ended execution has nothing due (whatever put it here).
                tx.prepare_cached(
                    "UPDATE executions SET due_at = NULL WHERE id = ?1 AND status != 'RUNNING'",
                )?
                .execute([id])?;
                // Nobody holds it (as selected): claimed unless it ended.
                let fence: Option<i64> = tx
                    .prepare_cached(
                        "UPDATE executions SET owner = ?2, fence = fence + 1, due_at = NULL \
                         WHERE id = ?1 AND status = 'RUNNING' AND owner IS NULL RETURNING fence",
                    )?
                    .query_row(params![id, holder_id()], |row| row.get(0))
                    .optional()?;
                if let Some(fence) = fence {
                    let execution = tx
                        .prepare_cached(&format!(
                            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1"
                        ))?
                        .query_row([id], read_execution)
                        .context("cannot read the store")?;
                    claimed.push((
                        execution,
                        Claim {
                            execution: id,
                            fence,
                        },
                    ));
                }
            }
            Ok(claimed)
        })?;
        if !claimed.is_empty() {
            start_renewing(&self.path, self.durability);
        }
        Ok(claimed)
    }

    /// When the earliest execution nobody holds falls due, if any does.
    pub fn next_due(&self) -> Result<Option<Millis>> {
        let conn = self.conn.lock().unwrap();
        let due: Option<i64> = conn
            .prepare_cached(
                "SELECT due_at FROM executions WHERE due_at IS NOT NULL AND owner IS NULL \
                 ORDER BY due_at LIMIT 1",
            )?
            .query_row([], |row| row.get(0))
            .optional()?;
        Ok(due.map(|due| due.max(0) as Millis))
    }

    /// Gives up this process's claim. The execution falls due at `due` (its
    /// next timer), or earlier if news arrived meanwhile; `None`: only news
    /// wakes it.
    pub fn release(&self, claim: &Claim, due: Option<Millis>) -> Result<()> {
        let claim = *claim;
        let holder = holder_id();
        self.write(false, move |tx| {
            tx.prepare_cached(
                "UPDATE executions SET owner = NULL, due_at = CASE \
                     WHEN status != 'RUNNING' THEN NULL \
                     WHEN due_at IS NULL THEN ?4 \
                     WHEN ?4 IS NULL THEN due_at \
                     ELSE MIN(due_at, ?4) END \
                 WHERE id = ?1 AND owner = ?2 AND fence = ?3",
            )?
            .execute(params![
                claim.execution,
                holder,
                claim.fence,
                due.map(|d| d as i64)
            ])?;
            Ok(())
        })
    }

    /// Frees the executions of holders that are gone (their leases ran
    /// out, or they were processes of this host that have exited): they
    /// fall due at once. Which holders were reaped, why, and how many
    /// executions each held.
    pub fn reap(&self, now: Millis) -> Result<Vec<(String, Gone, usize)>> {
        let gone = lease::gone_holders(&self.conn.lock().unwrap(), now)?;
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        self.write(false, move |tx| {
            let mut freed = Vec::new();
            for (holder, why) in gone {
                let count = lease::reap(tx, &holder, now)?;
                if count > 0 {
                    freed.push((holder, why, count));
                }
            }
            Ok(freed)
        })
    }

    /// Whether `claim` still holds: its execution runs, and this process
    /// holds it with that fencing token.
    pub fn holds(&self, claim: &Claim) -> Result<bool> {
        let conn = self.conn.lock().unwrap();
        let found: Option<(String, Option<String>, i64)> = conn
            .prepare_cached("SELECT status, owner, fence FROM executions WHERE id = ?1")?
            .query_row([claim.execution], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        Ok(found.is_some_and(|(status, owner, fence)| {
            status == Status::Running.as_str()
                && owner.as_deref() == Some(holder_id())
                && fence == claim.fence
        }))
    }

    /// Which of `claims` no longer hold (their executions were stopped
    /// from outside, or taken over).
    pub fn lost_among(&self, claims: &[Claim]) -> Result<Vec<i64>> {
        let mut lost = Vec::new();
        for claim in claims {
            if !self.holds(claim)? {
                lost.push(claim.execution);
            }
        }
        Ok(lost)
    }

    /// A number that changes whenever another connection commits to the
    /// store (SQLite's `data_version`): an O(1) check for news.
    pub fn data_version(&self) -> Result<i64> {
        let conn = self.conn.lock().unwrap();
        Ok(conn.query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }

    /// How many events the execution's journal holds: it grows from outside
    /// (a callback completed) while the execution is suspended.
    pub fn journal_len(&self, execution: i64) -> Result<usize> {
        let conn = self.conn.lock().unwrap();
        let len: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), -1) + 1 FROM events WHERE execution = ?1")?
            .query_row([execution], |row| row.get(0))?;
        Ok(len as usize)
    }

    /// Registers the component at `path` (its kept copy: see
    /// `component::keep`), whose hash is `hash`, as the workflow `name`
    /// (for invoke). Returns its version: a new one when the bytes differ
    /// from the latest version's, the latest one again when they do not.
    pub fn deploy(
        &self,
        name: &str,
        path: &Path,
        hash: &ComponentHash,
        size: u64,
        now: Millis,
    ) -> Result<u64> {
        let (name, path, hash) = (name.to_owned(), path.to_string_lossy().into_owned(), *hash);
        self.write(true, move |tx| {
            tx.prepare_cached(
                "INSERT INTO workflows (name, component_path, component_hash) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET component_path = excluded.component_path, \
                 component_hash = excluded.component_hash",
            )?
            .execute(params![name, path, &hash[..]])?;
            let latest: Option<(u64, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT version, component_hash FROM workflow_versions WHERE workflow = ?1 \
                     ORDER BY version DESC LIMIT 1",
                )?
                .query_row([&name], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            match latest {
                Some((version, latest)) if latest == hash => Ok(version),
                latest => {
                    let version = latest.map_or(1, |(version, _)| version + 1);
                    tx.prepare_cached(
                        "INSERT INTO workflow_versions (workflow, version, component_hash, size, deployed_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![name, version, &hash[..], size, now])?;
                    Ok(version)
                }
            }
        })
    }

    /// Where this store keeps components' bytes: `components/` beside it,
    /// each named by its hash (shared by stores in one directory, safely:
    /// a name says what it holds).
    pub fn components_dir(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("components")
    }

    /// Keeps `bytes` (whose hash is `hash`) beside the store; returns the
    /// kept copy's path, which executions and deploys then point at.
    pub fn keep_component(&self, bytes: &[u8], hash: &ComponentHash) -> Result<PathBuf> {
        crate::component::keep(&self.components_dir(), bytes, hash)
    }

    /// Keeps `bytes` and registers them as the workflow `name`: its
    /// version (see [`Db::deploy`]).
    pub fn deploy_component(
        &self,
        name: &str,
        bytes: &[u8],
        hash: &ComponentHash,
        now: Millis,
    ) -> Result<u64> {
        let path = self.keep_component(bytes, hash)?;
        self.deploy(name, &path, hash, bytes.len() as u64, now)
    }

    /// Every deployed workflow with its latest version, by name; or, given
    /// `name`, that workflow's versions, oldest first (as Lambda lists them).
    pub fn deployed(&self, name: Option<&str>) -> Result<Vec<Deployed>> {
        let conn = self.conn.lock().unwrap();
        let row = |row: &rusqlite::Row<'_>| {
            let hash: Vec<u8> = row.get(2)?;
            Ok(Deployed {
                workflow: row.get(0)?,
                version: row.get(1)?,
                hash: ComponentHash::try_from(hash).unwrap_or_default(),
                size: row.get(3)?,
                deployed_at: row.get(4)?,
            })
        };
        let rows = match name {
            Some(name) => conn
                .prepare_cached(
                    "SELECT workflow, version, component_hash, size, deployed_at FROM workflow_versions \
                     WHERE workflow = ?1 ORDER BY version",
                )?
                .query_map([name], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => conn
                .prepare_cached(
                    "SELECT workflow, MAX(version), component_hash, size, deployed_at FROM workflow_versions \
                     GROUP BY workflow ORDER BY workflow",
                )?
                .query_map([], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }

    /// Sets the hosts the workflow `name`'s HTTP requests may reach (for
    /// every execution of it, beside those the running process allows).
    pub fn set_http_allowlist(&self, name: &str, hosts: &[AllowedHost]) -> Result<()> {
        let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        let name = name.to_owned();
        self.write(true, move |tx| {
            tx.prepare_cached(
                "INSERT INTO http_allowlists (workflow, hosts) VALUES (?1, ?2) \
                 ON CONFLICT (workflow) DO UPDATE SET hosts = excluded.hosts",
            )?
            .execute(params![name, hosts.join(",")])?;
            Ok(())
        })
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
    pub fn workflow_path(&self, name: &str) -> Result<Option<PathBuf>> {
        Ok(self.workflow(name)?.map(|(path, _)| path))
    }

    /// The component registered as the workflow `name`, and its hash as it
    /// was deployed (unknown for deploys of format 3).
    pub fn workflow(&self, name: &str) -> Result<Option<(PathBuf, Option<ComponentHash>)>> {
        let conn = self.conn.lock().unwrap();
        let found: Option<(String, Option<Vec<u8>>)> = conn
            .prepare_cached("SELECT component_path, component_hash FROM workflows WHERE name = ?1")?
            .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(found.map(|(path, hash)| {
            (
                path.into(),
                hash.and_then(|hash| ComponentHash::try_from(hash).ok()),
            )
        }))
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
            if !matches!(
                journal.last(),
                Some(Event::InvocationCompleted { .. } | Event::InvocationCrashed { .. })
            ) {
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
        let name = name.to_owned();
        self.write(true, move |tx| {
            let found: Option<(i64, String, Option<i64>)> = tx
                .query_row(
                    "SELECT id, status, ended_at FROM executions WHERE name = ?1",
                    [&name],
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
            insert_events(tx, id, None, &[Event::ExecutionStopped { error, at: now }])?;
            Ok(Stopped::Now(now))
        })
    }

    /// Pauses the running execution `name`, from outside: it is not
    /// invoked until resumed. With no invocation in progress the pause is
    /// in effect at once (`ExecutionPaused` is recorded); otherwise the
    /// execution is pausing until that invocation's next durability point
    /// ([`Db::pause_taken`]). The same request again (its client token) is
    /// not an error.
    pub fn pause(&self, name: &str, request: PauseRequest, now: Millis) -> Result<PauseState> {
        let name = name.to_owned();
        self.write(true, move |tx| {
            let ControlRow {
                id,
                status,
                owner,
                pause,
                token,
            } = control_row(tx, &name)?;
            let token_of = |kind: &str| {
                request
                    .client_token
                    .as_ref()
                    .map(|token| format!("{kind}:{token}"))
            };
            if status != Status::Running.as_str() {
                bail!(Refused::State(format!(
                    "execution {name:?} has ended ({status}): only a running execution can be paused"
                )));
            }
            if let Some(state) = pause {
                if token.is_some() && token == token_of("pause") {
                    return Ok(parse_pause_state(&state));
                }
                bail!(Refused::State(format!(
                    "execution {name:?} is {state} already"
                )));
            }
            let state = if owner.is_none() {
                PauseState::Paused
            } else {
                PauseState::Pausing
            };
            tx.prepare_cached(
                "UPDATE executions SET pause = ?2, pause_requested_at = ?3, pause_reason = ?4, \
                 pause_timeout = ?5, control_token = ?6 WHERE id = ?1",
            )?
            .execute(params![
                id,
                pause_state_name(state),
                now as i64,
                request.reason,
                request.timeout_paused,
                token_of("pause")
            ])?;
            if state == PauseState::Paused {
                insert_events(
                    tx,
                    id,
                    None,
                    &[Event::ExecutionPaused {
                        requested_at: now,
                        reason: request.reason,
                        timeout_paused: request.timeout_paused,
                        interrupted: false,
                        at: now,
                    }],
                )?;
            }
            Ok(state)
        })
    }

    /// On a run's behalf: a pause asked for while it held the execution
    /// takes effect now (`ExecutionPaused`, which says whether it cut an
    /// invocation short). Returns whether the execution is paused.
    pub fn pause_taken(&self, claim: &Claim, interrupted: bool, now: Millis) -> Result<bool> {
        let claim = *claim;
        let holder = holder_id();
        self.write(true, move |tx| {
            let pause = tx
                .prepare_cached(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1"
                ))?
                .query_row([claim.execution], read_execution)?
                .pause;
            let Some(pause) = pause else {
                return Ok(false);
            };
            if pause.state == PauseState::Pausing {
                insert_events(
                    tx,
                    claim.execution,
                    Some((&claim, holder)),
                    &[Event::ExecutionPaused {
                        requested_at: pause.requested_at,
                        reason: pause.reason,
                        timeout_paused: pause.timeout_paused,
                        interrupted,
                        at: now,
                    }],
                )?;
                tx.prepare_cached("UPDATE executions SET pause = 'PAUSED' WHERE id = ?1")?
                    .execute([claim.execution])?;
            }
            Ok(true)
        })
    }

    /// Resumes the paused execution `name`, from outside. One still
    /// pausing goes on as if never paused; one paused is invoked again
    /// if something completed meanwhile or the pause cut an invocation
    /// short, and otherwise waits on as before.
    pub fn resume(&self, name: &str, request: PauseRequest, now: Millis) -> Result<()> {
        let name = name.to_owned();
        self.write(true, move |tx| {
            let ControlRow {
                id,
                status,
                pause,
                token,
                ..
            } = control_row(tx, &name)?;
            let mine = request
                .client_token
                .as_ref()
                .map(|token| format!("resume:{token}"));
            if status != Status::Running.as_str() {
                bail!(Refused::State(format!(
                    "execution {name:?} has ended ({status}): only a paused execution can be resumed"
                )));
            }
            let Some(state) = pause else {
                if token.is_some() && token == mine {
                    return Ok(());
                }
                bail!(Refused::State(format!(
                    "execution {name:?} is not paused"
                )));
            };
            tx.prepare_cached(
                "UPDATE executions SET pause = NULL, pause_requested_at = NULL, \
                 pause_reason = NULL, pause_timeout = NULL, control_token = ?2 WHERE id = ?1",
            )?
            .execute(params![id, mine])?;
            if parse_pause_state(&state) == PauseState::Paused {
                insert_events(
                    tx,
                    id,
                    None,
                    &[Event::ExecutionResumed {
                        reason: request.reason,
                        at: now,
                    }],
                )?;
                // Its timers may have moved (a timeout held still): the
                // run decides whether anything is to be invoked.
                wake(tx, id, now)?;
            }
            Ok(())
        })
    }

    /// Deletes the ended execution `name` and all it recorded (its
    /// journal, callbacks and log lines). Executions it invoked stay, no
    /// longer linked to it.
    pub fn delete(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(true, move |tx| {
            let ControlRow { id, status, .. } = control_row(tx, &name)?;
            if status == Status::Running.as_str() {
                bail!(Refused::State(format!(
                    "execution {name:?} is running: only an ended execution can be deleted (stop it first)"
                )));
            }
            for event in read_journal(tx, id)? {
                if let Event::CallbackStarted { callback_id, .. } = event {
                    tx.prepare_cached("DELETE FROM callbacks WHERE callback_id = ?1")?
                        .execute([callback_id])?;
                }
            }
            tx.prepare_cached("DELETE FROM events WHERE execution = ?1")?
                .execute([id])?;
            logs::delete(tx, id)?;
            tx.prepare_cached("UPDATE executions SET parent = NULL WHERE parent = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM executions WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
    }

    /// Completes, fails or heartbeats the callback `callback_id` from
    /// outside, and wakes its execution.
    pub fn complete_callback(
        &self,
        callback_id: &str,
        completion: Completion,
        now: Millis,
    ) -> Result<()> {
        let callback_id = callback_id.to_owned();
        // A late callback's timeout is recorded even though the completion
        // is refused: committed, then reported.
        let refused = self.write(true, move |tx| {
            let found: Option<(i64, String, String)> = tx
                .query_row(
                    "SELECT execution, op_id, status FROM callbacks WHERE callback_id = ?1",
                    [&callback_id],
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
            let running: String = tx
                .prepare_cached("SELECT status FROM executions WHERE id = ?1")?
                .query_row([execution], |row| row.get(0))?;
            if running != Status::Running.as_str() {
                bail!(Refused::Closed(format!(
                    "callback {callback_id:?} belongs to an execution that has ended ({running})"
                )));
            }
            // Past its deadline (no runner was there to see it): it timed out.
            let journal = read_journal(tx, execution)?;
            let late = cairn_core::replay::pending_timers(&journal)
                .into_iter()
                .find(|timer| timer.id == id && timer.due <= now)
                .map(|timer| timer.fire(now));
            let (event, refused) = match (late, completion) {
                (Some(timed_out), _) => (
                    timed_out,
                    Some(Refused::Closed(format!(
                        "callback {callback_id:?} has timed out"
                    ))),
                ),
                (None, Completion::Succeed(result)) => (
                    Event::CallbackSucceeded {
                        id,
                        result,
                        at: now,
                    },
                    None,
                ),
                (None, Completion::Fail(error)) => {
                    (Event::CallbackFailed { id, error, at: now }, None)
                }
                (None, Completion::Heartbeat) => (Event::CallbackHeartbeat { id, at: now }, None),
            };
            let heartbeat = matches!(event, Event::CallbackHeartbeat { .. });
            insert_events(tx, execution, None, std::slice::from_ref(&event))?;
            if heartbeat {
                // A heartbeat only moves the callback's deadline: nothing for
                // the workflow to see, so no invocation for it (AWS's
                // records none either). Due when its earliest timer is,
                // unless it is due already or running.
                let mut journal = journal;
                journal.push(event);
                let next = cairn_core::replay::pending_timers(&journal)
                    .iter()
                    .map(|timer| timer.due as i64)
                    .min();
                tx.prepare_cached(
                    "UPDATE executions SET due_at = ?2 WHERE id = ?1 AND status = 'RUNNING' \
                     AND owner IS NULL AND (due_at IS NULL OR due_at > ?3)",
                )?
                .execute(params![execution, next, now as i64])?;
            } else {
                wake(tx, execution, now)?;
            }
            Ok(refused)
        })?;
        match refused {
            Some(refused) => Err(refused.into()),
            None => Ok(()),
        }
    }

    /// A sink that appends to the claimed execution's journal, and pins the
    /// execution to `repin` with the first events it writes (an upgrade:
    /// only a component that replayed the history writes).
    /// The log lines in `logs` are kept with the events that follow them.
    /// `pause_asked` is set when a durability point finds a pause asked
    /// for (the invocation stops at its next step).
    pub fn sink(
        &self,
        claim: &Claim,
        repin: Option<ComponentHash>,
        logs: LogBuffer,
        pause_asked: Arc<AtomicBool>,
    ) -> Box<dyn JournalSink> {
        Box::new(SqliteSink {
            db: self.clone(),
            claim: *claim,
            repin,
            logs,
            pause_asked,
        })
    }
}

/// The execution named `name`, if any.
fn find_execution(conn: &Connection, name: &str) -> Result<Option<Execution>> {
    conn.prepare_cached(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE name = ?1"
    ))?
    .query_row([name], read_execution)
    .optional()
    .context("cannot read the store")
}

/// What pausing, resuming and deleting read of an execution.
struct ControlRow {
    id: i64,
    status: String,
    /// Its holder, while one runs it.
    owner: Option<String>,
    pause: Option<String>,
    /// The last pause's or resume's client token.
    token: Option<String>,
}

fn control_row(tx: &rusqlite::Transaction<'_>, name: &str) -> Result<ControlRow> {
    tx.prepare_cached(
        "SELECT id, status, owner, pause, control_token FROM executions WHERE name = ?1",
    )?
    .query_row([name], |row| {
        Ok(ControlRow {
            id: row.get(0)?,
            status: row.get(1)?,
            owner: row.get(2)?,
            pause: row.get(3)?,
            token: row.get(4)?,
        })
    })
    .optional()?
    .ok_or_else(|| anyhow!(Refused::NotFound(format!("no execution named {name:?}"))))
}

fn pause_state_name(state: PauseState) -> &'static str {
    match state {
        PauseState::Pausing => "PAUSING",
        PauseState::Paused => "PAUSED",
    }
}

fn parse_pause_state(text: &str) -> PauseState {
    if text == "PAUSING" {
        PauseState::Pausing
    } else {
        PauseState::Paused
    }
}

/// Makes a running execution due now: it has news.
fn wake(tx: &rusqlite::Transaction<'_>, execution: i64, now: Millis) -> Result<()> {
    tx.prepare_cached("UPDATE executions SET due_at = ?2 WHERE id = ?1 AND status = 'RUNNING'")?
        .execute(params![execution, now as i64])?;
    Ok(())
}

/// Claims execution `id` for this process if it runs and no live holder
/// has it; its new fencing token.
fn claim_in(tx: &rusqlite::Transaction<'_>, id: i64, now: Millis) -> Result<Option<Claim>> {
    let holder = holder_id();
    register_holder(tx, holder, now)?;
    lease::reap_if_gone(tx, id, now)?;
    let claimed = tx
        .prepare_cached(
            "UPDATE executions SET owner = ?2, fence = fence + 1, due_at = NULL \
         WHERE id = ?1 AND status = 'RUNNING' AND (owner IS NULL OR NOT EXISTS \
             (SELECT 1 FROM holders WHERE holders.id = executions.owner AND lease_until >= ?3))",
        )?
        .execute(params![id, holder, now as i64])?;
    if claimed == 0 {
        return Ok(None);
    }
    let fence: i64 = tx
        .prepare_cached("SELECT fence FROM executions WHERE id = ?1")?
        .query_row([id], |row| row.get(0))?;
    Ok(Some(Claim {
        execution: id,
        fence,
    }))
}

/// Refuses a write on behalf of a claim that no longer holds.
/// Refuses a write on behalf of a claim that no longer holds (whose
/// execution has now `owner` and `fence`).
fn check_fence(claim: &Claim, holder: &str, owner: Option<&str>, fence: i64) -> Result<()> {
    if owner != Some(holder) || fence != claim.fence {
        bail!(
            "execution {} is no longer claimed by this process (its lease lapsed, and another \
             process may run it now): this run stops writing",
            claim.execution
        );
    }
    Ok(())
}

struct SqliteSink {
    db: Db,
    claim: Claim,
    repin: Option<ComponentHash>,
    logs: LogBuffer,
    pause_asked: Arc<AtomicBool>,
}

impl JournalSink for SqliteSink {
    fn persist(&mut self, events: &[Event]) -> Result<()> {
        let paused = self.db.append_logged(
            &self.claim,
            events,
            self.repin.take().as_ref(),
            self.logs.take(),
        )?;
        self.pause_asked.store(paused, Ordering::Relaxed);
        Ok(())
    }

    fn pause_asked(&self) -> bool {
        self.pause_asked.load(Ordering::Relaxed)
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
        events.push(decode(execution, seq, body)?);
    }
    Ok(events)
}

fn decode(execution: i64, seq: i64, body: &[u8]) -> Result<Event> {
    postcard::from_bytes(body)
        .with_context(|| format!("event {seq} of execution {execution} is corrupt"))
}

/// Appends `events` at the end of the journal and keeps the execution's and
/// its callbacks' status in step with them; on a run's behalf, if its
/// `claim` (held by `holder`) still holds.
fn insert_events(
    tx: &rusqlite::Transaction<'_>,
    execution: i64,
    claim: Option<(&Claim, &str)>,
    events: &[Event],
) -> Result<bool> {
    type Row = (String, String, Option<String>, i64, Option<String>);
    let (name, status, owner, fence, pause): Row = tx
        .prepare_cached("SELECT name, status, owner, fence, pause FROM executions WHERE id = ?1")?
        .query_row([execution], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?;
    if let Some((claim, holder)) = claim {
        check_fence(claim, holder, owner.as_deref(), fence)?;
    }
    // An execution that ended records nothing more (a run racing a stop).
    if status != Status::Running.as_str() {
        bail!("execution {name:?} has already ended ({status})");
    }
    // Numbered here, in the transaction, so events from outside (callback
    // completions) interleave safely.
    let (mut seq, mut history_count) = history::journal_end(tx, execution)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (execution, seq, body, history_count, lookup_key) VALUES (?1, ?2, ?3, ?4, ?5)",
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
            let closed = tx.prepare_cached("UPDATE callbacks SET status = ?3 WHERE execution = ?1 AND op_id = ?2 AND status = 'STARTED'")?.execute(
                params![execution, id, status],
            )?;
            if closed == 0 {
                continue;
            }
        }
        let key;
        (history_count, key) = history::columns(history_count, event);
        insert
            .execute(params![execution, seq, encode(event)?, history_count, key])
            .with_context(|| format!("cannot append to the journal of execution {execution}"))?;
        seq += 1;
        match event {
            Event::ExecutionSucceeded { result, at } => {
                tx.prepare_cached("UPDATE executions SET status = 'SUCCEEDED', result = ?2, ended_at = ?3 WHERE id = ?1")?.execute(
                    params![execution, result, *at as i64],
                )?;
            }
            Event::ExecutionFailed { error, at } | Event::ExecutionStopped { error, at } => {
                let status = match event {
                    Event::ExecutionFailed { .. } => Status::Failed,
                    _ => Status::Stopped,
                };
                tx.prepare_cached(
                    "UPDATE executions SET status = ?4, error = ?2, ended_at = ?3 WHERE id = ?1",
                )?
                .execute(params![
                    execution,
                    serde_json::to_string(error)?,
                    *at as i64,
                    status.as_str()
                ])?;
            }
            Event::ExecutionTimedOut { at } => {
                tx.prepare_cached("UPDATE executions SET status = 'TIMED_OUT', error = ?2, ended_at = ?3 WHERE id = ?1")?.execute(
                    params![execution, serde_json::to_string(&ErrorObject::timed_out())?, *at as i64],
                )?;
            }
            _ => {}
        }
        if let Event::ExecutionSucceeded { at, .. }
        | Event::ExecutionFailed { at, .. }
        | Event::ExecutionStopped { at, .. }
        | Event::ExecutionTimedOut { at } = event
        {
            // Ended: nothing is due, no one holds it (its run needs no
            // release), nothing pauses it, and its caller has news.
            tx.prepare_cached(
                "UPDATE executions SET due_at = NULL, owner = NULL, pause = NULL WHERE id = ?1",
            )?
            .execute([execution])?;
            tx.prepare_cached(
                "UPDATE executions SET due_at = ?2 \
                 WHERE id = (SELECT parent FROM executions WHERE id = ?1) AND status = 'RUNNING'",
            )?
            .execute(params![execution, *at as i64])?;
        }
        if let Event::CallbackStarted {
            id, callback_id, ..
        } = event
        {
            tx.prepare_cached("INSERT INTO callbacks (callback_id, execution, op_id, status) VALUES (?1, ?2, ?3, 'STARTED')")?.execute(
                params![callback_id, execution, id],
            )?;
        }
    }
    Ok(pause.is_some())
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
        pause: match row.get::<_, Option<String>>(11)?.as_deref() {
            None => None,
            Some(state) => Some(Pause {
                state: match state {
                    "PAUSING" => PauseState::Pausing,
                    "PAUSED" => PauseState::Paused,
                    _ => return Err(corrupt(11, "unknown pause state")),
                },
                requested_at: row.get::<_, Option<i64>>(12)?.unwrap_or(0) as Millis,
                reason: row.get(13)?,
                timeout_paused: row.get::<_, Option<bool>>(14)?.unwrap_or(true),
            }),
        },
    })
}
