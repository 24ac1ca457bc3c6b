//! The behaviour every [`EventStore`] must have, as functions over a fresh, empty store: the
//! SQLite store runs them (tests/store.rs), and every other implementation (PostgreSQL) runs
//! the same ones against its own, so the suite is written once.

use crate::{
    event_leaf, EventQuery, EventStore, EvidencePacker, FileBatch, PreparedEvent, Records,
};
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};

/// One case: panics when the store misbehaves.
pub type Case = fn(&mut dyn EventStore);

/// Every case, by name.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        (
            "evidence_round_trips_across_blocks",
            evidence_round_trips_across_blocks,
        ),
        (
            "evidence_packed_across_files_reads_back",
            evidence_packed_across_files_reads_back,
        ),
        (
            "evidence_compressed_with_a_kept_dictionary_reads_back",
            evidence_compressed_with_a_kept_dictionary_reads_back,
        ),
        (
            "records_kept_without_their_ids_read_back_as_logged",
            records_kept_without_their_ids_read_back_as_logged,
        ),
        (
            "a_more_complete_stage_replaces_the_stored_one",
            a_more_complete_stage_replaces_the_stored_one,
        ),
        (
            "duplicates_are_stored_once_and_clean_files_are_known",
            duplicates_are_stored_once_and_clean_files_are_known,
        ),
        (
            "events_sharing_a_time_and_the_start_of_their_ids_are_each_stored",
            events_sharing_a_time_and_the_start_of_their_ids_are_each_stored,
        ),
        (
            "listings_keep_time_order_within_and_across_seconds",
            listings_keep_time_order_within_and_across_seconds,
        ),
        (
            "every_filter_narrows_and_combines",
            every_filter_narrows_and_combines,
        ),
        (
            "addresses_and_spellings_lead_to_their_events",
            addresses_and_spellings_lead_to_their_events,
        ),
        (
            "events_after_walks_ids_with_evidence_and_leaves",
            events_after_walks_ids_with_evidence_and_leaves,
        ),
        (
            "every_combination_of_filters_equals_filtering_by_hand",
            every_combination_of_filters_equals_filtering_by_hand,
        ),
        (
            "pruned_events_leave_no_trace_in_any_lookup",
            pruned_events_leave_no_trace_in_any_lookup,
        ),
        (
            "a_listing_handed_in_batches_is_the_whole_answer_in_order",
            a_listing_handed_in_batches_is_the_whole_answer_in_order,
        ),
        (
            "a_long_listing_is_handed_in_batches_in_order",
            a_long_listing_is_handed_in_batches_in_order,
        ),
        (
            "a_name_that_is_principal_and_issuer_lists_each_event_once",
            a_name_that_is_principal_and_issuer_lists_each_event_once,
        ),
        (
            "limited_listings_over_years_are_the_first_events_in_time",
            limited_listings_over_years_are_the_first_events_in_time,
        ),
    ]
}

const T0: i64 = 1_700_000_000_000_000;

/// A CloudTrail-like event: `principal` calls `action` at `T0 + second` seconds, naming
/// `resources`.
fn aws(id: &str, second: i64, principal: &str, action: &str, resources: &[&str]) -> AuditEvent {
    AuditEvent {
        source: Source::Aws,
        event_id: id.into(),
        time_us: T0 + second * 1_000_000,
        account: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        service: Some("ec2.amazonaws.com".into()),
        action: action.into(),
        read_only: Some(action.starts_with("Describe")),
        outcome: Outcome::Success,
        principal: Principal {
            id: Some(principal.into()),
            kind: Some("AssumedRole".into()),
            issuer: Some("arn:aws:iam::111122223333:role/Admin_Role".into()),
            session_name: Some("jane".into()),
            mfa: Some(true),
            ..Principal::default()
        },
        actor: Actor::new(ActorKind::Console, "userAgent:console (hint)"),
        source_ip: Some("192.0.2.1".into()),
        user_agent: Some("console.amazonaws.com".into()),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        completeness: 0,
    }
}

/// A Kubernetes event logged at a stage (`completeness`, 3 = response complete).
pub fn k8s(id: &str, completeness: u8, resources: &[&str]) -> AuditEvent {
    AuditEvent {
        source: Source::Kubernetes,
        event_id: id.into(),
        time_us: T0,
        account: None,
        region: None,
        service: Some("apps".into()),
        action: "patch deployments".into(),
        read_only: Some(false),
        outcome: if completeness == 3 {
            Outcome::Success
        } else {
            Outcome::Unknown
        },
        principal: Principal {
            id: Some("jane".into()),
            ..Principal::default()
        },
        actor: Actor::new(ActorKind::Kubectl, "userAgent:kubectl (hint)"),
        source_ip: None,
        user_agent: Some("kubectl/v1.31".into()),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        completeness,
    }
}

/// One file's batch, each event with its raw record.
pub fn batch(path: &str, events: Vec<(AuditEvent, String)>) -> FileBatch {
    let mut packer = EvidencePacker::default();
    let mut events: Vec<PreparedEvent> = events
        .into_iter()
        .map(|(event, raw)| {
            packer.add(raw.as_bytes(), &event);
            PreparedEvent::new(event, raw.as_bytes())
        })
        .collect();
    let blocks = packer.finish(&mut events);
    FileBatch {
        path: path.into(),
        size: 1,
        mtime_ns: 1,
        sha256: format!("sha-of-{path}"),
        events,
        blocks,
        clean: true,
    }
}

fn raw_of(e: &AuditEvent) -> String {
    format!(
        "{{\"eventID\":\"{}\",\"eventName\":\"{}\"}}",
        e.event_id, e.action
    )
}

fn with_raw(events: Vec<AuditEvent>) -> Vec<(AuditEvent, String)> {
    events
        .into_iter()
        .map(|e| {
            let raw = raw_of(&e);
            (e, raw)
        })
        .collect()
}

fn ids(found: &[crate::StoredEvent]) -> Vec<&str> {
    found.iter().map(|s| s.event.event_id.as_str()).collect()
}

