//! A run's part files: opened once per epoch, progress recorded, finished files
//! hashed and renamed, changed objects started again.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::download::FileSlot;
use crate::download::ledger::{self, Pinned, Recorded};
use crate::model::FileState;
use crate::run::prepare::{create_part, finish_file, push_segments};
use crate::sync::lock;
use crate::transfer::FetchError;
use crate::transfer::fsutil::{describe_io_error, remove_part_file};
use crate::transfer::hashing::{PrefixHash, Sealed};
use crate::transfer::part_on_disk::{PartCheck, reopen_part_file};
use crate::transfer::partfile::PartFile;

use super::RunError;
use super::{MAX_OBJECT_CHANGES, RunCtx};

impl RunCtx {
    /// The part file of `f` for the current epoch: created exclusively the first time,
    /// else reopened only if it is still the file this download created.
    pub(super) fn file_handle(&self, f: &FileSlot) -> Result<Arc<PartFile>, RunError> {
        let mut open = lock(&self.open);
        let epoch = f.epoch();
        if let Some(h) = open.get(&f.meta.idx).filter(|h| h.epoch == epoch) {
            return Ok(h.clone());
        }
        let recorded = f.record().part;
        let (file, id) = match recorded {
            None => create_part(&*self.shared, &self.dl, f)?,
            Some(id) => {
                let path = f.part_path(&self.dl.dst);
                let reopened = self
                    .dl
                    .folder()
                    .map_err(PartCheck::Io)
                    .and_then(|d| reopen_part_file(&d, &f.part_rel(), f.meta.size, id));
                match reopened {
                    Ok(file) => (file, id),
                    Err(PartCheck::Io(e)) => {
                        return Err(describe_io_error("open", &path, &e).into());
                    }
                    Err(_) => {
                        return Err(RunError::Said(format!(
                            "{} was removed or replaced while downloading; retry to fetch the file again",
                            path.display()
                        )));
                    }
                }
            }
        };
        let etag = f.record().etag.clone();
        let hash = PrefixHash::new(self.shared.hash_algorithm(), etag.as_deref());
        let h = Arc::new(PartFile::new(file, id, epoch, hash));
        open.insert(f.meta.idx, h.clone());
        lock(&self.opened).push(Arc::downgrade(&h));
        Ok(h)
    }

    /// Makes `[start, end)` durable and records it. Returns whether the file is whole.
    /// Bytes written into a part file the file has since moved on from are not
    /// recorded.
    pub(super) async fn record(
        &self,
        f: &FileSlot,
        handle: &Arc<PartFile>,
        start: u64,
        end: u64,
    ) -> Result<bool, RunError> {
        if self.shared.config().durable_writes {
            handle
                .sync()
                .await
                .map_err(|e| describe_io_error("write", &f.part_path(&self.dl.dst), &e))?;
        }
        let Some(Recorded { whole, prefix_end }) =
            ledger::record_range(&*self.shared, &self.dl, f, handle.epoch, start, end)?
        else {
            return Ok(false);
        };
        if let Some(end) = prefix_end.filter(|_| !whole) {
            // Hash what is now written from the start, off this connection's path:
            // it goes on receiving meanwhile.
            let handle = handle.clone();
            tokio::task::spawn_blocking(move || handle.hash.try_advance(handle.file(), end));
        }
        Ok(whole)
    }

