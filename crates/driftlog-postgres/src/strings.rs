//! Values that repeat across events, stored once (`audit_strings`, migration 6): principals,
//! issuers, user agents, actions, accounts, regions, resource names. An event's columns hold
//! their ids, four bytes instead of an ARN of sixty, in the row and in every index over it.
//!
//! Each store handle keeps the strings it has met, both ways, so a batch asks the server only
//! for values it has not seen and a listing only for ids it has not read. Ids are only ever
//! added (a string keeps its id for the store's life), so a remembered pair never goes stale;
//! the one exception is a string added by a transaction that then rolled back, which is why a
//! failed write forgets everything ([`Strings::forget`]).

use postgres::types::Type;
use postgres::GenericClient;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// Above this many remembered strings, the cache starts over: a long-running server reading a
/// large store keeps a bounded working set, not every session name it ever listed.
const MAX_REMEMBERED: usize = 1 << 20;

/// The strings a store handle has met.
pub(crate) struct Strings {
    ids: HashMap<Arc<str>, i32>,
    texts: HashMap<i32, Arc<str>>,
    /// How many it remembers at most ([`MAX_REMEMBERED`]; tests set fewer).
    limit: usize,
}

impl Default for Strings {
    fn default() -> Self {
        Self {
            ids: HashMap::default(),
            texts: HashMap::default(),
            limit: MAX_REMEMBERED,
        }
    }
}

impl Strings {
    /// After a failed write: ids given out by its transaction do not exist.
    pub(crate) fn forget(&mut self) {
        self.ids.clear();
        self.texts.clear();
    }

    fn remember(&mut self, id: i32, text: &str) {
        let text: Arc<str> = Arc::from(text);
        self.ids.insert(text.clone(), id);
        self.texts.insert(id, text);
    }

    /// The id of `text`, when this handle has met it.
    pub(crate) fn id(&self, text: &str) -> Option<i32> {
        self.ids.get(text).copied()
    }

    /// The text of `id` (read by [`Strings::read`] first).
    pub(crate) fn text(&self, id: i32) -> Option<&str> {
        self.texts.get(&id).map(|t| &**t)
    }

