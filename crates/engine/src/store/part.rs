//! A file's part file in the database: the intent to create one, recorded before it
//! is created, and the one created, recorded before a byte is written into it.

use rusqlite::params;

use crate::store::Store;
use crate::transfer::identity::FileId;

impl Store {
    /// Records that this download is about to create a part file for one file, at
    /// `at` (nanoseconds since the Unix epoch): a part file found at its planned name
    /// later, created since, is this download's even if it was stopped before
    /// recording it.
    pub fn set_part_intent(&self, id: &str, idx: usize, at: i64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE files SET part_intent = ?3 WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64, at],
        )?;
        Ok(())
    }

    /// Records the part file this download created for one file (`None`: none yet);
    /// the intent to create one is fulfilled.
    pub fn set_part(&self, id: &str, idx: usize, part: Option<FileId>) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE files SET part_dev = ?3, part_ino = ?4, part_intent = NULL
             WHERE download_id = ?1 AND idx = ?2",
            params![
                id,
                idx as i64,
                part.map(|p| p.dev as i64),
                part.map(|p| p.ino as i64)
            ],
        )?;
        Ok(())
    }
}
