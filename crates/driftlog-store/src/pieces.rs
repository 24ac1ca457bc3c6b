//! How the SQLite store keeps evidence blocks: each compressed block (see `crate::evidence`)
//! cut into rows of at most [`PIECE_BYTES`], numbered `block << PIECE_BITS | piece`.
//!
//! A block is tens of kilobytes, more than a 16 KiB page holds. SQLite keeps such a row's
//! last `(size - 2 KB) mod 16 KB` bytes in the leaf page and the rest in whole overflow
//! pages, so the part in the leaf is anywhere from 2 to 16 KB: a leaf holds one or two of
//! them and is left a third empty on average. On the million-event corpus that was 11 MB of
//! empty leaf space for 87 MB of blocks once records lost their ids, and it changes with
//! every block's size. Rows of at most 2,030 bytes never overflow and eight fill a page;
//! the pieces of consecutive blocks follow one another in the same pages, and what a page
//! leaves empty is at most the tail of one block (eight to a page left 2.5 MB of those
//! 87 MB empty, three to a page 5.5 MB, twelve only 0.3 MB less than eight). Reading a block
//! reads its pieces in order, one range of the table's own key.

use rusqlite::{Connection, OptionalExtension};

/// The most bytes a piece holds: eight rows of this size fill the 16,376 bytes a 16 KiB leaf
/// page has for them. Each also takes up to 16 bytes more: its 2-byte cell pointer, the
/// payload's length (2), the key (up to 9: block 2,000's pieces already need 5), and the
/// record header (3); and SQLite leaves a page one byte short of full (measured: at 2,031
/// bytes the longest keys got seven to a page).
pub(crate) const PIECE_BYTES: usize = 2_030;
/// Bits of a piece's number within its block: a block of up to 5.7 GB (blocks are at most
/// `evidence::MAX_BLOCK` as stored).
const PIECE_BITS: u32 = 20;

/// The key of piece 0 of `block`, and of its last possible piece.
fn range(block: i64) -> (i64, i64) {
    let first = block << PIECE_BITS;
    (first, first | ((1 << PIECE_BITS) - 1))
}

/// The id the next block stored gets.
pub(crate) fn next_block(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(id) >> 20, 0) + 1 FROM evidence_pieces",
        [],
        |r| r.get(0),
    )
}

/// Store `data` as block `block`, in pieces. Even an empty block has piece 0: it is what
/// says the block exists.
pub(crate) fn insert(conn: &Connection, block: i64, data: &[u8]) -> rusqlite::Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT INTO evidence_pieces (id, data) VALUES (?1, ?2)")?;
    let (first, _) = range(block);
    let mut pieces = data.chunks(PIECE_BYTES).peekable();
    if pieces.peek().is_none() {
        insert.execute(rusqlite::params![first, &[] as &[u8]])?;
    }
    for (n, piece) in pieces.enumerate() {
        insert.execute(rusqlite::params![first + n as i64, piece])?;
    }
    Ok(())
}

/// Block `block` as stored, its pieces put together; `None` when the store does not have it.
pub(crate) fn read(conn: &Connection, block: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let (first, last) = range(block);
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM evidence_pieces WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    let mut rows = stmt.query([first, last])?;
    let mut data: Option<Vec<u8>> = None;
    while let Some(row) = rows.next()? {
        let piece = row.get_ref(0)?.as_blob().unwrap_or_default();
        data.get_or_insert_with(Vec::new).extend_from_slice(piece);
    }
    Ok(data)
}

/// Remove block `block`, every piece of it.
pub(crate) fn delete(conn: &Connection, block: i64) -> rusqlite::Result<()> {
    let (first, last) = range(block);
    conn.prepare_cached("DELETE FROM evidence_pieces WHERE id BETWEEN ?1 AND ?2")?
        .execute([first, last])
        .map(drop)
}

/// SQL that holds when event row `e` has its evidence block.
pub(crate) const HAS_BLOCK: &str =
    "EXISTS (SELECT 1 FROM evidence_pieces b WHERE b.id = e.raw_block << 20)";

/// 14: every block of an earlier store, one row each in `raw_blocks`, into pieces. Each
/// block's row is deleted before its pieces are written, so they reuse its pages and the
/// file does not grow by the whole evidence first.
pub(crate) fn cut_blocks(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM raw_blocks ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut read = tx.prepare("SELECT data FROM raw_blocks WHERE id = ?1")?;
    let mut delete = tx.prepare("DELETE FROM raw_blocks WHERE id = ?1")?;
    for id in ids {
        let data: Option<Vec<u8>> = read.query_row([id], |r| r.get(0)).optional()?;
        delete.execute([id])?;
        insert(tx, id, data.as_deref().unwrap_or_default())?;
    }
    tx.execute_batch("DROP TABLE raw_blocks")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE evidence_pieces (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
        )
        .unwrap();
        conn
    }

    #[test]
    fn blocks_of_every_size_read_back_whole_and_apart() {
        let conn = store();
        let sizes = [
            0,
            1,
            PIECE_BYTES - 1,
            PIECE_BYTES,
            PIECE_BYTES + 1,
            3 * PIECE_BYTES,
            60_000,
        ];
        for (i, &size) in sizes.iter().enumerate() {
            let block = next_block(&conn).unwrap();
            assert_eq!(block, i as i64 + 1);
            let data: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
            insert(&conn, block, &data).unwrap();
        }
        for (i, &size) in sizes.iter().enumerate() {
            let data = read(&conn, i as i64 + 1).unwrap().expect("stored");
            assert_eq!(data.len(), size);
            assert!(data
                .iter()
                .enumerate()
                .all(|(b, &v)| v == (b * 7 + i) as u8));
        }
        let longest: i64 = conn
            .query_row("SELECT max(length(data)) FROM evidence_pieces", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(longest, PIECE_BYTES as i64);
        assert_eq!(read(&conn, 99).unwrap(), None);
        delete(&conn, 5).unwrap();
        assert_eq!(read(&conn, 5).unwrap(), None);
        assert_eq!(read(&conn, 6).unwrap().unwrap().len(), 3 * PIECE_BYTES);
    }

    #[test]
    fn eight_pieces_fill_a_page_and_none_overflows() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("p.db")).unwrap();
        conn.execute_batch("PRAGMA page_size = 16384; VACUUM;")
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE evidence_pieces (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
        )
        .unwrap();
        // Keys of every length: blocks 1 to 100 have 4-byte keys, block 2,000 on 5 bytes,
        // the last ones the longest a key gets.
        let blocks = (1..=100).chain(2_000..2_050).chain((1 << 43) - 50..1 << 43);
        for block in blocks {
            insert(&conn, block, &vec![7u8; 4 * PIECE_BYTES]).unwrap();
        }
        let (leaves, overflow): (i64, i64) = conn
            .query_row(
                "SELECT sum(pagetype = 'leaf'), sum(pagetype = 'overflow') FROM dbstat \
                 WHERE name = 'evidence_pieces'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(overflow, 0);
        assert_eq!(leaves, 800 / 8, "800 pieces, eight to a page");
    }
}
