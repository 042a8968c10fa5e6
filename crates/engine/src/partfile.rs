//! A part file shared by the connections filling it, with flushes to disk coalesced:
//! when many connections checkpoint at once, one `fdatasync` serves them all.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::fsutil::{open_part_file, write_all_at};

pub(crate) struct PartFile {
    file: File,
    /// Tickets handed to callers of `sync`, in order.
    tickets: AtomicU64,
    /// The highest ticket whose writes are known to be on disk.
    synced: Mutex<u64>,
}

impl PartFile {
    pub fn open(path: &Path, size: u64) -> std::io::Result<Self> {
        Ok(Self {
            file: open_part_file(path, size)?,
            tickets: AtomicU64::new(0),
            synced: Mutex::new(0),
        })
    }

    pub fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        write_all_at(&self.file, buf, offset)
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
        tokio::task::spawn_blocking(move || me.file.sync_data())
            .await
            .map_err(std::io::Error::other)??;
        *synced = covers;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_syncs_all_return_and_data_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.inbound-part");
        let pf = Arc::new(PartFile::open(&path, 8).unwrap());
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
        assert!(*pf.synced.lock().await >= 1);
    }
}
