//! What the database keeps about the drive a download's folder is on: the drive
//! itself, and the identities of the files on it, carried over when the drive comes
//! back under another device number.

use rusqlite::params;

use crate::store::Store;
use crate::transfer::volume::Volume;

impl Store {
    /// Records the drive the download's folder is on from now on.
    pub fn set_volume(&self, id: &str, volume: &Volume) -> rusqlite::Result<()> {
        let (dev, fsid, folder) = volume.columns();
        self.conn().execute(
            "UPDATE downloads SET dst_dev = ?2, dst_fsid = ?3, dst_ino = ?4 WHERE id = ?1",
            params![id, dev, fsid, folder],
        )?;
        Ok(())
    }

    /// The drive came back as device `now.dev`: the part files and finished files
    /// recorded on device `was` are on it, under the same inodes. One step, so a
    /// crash leaves either every identity on the old device or every one on the new.
    pub fn move_to_volume(&self, id: &str, was: u64, now: &Volume) -> rusqlite::Result<()> {
        let (dev, fsid, folder) = now.columns();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE files SET part_dev = ?3 WHERE download_id = ?1 AND part_dev = ?2",
            params![id, was as i64, dev],
        )?;
        tx.execute(
            "UPDATE files SET done_dev = ?3 WHERE download_id = ?1 AND done_dev = ?2",
            params![id, was as i64, dev],
        )?;
        tx.execute(
            "UPDATE downloads SET dst_dev = ?2, dst_fsid = ?3, dst_ino = ?4 WHERE id = ?1",
            params![id, dev, fsid, folder],
        )?;
        tx.commit()
    }

    /// A finished file is no longer in the folder: what was recorded of it on disk,
    /// and its hash, go (it is fetched again from nothing).
    pub fn forget_finished(&self, id: &str, idx: usize) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE files SET done_dev = NULL, done_ino = NULL, done_size = NULL,
                done_mtime_ns = NULL, hash_algo = NULL, hash = NULL
             WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64],
        )?;
        Ok(())
    }
}
