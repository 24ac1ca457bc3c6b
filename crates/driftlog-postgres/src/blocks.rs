//! Events packed in blocks (migration 7): one row of `audit_event_blocks` holds up to
//! [`MAX_EVENTS`] events of one UTC day, their fields laid out column by column and
//! compressed with zstd as one frame.
//!
//! A row per event cost PostgreSQL a 24-byte tuple header, a line pointer, alignment, and an
//! entry in each of seven indexes: 457 bytes an event on the 1M-event corpus, where the goal
//! for the whole store is 202 (docs/BENCHMARKS.md). Packed, an event costs what its fields
//! compress to (its random 16-byte id and the 4 bytes of leaf it keeps dominate), and the
//! lookups go through posting lists (`crate::lists`) that name events by id.
//!
//! The layout is a version byte ([`VERSION`]), then a zstd frame of: the number of events,
//! then each column for every event in turn (a column of similar values compresses better than
//! rows of mixed ones). Integers are LEB128 varints: ids and times as zigzag steps from the
//! event before, an optional value as 0 for none or the value plus one. A text is its length
//! (plus one, 0 for none), then its bytes; event ids and leaves are a column of lengths, then
//! the bytes one after another. Everything is read with bounds checked: a damaged block is an
//! error naming what is wrong, never a panic.
//!
//! Format 2 lays out the facets and the string ids as palettes ([`put_palette`]): a column's
//! distinct values, then one byte per event naming its value. A listing keeps a few of each
//! block's events, and format 1's varints had to be read past one by one to reach them
//! (`Reader::skip` alone took a twentieth of a long listing's samples). Its resources are a
//! column of counts, then every id, so the ids of the events not kept are read past at once.
//! Blocks of format 1, which stores written before it hold, are read as they are.

use driftlog_store::postings::{put, take, unzigzag, zigzag};

/// The most events a block holds: a lookup reads whole blocks, so a block is small enough
/// that reading 20 of them for 20 scattered events stays cheap (about 8 KB each), and large
/// enough that its row's own overhead is a byte or two an event.
pub(crate) const MAX_EVENTS: usize = 256;

/// The format of the blocks written: 2, palettes. Format 1 is still read.
const VERSION: u8 = 2;

/// The format before palettes: one varint per event in each column.
pub(crate) const VARINTS: u8 = 1;

// A palette names a value by one byte: a block never holds more events than that names.
const _: () = assert!(MAX_EVENTS <= 256);

/// The most bytes a block may decompress to: far above what [`MAX_EVENTS`] events take, and
/// a bound on what a damaged frame can make a reader allocate.
const MAX_DECOMPRESSED: usize = 64 << 20;

/// zstd's level for blocks: the default, as fast as the writer needs.
const LEVEL: i32 = 3;

/// One stored event's fields: values that repeat are ids into `audit_strings`
/// (`crate::strings`), free texts are kept as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub id: i64,
    pub time_us: i64,
    pub source: i32,
    /// `driftlog_store::event_ids::to_bytes`.
    pub event_id: Vec<u8>,
    pub action: i32,
    pub outcome: i32,
    pub actor_kind: i32,
    pub actor_rule: i32,
    pub account: Option<i32>,
    pub region: Option<i32>,
    pub service: Option<i32>,
    pub principal: Option<i32>,
    pub principal_type: Option<i32>,
    pub issuer: Option<i32>,
    pub session_name: Option<i32>,
    pub invoked_by: Option<i32>,
    pub source_ip: Option<i32>,
    pub user_agent: Option<i32>,
    pub read_only: Option<bool>,
    pub mfa: Option<bool>,
    pub completeness: u8,
    pub error_message: Option<String>,
    pub source_identity: Option<String>,
    pub on_behalf_of: Option<String>,
    pub resources: Vec<i32>,
    /// `driftlog_store::facets::packed`.
    pub facets: i32,
    pub raw_block: i64,
    pub raw_offset: u32,
    pub raw_len: u32,
    /// `driftlog_store::leaves::kept`.
    pub leaf: Vec<u8>,
}

