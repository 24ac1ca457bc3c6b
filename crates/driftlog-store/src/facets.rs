//! Posting lists for the `events` filters no name covers: writes only, the actor's kind, the
//! source (`facet_postings`, the same lists as `postings` keeps per name).
//!
//! Without them such a filter was a SQL clause checked on every candidate row: a busy
//! principal's 87,000 events read one by one to find none that wrote (a quarter of a second
//! on a million events). With them a query intersects lists in memory, and reads rows only
//! for events that match every listed filter.
//!
//! Every stored event is listed under exactly one code of each family (write or not, one actor
//! kind, one source), so a family's other codes are a code's complement, which a query may
//! subtract. An event stored again at a later stage (Kubernetes) is listed again under the
//! same codes: they come from the request (verb, user agent, log), which every stage of it
//! shares. The rows still pass every filter's SQL clause after the lists have narrowed them.

use driftlog_core::{ActorKind, AuditEvent, Source};

/// Events that change something (`read_only = false`; unknown is not a write).
pub(crate) const WRITE: i64 = 1;
/// Every other event (reads, and calls not known to be either): the complement of [`WRITE`],
/// kept so a filter on writes, which are most events in many logs, can subtract the few
/// others instead of decoding nearly every event's entry.
pub(crate) const NOT_WRITE: i64 = 2;

/// The codes of the family `code` belongs to: every event is listed under exactly one code of
/// each family, so the others together are `code`'s complement.
pub(crate) fn family(code: i64) -> (i64, i64) {
    match code {
        WRITE | NOT_WRITE => (WRITE, NOT_WRITE),
        16..=31 => (16, 31),
        _ => (32, 47),
    }
}

/// The code of an actor kind's list. Stored: never renumber.
pub(crate) fn actor(kind: ActorKind) -> i64 {
    16 + match kind {
        ActorKind::Console => 0,
        ActorKind::Cli => 1,
        ActorKind::Sdk => 2,
        ActorKind::Terraform => 3,
        ActorKind::Cloudformation => 4,
        ActorKind::Kubectl => 5,
        ActorKind::Service => 6,
        ActorKind::Unknown => 7,
    }
}

/// The code of a source's list. Stored: never renumber.
pub(crate) fn source(source: Source) -> i64 {
    32 + match source {
        Source::Aws => 0,
        Source::Kubernetes => 1,
        Source::Gcp => 2,
        Source::Azure => 3,
    }
}

/// The lists `e` belongs in: one code of each family.
pub(crate) fn of(e: &AuditEvent) -> [i64; 3] {
    [write(e.read_only), actor(e.actor.kind), source(e.source)]
}

/// The code of the writes family for a `read_only` value.
fn write(read_only: Option<bool>) -> i64 {
    if read_only == Some(false) {
        WRITE
    } else {
        NOT_WRITE
    }
}

/// An event's three codes ([`of`]) in one integer, as `string_facets` keeps them: a byte each
/// (every code is below 64). Stored: never change the layout.
pub(crate) fn pack(codes: [i64; 3]) -> i64 {
    codes[0] | codes[1] << 8 | codes[2] << 16
}

/// An event's facets packed in one integer ([`pack`] of [`of`]): the PostgreSQL store keeps it
/// in a column and its indexes, and records the combinations each name was stored with, as
/// `string_facets` does here.
pub fn packed(e: &AuditEvent) -> i64 {
    pack(of(e))
}

/// A [`pack`]ed value in one byte, as the PostgreSQL store's posting lists carry it beside
/// each entry: the write bit, then the actor kind's and the source's place in their families
/// (three and two bits). Stored: never change the layout.
pub fn tag(packed: i64) -> u8 {
    let write = u8::from(packed & 0xff == WRITE);
    let actor = ((packed >> 8) & 0xff).wrapping_sub(16) as u8 & 0x7;
    let source = ((packed >> 16) & 0xff).wrapping_sub(32) as u8 & 0x3;
    write | actor << 1 | source << 4
}

/// The [`pack`]ed value of a [`tag`].
pub fn untag(tag: u8) -> i64 {
    let write = if tag & 1 == 1 { WRITE } else { NOT_WRITE };
    pack([
        write,
        16 + i64::from(tag >> 1 & 0x7),
        32 + i64::from(tag >> 4 & 0x3),
    ])
}

