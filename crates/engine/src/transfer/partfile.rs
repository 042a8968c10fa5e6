//! A part file shared by the connections filling it, with flushes to disk coalesced:
//! when many connections checkpoint at once, one `fdatasync` serves them all.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::transfer::hashing::{PrefixHash, SharedHash};
use crate::transfer::identity::FileId;
use crate::transfer::write_batch::WriteBatch;

pub(crate) struct PartFile {
    file: File,
    /// The file's identity, recorded when it was created.
    pub id: FileId,
    /// Which start of its file this handle belongs to: a file fetched again from
    /// scratch (its object changed on storage) gets a new part file and epoch, and
    /// bytes still arriving for the old one are never recorded.
    pub epoch: u64,
    /// The hash of the bytes written so far, from the start of the file on.
    pub hash: SharedHash,
    /// A flush failed: the kernel may have dropped written pages and will not say so
    /// again ("fsyncgate"), so no later flush of this handle proves anything.
    poisoned: AtomicBool,
    /// Tickets handed to callers of `sync`, in order.
    tickets: AtomicU64,
    /// The highest ticket whose writes are known to be on disk.
    synced: Mutex<u64>,
    /// `fdatasync` calls made (coalescing serves many callers with one).
    flushes: AtomicU64,
    #[cfg(test)]
    pub fail_next_sync: AtomicBool,
}

impl PartFile {
    pub fn new(file: File, id: FileId, epoch: u64, hash: PrefixHash) -> Self {
        Self {
            file,
            id,
            epoch,
            hash: SharedHash::new(hash),
            poisoned: AtomicBool::new(false),
            tickets: AtomicU64::new(0),
            synced: Mutex::new(0),
            flushes: AtomicU64::new(0),
            #[cfg(test)]
            fail_next_sync: AtomicBool::new(false),
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Writes the batch's pieces from `offset` on, and empties it.
    pub fn write_batch(&self, batch: &mut WriteBatch, offset: u64) -> std::io::Result<()> {
        batch.write_at(&self.file, offset)
    }

    #[cfg(test)]
    pub fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        crate::transfer::fsutil::write_all_at(&self.file, buf, offset)
    }

    /// Returns once everything the caller wrote before calling is on disk.
    pub async fn sync(self: &Arc<Self>) -> std::io::Result<()> {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.lock().await;
        if *synced >= ticket {
            // A flush that started after our writes already finished.
            return Ok(());
        }
        let covers = self.tickets.load(Ordering::SeqCst);
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.flush())
            .await
            .map_err(std::io::Error::other)??;
        *synced = covers;
        Ok(())
    }
}

impl PartFile {
    fn flush(&self) -> std::io::Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(
                "an earlier write to this file failed to reach the disk",
            ));
        }
        self.flushes.fetch_add(1, Ordering::SeqCst);
        #[cfg(test)]
        let result = if self.fail_next_sync.swap(false, Ordering::SeqCst) {
            Err(std::io::Error::other("injected writeback error"))
        } else {
            self.file.sync_data()
        };
        #[cfg(not(test))]
        let result = self.file.sync_data();
        if result.is_err() {
            self.poisoned.store(true, Ordering::SeqCst);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path, size: u64) -> PartFile {
        let (parent, name) = (path.parent().unwrap(), path.file_name().unwrap());
        let dir = crate::transfer::beneath::Beneath::open(parent).unwrap();
        let (file, id) =
            crate::transfer::part_on_disk::create_part_file(&dir, std::path::Path::new(name), size)
                .unwrap();
        PartFile::new(
            file,
            id,
            0,
            PrefixHash::new(inbound_mhl::HashAlgorithm::Xxh128, None),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_syncs_all_return_and_data_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.inbound-part");
        let pf = Arc::new(open(&path, 8));
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let pf = pf.clone();
            tasks.push(tokio::spawn(async move {
                pf.write_at(&[i], u64::from(i)).unwrap();
                pf.sync().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), (0..8u8).collect::<Vec<_>>());
        let flushes = pf.flushes.load(Ordering::SeqCst);
        assert!(
            (1..=8).contains(&flushes),
            "every caller returned after a flush that covered its write ({flushes} flushes)"
        );
        assert_eq!(
            *pf.synced.lock().await,
            8,
            "the last flush covers all eight"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failed_flush_fails_every_later_flush_of_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let pf = Arc::new(open(&dir.path().join("f.inbound-part"), 8));
        pf.write_at(b"abcd", 0).unwrap();
        pf.sync().await.unwrap();
        pf.write_at(b"efgh", 4).unwrap();
        // Linux reports a writeback error once per open file; the pages it lost are
        // marked clean, so a later flush "succeeds" without them.
        pf.fail_next_sync.store(true, Ordering::SeqCst);
        assert!(pf.sync().await.is_err());
        pf.write_at(b"ijkl", 4).unwrap();
        assert!(
            pf.sync().await.is_err(),
            "nothing written after a failed flush may be recorded as on disk"
        );
    }
}
