//! Workflows' log lines, kept in the store with their execution: what a
//! live invocation logs is buffered and written with its next durability
//! point (so logging never waits for a commit of its own), and read back
//! by execution or by workflow, as CloudWatch Logs' FilterLogEvents reads a
//! function's log group. Replayed calls log nothing (`imports::log`), so
//! each line is kept once per time it was really logged.

use crate::LogLevel;
use crate::invocation::{Identity, Logger, now_millis};
use crate::limits::{MAX_LOG_BYTES_PER_WRITE, MAX_LOG_LINE_BYTES};
use cairn_core::Millis;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// One line a workflow logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: Millis,
    pub level: LogLevel,
    pub message: String,
}

/// The lines an invocation logged since its last durability point.
#[derive(Clone, Default)]
pub struct LogBuffer {
    inner: Arc<Mutex<Buffered>>,
}

#[derive(Default)]
struct Buffered {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: usize,
}

impl LogBuffer {
    /// `logger`, also keeping every line in this buffer.
    pub fn keeping(&self, logger: Logger) -> Logger {
        let buffer = self.clone();
        Arc::new(move |level, message: &str| {
            buffer.push(level, message);
            logger(level, message);
        })
    }

    fn push(&self, level: LogLevel, message: &str) {
        let mut buffered = self.inner.lock().unwrap();
        let mut cut = message.len().min(MAX_LOG_LINE_BYTES);
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        if buffered.bytes + cut > MAX_LOG_BYTES_PER_WRITE {
            buffered.dropped += 1;
            return;
        }
        buffered.bytes += cut;
        let message = message[..cut].to_owned();
        buffered.lines.push(LogLine {
            at: now_millis(),
            level,
            message,
        });
    }

    /// The lines buffered so far, which the buffer forgets.
    pub fn take(&self) -> Vec<LogLine> {
        let mut buffered = self.inner.lock().unwrap();
        let mut lines = std::mem::take(&mut buffered.lines);
        buffered.bytes = 0;
        if buffered.dropped > 0 {
            lines.push(LogLine {
                at: now_millis(),
                level: LogLevel::Warn,
                message: format!(
                    "cairn: {} more log lines were dropped (at most {MAX_LOG_BYTES_PER_WRITE} bytes are kept between two durability points)",
                    buffered.dropped
                ),
            });
            buffered.dropped = 0;
        }
        lines
    }
}

/// A level's name, as Lambda's JSON log format spells it.
pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warn => "WARN",
        LogLevel::Error => "ERROR",
    }
}

/// The level [`level_name`] names.
pub fn level_from_name(name: &str) -> Option<LogLevel> {
    Some(match name {
        "DEBUG" => LogLevel::Debug,
        "INFO" => LogLevel::Info,
        "WARN" => LogLevel::Warn,
        "ERROR" => LogLevel::Error,
        _ => return None,
    })
}

/// A kept line as a log record in Lambda's JSON log format, with the
/// execution's ARN (how AWS's tools find an execution's lines in its
/// function's log group).
pub fn record(line: &LogLine, execution: &Identity) -> Value {
    json!({
        "timestamp": cairn_core::history::iso8601(line.at),
        "level": level_name(line.level),
        "message": line.message,
        "durableExecutionArn": execution.arn,
        "executionName": execution.name,
    })
}

/// The part of CloudWatch Logs' filter pattern syntax Cairn evaluates:
/// terms that must all appear in the record (`ERROR`, `"two words"`), or
/// a JSON condition of `$.FIELD = "VALUE"` comparisons joined by `||` or
/// `&&` (`{ ($.durableExecutionArn = "arn:...") || ($.level = "ERROR") }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterPattern {
    /// Every line.
    All,
    /// Records whose text holds every term.
    Terms(Vec<String>),
    /// Records where any (`any`) or every comparison holds.
    Json {
        any: bool,
        comparisons: Vec<(String, String)>,
    },
}