pub fn evidence_round_trips_across_blocks(store: &mut dyn EventStore) {
    // Records big enough to spill over several blocks, of three calls interleaved (which
    // each block regroups).
    let raws: Vec<String> = (0..40)
        .map(|i| {
            let pad = "x".repeat(crate::write::BLOCK_BYTES / 12 + i);
            format!("{{\"n\":{i},\"pad\":\"{pad}\"}}")
        })
        .collect();
    let events = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let mut event = k8s(&format!("e{i}"), 3, &["ns/web"]);
            event.action = ["get", "patch", "delete"][i % 3].into();
            (event, raw.clone())
        })
        .collect();
    let (stats, commit) = store.write_batch(vec![batch("/a", events)]).unwrap();
    assert_eq!(commit.stored.len(), 40);
    assert!(
        commit.stored.windows(2).all(|w| w[0].0 < w[1].0),
        "in id order"
    );
    assert!(commit.replaced.is_empty());
    assert_eq!(stats.inserted, 40);
    assert_eq!(store.event_count().unwrap(), 40);
    let found = store.query(&EventQuery::default()).unwrap();
    assert_eq!(found.len(), 40);
    for stored in found {
        let n: usize = stored.event.event_id[1..].parse().unwrap();
        assert_eq!(store.raw(stored.id).unwrap(), raws[n].as_bytes());
    }
}

/// Files of one batch whose records were packed together, as the ingest packs them (blocks
/// numbered across the batch, carried by its first file), one of them packed on its own (as
/// the ingest packs a file larger than a window), then a second batch so packed: every record
/// reads back as logged, and every event matches the leaf it was committed with.
pub fn evidence_packed_across_files_reads_back(store: &mut dyn EventStore) {
    let mut logged: std::collections::HashMap<String, String> = Default::default();
    for (b, files) in [(0, 3), (1, 2)] {
        let mut packer = EvidencePacker::default();
        let mut batch: Vec<FileBatch> = (0..files)
            .map(|f| {
                let mut records = Records::default();
                // Big enough for several blocks in all, the same calls in every file.
                let mut events: Vec<PreparedEvent> = (0..12)
                    .map(|i| {
                        let id = format!("b{b}-f{f}-{i:02}");
                        let mut event = k8s(&id, 3, &["ns/web"]);
                        event.action = ["get", "patch", "delete"][i % 3].into();
                        let pad = "x".repeat(crate::write::BLOCK_BYTES / 20 + i);
                        let raw = format!("{{\"id\":\"{id}\",\"pad\":\"{pad}\"}}");
                        records.add(raw.as_bytes(), &event);
                        let prepared = PreparedEvent::new(event, raw.as_bytes());
                        logged.insert(id, raw);
                        prepared
                    })
                    .collect();
                // The middle file of the first batch packs its own records.
                let blocks = if (b, f) == (0, 1) {
                    let mut alone = EvidencePacker::default();
                    alone.add_records(records);
                    alone.finish(&mut events)
                } else {
                    packer.add_records(records);
                    Vec::new()
                };
                FileBatch {
                    path: format!("/b{b}/f{f}"),
                    size: 1,
                    mtime_ns: 1,
                    sha256: format!("sha-b{b}-f{f}"),
                    events,
                    blocks,
                    clean: true,
                }
            })
            .collect();
        crate::seal_batch(packer, &mut batch);
        assert!(batch[0].blocks.len() > 1, "several blocks");
        let (stats, _) = store.write_batch(batch).unwrap();
        assert_eq!(stats.inserted, files * 12);
    }
    let all = store.events_after(0, usize::MAX).unwrap();
    assert_eq!(all.len(), 60);
    for (e, raw, leaf) in all {
        assert_eq!(
            String::from_utf8(raw.clone()).unwrap(),
            logged[&e.event.event_id],
            "{}",
            e.event.event_id
        );
        assert!(leaf.is_some_and(|l| l.matches(&event_leaf(&e.event, &raw))));
        assert_eq!(store.raw(e.id).unwrap(), raw);
    }
}

/// Files packed each on their own, put in one batch: their blocks numbered across it, as
/// the ingest numbers a file packed alone ([`crate::seal_batch`], with nothing packed across).
pub fn together(mut files: Vec<FileBatch>) -> Vec<FileBatch> {
    crate::seal_batch(EvidencePacker::default(), &mut files);
    files
}

/// Every event with its record and recorded leaf (whether it matches the event, and the
/// whole leaf where one is kept: how much of a prefix is kept changed with the schema), then
/// the ids each of `queries` finds, as text: what a migration must leave as it was.
pub fn every_answer(store: &dyn EventStore, queries: &[EventQuery]) -> Vec<String> {
    let mut out: Vec<String> = store
        .events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(e, raw, leaf)| {
            let leaf = leaf.map(|l| (l.matches(&event_leaf(&e.event, &raw)), l.whole()));
            format!(
                "{} {:?} {} {:?}",
                e.id,
                e.event,
                String::from_utf8_lossy(&raw),
                leaf
            )
        })
        .collect();
    for q in queries {
        let ids: Vec<i64> = store.query(q).unwrap().iter().map(|e| e.id).collect();
        out.push(format!("{q:?} {ids:?}"));
    }
    out
}

/// CloudTrail-like records that differ the way real ones do (ids, times, addresses).
pub fn sample_records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-11-04T10:{:02}:{:02}Z\",\
                 \"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"{}\",\
                 \"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.0.{}.{}\",\
                 \"requestParameters\":{{\"groupId\":\"sg-{:08x}\"}},\"eventID\":\"{:032x}\"}}",
                i % 60,
                i % 59,
                [
                    "RunInstances",
                    "AuthorizeSecurityGroupIngress",
                    "CreateTags"
                ][i % 3],
                i % 7,
                i % 250,
                i * 7919,
                i * 104_729
            )
        })
        .collect()
}

