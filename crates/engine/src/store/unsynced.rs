//! The pieces written but not yet flushed, saved often (see `unsynced`): replaced
//! wholesale per file at every quick save, read back once by the next run.

use std::collections::HashMap;

use rusqlite::params;

use crate::store::Store;
use crate::transfer::unsynced::UnsyncedPiece;

impl Store {
    /// Replaces the saved pieces of each file listed with its pieces now (none: the file
    /// has none left), in one transaction.
    pub fn set_unsynced(
        &self,
        id: &str,
        files: &[(usize, Vec<UnsyncedPiece>)],
    ) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut clear =
                tx.prepare("DELETE FROM unsynced_ranges WHERE download_id = ?1 AND idx = ?2")?;
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO unsynced_ranges (download_id, idx, start, end, xxh3)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (idx, pieces) in files {
                clear.execute(params![id, *idx as i64])?;
                for p in pieces {
                    insert.execute(params![
                        id,
                        *idx as i64,
                        p.start as i64,
                        p.end as i64,
                        // SQLite's integers are signed: the digest's bits, as they are.
                        p.digest as i64
                    ])?;
                }
            }
        }
        tx.commit()
    }

    /// The saved pieces of a download, by file (none saved: empty, in one query).
    pub fn unsynced(&self, id: &str) -> rusqlite::Result<HashMap<usize, Vec<UnsyncedPiece>>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT idx, start, end, xxh3 FROM unsynced_ranges WHERE download_id = ?1
             ORDER BY idx, start",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok((
                r.get::<_, i64>(0)? as usize,
                UnsyncedPiece {
                    start: r.get::<_, i64>(1)? as u64,
                    end: r.get::<_, i64>(2)? as u64,
                    digest: r.get::<_, i64>(3)? as u64,
                },
            ))
        })?;
        let mut by_file: HashMap<usize, Vec<UnsyncedPiece>> = HashMap::new();
        for row in rows {
            let (idx, piece) = row?;
            by_file.entry(idx).or_default().push(piece);
        }
        Ok(by_file)
    }

    /// Forgets the saved pieces of a download's files (taken up or not wanted).
    pub fn clear_unsynced(&self, id: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "DELETE FROM unsynced_ranges WHERE download_id = ?1",
            params![id],
        )?;
        Ok(())
    }
}
