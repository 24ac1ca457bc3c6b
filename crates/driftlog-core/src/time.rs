//! One time grammar for every time flag and rule: `--since`, `--until`, `--as-of`,
//! `ledger ack --expires`, and `expires=` in ignore rules all accept the same three forms.
//!
//! | form | example | means |
//! |---|---|---|
//! | RFC 3339 | `2026-11-04T09:00:00Z`, `2026-11-04T10:00:00+01:00` | that instant |
//! | date | `2026-11-04` | that day in UTC: its first microsecond as a start, its last as an end |
//! | span | `30m`, `12h`, `7d`, `1d12h`, `2 weeks`, `P1W` | that long before now (after now for expiries) |
//!
//! Spans are parsed by jiff (its "friendly" format and ISO 8601 durations); days and weeks are
//! calendar units in UTC. A time outside jiff's range (years -9999 to 9999) is an error that
//! says so, never an overflow.

use jiff::{Span, Timestamp};

/// Where a date lands within its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The day's first microsecond (`--since`).
    Start,
    /// The day's last microsecond (`--until`, expiries: a date means "through that day").
    End,
}

/// Which way a span counts from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `7d` is a week ago (`--since`, `--until`, `--as-of`).
    Past,
    /// `7d` is a week from now (`--expires`).
    Future,
    /// Spans are refused: the text is stored and read back later (an ignore file), when "now"
    /// is another moment.
    Absolute,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "`{0}` is not a time: use RFC 3339 (2026-11-04T09:00:00Z), a date (YYYY-MM-DD) or a span \
         (30m, 12h, 7d, 1d12h, 2 weeks)"
    )]
    Invalid(String),
    #[error("`{0}` is not a time: use a date (YYYY-MM-DD) or RFC 3339 (2026-11-04T09:00:00Z)")]
    InvalidAbsolute(String),
    #[error("`{0}` is out of range: times must lie between the years -9999 and 9999")]
    OutOfRange(String),
    #[error(
        "`{0}` is a span, which counts from the moment it is read; here give a date \
         (2026-12-31) or an RFC 3339 time"
    )]
    SpanNotAllowed(String),
}

/// A time as written: what it resolved to, and whether it was a date (shown as a date again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// Microseconds since the Unix epoch, UTC.
    pub us: i64,
    /// The date it was written as, if it was one.
    pub date: Option<jiff::civil::Date>,
}

/// The date as written, or the instant in RFC 3339.
impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.date {
            Some(d) => write!(f, "{d}"),
            None => f.write_str(&format_time_us(self.us)),
        }
    }
}

/// Parse `text` in the grammar above, relative to `now`.
pub fn parse(
    text: &str,
    now: Timestamp,
    bound: Bound,
    direction: Direction,
) -> Result<Time, TimeError> {
    let t = text.trim();
    let range = || TimeError::OutOfRange(t.to_owned());
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(Time {
            us: ts.as_microsecond(),
            date: None,
        });
    }
    if let Ok(date) = t.parse::<jiff::civil::Date>() {
        let start = date
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map_err(|_| range())?
            .timestamp()
            .as_microsecond();
        let us = match bound {
            Bound::Start => start,
            Bound::End => start + 86_400_000_000 - 1,
        };
        return Ok(Time {
            us,
            date: Some(date),
        });
    }
    let span = parse_span(t).map_err(|e| match (e, direction) {
        (TimeError::Invalid(t), Direction::Absolute) => TimeError::InvalidAbsolute(t),
        (e, _) => e,
    })?;
    let zoned = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let moved = match direction {
        Direction::Absolute => return Err(TimeError::SpanNotAllowed(t.to_owned())),
        Direction::Past => zoned.checked_sub(span),
        Direction::Future => zoned.checked_add(span),
    }
    .map_err(|_| range())?;
    Ok(Time {
        us: moved.timestamp().as_microsecond(),
        date: None,
    })
}

