//! An event's shape: the fields it shares with thousands of others and that no filter asks
//! for — account, region, service, outcome, principal type, invoking service, the rule that
//! classified its actor, user agent, MFA and how complete its record is. Since schema 17 a row
//! holds the id of its shape in `shapes` instead of ten columns.
//!
//! Why: these ten values are each drawn from a few hundred, but together from only a few
//! thousand combinations (a million generated CloudTrail events have about 4,000; one caller's
//! calls from one tool in one region repeat the same combination). Ten columns cost a header
//! byte each plus their value, about 19 bytes a row; a shape id costs three. The columns the
//! filters read (source, action, principal, issuer, actor kind, writes) stay in the row, so
//! every SQL clause of `crate::query` reads the row alone.
//!
//! A shape is stored as its encoding ([`Shape::encode`]), unique, so the writer finds an
//! existing shape by its bytes; readers load the shapes of the rows they read, a statement a
//! batch (`query::Store::resolve`).

use rusqlite::types::ValueRef;

/// The shared fields of an event, the text ones as ids into `strings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub account: Option<i64>,
    pub region: Option<i64>,
    pub service: Option<i64>,
    pub outcome: Option<i64>,
    pub principal_type: Option<i64>,
    pub invoked_by: Option<i64>,
    pub actor_rule: Option<i64>,
    pub user_agent: Option<i64>,
    pub mfa: Option<bool>,
    pub completeness: u8,
}

/// A shape's bytes cannot be read (a damaged store): the row's event reads without them, its
/// leaf then no longer matches and `driftlog verify` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damaged;

impl Shape {
    /// The string ids in a fixed order, as encoded.
    fn strings(&self) -> [Option<i64>; 8] {
        [
            self.account,
            self.region,
            self.service,
            self.outcome,
            self.principal_type,
            self.invoked_by,
            self.actor_rule,
            self.user_agent,
        ]
    }

    /// [`Shape::encode_into`], into a new buffer.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        self.encode_into(&mut out);
        out
    }

    /// The shape's bytes, into `out` (cleared first; the writer encodes every event's shape
    /// into one buffer): completeness and MFA a byte each, then each string id as a LEB128
    /// varint of id + 1 (0 for none), eleven to twenty bytes, stored once per shape.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(self.completeness);
        out.push(match self.mfa {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        for id in self.strings() {
            // Ids of `strings` are rowids, never negative; one that were would not round
            // trip, so it is stored as none rather than as another id.
            let coded = id
                .and_then(|id| u64::try_from(id).ok())
                .map_or(0, |id| id + 1);
            crate::postings::put(out, coded);
        }
    }

    pub(crate) fn decode(mut bytes: &[u8]) -> Result<Shape, Damaged> {
        let [completeness, mfa, rest @ ..] = bytes else {
            return Err(Damaged);
        };
        let mfa = match mfa {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return Err(Damaged),
        };
        let completeness = *completeness;
        bytes = rest;
        let mut ids = [None; 8];
        for slot in &mut ids {
            let coded = crate::postings::take(&mut bytes).ok_or(Damaged)?;
            *slot = match coded {
                0 => None,
                n => Some(i64::try_from(n - 1).map_err(|_| Damaged)?),
            };
        }
        if !bytes.is_empty() {
            return Err(Damaged);
        }
        let [account, region, service, outcome, principal_type, invoked_by, actor_rule, user_agent] =
            ids;
        Ok(Shape {
            account,
            region,
            service,
            outcome,
            principal_type,
            invoked_by,
            actor_rule,
            user_agent,
            mfa,
            completeness,
        })
    }

    /// A shape column's value as read from the database.
    pub(crate) fn from_sql(value: ValueRef<'_>) -> Result<Shape, Damaged> {
        match value {
            ValueRef::Blob(b) => Shape::decode(b),
            _ => Err(Damaged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_shape() -> impl Strategy<Value = Shape> {
        let id = || proptest::option::of(0i64..i64::MAX);
        (
            (id(), id(), id(), id()),
            (id(), id(), id(), id()),
            proptest::option::of(any::<bool>()),
            any::<u8>(),
        )
            .prop_map(|((a, r, s, o), (t, i, ru, u), mfa, completeness)| Shape {
                account: a,
                region: r,
                service: s,
                outcome: o,
                principal_type: t,
                invoked_by: i,
                actor_rule: ru,
                user_agent: u,
                mfa,
                completeness,
            })
    }

    #[test]
    fn a_typical_shape_takes_a_few_bytes() {
        let shape = Shape {
            account: Some(3),
            region: Some(4),
            service: Some(5),
            outcome: Some(6),
            principal_type: Some(7),
            invoked_by: None,
            actor_rule: Some(9),
            user_agent: Some(300),
            mfa: Some(false),
            completeness: 3,
        };
        let bytes = shape.encode();
        assert_eq!(bytes.len(), 11);
        assert_eq!(Shape::decode(&bytes), Ok(shape));
    }

    #[test]
    fn damaged_shapes_are_refused() {
        let good = Shape::default().encode();
        assert_eq!(Shape::decode(&good), Ok(Shape::default()));
        assert_eq!(
            Shape::decode(&good[..good.len() - 1]),
            Err(Damaged),
            "cut short"
        );
        assert_eq!(
            Shape::decode(&[good.clone(), vec![0]].concat()),
            Err(Damaged)
        );
        let mut mfa = good.clone();
        mfa[1] = 3;
        assert_eq!(Shape::decode(&mfa), Err(Damaged));
        assert_eq!(Shape::decode(&[]), Err(Damaged));
        assert_eq!(Shape::from_sql(ValueRef::Integer(1)), Err(Damaged));
        assert_eq!(Shape::from_sql(ValueRef::Null), Err(Damaged));
    }

    proptest! {
        #[test]
        fn any_shape_round_trips(shape in any_shape()) {
            prop_assert_eq!(Shape::decode(&shape.encode()), Ok(shape));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Shape::decode(&bytes);
        }
    }
}