pub fn evidence_compressed_with_a_kept_dictionary_reads_back(store: &mut dyn EventStore) {
    use crate::evidence::Dictionary;
    assert!(store.evidence_dictionary().unwrap().is_none());
    let raws = sample_records(1_500);
    let trained = Dictionary::train(&raws, 0).expect("enough samples");
    store.keep_evidence_dictionary(&trained).unwrap();
    let latest = store.evidence_dictionary().unwrap().expect("kept");
    assert_eq!(latest.id(), trained.id());
    assert_eq!(latest.bytes(), trained.bytes());

    let mut packer = EvidencePacker::new(Some(&latest));
    let mut events: Vec<PreparedEvent> = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let event = k8s(&format!("d{i}"), 3, &["ns/web"]);
            packer.add(raw.as_bytes(), &event);
            PreparedEvent::new(event, raw.as_bytes())
        })
        .collect();
    let blocks = packer.finish(&mut events);
    let plain: usize = raws.iter().map(String::len).sum();
    let packed: usize = blocks.iter().map(Vec::len).sum();
    assert!(packed * 8 < plain, "{packed} bytes for {plain}");
    assert!(blocks
        .iter()
        .all(|b| crate::evidence::dictionary_of(b) == Some(trained.id())));
    let mut file = batch("/dict", Vec::new());
    file.events = events;
    file.blocks = blocks;
    store.write_batch(vec![file]).unwrap();
    for stored in store.query(&EventQuery::default()).unwrap() {
        let n: usize = stored.event.event_id[1..].parse().unwrap();
        assert_eq!(store.raw(stored.id).unwrap(), raws[n].as_bytes());
    }
    let walked = store.events_after(0, 10_000).unwrap();
    assert_eq!(walked.len(), raws.len());
    for (event, raw, _) in walked {
        let n: usize = event.event.event_id[1..].parse().unwrap();
        assert_eq!(raw, raws[n].as_bytes());
    }
}

/// Blocks keep records without their event's id (`crate::evidence::keep`); every way back
/// to a record (one event's, the walk's) puts it back byte for byte, whatever the id's form.
pub fn records_kept_without_their_ids_read_back_as_logged(store: &mut dyn EventStore) {
    let ids = [
        "8d06d2ae-8da5-4118-941d-635031c440f2",
        "8D06D2AE-8DA5-4118-941D-635031C440F3",
        "1f2e3d4c5b6a7988",
        "projects/p/logs/activity:0123456789",
        "démo-événement-7",
        "short",
    ];
    let events: Vec<(AuditEvent, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let e = aws(id, i as i64, "p", "RunInstances", &["i-1"]);
            let raw = match i {
                // The id inside a longer value first: only the quoted whole is taken out.
                0 => format!(r#"{{"requestID":"x{id}","eventID":"{id}","again":"{id}"}}"#),
                // Not in the record at all.
                3 => r#"{"eventName":"RunInstances"}"#.to_owned(),
                _ => format!(r#"{{"eventTime":"2024-11-04T10:00:0{i}Z","eventID":"{id}"}}"#),
            };
            (e, raw)
        })
        .collect();
    let file = batch("/ids", events.clone());
    let kept: Vec<u8> = file
        .blocks
        .iter()
        .flat_map(|b| crate::evidence::decompress(b, |_| None).unwrap())
        .collect();
    let kept = String::from_utf8_lossy(&kept);
    assert_eq!(kept.matches(ids[0]).count(), 2, "{kept}");
    assert!(!kept.contains(ids[1]) && !kept.contains(ids[2]), "{kept}");
    assert!(kept.contains(ids[5]), "a short id stays");
    store.write_batch(vec![file]).unwrap();
    let by_id = |id: &str| {
        events
            .iter()
            .find(|(e, _)| e.event_id == id)
            .map(|(_, raw)| raw.clone())
            .unwrap()
    };
    let found = store.query(&EventQuery::default()).unwrap();
    assert_eq!(found.len(), ids.len());
    for stored in &found {
        let raw = store.raw(stored.id).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            by_id(&stored.event.event_id)
        );
    }
    for (stored, raw, leaf) in store.events_after(0, 100).unwrap() {
        assert_eq!(
            String::from_utf8(raw.clone()).unwrap(),
            by_id(&stored.event.event_id)
        );
        assert!(leaf.unwrap().matches(&event_leaf(&stored.event, &raw)));
    }
}