impl Row {
    /// Every id into `audit_strings` the row holds.
    pub fn string_ids(&self) -> impl Iterator<Item = i32> + Clone + '_ {
        [
            self.source,
            self.action,
            self.outcome,
            self.actor_kind,
            self.actor_rule,
        ]
        .into_iter()
        .chain(optional_ids(self).into_iter().flatten())
        .chain(self.resources.iter().copied())
    }

    /// The hash of this event's identity (`crate::identities`).
    pub fn identity_hash(&self) -> u32 {
        crate::identities::hash(self.time_us, self.source, &self.event_id)
    }
}

/// The optional ids of a row, in the order they are laid out.
fn optional_ids(r: &Row) -> [Option<i32>; 10] {
    [
        r.account,
        r.region,
        r.service,
        r.principal,
        r.principal_type,
        r.issuer,
        r.session_name,
        r.invoked_by,
        r.source_ip,
        r.user_agent,
    ]
}

fn optional_ids_mut(r: &mut Row) -> [&mut Option<i32>; 10] {
    [
        &mut r.account,
        &mut r.region,
        &mut r.service,
        &mut r.principal,
        &mut r.principal_type,
        &mut r.issuer,
        &mut r.session_name,
        &mut r.invoked_by,
        &mut r.source_ip,
        &mut r.user_agent,
    ]
}

fn texts(r: &Row) -> [&Option<String>; 3] {
    [&r.error_message, &r.source_identity, &r.on_behalf_of]
}

fn texts_mut(r: &mut Row) -> [&mut Option<String>; 3] {
    [
        &mut r.error_message,
        &mut r.source_identity,
        &mut r.on_behalf_of,
    ]
}

