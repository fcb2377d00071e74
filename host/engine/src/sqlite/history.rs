//! Pages of an execution's history (GetDurableExecutionHistory) read from
//! the store without the rest of the journal: each event row carries its
//! place in that history and the key later events look it up by, so a page
//! costs its own length however long the journal is.

use super::decode;
use anyhow::{Context as _, Result};
use cairn_core::Event;
use cairn_core::history::{self, Before, INVOCATION_KEY, event_time, is_aws_event, lookup_key};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

/// One event of a page, with what rendering it needs of earlier events.
pub struct HistoryEvent {
    /// Its `EventId`.
    pub event_id: u64,
    pub event: Event,
    /// The event that started the operation it follows up.
    pub started: Option<Event>,
    pub invocations: u64,
    pub invocation_start: cairn_core::Millis,
}

impl HistoryEvent {
    /// The event as GetDurableExecutionHistory shows it.
    pub fn to_aws(&self, execution_name: &str) -> Value {
        let before = Before {
            started: self.started.as_ref(),
            invocations: self.invocations,
            invocation_start: self.invocation_start,
        };
        history::aws_event(execution_name, self.event_id, &self.event, &before)
            .expect("a page holds only events the history shows")
    }
}

/// A page: its events and, if more follow, the marker of the next page.
pub struct HistoryPage {
    pub events: Vec<HistoryEvent>,
    pub next: Option<i64>,
}

/// The columns an event row carries for paging, after an event whose
/// `history_count` was `count_before`: how many events the history shows up
/// to this one (its `EventId` if it is shown), and its lookup key.
pub(super) fn columns(count_before: i64, event: &Event) -> (i64, Option<&str>) {
    (
        count_before + i64::from(is_aws_event(event)),
        lookup_key(event),
    )
}

/// The number the next event of a journal gets, and the `history_count`
/// of the last one.
pub(super) fn journal_end(tx: &Transaction<'_>, execution: i64) -> Result<(i64, i64)> {
    Ok(tx
        .prepare_cached(
            "SELECT seq + 1, history_count FROM events WHERE execution = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([execution], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// Fills in the paging columns of a store whose events lack them
/// (migrating format 4): once, over every journal.
pub(super) fn backfill(tx: &Transaction<'_>) -> Result<()> {
    let executions: Vec<i64> = tx
        .prepare("SELECT id FROM executions")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut update = tx.prepare(
        "UPDATE events SET history_count = ?3, lookup_key = ?4 WHERE execution = ?1 AND seq = ?2",
    )?;
    for execution in executions {
        let mut count = 0;
        for (seq, event) in super::read_journal(tx, execution)?.iter().enumerate() {
            let (shown, key) = columns(count, event);
            count = shown;
            update.execute(params![execution, seq as i64, shown, key])?;
        }
    }
    Ok(())
}

/// Up to `limit` events of the history after the event numbered `after`
/// in the journal (before it when `reverse`: newest first).
pub(super) fn page(
    conn: &Connection,
    execution: i64,
    after: Option<i64>,
    reverse: bool,
    limit: usize,
) -> Result<HistoryPage> {
    let sql = if reverse {
        "SELECT seq, history_count, body FROM events WHERE execution = ?1 AND seq < ?2 ORDER BY seq DESC"
    } else {
        "SELECT seq, history_count, body FROM events WHERE execution = ?1 AND seq > ?2 ORDER BY seq"
    };
    let from = after.unwrap_or(if reverse { i64::MAX } else { -1 });
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params![execution, from])?;
    let mut shown = Vec::new();
    // One event more than the page tells whether another page follows.
    while shown.len() <= limit {
        let Some(row) = rows.next()? else { break };
        let seq: i64 = row.get(0)?;
        let event = decode(execution, seq, row.get_ref(2)?.as_blob()?)?;
        if is_aws_event(&event) {
            shown.push((seq, row.get::<_, i64>(1)?, event));
        }
    }
    drop(rows);
    let next = (shown.len() > limit).then(|| shown[limit - 1].0);
    shown.truncate(limit);
    let events = shown
        .into_iter()
        .map(|(seq, count, event)| {
            let started = match event.follows_up() {
                Some(id) if event.op_id().is_none() => latest(conn, execution, id, seq)?,
                _ => None,
            };
            let (invocations, invocation_start) = match lookup_key(&event) {
                Some(INVOCATION_KEY) => invocation_before(conn, execution, seq)?,
                _ => (0, 0),
            };
            Ok(HistoryEvent {
                event_id: count as u64,
                event,
                started,
                invocations,
                invocation_start,
            })
        })
        .collect::<Result<_>>()?;
    Ok(HistoryPage { events, next })
}

/// The latest event before `seq` whose lookup key is `key`.
fn latest(conn: &Connection, execution: i64, key: &str, seq: i64) -> Result<Option<Event>> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            // Left to itself, SQLite walks the journal back by its primary
            // key, past every event of other keys.
            "SELECT seq, body FROM events INDEXED BY events_by_key \
             WHERE execution = ?1 AND lookup_key = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![execution, key, seq], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    row.map(|(seq, body)| decode(execution, seq, &body))
        .transpose()
}

/// How many invocations completed before the event numbered `seq`, and
/// when the one it ends began.
fn invocation_before(conn: &Connection, execution: i64, seq: i64) -> Result<(u64, u64)> {
    let count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM events INDEXED BY events_by_key \
             WHERE execution = ?1 AND lookup_key = ?2 AND seq < ?3",
        )?
        .query_row(params![execution, INVOCATION_KEY, seq], |row| row.get(0))?;
    let start = match latest(conn, execution, INVOCATION_KEY, seq)? {
        Some(previous) => event_time(&previous),
        None => {
            let body: Vec<u8> = conn
                .prepare_cached("SELECT body FROM events WHERE execution = ?1 AND seq = 0")?
                .query_row([execution], |row| row.get(0))
                .context("the journal has no first event")?;
            event_time(&decode(execution, 0, &body)?)
        }
    };
    Ok((count as u64, start))
}

