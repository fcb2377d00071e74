//! Workflows' log lines in the store (format 7): a row per line, numbered
//! as inserted, written in the same transaction as the events of the
//! durability point that follows them, and read in pages by execution (an
//! index) or by workflow.

use crate::LogLevel;
use crate::logs::LogLine;
use anyhow::{Result, bail};
use cairn_core::Millis;
use rusqlite::{Connection, Transaction, params};

/// What format 7 adds.
pub(super) const SCHEMA_7_COMMON: &str = "
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY,
    execution INTEGER NOT NULL REFERENCES executions(id),
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_execution ON logs(execution, seq);
";

pub(super) fn insert(tx: &Transaction<'_>, execution: i64, lines: &[LogLine]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs (execution, at, level, message) VALUES (?1, ?2, ?3, ?4)",
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

pub(super) fn page(conn: &Connection, query: &LogQuery) -> Result<Vec<KeptLine>> {
    let start = query.start.map_or(i64::MIN, |t| t as i64);
    let end = query.end.map_or(i64::MAX, |t| t as i64);
    let after = query.after.unwrap_or(0);
    let limit = query.limit as i64;
    let mut statement;
    let mut rows = match query.execution {
        Some(execution) => {
            statement = conn.prepare_cached(
                "SELECT logs.seq, executions.name, executions.workflow, logs.at, logs.level, logs.message \
                 FROM logs JOIN executions ON executions.id = logs.execution \
                 WHERE logs.execution = ?1 AND logs.seq > ?2 AND logs.at >= ?3 AND logs.at <= ?4 \
                 ORDER BY logs.seq LIMIT ?5",
            )?;
            statement.query(params![execution, after, start, end, limit])?
        }
        None => {
            statement = conn.prepare_cached(
                "SELECT logs.seq, executions.name, executions.workflow, logs.at, logs.level, logs.message \
                 FROM logs JOIN executions ON executions.id = logs.execution \
                 WHERE executions.workflow = ?1 AND logs.seq > ?2 AND logs.at >= ?3 AND logs.at <= ?4 \
                 ORDER BY logs.seq LIMIT ?5",
            )?;
            statement.query(params![query.workflow, after, start, end, limit])?
        }
    };
    let mut lines = Vec::new();
    while let Some(row) = rows.next()? {
        let level: String = row.get(4)?;
        let level = match level.as_str() {
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            other => bail!("a kept log line has the level {other:?}"),
        };
        lines.push(KeptLine {
            seq: row.get(0)?,
            execution: (row.get(1)?, row.get(2)?),
            line: LogLine {
                at: row.get::<_, i64>(3)? as Millis,
                level,
                message: row.get(5)?,
            },
        });
    }
    Ok(lines)
}
