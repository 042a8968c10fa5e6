//! Changing which files of a download are fetched, after it was added.

use std::path::Path;

use rusqlite::params;

use crate::model::FileState;
use crate::store::Store;

/// One file taken into a download or left out of it: its new state and where it goes
/// (empty when left out).
pub(crate) struct ChosenFile<'a> {
    pub idx: usize,
    pub state: FileState,
    pub rel_path: &'a Path,
}

impl Store {
    /// Records the new choice of files in one step: the selection, and each changed
    /// file with no bytes on record (a file left out loses what it had fetched; one
    /// taken in starts from nothing).
    pub fn choose_files(
        &self,
        id: &str,
        selection: Option<&str>,
        changed: &[ChosenFile<'_>],
    ) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE downloads SET selection = ?2 WHERE id = ?1",
            params![id, selection],
        )?;
        for f in changed {
            tx.execute(
                "UPDATE files SET state = ?3, rel_path = ?4, error = NULL, part_dev = NULL,
                    part_ino = NULL, etag = NULL
                 WHERE download_id = ?1 AND idx = ?2",
                params![
                    id,
                    f.idx as i64,
                    f.state.as_str(),
                    f.rel_path.to_string_lossy()
                ],
            )?;
            tx.execute(
                "DELETE FROM ranges WHERE download_id = ?1 AND idx = ?2",
                params![id, f.idx as i64],
            )?;
        }
        tx.commit()
    }
}