pub fn a_more_complete_stage_replaces_the_stored_one(store: &mut dyn EventStore) {
    let one = |path: &str, e: AuditEvent, raw: &str| batch(path, vec![(e, raw.to_owned())]);
    let (early, early_commit) = store
        .write_batch(vec![one("/1", k8s("a", 0, &["ns/web"]), "{\"stage\":0}")])
        .unwrap();
    assert_eq!(early.inserted, 1);
    let (late, late_commit) = store
        .write_batch(vec![one(
            "/2",
            k8s("a", 3, &["ns/web", "uid-1"]),
            "{\"stage\":3}",
        )])
        .unwrap();
    assert_eq!((late.inserted, late.upgraded), (0, 1));
    // The replacing batch stores the event again and says which leaf the earlier batch
    // committed to.
    let id = early_commit.stored[0].0;
    assert_eq!(late_commit.stored.len(), 1);
    assert_eq!(late_commit.stored[0].0, id);
    assert_ne!(late_commit.stored[0].1, early_commit.stored[0].1);
    assert_eq!(late_commit.replaced, [(id, Some(early_commit.stored[0].1))]);
    let (again, again_commit) = store
        .write_batch(vec![one("/3", k8s("a", 0, &["ns/web"]), "{\"stage\":0}")])
        .unwrap();
    assert!(again_commit.stored.is_empty());
    assert_eq!(
        again.duplicates, 1,
        "a less complete copy never replaces a better one"
    );

    let stored = store.query(&EventQuery::default()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.outcome, Outcome::Success);
    assert_eq!(store.raw(stored[0].id).unwrap(), b"{\"stage\":3}");
    let by_uid = store
        .query(&EventQuery {
            resource: Some("uid-1".into()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(by_uid.len(), 1);

    // Both stages in one batch, the complete one first: it stays.
    let (both, both_commit) = store
        .write_batch(vec![batch(
            "/4",
            vec![
                (k8s("b", 3, &["ns/api"]), "{\"b\":3}".into()),
                (k8s("b", 0, &["ns/api"]), "{\"b\":0}".into()),
            ],
        )])
        .unwrap();
    assert_eq!(both.inserted, 1);
    assert_eq!(both_commit.stored.len(), 1);
    assert!(
        both_commit.replaced.is_empty(),
        "nothing earlier committed to b"
    );
    let b = store
        .query(&EventQuery {
            resource: Some("ns/api".into()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(store.raw(b[0].id).unwrap(), b"{\"b\":3}");
    assert_eq!(
        both_commit.stored[0],
        (b[0].id, event_leaf(&b[0].event, b"{\"b\":3}"))
    );
}

pub fn duplicates_are_stored_once_and_clean_files_are_known(store: &mut dyn EventStore) {
    let id = store.store_id().unwrap();
    assert!(!id.is_empty());
    assert_eq!(store.store_id().unwrap(), id, "an identity is stable");
    let e = aws("dup", 1, "p", "RunInstances", &["i-1"]);
    let first = batch("/logs/a.json", with_raw(vec![e.clone(), e.clone()]));
    let mut dirty = batch("/logs/b.json", with_raw(vec![aws("x", 2, "p", "A", &[])]));
    dirty.clean = false;
    let stdin = batch("-", with_raw(vec![aws("y", 3, "p", "A", &[])]));
    let (stats, commit) = store
        .write_batch(together(vec![first, dirty, stdin]))
        .unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (3, 1));
    assert_eq!(commit.stored.len(), 3);
    let (stats, commit) = store
        .write_batch(vec![batch("/logs/c.json", with_raw(vec![e]))])
        .unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (0, 1));
    assert!(commit.stored.is_empty());
    assert_eq!(store.event_count().unwrap(), 3);
    let (paths, hashes) = store.known_files().unwrap();
    let mut known: Vec<&String> = paths.keys().collect();
    known.sort();
    assert_eq!(
        known,
        ["/logs/a.json", "/logs/c.json"],
        "a file with rejected records is read again next time; stdin is never a file"
    );
    assert_eq!(paths["/logs/a.json"], (1, 1));
    assert!(hashes.contains("sha-of-/logs/a.json"));
}

/// A store may find stored copies by the start of an id (the SQLite store's identity index
/// keys time and four bytes): events that share those, or share the whole id under another
/// source, are still different events, and each is a duplicate only of itself.
pub fn events_sharing_a_time_and_the_start_of_their_ids_are_each_stored(
    store: &mut dyn EventStore,
) {
    let ids = [
        // UUIDs sharing their first bytes, as UUIDv7s of one millisecond do.
        "018f3a2c-7b10-7000-8000-000000000001",
        "018f3a2c-7b10-7000-8000-000000000002",
        // The same digits in another spelling: a text id, not the UUID's bytes.
        "018F3A2C-7B10-7000-8000-000000000001",
        "insert-id-1",
        "insert-id-2",
        "inse",
        "ins",
        "ünï-1",
        "ünï-2",
    ];
    let mut events: Vec<AuditEvent> = ids
        .iter()
        .map(|id| aws(id, 1, "p", "RunInstances", &["i-1"]))
        .collect();
    // The first id again, logged by another source at the same time.
    let mut other_source = k8s(ids[0], driftlog_core::event::LAST_STAGE, &["i-1"]);
    other_source.time_us = events[0].time_us;
    events.push(other_source);
    let all = events.len() as u64;
    let (stats, _) = store
        .write_batch(vec![batch("/logs/a.json", with_raw(events.clone()))])
        .unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (all, 0));
    // Again, in reverse order and in two files: every one a duplicate of itself alone.
    let mut again = events.clone();
    again.reverse();
    let half = again.split_off(again.len() / 2);
    let (stats, _) = store
        .write_batch(together(vec![
            batch("/logs/b.json", with_raw(again)),
            batch("/logs/c.json", with_raw(half)),
        ]))
        .unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (0, all));
    let mut stored: Vec<(String, String)> = store
        .query(&EventQuery::default())
        .unwrap()
        .into_iter()
        .map(|s| (s.event.event_id.clone(), s.event.source.as_str().to_owned()))
        .collect();
    stored.sort();
    let mut expected: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.source.as_str().to_owned()))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
    for s in store.query(&EventQuery::default()).unwrap() {
        let raw = store.raw(s.id).unwrap();
        assert_eq!(raw, raw_of(&s.event).as_bytes(), "{}", s.event.event_id);
    }
}

/// Times of any precision, before and after 1970, many in one second: listings come in time
/// order (ties by store id), a limit takes their start, and a range of any bounds is the
/// listing filtered by hand. One id at two times is two events.
pub fn listings_keep_time_order_within_and_across_seconds(store: &mut dyn EventStore) {
    let times: [i64; 14] = [
        1_200_000, -1_500_000, 999_999, -1_000_000, 0, 1_000_000, -500_000, -1, 1, 500_000,
        1_200_000, 1_200_001, 2_000_000, -2_000_001,
    ];
    let events: Vec<AuditEvent> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            // The same id at 1.2 s and 1.200001 s: two events.
            let id = if t == 1_200_001 {
                "e00".to_owned()
            } else {
                format!("e{i:02}")
            };
            let mut e = aws(&id, 0, "p", "RunInstances", &["i-1"]);
            e.time_us = t;
            e
        })
        .collect();
    // The later half of the times stored first, so store ids are not in time order.
    let (early, late) = events.split_at(7);
    for part in [late, early] {
        let (stats, _) = store
            .write_batch(vec![batch("/logs/t.json", with_raw(part.to_vec()))])
            .unwrap();
        assert_eq!(stats.inserted, part.len() as u64);
    }
    let (stats, _) = store
        .write_batch(vec![batch("/logs/u.json", with_raw(events.clone()))])
        .unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (0, times.len() as u64));

    let all = store.query(&EventQuery::default()).unwrap();
    assert_eq!(all.len(), times.len());
    let order: Vec<(i64, i64)> = all.iter().map(|s| (s.event.time_us, s.id)).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "in time order, ties by id");
    for limit in [1, 3, 8] {
        let first = store
            .query(&EventQuery {
                limit: Some(limit),
                ..EventQuery::default()
            })
            .unwrap();
        let first: Vec<i64> = first.iter().map(|s| s.id).collect();
        let expected: Vec<i64> = all.iter().take(limit as usize).map(|s| s.id).collect();
        assert_eq!(first, expected, "--limit {limit}");
    }
    let bounds = [
        None,
        Some(-1_500_001),
        Some(-1_500_000),
        Some(-1_000_000),
        Some(-999_999),
        Some(-1),
        Some(0),
        Some(999_999),
        Some(1_000_000),
        Some(1_200_000),
        Some(1_200_001),
    ];
    for since in bounds {
        for until in bounds {
            let found = store
                .query(&EventQuery {
                    since_us: since,
                    until_us: until,
                    ..EventQuery::default()
                })
                .unwrap();
            let found: Vec<i64> = found.iter().map(|s| s.id).collect();
            let expected: Vec<i64> = all
                .iter()
                .filter(|s| since.is_none_or(|a| s.event.time_us >= a))
                .filter(|s| until.is_none_or(|b| s.event.time_us <= b))
                .map(|s| s.id)
                .collect();
            assert_eq!(found, expected, "since {since:?} until {until:?}");
        }
    }
}

