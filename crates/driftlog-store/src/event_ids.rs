//! Event ids as stored. CloudTrail, Kubernetes and Azure identify events by UUIDs: 36
//! characters of text, written twice per event (the row and the identity index). A UUID in
//! its canonical spelling (lower-case, hyphenated) is stored as its 16 bytes instead; any
//! other id stays text, so every id reads back exactly as it was logged.

use rusqlite::types::{FromSqlError, ToSql, ToSqlOutput, ValueRef};

/// An event id in its stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoredId<'a> {
    Uuid([u8; 16]),
    Text(&'a str),
}

impl StoredId<'_> {
    /// What the identity index keys the id by (`schema::V16`): SQLite's
    /// `substr(event_id, 1, 4)` of the stored form, the first four bytes of a UUID or the
    /// first four characters of a text. Bound as a value, so the index is used.
    pub(crate) fn key_prefix(&self) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(match self {
            StoredId::Uuid(bytes) => ValueRef::Blob(&bytes[..4]),
            StoredId::Text(text) => {
                let end = text.char_indices().nth(4).map_or(text.len(), |(at, _)| at);
                ValueRef::Text(&text.as_bytes()[..end])
            }
        })
    }
}

/// Where the hyphens of a canonical UUID are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

pub(crate) fn encode(id: &str) -> StoredId<'_> {
    let b = id.as_bytes();
    if b.len() != 36 || HYPHENS.iter().any(|&i| b[i] != b'-') {
        return StoredId::Text(id);
    }
    let mut out = [0u8; 16];
    let mut digits = b.iter().enumerate().filter(|(i, _)| !HYPHENS.contains(i));
    for byte in &mut out {
        let (Some((_, &hi)), Some((_, &lo))) = (digits.next(), digits.next()) else {
            return StoredId::Text(id);
        };
        match (nibble(hi), nibble(lo)) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return StoredId::Text(id),
        }
    }
    StoredId::Uuid(out)
}

/// A lower-case hex digit (upper-case ones would not read back as written).
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

pub(crate) fn decode(value: ValueRef<'_>) -> Result<String, FromSqlError> {
    match value {
        ValueRef::Text(t) => {
            String::from_utf8(t.to_vec()).map_err(|e| FromSqlError::Other(e.into()))
        }
        ValueRef::Blob(b) if b.len() == 16 => Ok(uuid_text(b)),
        _ => Err(FromSqlError::InvalidType),
    }
}