impl FilterPattern {
    /// Parses a pattern, or says what it cannot evaluate.
    pub fn parse(pattern: &str) -> Result<FilterPattern, String> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Ok(FilterPattern::All);
        }
        if let Some(body) = pattern.strip_prefix('{') {
            let body = body
                .strip_suffix('}')
                .ok_or("a JSON filter pattern must end with }")?;
            return parse_json(body);
        }
        let mut terms = Vec::new();
        let mut rest = pattern;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').ok_or("a quoted term is not closed")?;
                terms.push(quoted[..end].to_owned());
                rest = &quoted[end + 1..];
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let term = &rest[..end];
                if term.starts_with(['?', '-', '[', '%']) {
                    return Err(format!(
                        "the filter term {term:?} uses syntax cairn serve does not evaluate (only terms that must all appear, and JSON equality)"
                    ));
                }
                terms.push(term.to_owned());
                rest = &rest[end..];
            }
        }
        Ok(FilterPattern::Terms(terms))
    }

    /// Whether `record` (from [`record`]) passes.
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            FilterPattern::All => true,
            // As CloudWatch matches terms: against the event's whole text.
            FilterPattern::Terms(terms) => {
                let text = record.to_string();
                terms.iter().all(|term| text.contains(term.as_str()))
            }
            FilterPattern::Json { any, comparisons } => {
                let holds = |(field, value): &(String, String)| {
                    record.get(field).is_some_and(|found| match found {
                        Value::String(text) => text == value,
                        // `$.count = 3`: compared as JSON.
                        other => serde_json::from_str::<Value>(value).ok().as_ref() == Some(other),
                    })
                };
                if *any {
                    comparisons.iter().any(holds)
                } else {
                    comparisons.iter().all(holds)
                }
            }
        }
    }

    /// The execution ARN the pattern requires, if any (where a store may
    /// look up one execution's lines instead of the whole log group's).
    pub fn required_arn(&self) -> Option<&str> {
        match self {
            FilterPattern::Json { any, comparisons } => {
                let arns: Vec<&str> = comparisons
                    .iter()
                    .filter(|(field, _)| field == "durableExecutionArn" || field == "executionArn")
                    .map(|(_, value)| value.as_str())
                    .collect();
                let only_arns = arns.len() == comparisons.len();
                let same = arns.windows(2).all(|pair| pair[0] == pair[1]);
                match arns.first() {
                    // `a || b` needs an ARN only if every branch names the same one.
                    Some(arn) if !*any || (only_arns && same) => Some(arn),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// `body` cut at each `separator` outside double quotes.
fn split_outside_quotes<'a>(body: &'a str, separator: &str) -> Vec<&'a str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    let mut i = 0;
    while i < body.len() {
        let byte = body.as_bytes()[i];
        if escaped {
            escaped = false;
        } else if quoted && byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && body[i..].starts_with(separator) {
            parts.push(&body[start..i]);
            i += separator.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&body[start..]);
    parts
}

fn parse_json(body: &str) -> Result<FilterPattern, String> {
    let (ors, ands) = (
        split_outside_quotes(body, "||"),
        split_outside_quotes(body, "&&"),
    );
    let (any, parts) = match (ors.len() > 1, ands.len() > 1) {
        (true, true) => {
            return Err("a JSON filter pattern mixing || and && is not evaluated".into());
        }
        (true, false) => (true, ors),
        (false, _) => (false, ands),
    };
    let mut comparisons = Vec::new();
    for part in parts {
        let part = part.trim();
        let part = part
            .strip_prefix('(')
            .and_then(|p| p.strip_suffix(')'))
            .unwrap_or(part)
            .trim();
        let (field, value) = part
            .split_once('=')
            .filter(|(field, _)| !field.contains('"'))
            .ok_or_else(|| format!("{part:?} is not a $.FIELD = \"VALUE\" comparison"))?;
        let field = field
            .trim()
            .strip_prefix("$.")
            .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("{part:?}: only top-level fields ($.name) are evaluated"))?;
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => value.to_owned(),
        };
        comparisons.push((field.to_owned(), value));
    }
    Ok(FilterPattern::Json { any, comparisons })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(message: &str) -> Value {
        let identity = Identity {
            arn: "arn:x".into(),
            name: "n".into(),
            workflow: "w".into(),
        };
        record(
            &LogLine {
                at: 0,
                level: LogLevel::Error,
                message: message.into(),
            },
            &identity,
        )
    }

    #[test]
    fn the_validator_pattern_names_one_execution() {
        let pattern = FilterPattern::parse(
            r#"{ ($.durableExecutionArn = "arn:x") || ($.executionArn = "arn:x") }"#,
        )
        .unwrap();
        assert_eq!(pattern.required_arn(), Some("arn:x"));
        assert!(pattern.matches(&line("hi")));
        let other = FilterPattern::parse(r#"{ $.durableExecutionArn = "arn:y" }"#).unwrap();
        assert!(!other.matches(&line("hi")));
    }

    #[test]
    fn a_guest_that_logs_in_a_loop_is_kept_to_a_bound_and_told_so() {
        let buffer = LogBuffer::default();
        let logger = buffer.keeping(Arc::new(|_, _| {}));
        let line = "x".repeat(100 * 1024);
        for _ in 0..25 {
            logger(LogLevel::Info, &line);
        }
        logger(LogLevel::Info, &"y".repeat(2 * MAX_LOG_LINE_BYTES));
        let kept = buffer.take();
        let bytes: usize = kept.iter().map(|line| line.message.len()).sum();
        assert!(bytes <= MAX_LOG_BYTES_PER_WRITE + 200, "{bytes}");
        assert_eq!(kept.len(), 11, "10 lines of 100 KiB, and the note");
        assert!(
            kept.last()
                .unwrap()
                .message
                .starts_with("cairn: 16 more log lines were dropped"),
            "{}",
            kept.last().unwrap().message
        );
        // The next durability point starts afresh.
        logger(LogLevel::Info, "after");
        assert_eq!(buffer.take().len(), 1);
    }

    #[test]
    fn terms_must_all_appear() {
        let pattern = FilterPattern::parse(r#"step "was run""#).unwrap();
        assert!(pattern.matches(&line("the step was run")));
        assert!(!pattern.matches(&line("the step ran")));
        assert!(FilterPattern::parse("?maybe").is_err());
        assert!(FilterPattern::parse("{ $.a = 1 || $.b = 2 && $.c = 3 }").is_err());
        // Separators inside a quoted value are the value's.
        let quoted = FilterPattern::parse(r#"{ $.message = "a || b" }"#).unwrap();
        assert_eq!(
            quoted,
            FilterPattern::Json {
                any: false,
                comparisons: vec![("message".into(), "a || b".into())]
            }
        );
        // Terms match the whole record, its level included.
        assert!(FilterPattern::parse("ERROR").unwrap().matches(&line("hi")));
    }
}