pub fn every_filter_narrows_and_combines(store: &mut dyn EventStore) {
    let mut failed = aws(
        "e4",
        40,
        "arn:aws:iam::1:user/bob",
        "DeleteBucket",
        &["logs"],
    );
    failed.outcome = Outcome::Failure {
        code: "AccessDenied".into(),
        message: Some("not allowed".into()),
    };
    failed.principal.issuer = None;
    failed.source = Source::Gcp;
    failed.actor = Actor::new(ActorKind::Terraform, "userAgent:terraform");
    let events = vec![
        aws(
            "e1",
            10,
            "arn:aws:sts::1:assumed-role/Admin_Role/jane",
            "AuthorizeSecurityGroupIngress",
            &["sg-1", "vpc-1"],
        ),
        aws(
            "e2",
            20,
            "arn:aws:sts::1:assumed-role/Admin_Role/jane",
            "DescribeInstances",
            &[],
        ),
        aws(
            "e3",
            30,
            "arn:aws:sts::1:assumed-role/ci/x",
            "RunInstances",
            &["i-1", "web[0]", "100%_done"],
        ),
        failed,
    ];
    store
        .write_batch(vec![batch("/a", with_raw(events))])
        .unwrap();
    let q = |q: EventQuery| -> Vec<String> {
        ids(&store.query(&q).unwrap())
            .into_iter()
            .map(String::from)
            .collect()
    };
    let all = EventQuery::default();
    assert_eq!(q(all.clone()), ["e1", "e2", "e3", "e4"], "oldest first");
    let with = |f: &dyn Fn(&mut EventQuery)| {
        let mut x = all.clone();
        f(&mut x);
        x
    };
    assert_eq!(q(with(&|x| x.resource = Some("sg-1".into()))), ["e1"]);
    assert_eq!(
        q(with(&|x| x.resource = Some("web[0]".into()))),
        ["e3"],
        "brackets are literal"
    );
    assert_eq!(q(with(&|x| x.resource = Some("web*".into()))), ["e3"]);
    assert_eq!(q(with(&|x| x.resource = Some("100%_do?e".into()))), ["e3"]);
    assert!(
        q(with(&|x| x.resource = Some("100_*".into()))).is_empty(),
        "`_` is literal in a glob"
    );
    assert!(q(with(&|x| x.resource = Some("sg-2".into()))).is_empty());
    // The principal filter matches the caller or the role it assumed.
    assert_eq!(
        q(with(
            &|x| x.principal = Some("arn:aws:iam::111122223333:role/Admin_Role".into())
        )),
        ["e1", "e2", "e3"]
    );
    assert_eq!(
        q(with(&|x| x.principal = Some("*/jane".into()))),
        ["e1", "e2"]
    );
    assert_eq!(
        q(with(
            &|x| x.principal = Some("arn:aws:iam::1:user/bob".into())
        )),
        ["e4"]
    );
    assert_eq!(q(with(&|x| x.action = Some("RunInstances".into()))), ["e3"]);
    assert_eq!(
        q(with(&|x| x.action = Some("*Instances".into()))),
        ["e2", "e3"]
    );
    assert_eq!(q(with(&|x| x.source = Some(Source::Gcp))), ["e4"]);
    assert_eq!(
        q(with(&|x| x.actor_kind = Some(ActorKind::Terraform))),
        ["e4"]
    );
    assert_eq!(q(with(&|x| x.writes_only = true)), ["e1", "e3", "e4"]);
    assert_eq!(
        q(with(&|x| {
            x.since_us = Some(T0 + 20_000_000);
            x.until_us = Some(T0 + 30_000_000);
        })),
        ["e2", "e3"],
        "bounds are inclusive"
    );
    assert_eq!(q(with(&|x| x.limit = Some(2))), ["e1", "e2"]);
    assert_eq!(
        q(with(&|x| {
            x.principal = Some("*/jane".into());
            x.writes_only = true;
            x.resource = Some("vpc-1".into());
        })),
        ["e1"]
    );
    // Every field comes back as stored.
    let e4 = store
        .query(&with(&|x| x.source = Some(Source::Gcp)))
        .unwrap()
        .remove(0)
        .event;
    assert_eq!(
        e4.outcome,
        Outcome::Failure {
            code: "AccessDenied".into(),
            message: Some("not allowed".into())
        }
    );
    assert_eq!(e4.actor.rule, "userAgent:terraform");
    let e1 = store
        .query(&with(&|x| x.resource = Some("sg-1".into())))
        .unwrap()
        .remove(0)
        .event;
    assert_eq!(
        e1,
        aws(
            "e1",
            10,
            "arn:aws:sts::1:assumed-role/Admin_Role/jane",
            "AuthorizeSecurityGroupIngress",
            &["sg-1", "vpc-1"]
        )
    );
}