/// A UUID's 16 bytes in its canonical spelling.
fn uuid_text(b: &[u8]) -> String {
    // Written digit by digit: a listing decodes one id per event, and formatting through
    // `format!` was a twentieth of its time.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// The byte that ends an id kept as text in [`to_bytes`]: UTF-8 never contains it.
const TEXT_END: u8 = 0xff;

/// An event id as bytes alone, for a store whose column has one type (PostgreSQL's
/// `bytea`): a canonical UUID as its 16 bytes, any other id as its UTF-8 and then `0xFF`
/// (twice when once would make 16 bytes), so a UUID is exactly the 16-byte values and every
/// id reads back as logged. One id always has one form, so the form can be a unique key.
pub fn to_bytes(id: &str) -> Vec<u8> {
    match encode(id) {
        StoredId::Uuid(bytes) => bytes.to_vec(),
        StoredId::Text(text) => {
            let mut bytes = Vec::with_capacity(text.len() + 2);
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(TEXT_END);
            if bytes.len() == 16 {
                bytes.push(TEXT_END);
            }
            bytes
        }
    }
}

/// The id [`to_bytes`] made, or `None` for bytes it cannot have made (a damaged row).
pub fn from_bytes(bytes: &[u8]) -> Option<String> {
    if bytes.len() == 16 {
        return Some(uuid_text(bytes));
    }
    // Text never holds the end byte: a second one is the one a 15-byte id got.
    let text = bytes.strip_suffix(&[TEXT_END])?;
    let text = text.strip_suffix(&[TEXT_END]).unwrap_or(text);
    String::from_utf8(text.to_vec()).ok()
}

impl ToSql for StoredId<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            StoredId::Uuid(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            StoredId::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(id: &str) -> String {
        match encode(id) {
            StoredId::Uuid(b) => decode(ValueRef::Blob(&b)).unwrap(),
            StoredId::Text(t) => decode(ValueRef::Text(t.as_bytes())).unwrap(),
        }
    }

    #[test]
    fn canonical_uuids_take_16_bytes_and_everything_else_stays_text() {
        let uuid = "3038ebd2-c98a-4c65-9b6e-e22506292313";
        assert!(matches!(encode(uuid), StoredId::Uuid(_)));
        assert_eq!(round_trip(uuid), uuid);
        for other in [
            "3038EBD2-C98A-4C65-9B6E-E22506292313",
            "3038ebd2c98a4c659b6ee22506292313",
            "3038ebd2-c98a-4c65-9b6e-e2250629231g",
            "-1a2b3c4d5e6f",
            "",
            "insert-id-of-gcp",
        ] {
            assert_eq!(encode(other), StoredId::Text(other));
            assert_eq!(round_trip(other), other);
        }
    }

    /// The prefix bound for the identity index is SQLite's own `substr` of the stored id, or
    /// the index would find nothing.
    fn sqlite_prefix(conn: &rusqlite::Connection, id: &str) -> (rusqlite::types::Value, bool) {
        let stored = encode(id);
        conn.query_row(
            "SELECT substr(?1, 1, 4), substr(?1, 1, 4) IS ?2",
            rusqlite::params![stored, stored.key_prefix()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    #[test]
    fn the_key_prefix_is_sqlites_substr_of_the_stored_id() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for id in [
            "3038ebd2-c98a-4c65-9b6e-e22506292313",
            "3038EBD2-C98A-4C65-9B6E-E22506292313",
            "-1a2b3c4d5e6f",
            "abc",
            "",
            "ünïcødé-id",
            "日本語のイベント",
            "a\u{1F600}bcdef",
        ] {
            let (prefix, equal) = sqlite_prefix(&conn, id);
            assert!(equal, "{id:?}: SQLite's prefix is {prefix:?}");
        }
    }

    proptest! {
        #[test]
        fn any_ids_key_prefix_is_sqlites(id in "\\PC{0,12}|[0-9a-f-]{36}") {
            let conn = rusqlite::Connection::open_in_memory().unwrap();
            prop_assert!(sqlite_prefix(&conn, &id).1);
        }

        #[test]
        fn any_id_reads_back_as_written(id in "\\PC{0,40}|[0-9a-f-]{36}") {
            prop_assert_eq!(round_trip(&id), id);
        }

        #[test]
        fn any_id_reads_back_from_its_bytes(id in "\\PC{0,40}|[0-9a-f-]{36}|[a-z]{14,17}") {
            let bytes = to_bytes(&id);
            prop_assert_eq!(bytes.len() == 16, matches!(encode(&id), StoredId::Uuid(_)));
            prop_assert_eq!(from_bytes(&bytes), Some(id));
        }
    }

    #[test]
    fn ids_as_bytes_are_16_for_uuids_and_never_16_for_texts() {
        let uuid = "3038ebd2-c98a-4c65-9b6e-e22506292313";
        assert_eq!(to_bytes(uuid).len(), 16);
        // Fifteen bytes of text would make sixteen with one end byte: it gets two.
        let fifteen = "abcdefghijklmno";
        assert_eq!(to_bytes(fifteen).len(), 17);
        assert_eq!(from_bytes(&to_bytes(fifteen)).as_deref(), Some(fifteen));
        let sixteen = "abcdefghijklmnop";
        assert_eq!(to_bytes(sixteen).len(), 17);
        assert_eq!(from_bytes(&to_bytes(sixteen)).as_deref(), Some(sixteen));
        assert_eq!(to_bytes(""), [0xff]);
        assert_eq!(from_bytes(b"no end byte"), None);
        assert_eq!(from_bytes(&[0xc3, 0xff]), None, "not UTF-8");
    }
}
