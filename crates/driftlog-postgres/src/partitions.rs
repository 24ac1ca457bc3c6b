//! Events are partitioned by calendar month (UTC) of their time, so retention drops a month
//! whole: no dead rows, no index entries to clean up, no vacuum afterwards. A month has two
//! partitions, one of `audit_event_blocks` (blocks hold one day's events, `crate::blocks`)
//! and one of `audit_lists` (a list row holds one month's entries, `crate::lists`), made
//! and dropped together. A batch creates the partitions its events need before it writes
//! them; a time before 1970 or after 9998 goes to the default partitions (`…_other`).

use driftlog_store::Partition;
use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::ToSpan;
use postgres::Transaction;
use std::collections::BTreeSet;

/// A month's partitions: the name of its blocks' one (its lists' is [`Month::lists`]) and
/// its bounds in microseconds (`from` inclusive, `to` exclusive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Month {
    pub from_us: i64,
    pub to_us: i64,
    pub name: String,
}

const PREFIX: &str = "audit_event_blocks_p";
const LISTS_PREFIX: &str = "audit_lists_p";

impl Month {
    fn starting(date: Date) -> Option<Month> {
        let micros = |d: Date| {
            Offset::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
                .map(|t| t.as_microsecond())
        };
        if !(1970..=9998).contains(&date.year()) {
            return None;
        }
        let next = date.checked_add(1.month()).ok()?;
        Some(Month {
            from_us: micros(date)?,
            to_us: micros(next)?,
            name: format!("{PREFIX}{:04}_{:02}", date.year(), date.month()),
        })
    }

    /// The partition that holds `time_us`, if a month's does.
    pub fn of(time_us: i64) -> Option<Month> {
        let t = jiff::Timestamp::from_microsecond(time_us).ok()?;
        let d = Offset::UTC.to_datetime(t).date();
        Month::starting(Date::new(d.year(), d.month(), 1).ok()?)
    }

    /// What its partitions' names end with: `2024_11`.
    pub fn suffix(&self) -> &str {
        &self.name[PREFIX.len()..]
    }

    /// The name of the month's partition of `audit_lists`.
    pub fn lists(&self) -> String {
        format!("{LISTS_PREFIX}{}", self.suffix())
    }

    /// The month a partition's name stands for (names this module did not make: none).
    pub fn named(name: &str) -> Option<Month> {
        let rest = name.strip_prefix(PREFIX)?;
        let (year, month) = rest.split_once('_')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let month = Month::starting(Date::new(year.parse().ok()?, month.parse().ok()?, 1).ok()?)?;
        (month.name == name).then_some(month)
    }
}

/// The month partitions that exist.
fn existing(tx: &mut Transaction) -> Result<Vec<Month>, postgres::Error> {
    Ok(tx
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'audit_event_blocks'::regclass",
            &[],
        )?
        .iter()
        .filter_map(|r| Month::named(r.get::<_, &str>(0)))
        .collect())
}

/// Create the partitions of the months of `times` that do not exist yet (the caller holds
/// the write lock, so no other batch creates them meanwhile).
pub(crate) fn ensure(
    tx: &mut Transaction,
    times: impl Iterator<Item = i64>,
) -> Result<(), postgres::Error> {
    let mut needed: BTreeSet<Month> = BTreeSet::new();
    let mut last: Option<(i64, i64)> = None;
    for t in times {
        // Events come in time order: most fall in the month just seen.
        if last.is_some_and(|(from, to)| t >= from && t < to) {
            continue;
        }
        if let Some(m) = Month::of(t) {
            last = Some((m.from_us, m.to_us));
            needed.insert(m);
        }
    }
    if needed.is_empty() {
        return Ok(());
    }
    for m in existing(tx)? {
        needed.remove(&m);
    }
    for m in needed {
        // The name is ours (digits and a fixed prefix) and the bounds are integers.
        tx.batch_execute(&format!(
            "CREATE TABLE {} PARTITION OF audit_event_blocks FOR VALUES FROM ({from}) TO ({to}); \
             CREATE TABLE {} PARTITION OF audit_lists FOR VALUES FROM ({from}) TO ({to});",
            m.name,
            m.lists(),
            from = m.from_us,
            to = m.to_us
        ))?;
    }
    Ok(())
}