pub fn addresses_and_spellings_lead_to_their_events(store: &mut dyn EventStore) {
    let events = vec![
        aws("old", 1, "p", "RunInstances", &["i-old"]),
        aws("new", 2, "p", "RunInstances", &["i-new"]),
        aws("az", 3, "p", "write", &["/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"]),
    ];
    store
        .write_batch(vec![batch("/a", with_raw(events))])
        .unwrap();
    let ids_new = ["i-old".to_string(), "i-new".to_string()];
    assert_eq!(
        store
            .remember_addresses(&[("aws_instance.web", &ids_new)])
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .remember_addresses(&[("aws_instance.web", &ids_new)])
            .unwrap(),
        0,
        "a pair is remembered once"
    );
    assert_eq!(
        store.address_identifiers("aws_instance.web").unwrap(),
        ["i-new", "i-old"]
    );
    assert!(store
        .address_identifiers("aws_instance.db")
        .unwrap()
        .is_empty());
    let by_address = store
        .query(&EventQuery {
            resource: Some("aws_instance.web".into()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(
        ids(&by_address),
        ["old", "new"],
        "every id the address ever had"
    );
    let azure =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
    let by_case = store
        .query(&EventQuery {
            resource: Some(azure.into()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(ids(&by_case), ["az"], "Azure ids match lower-cased");
    let naming = store
        .events_naming(&["i-new".into(), azure.into()])
        .unwrap();
    assert_eq!(ids(&naming), ["new", "az"]);
}

pub fn events_after_walks_ids_with_evidence_and_leaves(store: &mut dyn EventStore) {
    let first: Vec<AuditEvent> = (0..5)
        .map(|i| aws(&format!("a{i}"), i, "p", "RunInstances", &["i-1"]))
        .collect();
    let second: Vec<AuditEvent> = (0..5)
        .map(|i| aws(&format!("b{i}"), 100 - i, "p", "RunInstances", &["i-2"]))
        .collect();
    let (_, c1) = store
        .write_batch(vec![batch("/1", with_raw(first))])
        .unwrap();
    let (_, c2) = store
        .write_batch(vec![batch("/2", with_raw(second))])
        .unwrap();
    let committed: Vec<(i64, [u8; 32])> = c1.stored.into_iter().chain(c2.stored).collect();
    let mut walked = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 3).unwrap();
        if page.is_empty() {
            break;
        }
        for (stored, raw, leaf) in page {
            assert_eq!(raw, raw_of(&stored.event).as_bytes());
            let recorded = leaf.expect("stored with its leaf");
            let leaf = event_leaf(&stored.event, &raw);
            assert!(recorded.matches(&leaf), "the leaf recomputes");
            after = stored.id;
            walked.push((stored.id, leaf));
        }
    }
    assert_eq!(walked, committed, "ids ascend in commit order, each once");
    assert!(store.unrecorded_until().unwrap() < committed[0].0);
}

/// The query planner (which lists drive, which are intersected, when the time index is
/// walked instead) never changes an answer: 240 events in four batches, out of time order,
/// with every facet mixed, against every combination of the filters, each compared with
/// the same filter applied by hand.
pub fn every_combination_of_filters_equals_filtering_by_hand(store: &mut dyn EventStore) {
    write_filter_matrix(store);
    check_filter_matrix(store);
}

/// The events of [`every_combination_of_filters_equals_filtering_by_hand`].
pub(crate) fn filter_matrix_events() -> Vec<AuditEvent> {
    const N: i64 = 240;
    let event = |i: i64| {
        let mut e = aws(
            &format!("m{i:03}"),
            (i * 37) % N, // every time distinct, and not in id order
            &format!("arn:aws:iam::1:user/p{}", i % 5),
            ["Describe0", "Put1", "Delete2"][(i % 3) as usize],
            &[
                format!("r{}", i % 13).as_str(),
                format!("s{}", i % 5).as_str(),
            ],
        );
        // Most events from one source and most of them writes: lists the planner subtracts
        // the complement of.
        let sources = [Source::Aws, Source::Aws, Source::Kubernetes, Source::Aws];
        e.source = if i % 9 == 4 {
            Source::Gcp
        } else {
            sources[(i % 4) as usize]
        };
        e.actor.kind =
            [ActorKind::Cli, ActorKind::Console, ActorKind::Service][(i % 7 % 3) as usize];
        let t = Some(true);
        let f = Some(false);
        e.read_only = [t, f, None, f, f, f, f, t, f, f][(i % 10) as usize];
        e.principal.issuer = (i % 2 == 0).then(|| format!("arn:aws:iam::1:role/r{}", i % 3));
        e
    };
    (0..N).map(event).collect()
}

/// Store the filter matrix's events, in four batches.
pub fn write_filter_matrix(store: &mut dyn EventStore) {
    for (b, chunk) in filter_matrix_events().chunks(60).enumerate() {
        store
            .write_batch(vec![batch(&format!("/m{b}"), with_raw(chunk.to_vec()))])
            .unwrap();
    }
}

/// Every combination of filters over the stored filter matrix equals filtering by hand.
pub fn check_filter_matrix(store: &dyn EventStore) {
    use driftlog_core::glob::Glob;
    let all = filter_matrix_events();
    let glob_or_eq = |pattern: &str, text: &str| {
        if Glob::is_pattern(pattern) {
            Glob::new(pattern).matches(text)
        } else {
            pattern == text
        }
    };
    let by_hand = |q: &EventQuery| -> Vec<String> {
        let mut hits: Vec<&AuditEvent> = all
            .iter()
            .filter(|e| {
                q.resource
                    .as_ref()
                    .is_none_or(|r| e.resources.iter().any(|x| glob_or_eq(r, x)))
                    && q.principal.as_ref().is_none_or(|p| {
                        [&e.principal.id, &e.principal.issuer]
                            .into_iter()
                            .flatten()
                            .any(|x| glob_or_eq(p, x))
                    })
                    && q.action.as_ref().is_none_or(|a| glob_or_eq(a, &e.action))
                    && q.actor_kind.is_none_or(|k| e.actor.kind == k)
                    && q.source.is_none_or(|s| e.source == s)
                    && (!q.writes_only || e.read_only == Some(false))
                    && q.since_us.is_none_or(|t| e.time_us >= t)
                    && q.until_us.is_none_or(|t| e.time_us <= t)
            })
            .collect();
        hits.sort_by_key(|e| e.time_us);
        hits.truncate(q.limit.map_or(usize::MAX, |l| l as usize));
        hits.iter().map(|e| e.event_id.clone()).collect()
    };
    let mut checked = 0;
    for resource in [None, Some("r3"), Some("r1*")] {
        for principal in [None, Some("arn:aws:iam::1:user/p2"), Some("*role/r1")] {
            for action in [None, Some("Put1"), Some("De*")] {
                for actor_kind in [None, Some(ActorKind::Cli)] {
                    for source in [None, Some(Source::Kubernetes), Some(Source::Aws)] {
                        for writes_only in [false, true] {
                            for range in [None, Some((20, 150))] {
                                for limit in [None, Some(3)] {
                                    let q = EventQuery {
                                        resource: resource.map(String::from),
                                        principal: principal.map(String::from),
                                        action: action.map(String::from),
                                        actor_kind,
                                        source,
                                        since_us: range.map(|(a, _)| T0 + a * 1_000_000),
                                        until_us: range.map(|(_, b)| T0 + b * 1_000_000),
                                        writes_only,
                                        limit,
                                    };
                                    let got = ids(&store.query(&q).unwrap())
                                        .into_iter()
                                        .map(String::from)
                                        .collect::<Vec<_>>();
                                    assert_eq!(got, by_hand(&q), "{q:?}");
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 3 * 2 * 3 * 2 * 2 * 2);
}

/// `query_each` hands the same events as `query`, in the same order, however it batches
/// them; answering `Break` ends the listing.
pub fn a_listing_handed_in_batches_is_the_whole_answer_in_order(store: &mut dyn EventStore) {
    write_filter_matrix(store);
    let queries = [
        EventQuery::default(),
        EventQuery {
            principal: Some("*role/r1".into()),
            ..Default::default()
        },
        EventQuery {
            resource: Some("r1*".into()),
            writes_only: true,
            ..Default::default()
        },
        EventQuery {
            source: Some(Source::Aws),
            limit: Some(7),
            ..Default::default()
        },
    ];
    for q in &queries {
        let whole = ids(&store.query(q).unwrap())
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        assert!(!whole.is_empty(), "{q:?}");
        let batches = batches_of(store, q);
        assert!(
            batches.iter().all(|b| !b.is_empty()),
            "an empty batch: {q:?}"
        );
        let handed: Vec<String> = batches
            .iter()
            .flatten()
            .map(|e| e.event.event_id.clone())
            .collect();
        assert_eq!(handed, whole, "{q:?}");
        let mut calls = 0;
        store
            .query_each(q, &mut |_| {
                calls += 1;
                std::ops::ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(calls, 1, "a listing went on after Break: {q:?}");
    }
}

/// A listing longer than a batch (4,096 events in both stores) is handed in several, together
/// the whole answer in the order of time then id, with many ties of time: with no filter (the
/// SQLite store's time walk), through a lookup's candidates, and under limits that fall inside
/// a batch.
pub fn a_long_listing_is_handed_in_batches_in_order(store: &mut dyn EventStore) {
    const N: usize = 10_000;
    let events: Vec<_> = (0..N)
        .map(|i| {
            let mut e = k8s(&format!("e{i:05}"), 3, &["ns/web"]);
            // Three events a second, later ids earlier in time.
            e.time_us += ((N - i) / 3) as i64 * 1_000_000;
            (e, "{}".to_owned())
        })
        .collect();
    for (n, chunk) in events.chunks(2_500).enumerate() {
        store
            .write_batch(vec![batch(&format!("/f{n}"), chunk.to_vec())])
            .unwrap();
    }
    let queries = [
        EventQuery::default(),
        EventQuery {
            principal: Some("jane".into()),
            ..Default::default()
        },
        EventQuery {
            limit: Some(5_000),
            ..Default::default()
        },
        EventQuery {
            resource: Some("ns/web".into()),
            limit: Some(9_999),
            ..Default::default()
        },
    ];
    for q in &queries {
        let batches = batches_of(store, q);
        assert!(batches.len() > 1, "{q:?} came in one batch");
        let handed: Vec<(i64, i64)> = batches
            .iter()
            .flatten()
            .map(|e| (e.event.time_us, e.id))
            .collect();
        assert_eq!(handed.len(), q.limit.map_or(N, |l| l as usize), "{q:?}");
        assert!(handed.is_sorted(), "{q:?} is not in time order");
        let whole: Vec<(i64, i64)> = store
            .query(q)
            .unwrap()
            .iter()
            .map(|e| (e.event.time_us, e.id))
            .collect();
        assert_eq!(handed, whole, "{q:?}");
    }
}

/// Every batch `query_each` hands for `q`.
fn batches_of(store: &dyn EventStore, q: &EventQuery) -> Vec<Vec<crate::StoredEvent>> {
    let mut batches = Vec::new();
    store
        .query_each(q, &mut |batch| {
            batches.push(batch);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    batches
}

/// Retention removes old events (and only those asked for) from every lookup; what remains
/// reads back with its evidence, and the files stay known.
pub fn pruned_events_leave_no_trace_in_any_lookup(store: &mut dyn EventStore) {
    let alice = "arn:aws:iam::111122223333:user/alice";
    let first: Vec<(AuditEvent, String)> = (0..30)
        .map(|i| {
            let e = aws(
                &format!("old{i}"),
                i,
                alice,
                "AuthorizeSecurityGroupIngress",
                &["sg-1", "vpc-1"],
            );
            (e, format!("{{\"old\":{i}}}"))
        })
        .collect();
    let second: Vec<(AuditEvent, String)> = (0..10)
        .map(|i| {
            let e = aws(
                &format!("new{i}"),
                1000 + i,
                alice,
                "AuthorizeSecurityGroupIngress",
                &["sg-1"],
            );
            (e, format!("{{\"new\":{i}}}"))
        })
        .collect();
    store.write_batch(vec![batch("/old", first)]).unwrap();
    store.write_batch(vec![batch("/new", second)]).unwrap();
    let before = T0 + 1000 * 1_000_000;
    let all = store.query(&EventQuery::default()).unwrap();
    let through = all.iter().map(|e| e.id).max().unwrap();

    // Only events older than the cut and within `through`, oldest id first, `limit` at a time.
    let some = store.prunable(before, through, 12).unwrap();
    assert_eq!(some.len(), 12);
    assert!(some.windows(2).all(|w| w[0] < w[1]));
    let old: Vec<i64> = store.prunable(before, through, 1000).unwrap();
    assert_eq!(old.len(), 30);
    let capped = store.prunable(before, old[9], 1000).unwrap();
    assert_eq!(capped, old[..10].to_vec());

    assert_eq!(store.delete_events(&old[..10]).unwrap(), 10);
    assert_eq!(store.delete_events(&old[10..]).unwrap(), 20);
    assert_eq!(store.delete_events(&old[10..]).unwrap(), 0, "already gone");
    assert!(store.prunable(before, through, 1000).unwrap().is_empty());
    assert_eq!(store.event_count().unwrap(), 10);

    let named = |q: EventQuery| -> Vec<String> {
        let mut ids: Vec<String> = store
            .query(&q)
            .unwrap()
            .into_iter()
            .map(|e| e.event.event_id)
            .collect();
        ids.sort();
        ids
    };
    let new: Vec<String> = {
        let mut v: Vec<String> = (0..10).map(|i| format!("new{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(named(EventQuery::default()), new);
    assert_eq!(
        named(EventQuery {
            resource: Some("sg-1".into()),
            ..Default::default()
        }),
        new
    );
    assert!(named(EventQuery {
        resource: Some("vpc-1".into()),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        named(EventQuery {
            principal: Some(alice.into()),
            writes_only: true,
            ..Default::default()
        }),
        new
    );
    assert_eq!(
        named(EventQuery {
            action: Some("Authorize*".into()),
            source: Some(Source::Aws),
            ..Default::default()
        }),
        new
    );
    assert!(store
        .events_naming(&["vpc-1".to_owned()])
        .unwrap()
        .is_empty());
    assert_eq!(store.events_naming(&["sg-1".to_owned()]).unwrap().len(), 10);
    let walked = store.events_after(0, 100).unwrap();
    assert_eq!(walked.len(), 10);
    for (e, raw, _) in walked {
        let n = &e.event.event_id[3..];
        assert_eq!(raw, format!("{{\"new\":{n}}}").into_bytes());
    }
    let (paths, _) = store.known_files().unwrap();
    assert!(
        paths.contains_key("/old"),
        "the pruned events' file stays known"
    );
}

/// A role that acts as itself is both an event's principal and its issuer: `--principal` lists
/// the event once, and a limit is cut across events of every kind and facet in time order.
pub fn a_name_that_is_principal_and_issuer_lists_each_event_once(store: &mut dyn EventStore) {
    const ROLE: &str = "arn:aws:iam::1:role/self";
    let events: Vec<AuditEvent> = (0..12)
        .map(|i| {
            let mut e = aws(&format!("s{i:02}"), 100 - i * 7, ROLE, "Put1", &["r1"]);
            // Both, issuer only, principal only, in turn; writes and reads; two actor kinds.
            match i % 3 {
                0 => e.principal.issuer = Some(ROLE.into()),
                1 => {
                    e.principal.id = Some("arn:aws:sts::1:assumed-role/self/x".into());
                    e.principal.issuer = Some(ROLE.into());
                }
                _ => {}
            }
            e.read_only = Some(i % 2 == 0);
            e.actor.kind = [ActorKind::Cli, ActorKind::Console][(i % 4 / 2) as usize];
            e
        })
        .collect();
    store
        .write_batch(vec![batch("/self", with_raw(events.clone()))])
        .unwrap();
    let mut by_time = events.clone();
    by_time.sort_by_key(|e| e.time_us);
    for (limit, writes_only) in [
        (None, false),
        (Some(5), false),
        (Some(20), false),
        (Some(2), true),
    ] {
        let q = EventQuery {
            principal: Some(ROLE.into()),
            writes_only,
            limit,
            ..EventQuery::default()
        };
        let want: Vec<&str> = by_time
            .iter()
            .filter(|e| !writes_only || e.read_only == Some(false))
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .map(|e| e.event_id.as_str())
            .collect();
        assert_eq!(ids(&store.query(&q).unwrap()), want, "{q:?}");
    }
}

/// Events minutes, hours, days and years apart: a limited listing of any filter is its first
/// events in time, however far apart they lie (a store may read a limited query window by
/// window, widening each time).
pub fn limited_listings_over_years_are_the_first_events_in_time(store: &mut dyn EventStore) {
    const HOUR: i64 = 3600;
    let offsets = [
        0,
        60,
        HOUR / 2,
        2 * HOUR,
        10 * HOUR,
        3 * 24 * HOUR,
        40 * 24 * HOUR,
        400 * 24 * HOUR,
        800 * 24 * HOUR,
    ];
    let events: Vec<AuditEvent> = offsets
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let principal = ["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"][i % 2];
            let action = ["Put1", "Describe0"][i % 3 / 2];
            let mut e = aws(&format!("y{i}"), s, principal, action, &["r1", "y"]);
            e.read_only = Some(action == "Describe0");
            e
        })
        .collect();
    store
        .write_batch(vec![batch("/years", with_raw(events.clone()))])
        .unwrap();
    let at = |s: i64| T0 + s * 1_000_000;
    let queries = [
        EventQuery {
            resource: Some("y".into()),
            ..EventQuery::default()
        },
        EventQuery {
            resource: Some("r1".into()),
            principal: Some("arn:aws:iam::1:user/b".into()),
            ..EventQuery::default()
        },
        EventQuery {
            principal: Some("arn:aws:iam::1:user/a".into()),
            action: Some("Put1".into()),
            ..EventQuery::default()
        },
        EventQuery {
            resource: Some("y".into()),
            writes_only: true,
            since_us: Some(at(HOUR)),
            until_us: Some(at(500 * 24 * HOUR)),
            ..EventQuery::default()
        },
        EventQuery {
            principal: Some("arn:aws:iam::1:user/*".into()),
            ..EventQuery::default()
        },
    ];
    for base in queries {
        let all: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| {
                base.principal.as_deref().is_none_or(|p| {
                    driftlog_core::glob::Glob::new(p)
                        .matches(e.principal.id.as_deref().unwrap_or(""))
                }) && base.action.as_deref().is_none_or(|a| a == e.action)
                    && (!base.writes_only || e.read_only == Some(false))
                    && base.since_us.is_none_or(|t| e.time_us >= t)
                    && base.until_us.is_none_or(|t| e.time_us <= t)
                    && (base.resource.as_deref() != Some("r1")
                        || e.resources.iter().any(|r| r == "r1"))
            })
            .collect();
        for limit in 1..=all.len() as u64 + 1 {
            let q = EventQuery {
                limit: Some(limit),
                ..base.clone()
            };
            let want: Vec<&str> = all
                .iter()
                .take(limit as usize)
                .map(|e| e.event_id.as_str())
                .collect();
            assert_eq!(ids(&store.query(&q).unwrap()), want, "{q:?}");
        }
    }
}