/// A span: jiff's friendly format (`1d12h`, `2 weeks`) or ISO 8601 (`P1W`). Negative spans are
/// refused: "ago" and "from now" are said by the context, not the sign.
fn parse_span(t: &str) -> Result<Span, TimeError> {
    let invalid = || TimeError::Invalid(t.to_owned());
    if t.is_empty() || !t.chars().any(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    match t.parse::<Span>() {
        Ok(span) if span.is_negative() => Err(invalid()),
        Ok(span) => Ok(span),
        // jiff refuses a unit count beyond its range ("99999999999999d") with its own error;
        // a string of digits and units that fails to parse is a range problem when the same
        // text with a small number parses.
        Err(_) if looks_like_span(t) => Err(TimeError::OutOfRange(t.to_owned())),
        Err(_) => Err(invalid()),
    }
}

/// Digits followed by unit letters (`99999999999999d`, `1d12h`): a span whatever its size.
fn looks_like_span(t: &str) -> bool {
    let shrunk: String = {
        let mut out = String::new();
        let mut in_digits = false;
        for c in t.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('1');
                }
                in_digits = true;
            } else {
                out.push(c);
                in_digits = false;
            }
        }
        out
    };
    shrunk != t && shrunk.parse::<Span>().is_ok()
}

/// Format microseconds since the epoch as RFC 3339 UTC (`2024-11-04T09:12:03Z`, with fractional
/// seconds only when there are any).
pub fn format_time_us(us: i64) -> String {
    match Timestamp::from_microsecond(us) {
        Ok(ts) => ts.to_string(),
        Err(_) => us.to_string(),
    }
}

/// Parse an RFC 3339 timestamp (as logs write them) into microseconds since the epoch.
pub fn parse_time_us(s: &str) -> Option<i64> {
    let ts: Timestamp = s.trim().parse().ok()?;
    Some(ts.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-10T00:00:00Z".parse().unwrap()
    }

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_microsecond()
    }

    fn past(text: &str) -> Result<i64, TimeError> {
        parse(text, now(), Bound::Start, Direction::Past).map(|t| t.us)
    }

    #[test]
    fn three_forms() {
        assert_eq!(past("2026-11-04T09:00:00Z"), Ok(at("2026-11-04T09:00:00Z")));
        assert_eq!(
            past("2026-11-04T10:00:00+01:00"),
            Ok(at("2026-11-04T09:00:00Z"))
        );
        assert_eq!(past("2026-11-04"), Ok(at("2026-11-04T00:00:00Z")));
        let end = parse("2026-11-04", now(), Bound::End, Direction::Past).unwrap();
        assert_eq!(end.us, at("2026-11-05T00:00:00Z") - 1);
        assert_eq!(end.to_string(), "2026-11-04");
        assert_eq!(past("7d"), Ok(at("2026-11-03T00:00:00Z")));
        assert_eq!(past("1d12h"), Ok(at("2026-11-08T12:00:00Z")));
        assert_eq!(past("2 weeks"), Ok(at("2026-10-27T00:00:00Z")));
        assert_eq!(past("30m"), Ok(at("2026-11-09T23:30:00Z")));
        assert_eq!(past("P1W"), Ok(at("2026-11-03T00:00:00Z")));
        let ahead = parse("30d", now(), Bound::End, Direction::Future).unwrap();
        assert_eq!(ahead.us, at("2026-12-10T00:00:00Z"));
    }

    #[test]
    fn bad_and_huge_inputs_are_errors_not_panics() {
        assert!(matches!(past("yesterday"), Err(TimeError::Invalid(_))));
        assert!(matches!(past(""), Err(TimeError::Invalid(_))));
        assert!(matches!(past("-7d"), Err(TimeError::Invalid(_))));
        assert!(matches!(
            past("99999999999999d"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(matches!(past("9000000d"), Err(TimeError::OutOfRange(_))));
        assert!(matches!(past("20000y"), Err(TimeError::OutOfRange(_))));
        assert_eq!(
            past("99999999999999d").unwrap_err().to_string(),
            "`99999999999999d` is out of range: times must lie between the years -9999 and 9999"
        );
        assert!(matches!(
            parse("7d", now(), Bound::End, Direction::Absolute),
            Err(TimeError::SpanNotAllowed(_))
        ));
    }

    #[test]
    fn times_round_trip() {
        let us = parse_time_us("2022-07-06T13:22:16Z").unwrap();
        assert_eq!(format_time_us(us), "2022-07-06T13:22:16Z");
        let us = parse_time_us("2018-10-26T14:26:34.238974Z").unwrap();
        assert_eq!(format_time_us(us), "2018-10-26T14:26:34.238974Z");
        assert_eq!(parse_time_us("..."), None);
        assert_eq!(parse_time_us("eventTime"), None);
    }
}