/// The month partitions wholly before `before_us` whose events all have ids up to `through`,
/// oldest first, each with its events' ids.
pub(crate) fn prunable(
    tx: &mut Transaction,
    before_us: i64,
    through: i64,
) -> Result<Vec<Partition>, postgres::Error> {
    let mut months = existing(tx)?;
    months.retain(|m| m.to_us <= before_us);
    months.sort();
    let mut out = Vec::new();
    for m in months {
        let ids = id_ranges(tx, &m)?;
        if ids.is_empty() || ids.last().is_some_and(|&(_, last)| last > through) {
            continue;
        }
        out.push(Partition {
            name: m.name,
            events: ids.iter().map(|(a, z)| (z - a + 1) as u64).sum(),
            ids,
        });
    }
    Ok(out)
}

/// The ids of a month's events as inclusive ranges, ascending: a block whose events' ids run
/// without a gap is one range read from its row; only a block that lost events to a prune
/// is decoded.
fn id_ranges(tx: &mut Transaction, m: &Month) -> Result<Vec<(i64, i64)>, postgres::Error> {
    let rows = tx.query(
        &format!(
            "SELECT first_id, last_id, events, \
             CASE WHEN last_id - first_id + 1 <> events THEN data END FROM {} ORDER BY first_id",
            m.name
        ),
        &[],
    )?;
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    let mut add = |a: i64, z: i64| match ranges.last_mut() {
        Some(last) if last.1.checked_add(1) == Some(a) => last.1 = z,
        _ => ranges.push((a, z)),
    };
    for r in rows {
        match r.get::<_, Option<&[u8]>>(3) {
            None => add(r.get(0), r.get(1)),
            // A damaged block counts as its bounds: the drop then finds ids it cannot match.
            Some(data) => match crate::blocks::decode(data) {
                Ok(events) => events.iter().for_each(|e| add(e.id, e.id)),
                Err(_) => add(r.get(0), r.get(1)),
            },
        }
    }
    Ok(ranges)
}

/// Drop partition `p` and the evidence blocks only its events used, if it still holds
/// exactly the events `p` lists; returns how many events went (0 if it did not).
pub(crate) fn drop(tx: &mut Transaction, p: &Partition) -> Result<u64, postgres::Error> {
    let Some(month) = Month::named(&p.name) else {
        return Ok(0);
    };
    if !existing(tx)?.contains(&month) {
        return Ok(0);
    }
    let ids = id_ranges(tx, &month)?;
    let events: u64 = ids.iter().map(|(a, z)| (z - a + 1) as u64).sum();
    if events != p.events || ids != p.ids {
        return Ok(0);
    }
    let evidence: Vec<i64> = tx
        .query(
            &format!("SELECT DISTINCT unnest(evidence) FROM {}", month.name),
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.batch_execute(&format!(
        "DROP TABLE {}; DROP TABLE {};",
        month.name,
        month.lists()
    ))?;
    crate::blocks::forget_evidence(tx, &evidence)?;
    Ok(p.events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_utc_bounds_and_names_that_read_back() {
        // 2024-11-07T11:59:59Z
        let m = Month::of(1_730_980_799_000_000).unwrap();
        assert_eq!(m.name, "audit_event_blocks_p2024_11");
        assert_eq!(m.from_us, 1_730_419_200_000_000, "2024-11-01T00:00:00Z");
        assert_eq!(m.to_us, 1_733_011_200_000_000, "2024-12-01T00:00:00Z");
        assert_eq!(Month::named(&m.name), Some(m.clone()));
        assert_eq!(Month::of(m.from_us), Some(m.clone()));
        assert_ne!(Month::of(m.to_us), Some(m.clone()));
        assert_eq!(
            Month::of(m.from_us - 1).unwrap().name,
            "audit_event_blocks_p2024_10"
        );
        let december = Month::of(1_735_689_599_999_999).unwrap();
        assert_eq!(december.name, "audit_event_blocks_p2024_12");
        assert_eq!(december.to_us, 1_735_689_600_000_000, "2025-01-01");
        // Outside the months partitions cover: the default partition.
        assert_eq!(Month::of(-1), None);
        assert_eq!(Month::of(253_370_764_800_000_000), None);
        assert_eq!(Month::of(i64::MAX), None);
        assert!(Month::of(253_370_764_799_999_999).is_some());
        for other in [
            "audit_event_blocks_other",
            "audit_event_blocks_p2024_1",
            "audit_event_blocks_p2024_13",
            "audit_event_blocks_p1969_12",
            "audit_event_blocks_p2024_11; DROP TABLE x",
            "audit_event_blocks_p+024_11",
        ] {
            assert_eq!(Month::named(other), None, "{other}");
        }
    }
}