fn tri(v: Option<bool>) -> u64 {
    match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

/// `rows` (at most [`MAX_EVENTS`]) as a block's bytes.
pub(crate) fn encode(rows: &[Row]) -> Vec<u8> {
    encode_as(rows, VERSION)
}

/// `rows` as a block's bytes of format `version`: [`VERSION`], or [`VARINTS`] for tests of
/// what older stores hold.
pub(crate) fn encode_as(rows: &[Row], version: u8) -> Vec<u8> {
    assert!(
        rows.len() <= MAX_EVENTS,
        "a block holds at most {MAX_EVENTS} events"
    );
    let palettes = version != VARINTS;
    let mut out = Vec::with_capacity(rows.len() * 96);
    put(&mut out, rows.len() as u64);
    let mut previous = 0i64;
    for r in rows {
        put(&mut out, zigzag(r.id.wrapping_sub(previous)));
        previous = r.id;
    }
    previous = 0;
    for r in rows {
        put(&mut out, zigzag(r.time_us.wrapping_sub(previous)));
        previous = r.time_us;
    }
    let mut column = |values: &mut dyn Iterator<Item = u64>| {
        if palettes {
            put_palette(&mut out, values);
        } else {
            values.for_each(|v| put(&mut out, v));
        }
    };
    // What a reader decides on first (`decode_where`): id, time, facets.
    column(&mut rows.iter().map(|r| u64::from(r.facets as u32)));
    let required: [fn(&Row) -> i32; 5] = [
        |r| r.source,
        |r| r.action,
        |r| r.outcome,
        |r| r.actor_kind,
        |r| r.actor_rule,
    ];
    for id in required {
        column(&mut rows.iter().map(|r| u64::from(id(r) as u32)));
    }
    for i in 0..10 {
        column(
            &mut rows
                .iter()
                .map(|r| optional_ids(r)[i].map_or(0, |v| u64::from(v as u32) + 1)),
        );
    }
    for r in rows {
        out.push((tri(r.read_only) | tri(r.mfa) << 2) as u8);
        out.push(r.completeness);
    }
    if palettes {
        for r in rows {
            put(&mut out, r.resources.len() as u64);
        }
        for &id in rows.iter().flat_map(|r| &r.resources) {
            put(&mut out, u64::from(id as u32));
        }
    } else {
        for r in rows {
            put(&mut out, r.resources.len() as u64);
            for &id in &r.resources {
                put(&mut out, u64::from(id as u32));
            }
        }
    }
    previous = 0;
    for r in rows {
        put(&mut out, zigzag(r.raw_block.wrapping_sub(previous)));
        previous = r.raw_block;
    }
    for r in rows {
        put(&mut out, u64::from(r.raw_offset));
        put(&mut out, u64::from(r.raw_len));
    }
    for i in 0..3 {
        for r in rows {
            match texts(r)[i] {
                None => put(&mut out, 0),
                Some(t) => {
                    put(&mut out, t.len() as u64 + 1);
                    out.extend_from_slice(t.as_bytes());
                }
            }
        }
    }
    // Lengths apart from the bytes (zstd found the lengths between random ids too: the 1M
    // corpus's blocks took 50.46 MB either way).
    let columns: [fn(&Row) -> &Vec<u8>; 2] = [|r| &r.event_id, |r| &r.leaf];
    for column in columns {
        for r in rows {
            put(&mut out, column(r).len() as u64);
        }
        for r in rows {
            out.extend_from_slice(column(r));
        }
    }
    let mut block = vec![version];
    block.extend(zstd::bulk::compress(&out, LEVEL).expect("zstd compresses any bytes"));
    block
}

/// A column as a palette: how many distinct values, each value (in the order first met),
/// then each event's value as its place among them, one byte. A block's column holds at most
/// [`MAX_EVENTS`] distinct values, and mostly a handful (one account and region a block).
fn put_palette(out: &mut Vec<u8>, values: &mut dyn Iterator<Item = u64>) {
    let mut palette: Vec<u64> = Vec::new();
    let mut places: Vec<u8> = Vec::with_capacity(MAX_EVENTS);
    let mut found: rustc_hash::FxHashMap<u64, u8> = Default::default();
    for v in values {
        let place = *found.entry(v).or_insert_with(|| {
            palette.push(v);
            (palette.len() - 1) as u8
        });
        places.push(place);
    }
    put(out, palette.len() as u64);
    for v in palette {
        put(out, v);
    }
    out.extend_from_slice(&places);
}

/// A cursor over a block's decompressed bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self, what: &str) -> Result<u64, String> {
        take(&mut self.rest).ok_or_else(|| format!("it ends inside {what}"))
    }

    fn id(&mut self, what: &str) -> Result<i32, String> {
        to_id(self.varint(what)?, what)
    }

    fn bytes(&mut self, len: u64, what: &str) -> Result<&'a [u8], String> {
        let len = usize::try_from(len).map_err(|_| format!("{what} is too long"))?;
        if len > self.rest.len() {
            return Err(format!("it ends inside {what}"));
        }
        let (bytes, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(bytes)
    }

    /// A palette column of `n` events ([`put_palette`]): its values, and each event's place
    /// among them.
    fn palette(&mut self, n: usize, what: &str) -> Result<Palette<'a>, String> {
        let count = self.varint(what)?;
        if count > n as u64 {
            return Err(format!("{what} claims {count} values for {n} events"));
        }
        let values = (0..count)
            .map(|_| self.varint(what))
            .collect::<Result<_, _>>()?;
        let places = self.bytes(n as u64, what)?;
        Ok(Palette { values, places })
    }

    /// A column's values of the events at places `kept` (of `n`, ascending): from its palette
    /// (format 2), or its varints, those of the other events read past (format 1).
    fn kept(
        &mut self,
        palettes: bool,
        n: usize,
        kept: &[usize],
        what: &str,
    ) -> Result<Vec<u64>, String> {
        if palettes {
            let column = self.palette(n, what)?;
            return kept.iter().map(|&place| column.at(place, what)).collect();
        }
        let mut values = Vec::with_capacity(kept.len());
        self.sparse(n, kept, 1, what, |r, _| {
            values.push(r.varint(what)?);
            Ok(())
        })?;
        Ok(values)
    }

    /// Read past `count` varints without decoding them, eight bytes at a time: a varint ends
    /// at each byte whose high bit is clear. A listing keeps a few events of each block, and
    /// decoding the others' values one by one was a third of its time. Values read past are
    /// not checked (a full decode, as `verify` does, checks every one).
    fn skip(&mut self, mut count: usize, what: &str) -> Result<(), String> {
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let bytes = self.rest;
        let mut at = 0;
        while count > 0 {
            if let Some(word) = bytes.get(at..at + 8) {
                let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                let mut ends = !word & HIGH;
                let n = ends.count_ones() as usize;
                if n < count {
                    count -= n;
                    at += 8;
                    continue;
                }
                for _ in 1..count {
                    ends &= ends - 1;
                }
                at += ends.trailing_zeros() as usize / 8 + 1;
                count = 0;
            } else {
                let b = *bytes
                    .get(at)
                    .ok_or_else(|| format!("it ends inside {what}"))?;
                at += 1;
                if b & 0x80 == 0 {
                    count -= 1;
                }
            }
        }
        self.rest = &bytes[at..];
        Ok(())
    }

    /// Walk a column of `per_event` varints for each of `n` events, letting `read` read those
    /// of the kept events (`kept`: their places in the block, in order; `read` is given the
    /// row each was built as) and reading past the others.
    fn sparse(
        &mut self,
        n: usize,
        kept: &[usize],
        per_event: usize,
        what: &str,
        mut read: impl FnMut(&mut Self, usize) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut at = 0;
        for (row, &place) in kept.iter().enumerate() {
            self.skip((place - at) * per_event, what)?;
            read(self, row)?;
            at = place + 1;
        }
        self.skip((n - at) * per_event, what)
    }
}

