//! The resources an event names, as stored in its row. They were a JSON array of the names
//! (some 130 bytes an event on CloudTrail: ARNs repeat across millions of events); since schema
//! 10 they are the names' ids in `ref_names` (which the posting lists key on anyway), as LEB128
//! varints in the event's order: three or four bytes a name. A row of a store being migrated
//! may still hold the JSON text, which reads back as before.

use rusqlite::types::{FromSqlError, ValueRef};

/// An event's resources as read from its row, before the ids are turned into names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredResources {
    Ids(Vec<i64>),
    Names(Vec<String>),
}

/// The row's bytes for `ids` (names' ids in `ref_names`, in the event's order).
pub(crate) fn encode(ids: &[i64], out: &mut Vec<u8>) {
    out.clear();
    for &id in ids {
        crate::postings::put(out, id as u64);
    }
}

/// The ids `encode` wrote, or why the bytes are not such a list.
pub(crate) fn decode_ids(mut bytes: &[u8]) -> Result<Vec<i64>, String> {
    let mut ids = Vec::with_capacity(bytes.len() / 3 + 1);
    while !bytes.is_empty() {
        let id = crate::postings::take(&mut bytes).ok_or("a resource id is cut short")?;
        let id = i64::try_from(id).map_err(|_| format!("resource id {id} is out of range"))?;
        ids.push(id);
    }
    Ok(ids)
}

pub(crate) fn decode(value: ValueRef<'_>) -> Result<StoredResources, FromSqlError> {
    match value {
        ValueRef::Blob(b) => decode_ids(b)
            .map(StoredResources::Ids)
            .map_err(|e| FromSqlError::Other(e.into())),
        ValueRef::Text(t) => serde_json::from_slice(t)
            .map(StoredResources::Names)
            .map_err(|e| FromSqlError::Other(e.into())),
        _ => Err(FromSqlError::InvalidType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn old_rows_hold_json_and_new_ones_ids() {
        assert_eq!(
            decode(ValueRef::Text(br#"["i-1","sg-2"]"#)).unwrap(),
            StoredResources::Names(vec!["i-1".into(), "sg-2".into()])
        );
        let mut bytes = Vec::new();
        encode(&[1, 43_467, 300], &mut bytes);
        assert_eq!(bytes.len(), 1 + 3 + 2);
        assert_eq!(
            decode(ValueRef::Blob(&bytes)).unwrap(),
            StoredResources::Ids(vec![1, 43_467, 300])
        );
        assert_eq!(
            decode(ValueRef::Blob(&[])).unwrap(),
            StoredResources::Ids(vec![])
        );
        assert!(decode(ValueRef::Blob(&[0x80])).is_err());
        assert!(decode(ValueRef::Text(b"not json")).is_err());
        assert!(decode(ValueRef::Integer(3)).is_err());
    }

    proptest! {
        #[test]
        fn any_ids_round_trip(ids in proptest::collection::vec(0i64..i64::MAX, 0..40)) {
            let mut bytes = Vec::new();
            encode(&ids, &mut bytes);
            prop_assert_eq!(decode_ids(&bytes).unwrap(), ids);
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(ValueRef::Blob(&bytes));
        }
    }
}