    /// Every byte of `f` is on disk: finish its hash and give it its final name, or,
    /// when the bytes are not what storage's MD5 says, fetch it once more.
    pub(super) async fn complete(
        &self,
        f: &FileSlot,
        handle: &Arc<PartFile>,
    ) -> Result<(), RunError> {
        let (h, size) = (handle.clone(), f.meta.size);
        let sealed = tokio::task::spawn_blocking(move || h.hash.finish(h.file(), size))
            .await
            .map_err(|e| format!("hashing stopped: {e}"))?
            .map_err(|e| describe_io_error("read back", &f.part_path(&self.dl.dst), &e))?;
        match sealed {
            // Another connection already finished it.
            None => Ok(()),
            Some(Sealed::Good(digest)) => {
                lock(&self.open).remove(&f.meta.idx);
                finish_file(&*self.shared, &self.dl, f, digest)
            }
            Some(Sealed::Md5Mismatch { etag, found }) => {
                let why = format!(
                    "the bytes received do not match the checksum MASV storage gave for them (MD5 {found}, expected {etag})"
                );
                let mismatches = {
                    let mut map = lock(&self.md5_mismatches);
                    let n = map.entry(f.meta.idx).or_default();
                    *n += 1;
                    *n
                };
                if mismatches > 1 {
                    let msg = format!(
                        "{}: {why}, twice; the file was not kept. Retry later, or ask the sender to upload it again",
                        f.meta.package_path
                    );
                    ledger::set_file_state(
                        &*self.shared,
                        &self.dl,
                        f,
                        FileState::Error,
                        Some(msg.clone()),
                    )?;
                    return Err(msg.into());
                }
                if self.restart_file(f, handle, &why) {
                    Ok(())
                } else {
                    Err(why.into())
                }
            }
        }
    }

    /// The ETag storage gave for `f`: remembered the first time, compared after.
    pub(super) fn pin_etag(
        &self,
        f: &FileSlot,
        handle: &PartFile,
        etag: &str,
    ) -> Result<(), FetchError> {
        let pinned = ledger::pin_etag(&*self.shared, &self.dl, f, handle.epoch, etag, || {
            handle.hash.learn_etag(etag)
        })
        .map_err(|e| FetchError::Save(RunError::from(e).to_string()))?;
        match pinned {
            Pinned::Changed => Err(FetchError::Changed(
                "the file changed on MASV while downloading".into(),
            )),
            Pinned::Known | Pinned::Stale | Pinned::Learned => Ok(()),
        }
    }

    /// The object behind `f` is not the one its bytes so far came from: drop them and
    /// fetch the whole file again, once per change (the first connection to notice
    /// does it; the others find a new epoch). Returns false if the run must stop.
    pub(super) fn restart_file(&self, f: &FileSlot, handle: &PartFile, why: &str) -> bool {
        let mut open = lock(&self.open);
        if handle.epoch != f.epoch() {
            return true;
        }
        let changes = {
            let mut map = lock(&self.object_changes);
            let n = map.entry(f.meta.idx).or_default();
            *n += 1;
            *n
        };
        if changes > MAX_OBJECT_CHANGES {
            self.fail(format!(
                "{}: {why}, again and again; retry later, or ask the sender whether the file is still being replaced",
                f.meta.package_path
            ));
            return false;
        }
        tracing::warn!(file = %f.meta.package_path, "{why}; fetching the file again from the start");
        open.remove(&f.meta.idx);
        // Connections still on this file stop at their next chunk.
        for span in lock(&self.inflight).iter().filter(|s| s.idx == f.meta.idx) {
            span.end.store(span.pos.load(Relaxed), Relaxed);
        }
        let part = f.part_path(&self.dl.dst);
        if handle.id.is_at(&part) {
            let _ = remove_part_file(&part);
        }
        if let Err(e) = ledger::reset_file(&*self.shared, &self.dl, f) {
            self.fail(RunError::from(e));
            return false;
        }
        {
            let mut queue = lock(&self.queue);
            queue.retain(|w| w.idx != f.meta.idx);
            push_segments(&*self.shared, &mut queue, &self.dl, f, &[(0, f.meta.size)]);
        }
        self.more_work.notify_waiters();
        true
    }
}

/// MASV refused the download URL because the file is infected: never fetch it, and
/// remove whatever part of it is on disk.
pub(super) fn withhold_virus(ctx: &RunCtx, f: &FileSlot) {
    tracing::warn!(file = %f.meta.package_path, "file flagged as infected, withheld");
    lock(&ctx.open).remove(&f.meta.idx);
    let part = f.part_path(&ctx.dl.dst);
    let ours = f.record().part;
    if let Some(id) = ours
        && id.is_at(&part)
    {
        let _ = remove_part_file(&part);
    }
    ctx.session.forget_url(f.meta.idx);
    if let Err(e) = ledger::withhold_virus(&*ctx.shared, &ctx.dl, f) {
        ctx.fail(RunError::from(e));
    }
}