/// A column read by [`Reader::palette`].
struct Palette<'a> {
    values: Vec<u64>,
    places: &'a [u8],
}

impl Palette<'_> {
    /// The value of the event at `place` (below the column's count of events).
    fn at(&self, place: usize, what: &str) -> Result<u64, String> {
        self.values
            .get(usize::from(self.places[place]))
            .copied()
            .ok_or_else(|| format!("{what} names a value its palette does not hold"))
    }
}

/// A string id as a block stores it.
fn to_id(v: u64, what: &str) -> Result<i32, String> {
    i32::try_from(v as u32).map_err(|_| format!("{what} is out of range"))
}

/// An optional string id as a block stores it: 0 for none, else the id plus one.
fn to_optional_id(v: u64, what: &str) -> Result<Option<i32>, String> {
    match v {
        0 => Ok(None),
        v => to_id(v - 1, what).map(Some),
    }
}

fn untri(v: u8) -> Result<Option<bool>, String> {
    match v {
        0 => Ok(None),
        1 => Ok(Some(false)),
        2 => Ok(Some(true)),
        _ => Err(format!("a flag holds {v}")),
    }
}

/// The rows of a block written by [`encode`]; a reason when it is damaged.
pub(crate) fn decode(block: &[u8]) -> Result<Vec<Row>, String> {
    decode_where(block, |_, _, _| true)
}

thread_local! {
    /// A decompression context per thread: making one for each block cost a twentieth of a
    /// long listing.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| format!("no zstd decompressor: {e}"))?,
            );
        }
        let d = d.as_mut().expect("made above");
        let capacity = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .map_or(MAX_DECOMPRESSED, |n| (n as usize).min(MAX_DECOMPRESSED));
        d.decompress(frame, capacity)
            .map_err(|e| format!("it does not decompress: {e}"))
    })
}