/// The codes an `events` query asks its events to be listed under: writes only, an actor
/// kind, a source.
pub fn required(writes_only: bool, kind: Option<ActorKind>, src: Option<Source>) -> Vec<i64> {
    let mut codes = Vec::with_capacity(3);
    codes.extend(writes_only.then_some(WRITE));
    codes.extend(kind.map(actor));
    codes.extend(src.map(source));
    codes
}

/// Whether an event with the [`pack`]ed codes `packed` is listed under every code of
/// `required`.
pub fn satisfies(packed: i64, required: &[i64]) -> bool {
    required
        .iter()
        .all(|&code| (0..3).any(|family| (packed >> (8 * family)) & 0xff == code))
}

/// For the migration that fills `string_facets` in a store written before it: the packed
/// codes of an event from its `read_only` column and the texts of its actor kind and source
/// (unknown texts fall back as [`fill_select`]'s do).
pub(crate) fn pack_columns(read_only: Option<bool>, kind: &str, src: &str) -> i64 {
    let kind = ActorKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .unwrap_or(ActorKind::Unknown);
    let src = Source::ALL
        .into_iter()
        .find(|s| s.as_str() == src)
        .unwrap_or(Source::Aws);
    pack([write(read_only), actor(kind), source(src)])
}

/// For the migration that fills the lists of a store written before them: `(code, time, id)`
/// rows from `events`, ordered by code, from the interned text of each facet.
pub(crate) fn fill_select() -> String {
    let case = |column: &str, pairs: Vec<(&str, i64)>, otherwise: i64| {
        let whens: Vec<String> = pairs
            .iter()
            .map(|(text, code)| format!("WHEN '{text}' THEN {code}"))
            .collect();
        format!(
            "SELECT CASE s.text {} ELSE {otherwise} END, e.time_us, e.id \
             FROM events e JOIN strings s ON s.id = e.{column}",
            whens.join(" ")
        )
    };
    let kinds = ActorKind::ALL
        .iter()
        .map(|k| (k.as_str(), actor(*k)))
        .collect();
    let sources = Source::ALL
        .iter()
        .map(|s| (s.as_str(), source(*s)))
        .collect();
    format!(
        "SELECT CASE WHEN read_only = 0 THEN {WRITE} ELSE {NOT_WRITE} END, time_us, id \
         FROM events UNION ALL {} UNION ALL {} ORDER BY 1, 2, 3",
        case("actor_kind", kinds, actor(ActorKind::Unknown)),
        case("source", sources, source(Source::Aws)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_has_its_own_code() {
        let mut codes: Vec<i64> = ActorKind::ALL.iter().map(|k| actor(*k)).collect();
        codes.extend(Source::ALL.iter().map(|s| source(*s)));
        codes.extend([WRITE, NOT_WRITE]);
        for c in &codes {
            let (lo, hi) = family(*c);
            assert!(lo <= *c && *c <= hi);
        }
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn packed_codes_satisfy_exactly_their_own() {
        let packed = pack([WRITE, actor(ActorKind::Console), source(Source::Kubernetes)]);
        assert!(satisfies(packed, &[]));
        assert!(satisfies(packed, &[WRITE]));
        assert!(satisfies(
            packed,
            &[source(Source::Kubernetes), actor(ActorKind::Console), WRITE]
        ));
        assert!(!satisfies(packed, &[NOT_WRITE]));
        assert!(!satisfies(packed, &[WRITE, actor(ActorKind::Service)]));
        assert!(!satisfies(packed, &[source(Source::Aws)]));
        assert_eq!(
            pack_columns(Some(false), "console", "kubernetes"),
            packed,
            "the migration packs as ingest does"
        );
        for kind in ActorKind::ALL {
            for src in Source::ALL {
                for w in [WRITE, NOT_WRITE] {
                    let packed = pack([w, actor(kind), source(src)]);
                    assert_eq!(untag(tag(packed)), packed, "{kind:?} {src:?} {w}");
                }
            }
        }
        assert_eq!(
            pack_columns(None, "no-such-kind", "no-such-source"),
            pack([NOT_WRITE, actor(ActorKind::Unknown), source(Source::Aws)])
        );
    }
}