#[cfg(test)]
mod tests {
    use crate::sqlite::{Db, Durability, NewExecution};
    use cairn_core::event::{ContextKind, RetryReason, StepKind};
    use cairn_core::{ErrorObject, Event, history};
    use serde_json::Value;

    /// A journal with every kind of follow-up: a step retried then
    /// succeeding, a wait, a callback, a context, an invoke, clock and
    /// random reads the history does not show, three invocations.
    fn journal() -> Vec<Event> {
        let step = |id: &str, attempt, at| Event::StepStarted {
            id: id.into(),
            name: format!("step {id}"),
            kind: StepKind::Step,
            fingerprint: 7,
            attempt,
            at,
        };
        vec![
            Event::WallClock {
                context: String::new(),
                seconds: 5,
                nanoseconds: 0,
            },
            step("1", 1, 10),
            Event::StepRetried {
                id: "1".into(),
                attempt: 1,
                reason: RetryReason::Failed(ErrorObject::new("Flaky", "once")),
                delay_seconds: 3,
                next_attempt_at: 3_010,
                at: 11,
            },
            Event::InvocationCompleted { at: 12 },
            Event::StepReady {
                id: "1".into(),
                attempt: 2,
                state: None,
                at: 3_010,
            },
            step("1", 2, 3_011),
            Event::StepSucceeded {
                id: "1".into(),
                result: "1".into(),
                at: 3_012,
            },
            Event::WaitStarted {
                id: "2".into(),
                name: "nap".into(),
                fingerprint: 8,
                seconds: 60,
                scheduled_end: 63_013,
                at: 3_013,
            },
            Event::InvocationCompleted { at: 3_014 },
            // A step whose body crashed: the invocation ends with its error.
            step("6", 1, 3_015),
            Event::InvocationCrashed {
                id: "6".into(),
                error: ErrorObject::new("Runtime.Trap", "the workflow panicked"),
                at: 3_016,
            },
            Event::StepSucceeded {
                id: "6".into(),
                result: "6".into(),
                at: 3_017,
            },
            Event::WaitSucceeded {
                id: "2".into(),
                at: 63_013,
            },
            Event::Random {
                context: String::new(),
                bytes: vec![1, 2],
            },
            Event::CallbackStarted {
                id: "3".into(),
                name: "approve".into(),
                fingerprint: 9,
                callback_id: "cb-1".into(),
                timeout_seconds: 0,
                heartbeat_timeout_seconds: 0,
                at: 63_014,
            },
            Event::CallbackSucceeded {
                id: "3".into(),
                result: "true".into(),
                at: 63_015,
            },
            Event::ContextStarted {
                id: "4".into(),
                name: "child".into(),
                kind: ContextKind::Child,
                fingerprint: 10,
                at: 63_016,
            },
            step("4-1", 1, 63_017),
            Event::StepSucceeded {
                id: "4-1".into(),
                result: "2".into(),
                at: 63_018,
            },
            Event::ContextSucceeded {
                id: "4".into(),
                result: "2".into(),
                at: 63_019,
            },
            Event::InvokeStarted {
                id: "5".into(),
                name: "other".into(),
                fingerprint: 11,
                workflow: "other".into(),
                input: "{}".into(),
                at: 63_020,
                tenant: None,
            },
            Event::InvokeFailed {
                id: "5".into(),
                error: ErrorObject::new("Boom", "no"),
                at: 63_021,
            },
            Event::InvocationCompleted { at: 63_022 },
            Event::ExecutionSucceeded {
                result: "3".into(),
                at: 63_022,
            },
        ]
    }

    /// Every page of the store's history, `size` events a page.
    fn paged(db: &Db, execution: i64, name: &str, size: usize, reverse: bool) -> Vec<Value> {
        let (mut events, mut after) = (Vec::new(), None);
        loop {
            let page = db.history_page(execution, after, reverse, size).unwrap();
            assert!(page.events.len() <= size);
            events.extend(page.events.iter().map(|e| e.to_aws(name)));
            match page.next {
                Some(next) => after = Some(next),
                None => return events,
            }
        }
    }