/// The rows of a block that `keep` (given each event's id, time and packed facets) keeps:
/// the other rows' fields are read past, never built.
pub(crate) fn decode_where(
    block: &[u8],
    mut keep: impl FnMut(i64, i64, i32) -> bool,
) -> Result<Vec<Row>, String> {
    let Some((&version, frame)) = block.split_first() else {
        return Err("it is empty".into());
    };
    if version != VERSION && version != VARINTS {
        return Err(format!(
            "its format {version} is not one this driftlog reads"
        ));
    }
    let palettes = version == VERSION;
    let data = decompress(frame)?;
    let mut r = Reader { rest: &data };
    let n = r.varint("the count")?;
    // Each event takes at least a dozen bytes: a larger count is damage, not an allocation.
    if n > data.len() as u64 {
        return Err(format!("it claims {n} events in {} bytes", data.len()));
    }
    let n = n as usize;
    let mut ids = Vec::with_capacity(n);
    let mut previous = 0i64;
    for _ in 0..n {
        previous = previous.wrapping_add(unzigzag(r.varint("the ids")?));
        ids.push(previous);
    }
    let mut times = Vec::with_capacity(n);
    previous = 0;
    for _ in 0..n {
        previous = previous.wrapping_add(unzigzag(r.varint("the times")?));
        times.push(previous);
    }
    // The kept events' places in the block; the row built for each is its index here.
    let mut kept: Vec<usize> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let facets_column = palettes.then(|| r.palette(n, "the facets")).transpose()?;
    for (place, (&id, &time_us)) in ids.iter().zip(&times).enumerate() {
        let facets = match &facets_column {
            Some(column) => to_id(column.at(place, "the facets")?, "the facets")?,
            None => r.id("the facets")?,
        };
        if keep(id, time_us, facets) {
            kept.push(place);
            rows.push(Row {
                id,
                time_us,
                facets,
                ..Row::default()
            });
        }
    }
    let columns: [fn(&mut Row) -> &mut i32; 5] = [
        |r| &mut r.source,
        |r| &mut r.action,
        |r| &mut r.outcome,
        |r| &mut r.actor_kind,
        |r| &mut r.actor_rule,
    ];
    for column in columns {
        const WHAT: &str = "a string id";
        for (row, v) in rows.iter_mut().zip(r.kept(palettes, n, &kept, WHAT)?) {
            *column(row) = to_id(v, WHAT)?;
        }
    }
    for c in 0..10 {
        const WHAT: &str = "an optional string id";
        for (row, v) in rows.iter_mut().zip(r.kept(palettes, n, &kept, WHAT)?) {
            *optional_ids_mut(row)[c] = to_optional_id(v, WHAT)?;
        }
    }
    let flags = r.bytes(2 * n as u64, "the flags")?;
    for (row, &place) in rows.iter_mut().zip(&kept) {
        let (bits, completeness) = (flags[2 * place], flags[2 * place + 1]);
        (row.read_only, row.mfa) = (untri(bits & 3)?, untri(bits >> 2)?);
        row.completeness = completeness;
    }
    // The row each event was built as, if kept, for the columns read event by event.
    let mut slot: Vec<Option<usize>> = vec![None; n];
    for (k, &place) in kept.iter().enumerate() {
        slot[place] = Some(k);
    }
    if palettes {
        let mut counts = Vec::with_capacity(n);
        let mut total = 0u64;
        for _ in 0..n {
            let count = r.varint("the resources")?;
            total = total.saturating_add(count);
            counts.push(count);
        }
        if total > r.rest.len() as u64 {
            return Err(format!("its events claim {total} resources"));
        }
        // The ids of events not kept, read past at once before the next kept event's.
        let mut past = 0usize;
        for (&built, &count) in slot.iter().zip(&counts) {
            match built {
                Some(k) => {
                    r.skip(std::mem::take(&mut past), "a resource")?;
                    rows[k].resources = (0..count)
                        .map(|_| r.id("a resource"))
                        .collect::<Result<_, _>>()?;
                }
                None => past += count as usize,
            }
        }
        r.skip(past, "a resource")?;
    } else {
        for &built in &slot {
            let count = r.varint("the resources")?;
            if count > r.rest.len() as u64 {
                return Err(format!("an event claims {count} resources"));
            }
            match built {
                Some(k) => {
                    rows[k].resources = (0..count)
                        .map(|_| r.id("a resource"))
                        .collect::<Result<_, _>>()?;
                }
                None => r.skip(count as usize, "a resource")?,
            }
        }
    }
    previous = 0;
    for &built in &slot {
        previous = previous.wrapping_add(unzigzag(r.varint("the evidence blocks")?));
        if let Some(k) = built {
            rows[k].raw_block = previous;
        }
    }
    r.sparse(n, &kept, 2, "a record's place", |r, k| {
        let place = |v: u64| u32::try_from(v).map_err(|_| "a record's place is out of range");
        rows[k].raw_offset = place(r.varint("a record's offset")?)?;
        rows[k].raw_len = place(r.varint("a record's length")?)?;
        Ok(())
    })?;
    for c in 0..3 {
        for &built in &slot {
            let text = match r.varint("a text")? {
                0 => None,
                len => Some(r.bytes(len - 1, "a text")?),
            };
            if let Some(k) = built {
                *texts_mut(&mut rows[k])[c] = text
                    .map(|bytes| {
                        String::from_utf8(bytes.to_vec())
                            .map_err(|_| "a text is not UTF-8".to_owned())
                    })
                    .transpose()?;
            }
        }
    }
    type Bytes = fn(&mut Row) -> &mut Vec<u8>;
    let columns: [(Bytes, &str); 2] = [
        (|r| &mut r.event_id, "an event id"),
        (|r| &mut r.leaf, "a leaf"),
    ];
    for (column, what) in columns {
        // Where each event's bytes start among the column's: one pass over the lengths,
        // then the kept events' bytes copied and the others' never looked at.
        let mut starts = Vec::with_capacity(n + 1);
        let mut total = 0u64;
        starts.push(0);
        for _ in 0..n {
            total = total.saturating_add(r.varint(what)?);
            starts.push(total);
        }
        let bytes = r.bytes(total, what)?;
        for (row, &place) in rows.iter_mut().zip(&kept) {
            let (from, to) = (starts[place] as usize, starts[place + 1] as usize);
            *column(row) = bytes[from..to].to_vec();
        }
    }
    if !r.rest.is_empty() {
        return Err(format!("{} bytes follow its last column", r.rest.len()));
    }
    Ok(rows)
}

