//! Workflows' log lines in the store (format 7): a row per line, numbered
//! as inserted, written in the same transaction as the events of the
//! durability point that follows them, and read in pages by execution or
//! by workflow (an index each, in the order of the rows).

use crate::logs::LogLine;
use anyhow::{Result, bail};
use cairn_core::Millis;
use rusqlite::{Connection, Transaction, params};

/// What format 7 adds.
pub(super) const SCHEMA_7_COMMON: &str = "
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY,
    execution INTEGER NOT NULL REFERENCES executions(id),
    -- The execution's workflow: a function's log group, read without a join.
    workflow TEXT NOT NULL,
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_execution ON logs(execution, seq);
CREATE INDEX IF NOT EXISTS logs_by_workflow ON logs(workflow, seq);
";

pub(super) fn insert(tx: &Transaction<'_>, execution: i64, lines: &[LogLine]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs (execution, workflow, at, level, message) \
         VALUES (?1, (SELECT workflow FROM executions WHERE id = ?1), ?2, ?3, ?4)",
    )?;
    for line in lines {
        insert.execute(params![
            execution,
            line.at as i64,
            crate::logs::level_name(line.level),
            line.message
        ])?;
    }
    Ok(())
}

/// Which lines a page reads.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// One execution's lines, or (`None`) those of every execution of
    /// `workflow`.
    pub execution: Option<i64>,
    pub workflow: String,
    /// Lines logged at or after, and at or before, these times.
    pub start: Option<Millis>,
    pub end: Option<Millis>,
    /// After the line with this number (a page's marker).
    pub after: Option<i64>,
    pub limit: usize,
}

/// A kept line, with its number and the execution that logged it.
#[derive(Clone, Debug)]
pub struct KeptLine {
    pub seq: i64,
    /// The execution's name and workflow.
    pub execution: (String, String),
    pub line: LogLine,
}

/// Up to `query.limit` rows after `query.after`, in order, and the number
/// of the last row read (the next page's marker), whether or not it falls
/// in the time range: every row read is counted, however few match.
/// Deletes an execution's lines (a deleted execution).
pub(super) fn delete(tx: &Transaction<'_>, execution: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM logs WHERE execution = ?1")?
        .execute([execution])?;
    Ok(())
}

pub(super) fn page(conn: &Connection, query: &LogQuery) -> Result<(Vec<KeptLine>, Option<i64>)> {
    let after = query.after.unwrap_or(0);
    let limit = query.limit as i64;
    let mut statement;
    let mut rows = match query.execution {
        Some(execution) => {
            statement = conn.prepare_cached(
                "SELECT seq, at, level, message, (SELECT name FROM executions WHERE id = execution), \
                 workflow FROM logs WHERE execution = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            statement.query(params![execution, after, limit])?
        }
        None => {
            statement = conn.prepare_cached(
                "SELECT seq, at, level, message, (SELECT name FROM executions WHERE id = execution), \
                 workflow FROM logs WHERE workflow = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            statement.query(params![query.workflow, after, limit])?
        }
    };
    let (start, end) = (query.start.unwrap_or(0), query.end.unwrap_or(Millis::MAX));
    let (mut lines, mut last) = (Vec::new(), None);
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        last = Some(seq);
        let at = row.get::<_, i64>(1)?.max(0) as Millis;
        if at < start || at > end {
            continue;
        }
        let level: String = row.get(2)?;
        let Some(level) = crate::logs::level_from_name(&level) else {
            bail!("a kept log line has the level {level:?}");
        };
        lines.push(KeptLine {
            seq,
            execution: (row.get(4)?, row.get(5)?),
            line: LogLine {
                at,
                level,
                message: row.get(3)?,
            },
        });
    }
    Ok((lines, last))
}
