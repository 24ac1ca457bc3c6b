//! Rendered API pages kept until the store's generation moves
//! ([`driftlog_store::service::ServiceStore::generation`]).
//!
//! A team's dashboards, scripts and monitors ask for the same few listings over and over
//! (the open findings, one stack's), and between two scans nothing they show can change.
//! So a page is rendered once per generation and then served as the same bytes, and its
//! `ETag` is the generation, so a poller that sends `If-None-Match` gets `304` and no body.
//! Correct across workers sharing one database: the generation is read from the store (one
//! indexed row) on every request, before the listing it labels.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// At most this many bytes of pages are kept (a 100-finding page is about 100 KB).
const MAX_BYTES: usize = 64 << 20;

/// Pages by their request (a canonical form of the query), each with the generation it was
/// read at.
#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<String, (i64, Bytes)>,
    bytes: usize,
}

impl PageCache {
    /// The page for `key` if it was read at `generation`.
    pub fn get(&self, key: &str, generation: i64) -> Option<Bytes> {
        let pages = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match pages.by_key.get(key) {
            Some((g, body)) if *g == generation => Some(body.clone()),
            _ => None,
        }
    }

    /// Keep `body`, read at `generation`, for `key`. Pages of older generations go first
    /// when room is needed, then everything: a cache, not a store.
    pub fn put(&self, key: String, generation: i64, body: Bytes) {
        if body.len() > MAX_BYTES / 4 {
            return;
        }
        let mut pages = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, old)) = pages.by_key.remove(&key) {
            pages.bytes -= old.len();
        }
        if pages.bytes + body.len() > MAX_BYTES {
            pages.by_key.retain(|_, (g, _)| *g >= generation);
            pages.bytes = pages.by_key.values().map(|(_, b)| b.len()).sum();
        }
        if pages.bytes + body.len() > MAX_BYTES {
            pages.by_key.clear();
            pages.bytes = 0;
        }
        pages.bytes += body.len();
        pages.by_key.insert(key, (generation, body));
    }
}

/// The store's generation for many requests at once. A request needs a reading that began
/// after it arrived (so it sees every write committed before it); requests that arrive while
/// a reading is under way share the next one. Two hundred concurrent requests then cost a
/// couple of round trips to the database instead of two hundred queued for its connections.
#[derive(Default)]
pub struct GenerationGate {
    /// Readings begun so far.
    started: AtomicU64,
    /// The latest finished reading: its number and the generation it read.
    last: tokio::sync::Mutex<(u64, i64)>,
}

impl GenerationGate {
    /// The generation as of a reading begun after this call, reading it with `read` unless
    /// such a reading has already finished.
    pub async fn current<E>(
        &self,
        read: impl std::future::Future<Output = Result<i64, E>>,
    ) -> Result<i64, E> {
        let arrived = self.started.load(Ordering::SeqCst);
        let mut last = self.last.lock().await;
        if last.0 > arrived {
            return Ok(last.1);
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = read.await?;
        *last = (number, generation);
        Ok(generation)
    }
}

/// The `ETag` of a page read at `generation` (strong: the same generation gives the same
/// bytes).
pub fn etag(generation: i64) -> String {
    format!("\"g{generation}\"")
}

/// Whether an `If-None-Match` header value names `tag` (or is `*`).
pub fn matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_at_its_generation() {
        let cache = PageCache::default();
        cache.put("open".into(), 3, Bytes::from_static(b"[1]"));
        assert_eq!(cache.get("open", 3).as_deref(), Some(&b"[1]"[..]));
        assert_eq!(cache.get("open", 4), None);
        assert_eq!(cache.get("resolved", 3), None);
        cache.put("open".into(), 4, Bytes::from_static(b"[1,2]"));
        assert_eq!(cache.get("open", 4).as_deref(), Some(&b"[1,2]"[..]));
        assert_eq!(cache.inner.lock().unwrap().bytes, 5);
    }

    #[test]
    fn it_stays_within_its_bytes() {
        let cache = PageCache::default();
        let page = Bytes::from(vec![b' '; MAX_BYTES / 8]);
        for i in 0..40 {
            cache.put(format!("p{i}"), i / 10, page.clone());
        }
        let pages = cache.inner.lock().unwrap();
        assert!(pages.bytes <= MAX_BYTES);
        assert_eq!(
            pages.bytes,
            pages.by_key.values().map(|(_, b)| b.len()).sum::<usize>()
        );
        assert!(pages.by_key.contains_key("p39"));
    }

    #[tokio::test]
    async fn a_request_never_gets_a_generation_read_before_it_arrived() {
        let gate = GenerationGate::default();
        let store = std::sync::atomic::AtomicI64::new(1);
        let read = || async { Ok::<_, ()>(store.load(Ordering::SeqCst)) };
        assert_eq!(gate.current(read()).await, Ok(1));
        store.store(2, Ordering::SeqCst);
        // The write committed before this request: the earlier reading does not do.
        assert_eq!(gate.current(read()).await, Ok(2));
        // Concurrent requests share readings: fewer readings than requests, all current.
        let reads = AtomicU64::new(0);
        let counted = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, ()>(store.load(Ordering::SeqCst))
        };
        let all = futures_join(&gate, counted, 50).await;
        assert!(all.iter().all(|g| *g == Ok(2)));
        assert!(reads.load(Ordering::SeqCst) < 50);
    }

    async fn futures_join<F, Fut>(gate: &GenerationGate, read: F, n: usize) -> Vec<Result<i64, ()>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<i64, ()>>,
    {
        // Polled together: the first reading is under way while the others arrive.
        let mut pinned: Vec<_> = (0..n).map(|_| Box::pin(gate.current(read()))).collect();
        let mut done = vec![None; n];
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in pinned.iter_mut().enumerate() {
                if done[i].is_none() {
                    match std::future::Future::poll(f.as_mut(), cx) {
                        std::task::Poll::Ready(v) => done[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        done.into_iter().flatten().collect()
    }

    #[test]
    fn if_none_match_lists_and_wildcards() {
        assert!(matches("\"g7\"", &etag(7)));
        assert!(matches("\"g1\", W/\"g7\"", &etag(7)));
        assert!(matches("*", &etag(7)));
        assert!(!matches("\"g71\"", &etag(7)));
    }
}