/// Delete those of the evidence blocks `ids` that no stored event's record is in any more
/// (a file's records may straddle a month's end, and a prune may leave some of a block's
/// events); returns how many went.
pub(crate) fn forget_evidence(
    c: &mut impl postgres::GenericClient,
    ids: &[i64],
) -> Result<u64, postgres::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    c.execute(
        "DELETE FROM audit_blocks WHERE id = ANY($1) \
         AND id NOT IN (SELECT unnest(evidence) FROM audit_event_blocks)",
        &[&ids],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(i: i64) -> Row {
        Row {
            id: 1000 + i,
            time_us: 1_730_678_400_000_000 + i * 1_000_000,
            source: 1,
            event_id: vec![i as u8; 16],
            action: 7,
            outcome: 8,
            actor_kind: 9,
            actor_rule: 10,
            account: Some(2),
            region: None,
            principal: Some(i32::MAX),
            read_only: Some(i % 2 == 0),
            mfa: None,
            completeness: 3,
            error_message: (i == 1).then(|| "Access denied ✓".into()),
            resources: vec![4, 5, 6],
            facets: 0x21_11_01,
            raw_block: 40 + i / 3,
            raw_offset: 100 * i as u32,
            raw_len: 99,
            leaf: vec![1, 2, 3, 4],
            ..Row::default()
        }
    }

    /// Both formats a store may hold: what is written, and format 1 of older stores.
    const FORMATS: [u8; 2] = [VERSION, VARINTS];

    #[test]
    fn a_block_round_trips_and_is_small() {
        let mut rows: Vec<Row> = (0..MAX_EVENTS as i64).map(row).collect();
        for format in FORMATS {
            let block = encode_as(&rows, format);
            assert_eq!(block[0], format);
            assert_eq!(decode(&block).unwrap(), rows);
            // Ids and leaves as above repeat; real ones are random (20 bytes an event).
            assert!(block.len() < rows.len() * 8, "{} bytes", block.len());
            assert_eq!(decode(&encode_as(&[], format)).unwrap(), vec![]);
        }
        // A palette of as many values as a block holds events.
        for (i, r) in rows.iter_mut().enumerate() {
            r.session_name = Some(i as i32 * 1000);
        }
        assert_eq!(decode(&encode(&rows)).unwrap(), rows);
    }

    #[test]
    fn a_selective_decode_builds_only_the_kept_rows() {
        let rows: Vec<Row> = (0..40).map(row).collect();
        for format in FORMATS {
            let block = encode_as(&rows, format);
            let kept = decode_where(&block, |id, time, facets| {
                assert_eq!(facets, 0x21_11_01);
                id % 3 == 0 && time > rows[5].time_us
            })
            .unwrap();
            let want: Vec<Row> = rows
                .iter()
                .filter(|r| r.id % 3 == 0 && r.time_us > rows[5].time_us)
                .cloned()
                .collect();
            assert_eq!(kept, want);
            assert!(decode_where(&block, |_, _, _| false).unwrap().is_empty());
        }
    }

    #[test]
    fn damaged_blocks_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9]).is_err());
        for format in FORMATS {
            let block = encode_as(&(0..10).map(row).collect::<Vec<_>>(), format);
            assert!(decode(&block[..block.len() - 3]).is_err());
            let data = zstd::bulk::decompress(&block[1..], MAX_DECOMPRESSED).unwrap();
            for cut in 0..data.len() {
                let mut cut_block = vec![format];
                cut_block.extend(zstd::bulk::compress(&data[..cut], 1).unwrap());
                assert!(decode(&cut_block).is_err(), "cut at {cut}");
            }
        }
        // One event whose facets name the second value of a palette holding one.
        let mut data = Vec::new();
        for v in [1, zigzag(7), zigzag(1_730_678_400_000_000), 1, 5] {
            put(&mut data, v);
        }
        data.push(1);
        let mut block = vec![VERSION];
        block.extend(zstd::bulk::compress(&data, 1).unwrap());
        let err = decode(&block).unwrap_err();
        assert!(err.contains("palette does not hold"), "{err}");
    }

    /// A row whose every field is drawn: varints of one to five bytes, any number of
    /// resources, texts or none, event ids and leaves of any length.
    fn any_row() -> impl Strategy<Value = Row> {
        let id = prop_oneof![0..100i32, 0..i32::MAX];
        let optional = proptest::option::of(id.clone());
        (
            (
                any::<i64>(),
                any::<i64>(),
                id.clone(),
                id.clone(),
                id.clone(),
            ),
            proptest::collection::vec(optional, 10),
            proptest::collection::vec(id.clone(), 0..12),
            proptest::collection::vec(proptest::option::of(".{0,20}"), 3),
            (any::<i64>(), any::<u32>(), any::<u32>(), any::<u8>()),
            (
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 0..33),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
                0..i32::MAX,
            ),
        )
            .prop_map(|(a, optional, resources, texts, places, rest)| {
                let mut r = Row {
                    id: a.0,
                    time_us: a.1,
                    source: a.2,
                    action: a.3,
                    outcome: a.4,
                    actor_kind: a.2 ^ 1,
                    actor_rule: a.3 / 3,
                    resources,
                    raw_block: places.0,
                    raw_offset: places.1,
                    raw_len: places.2,
                    completeness: places.3,
                    event_id: rest.0,
                    leaf: rest.1,
                    read_only: rest.2,
                    mfa: rest.3,
                    facets: rest.4,
                    ..Row::default()
                };
                for (slot, v) in optional_ids_mut(&mut r).into_iter().zip(optional) {
                    *slot = v;
                }
                for (slot, t) in texts_mut(&mut r).into_iter().zip(texts) {
                    *slot = t;
                }
                r
            })
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for format in FORMATS {
                let mut block = vec![format];
                block.extend(zstd::bulk::compress(&bytes, 1).unwrap());
                let _ = decode(&block);
                // Reading past events takes other paths than reading them.
                let mut flip = false;
                let _ = decode_where(&block, |_, _, _| { flip = !flip; flip });
            }
            let _ = decode(&bytes);
        }

        /// Reading past the events not kept lands each kept event's fields where a whole
        /// decode finds them, whatever the values' widths and whichever events are kept.
        #[test]
        fn a_selective_decode_equals_a_whole_one_filtered(
            rows in proptest::collection::vec(any_row(), 0..60),
            mask in proptest::collection::vec(any::<bool>(), 60),
        ) {
            let want: Vec<Row> = rows
                .iter()
                .zip(&mask)
                .filter(|(_, &k)| k)
                .map(|(r, _)| r.clone())
                .collect();
            for format in FORMATS {
                let block = encode_as(&rows, format);
                let all = decode(&block).unwrap();
                prop_assert_eq!(&all, &rows);
                let mut place = 0;
                let kept = decode_where(&block, |_, _, _| {
                    place += 1;
                    mask[place - 1]
                })
                .unwrap();
                prop_assert_eq!(&kept, &want);
            }
        }
    }
}
