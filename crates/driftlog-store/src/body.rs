//! The part of an event's row that no SQL clause reads, as one BLOB (`events.body`, schema
//! 17): its free texts (ids into `texts`, see `crate::texts`), where its record sits in its
//! evidence block, and the resources it names (ids into `ref_names`, see
//! `crate::resource_lists`).
//!
//! Why one column: SQLite spends a header byte on every column of every row, and most of
//! these values take one to three bytes, three of the five texts are usually absent. As eight
//! columns they cost about 8 bytes of headers an event; as one, a byte of header and a byte
//! saying which texts are present. The columns SQL reads (the filters, the identity, the
//! evidence block that `prune` and `check` join on, the leaf) stay columns.
//!
//! Layout: a byte whose bit `i` says the `i`th free text is present; each present text's id;
//! the record's offset and length in its block; then the resource ids to the end. Every
//! number is a LEB128 varint.

/// An event's row body, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Body {
    /// Ids into `texts` of the free-text fields: error message, session name, source
    /// identity, on-behalf-of user, source address.
    pub texts: [Option<i64>; 5],
    pub raw_offset: u32,
    pub raw_len: u32,
    /// Ids into `ref_names`, in the event's order.
    pub resources: Vec<i64>,
}

/// A body whose bytes cannot be read (a damaged store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damaged;

impl Body {
    /// The body's bytes, into `out` (cleared first).
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let present = self
            .texts
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .fold(0u8, |bits, (i, _)| bits | 1 << i);
        out.push(present);
        for id in self.texts.iter().flatten() {
            crate::postings::put(out, *id as u64);
        }
        crate::postings::put(out, u64::from(self.raw_offset));
        crate::postings::put(out, u64::from(self.raw_len));
        for &id in &self.resources {
            crate::postings::put(out, id as u64);
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Body, Damaged> {
        let (&present, mut rest) = bytes.split_first().ok_or(Damaged)?;
        if present >> 5 != 0 {
            return Err(Damaged);
        }
        let id = |rest: &mut &[u8]| {
            crate::postings::take(rest)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or(Damaged)
        };
        let mut texts = [None; 5];
        for (i, slot) in texts.iter_mut().enumerate() {
            if present & 1 << i != 0 {
                *slot = Some(id(&mut rest)?);
            }
        }
        let place = |rest: &mut &[u8]| {
            crate::postings::take(rest)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(Damaged)
        };
        let raw_offset = place(&mut rest)?;
        let raw_len = place(&mut rest)?;
        let resources = crate::resource_lists::decode_ids(rest).map_err(|_| Damaged)?;
        Ok(Body {
            texts,
            raw_offset,
            raw_len,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(body: &Body) -> Vec<u8> {
        let mut out = vec![0xAA];
        body.encode_into(&mut out);
        out
    }

    #[test]
    fn a_typical_cloudtrail_body_takes_a_dozen_bytes() {
        let body = Body {
            texts: [None, Some(40), None, None, Some(3_000)],
            raw_offset: 350_000,
            raw_len: 1_370,
            resources: vec![43_000, 12],
        };
        let bytes = encoded(&body);
        assert_eq!(bytes.len(), 1 + 1 + 2 + 3 + 2 + 3 + 1);
        assert_eq!(Body::decode(&bytes), Ok(body));
    }

    #[test]
    fn damaged_bodies_are_refused() {
        assert_eq!(Body::decode(&[]), Err(Damaged));
        assert_eq!(Body::decode(&[0x20, 0, 0]), Err(Damaged), "a sixth text");
        assert_eq!(Body::decode(&[0x01, 5]), Err(Damaged), "no place");
        assert_eq!(Body::decode(&[0, 0x80]), Err(Damaged), "cut short");
        assert_eq!(
            Body::decode(&[0, 1, 2, 0x80]),
            Err(Damaged),
            "a resource cut short"
        );
        let too_far = [0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1];
        assert_eq!(
            Body::decode(&too_far),
            Err(Damaged),
            "an offset past 32 bits"
        );
    }

    proptest! {
        #[test]
        fn any_body_round_trips(
            texts in proptest::array::uniform5(proptest::option::of(0i64..i64::MAX)),
            raw_offset in any::<u32>(),
            raw_len in any::<u32>(),
            resources in proptest::collection::vec(0i64..i64::MAX, 0..20),
        ) {
            let body = Body { texts, raw_offset, raw_len, resources };
            prop_assert_eq!(Body::decode(&encoded(&body)), Ok(body));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = Body::decode(&bytes);
        }
    }
}