    /// Give every one of `texts` an id, adding those the store does not hold. Runs inside the
    /// writer's transaction, under its lock: no other batch adds strings meanwhile.
    pub(crate) fn intern<'t>(
        &mut self,
        c: &mut impl GenericClient,
        texts: impl IntoIterator<Item = &'t str, IntoIter: Clone>,
    ) -> Result<(), postgres::Error> {
        let missing = self.unmet(texts.into_iter(), |s, t| s.id(t).is_some());
        if missing.is_empty() {
            return Ok(());
        }
        c.execute(
            "INSERT INTO audit_strings (text) SELECT unnest($1::text[]) ON CONFLICT (text) DO NOTHING",
            &[&missing],
        )?;
        self.fetch(c, &missing)
    }

    /// Those of a batch's `all` (strings or ids) this handle has not met (`met` tells), sorted
    /// and once each: most were met before, and only the others are sent (and collected: a
    /// long listing's window names a million ids, nearly all met). When remembering them
    /// would overflow the cache, it starts over, which forgets the batch's others too: then
    /// all of them.
    fn unmet<T: Ord + Copy>(
        &mut self,
        all: impl Iterator<Item = T> + Clone,
        met: impl Fn(&Self, T) -> bool,
    ) -> Vec<T> {
        let mut missing: Vec<T> = all.clone().filter(|&x| !met(self, x)).collect();
        if !missing.is_empty() && self.ids.len() + missing.len() > self.limit {
            self.forget();
            missing = all.collect();
        }
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Remember the ids of those of `texts` the store holds.
    fn fetch(&mut self, c: &mut impl GenericClient, texts: &[&str]) -> Result<(), postgres::Error> {
        for row in c.query_typed(
            "SELECT id, text FROM audit_strings WHERE text = ANY($1)",
            &[(&texts, Type::TEXT_ARRAY)],
        )? {
            self.remember(row.get(0), row.get(1));
        }
        Ok(())
    }

    /// Read the texts of those of `ids` this handle has not met.
    pub(crate) fn read(
        &mut self,
        c: &mut impl GenericClient,
        ids: impl IntoIterator<Item = i32, IntoIter: Clone>,
    ) -> Result<(), postgres::Error> {
        let missing = self.unmet(ids.into_iter(), |s, id| s.texts.contains_key(&id));
        if missing.is_empty() {
            return Ok(());
        }
        for row in c.query_typed(
            "SELECT id, text FROM audit_strings WHERE id = ANY($1)",
            &[(&missing, Type::INT4_ARRAY)],
        )? {
            self.remember(row.get(0), row.get(1));
        }
        Ok(())
    }

    /// The ids of those of `texts` the store holds (a filter on a value no event has matches
    /// nothing).
    pub(crate) fn find(
        &mut self,
        c: &mut impl GenericClient,
        texts: &[String],
    ) -> Result<Vec<i32>, postgres::Error> {
        self.learn(c, texts.iter().map(String::as_str))?;
        Ok(self.known(texts))
    }

    /// The ids of those of `texts` this handle has met, sorted and once each, asking the store
    /// nothing: after [`Strings::learn`], a text not met is one the store does not hold, and
    /// asking again would cost a round trip for every spelling no event names.
    pub(crate) fn known(&self, texts: &[String]) -> Vec<i32> {
        let mut ids: Vec<i32> = texts.iter().filter_map(|t| self.id(t)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Ask the store for the ids of those of `texts` this handle has not met, in one round
    /// trip: a query naming a principal, an action and a resource's spellings learns them
    /// all at once, and [`Strings::known`] then has their ids.
    pub(crate) fn learn<'t>(
        &mut self,
        c: &mut impl GenericClient,
        texts: impl Iterator<Item = &'t str> + Clone,
    ) -> Result<(), postgres::Error> {
        let missing = self.unmet(texts, |s, t| s.id(t).is_some());
        if missing.is_empty() {
            return Ok(());
        }
        self.fetch(c, &missing)
    }

    /// The ids of the strings `like` (a `LIKE` pattern) matches.
    pub(crate) fn matching(
        c: &mut impl GenericClient,
        like: &str,
    ) -> Result<Vec<i32>, postgres::Error> {
        Ok(c.query_typed(
            "SELECT id FROM audit_strings WHERE text LIKE $1 ORDER BY id",
            &[(&like, Type::TEXT)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_starts_over_before_it_overflows_and_forgets_on_failure() {
        let mut s = Strings::default();
        s.remember(1, "a");
        assert_eq!((s.id("a"), s.text(1)), (Some(1), Some("a")));
        s.forget();
        assert_eq!((s.id("a"), s.text(1)), (None, None));
        let mut s = Strings {
            limit: 2,
            ..Strings::default()
        };
        s.remember(1, "a");
        let met = |s: &Strings, t: &str| s.id(t).is_some();
        assert_eq!(s.unmet(["a", "b"].into_iter(), met), ["b"]);
        assert_eq!(s.id("a"), Some(1), "room enough");
        // Two more would make three: it starts over, and all are asked for.
        assert_eq!(s.unmet(["c", "b", "a"].into_iter(), met), ["a", "b", "c"]);
        assert_eq!(s.id("a"), None, "started over");
    }

    /// A query's names are learned in one round trip; those the store does not hold are
    /// then simply unknown, not asked for again.
    #[test]
    fn names_learned_at_once_are_known_without_asking_again() {
        let Some((_db, mut c)) = crate::testing::migrated() else {
            return;
        };
        let mut s = Strings::default();
        s.intern(&mut c, ["held", "also held"]).unwrap();
        s.forget();
        s.learn(&mut c, ["held", "not held", "also held"].into_iter())
            .unwrap();
        let names = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let mut both = vec![s.id("held").unwrap(), s.id("also held").unwrap()];
        both.sort_unstable();
        assert_eq!(
            s.known(&names(&["also held", "not held", "held", "held"])),
            both
        );
        assert!(s.known(&names(&["not held"])).is_empty());
    }

    #[test]
    fn a_batch_that_makes_the_cache_start_over_still_gets_every_id() {
        let Some((_db, mut c)) = crate::testing::migrated() else {
            return;
        };
        let mut s = Strings {
            limit: 3,
            ..Strings::default()
        };
        s.intern(&mut c, ["a", "b"]).unwrap();
        // Two remembered, two new: more than three, so it starts over and asks for all.
        s.intern(&mut c, ["a", "b", "c", "d", "c"]).unwrap();
        let ids: Vec<Option<i32>> = ["a", "b", "c", "d"].iter().map(|t| s.id(t)).collect();
        assert!(ids.iter().all(Option::is_some), "{ids:?}");
        let stored: i64 = c
            .query_one("SELECT count(*) FROM audit_strings", &[])
            .unwrap()
            .get(0);
        assert_eq!(stored, 4, "each once");
        s.read(&mut c, [ids[0].unwrap(), ids[3].unwrap()]).unwrap();
        assert_eq!(s.text(ids[3].unwrap()), Some("d"));
        // A listing's batch of ids, more than the cache holds: every one is read.
        let ids: Vec<i32> = ids.into_iter().flatten().collect();
        s.forget();
        s.read(&mut c, [ids[0]]).unwrap();
        s.read(&mut c, ids.iter().copied()).unwrap();
        let texts: Vec<Option<&str>> = ids.iter().map(|&id| s.text(id)).collect();
        assert_eq!(texts, [Some("a"), Some("b"), Some("c"), Some("d")]);
    }
}