    fn store_with_journal(path: &std::path::Path) -> (Db, i64, Vec<Event>) {
        let db = Db::open(path, Durability::Process).unwrap();
        let (execution, claim) = db
            .create(
                &NewExecution {
                    name: "e",
                    workflow: "w",
                    hash: &[0; 32],
                    input: "{}",
                    timeout_seconds: 0,
                    component_path: None,
                    parent: None,
                },
                1,
                true,
            )
            .unwrap();
        let journal = journal();
        // Appended in three durability points, as three invocations would.
        let claim = claim.unwrap();
        for part in [&journal[..4], &journal[4..9], &journal[9..]] {
            db.append(&claim, part, None).unwrap();
        }
        let whole = db.journal(execution.id).unwrap();
        assert_eq!(whole.len(), journal.len() + 1);
        (db, execution.id, whole)
    }

    #[test]
    fn pages_of_any_size_in_either_order_are_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let (db, execution, whole) = store_with_journal(&dir.path().join("cairn.db"));
        let expected = history::aws_events("e", &whole);
        assert_eq!(
            expected.len(),
            22,
            "clock, random and StepReady are not shown"
        );
        let mut reversed = expected.clone();
        reversed.reverse();
        for size in [1, 2, 3, 7, 19, 1000] {
            assert_eq!(
                paged(&db, execution, "e", size, false),
                expected,
                "pages of {size}"
            );
            assert_eq!(
                paged(&db, execution, "e", size, true),
                reversed,
                "reversed pages of {size}"
            );
        }
    }

    #[test]
    fn a_format_4_store_gets_its_paging_columns_when_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.db");
        let (db, execution, whole) = store_with_journal(&path);
        drop(db);
        // As format 4 left it: no paging columns, no index, no pauses.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "DROP INDEX events_by_key; ALTER TABLE events DROP COLUMN history_count; \
             ALTER TABLE events DROP COLUMN lookup_key; {WITHOUT_FORMAT_8} PRAGMA user_version = 4;"
        ))
        .unwrap();
        drop(conn);
        let db = Db::open(&path, Durability::Process).unwrap();
        assert_eq!(
            paged(&db, execution, "e", 4, false),
            history::aws_events("e", &whole)
        );
    }

    /// What turns a format 8 store back into format 7.
    const WITHOUT_FORMAT_8: &str = "DROP INDEX executions_by_parent; \
        ALTER TABLE executions DROP COLUMN pause; \
        ALTER TABLE executions DROP COLUMN pause_requested_at; \
        ALTER TABLE executions DROP COLUMN pause_reason; \
        ALTER TABLE executions DROP COLUMN pause_timeout; \
        ALTER TABLE executions DROP COLUMN control_token;";

    #[test]
    fn a_format_7_store_can_pause_its_executions_once_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.db");
        let (db, execution, whole) = store_with_journal(&path);
        drop(db);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{WITHOUT_FORMAT_8} PRAGMA user_version = 7;"))
            .unwrap();
        // Its invocation as format 7 wrote it: without a tenant.
        #[derive(serde::Serialize)]
        struct InvokeStartedV7<'a> {
            id: &'a str,
            name: &'a str,
            fingerprint: u64,
            workflow: &'a str,
            input: &'a str,
            at: u64,
        }
        let invoke = whole
            .iter()
            .position(|e| matches!(e, Event::InvokeStarted { .. }))
            .unwrap();
        let v7 = postcard::to_stdvec(&(
            24u32,
            InvokeStartedV7 {
                id: "5",
                name: "other",
                fingerprint: 11,
                workflow: "other",
                input: "{}",
                at: 63_020,
            },
        ))
        .unwrap();
        let new = postcard::to_stdvec(&whole[invoke]).unwrap();
        assert_eq!(new[0], v7[0], "the variant's tag the migration looks for");
        assert_ne!(new, v7);
        let rewritten = conn
            .execute(
                "UPDATE events SET body = ?2 WHERE execution = ?1 AND seq = ?3",
                rusqlite::params![execution, v7, invoke as i64],
            )
            .unwrap();
        assert_eq!(rewritten, 1);
        drop(conn);
        let db = Db::open(&path, Durability::Process).unwrap();
        assert_eq!(db.journal(execution).unwrap(), whole, "the journal is kept");
        // Its one execution ended (the journal's last event): it cannot be
        // paused, but it can be deleted.
        let refused = db
            .pause("e", crate::sqlite::PauseRequest::default(), 2)
            .unwrap_err();
        assert!(refused.to_string().contains("has ended"), "{refused}");
        db.delete("e").unwrap();
        assert!(db.find("e").unwrap().is_none());
        assert!(db.journal(execution).unwrap().is_empty());
    }
}
