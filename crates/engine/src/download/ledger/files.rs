//! The ledger's changes to one file of a download: its state, part file, ranges, ETag,
//! hash and repair finding. Each change holds the file's `row` lock from the change in
//! memory to the end of its row's write, so rows are written in the order memory
//! changed; the record itself is locked only for the change in memory.

use std::sync::atomic::Ordering::Relaxed;

use inbound_mhl::Digest;

use super::{Journal, Result};
use crate::download::Download;
use crate::download::file::{FileRecord, FileSlot};
use crate::model::{Event, FileState, Found};
use crate::sync::lock;
use crate::transfer::identity::{FileId, Written};
use crate::transfer::ranges::RangeSet;

/// The file's state and error: in memory, in its row, and told.
pub(crate) fn set_file_state(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    state: FileState,
    error: Option<String>,
) -> Result<()> {
    let _row = lock(&f.row);
    f.state.store(state.to_u8(), Relaxed);
    lock(&f.record).error = error.clone();
    j.store()
        .set_file_state(&dl.id, f.meta.idx, state, error.as_deref())?;
    j.emit(Event::FileStateChanged {
        id: dl.id.clone(),
        index: f.meta.idx,
        state,
        error,
    });
    Ok(())
}

/// A connection has started on it. Shown, not recorded: the record says where it
/// stands when it settles.
pub(crate) fn show_transferring(f: &FileSlot) {
    f.state.store(FileState::Transferring.to_u8(), Relaxed);
}

/// A file that failed is tried again: shown pending with its error gone, recorded
/// when it settles.
pub(crate) fn show_retrying(f: &FileSlot) {
    f.state.store(FileState::Pending.to_u8(), Relaxed);
    lock(&f.record).error = None;
}

/// The part file this download created for it (`None`: none); the intent to create
/// one is fulfilled.
pub(crate) fn set_part(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    id: Option<FileId>,
) -> Result<()> {
    let _row = lock(&f.row);
    {
        let mut r = lock(&f.record);
        r.part = id;
        r.part_intent = None;
    }
    j.store().set_part(&dl.id, f.meta.idx, id)
}

/// When this download set out to create the file's part file (nanoseconds since the
/// Unix epoch): the first time not yet fulfilled, recorded before it is created.
pub(crate) fn intend_part(j: &dyn Journal, dl: &Download, f: &FileSlot, now: i64) -> Result<i64> {
    let _row = lock(&f.row);
    if let Some(at) = lock(&f.record).part_intent {
        return Ok(at);
    }
    j.store().set_part_intent(&dl.id, f.meta.idx, now)?;
    lock(&f.record).part_intent = Some(now);
    Ok(now)
}

/// Bytes found durably on disk (taken up after a stop, or a whole file found at its
/// final name) are recorded as arrived.
pub(crate) fn add_ranges(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    pieces: impl IntoIterator<Item = (u64, u64)>,
) -> Result<()> {
    let _row = lock(&f.row);
    let ranges = {
        let mut r = lock(&f.record);
        for (start, end) in pieces {
            r.ranges.insert(start, end);
        }
        f.done.store(r.ranges.covered(), Relaxed);
        r.ranges.ranges().to_vec()
    };
    j.store().set_ranges(&dl.id, f.meta.idx, &ranges)
}

/// A range made durable by a connection, recorded.
pub(crate) struct Recorded {
    /// Every byte of the file is in.
    pub whole: bool,
    /// The end of what is written from byte 0, when this range joined it.
    pub prefix_end: Option<u64>,
}

/// Records `[start, end)` as on disk. `None` when the bytes went into a part file the
/// file has since moved on from (another `epoch`): they are not recorded.
pub(crate) fn record_range(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    epoch: u64,
    start: u64,
    end: u64,
) -> Result<Option<Recorded>> {
    let _row = lock(&f.row);
    let (ranges, recorded) = {
        let mut r = lock(&f.record);
        if epoch != f.epoch.load(Relaxed) {
            return Ok(None);
        }
        r.ranges.insert(start, end);
        let whole = r.ranges.covered() == f.meta.size;
        // A range elsewhere in the file leaves the prefix as it was: nothing new to hash.
        let prefix_end = r
            .ranges
            .ranges()
            .first()
            .filter(|p| p.0 == 0 && start < p.1)
            .map(|p| p.1);
        (r.ranges.ranges().to_vec(), Recorded { whole, prefix_end })
    };
    j.store().set_ranges(&dl.id, f.meta.idx, &ranges)?;
    Ok(Some(recorded))
}

/// What storage's ETag for a file is to what is recorded.
pub(crate) enum Pinned {
    /// The one recorded.
    Known,
    /// Another one: the object changed.
    Changed,
    /// None recorded, and the bytes asked for belong to an earlier start of the file.
    Stale,
    /// None recorded: now this one is (`learn` ran first).
    Learned,
}

/// Compares storage's ETag with the file's, remembering it the first time (one
/// connection learns it; the others wait for it and compare).
pub(crate) fn pin_etag(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    epoch: u64,
    etag: &str,
    learn: impl FnOnce(),
) -> Result<Pinned> {
    let _row = lock(&f.row);
    match lock(&f.record).etag.as_deref() {
        Some(known) if known == etag => return Ok(Pinned::Known),
        Some(_) => return Ok(Pinned::Changed),
        None if epoch != f.epoch.load(Relaxed) => return Ok(Pinned::Stale),
        None => {}
    }
    learn();
    j.store().set_etag(&dl.id, f.meta.idx, Some(etag))?;
    lock(&f.record).etag = Some(etag.to_owned());
    Ok(Pinned::Learned)
}

/// Forgets everything fetched for a file: its ranges, part file and ETag. Connections
/// still writing into the old part file are ignored from now on (new epoch).
pub(crate) fn reset_file(j: &dyn Journal, dl: &Download, f: &FileSlot) -> Result<()> {
    let _row = lock(&f.row);
    {
        let mut r = lock(&f.record);
        f.epoch.fetch_add(1, Relaxed);
        forget_bytes(&mut r);
        f.done.store(0, Relaxed);
    }
    j.store().reset_file(&dl.id, f.meta.idx)
}

fn forget_bytes(r: &mut FileRecord) {
    r.ranges = RangeSet::default();
    r.part = None;
    r.part_intent = None;
    r.etag = None;
}

/// A finished file no longer in the folder: fetched again from nothing, its record of
/// what was written and its hash gone.
pub(crate) fn forget_finished(j: &dyn Journal, dl: &Download, f: &FileSlot) -> Result<()> {
    reset_file(j, dl, f)?;
    {
        let _row = lock(&f.row);
        {
            let mut r = lock(&f.record);
            r.written = None;
            r.hash = None;
        }
        j.store().forget_finished(&dl.id, f.meta.idx)?;
    }
    set_file_state(j, dl, f, FileState::Pending, None)
}

/// The file at its final name is complete: what it is on disk, its hash, every byte.
pub(crate) fn record_complete(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    written: Written,
    digest: Digest,
) -> Result<()> {
    {
        let _row = lock(&f.row);
        lock(&f.record).written = Some(written);
        j.store()
            .set_written(&dl.id, f.meta.idx, &written, &digest)?;
        lock(&f.record).hash = Some(digest);
        f.done.store(f.meta.size, Relaxed);
    }
    set_file_state(j, dl, f, FileState::Complete, None)
}

/// A completed file hashed again (in the format its manifest uses).
pub(crate) fn record_hash(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    digest: Digest,
) -> Result<()> {
    let _row = lock(&f.row);
    let written = lock(&f.record).written;
    if let Some(written) = written {
        j.store()
            .set_written(&dl.id, f.meta.idx, &written, &digest)?;
    }
    lock(&f.record).hash = Some(digest);
    Ok(())
}

/// MASV refused the file as infected: never fetched, none of it counted.
pub(crate) fn withhold_virus(j: &dyn Journal, dl: &Download, f: &FileSlot) -> Result<()> {
    f.done.store(0, Relaxed);
    set_file_state(j, dl, f, FileState::VirusWithheld, None)
}

/// What a repair found in place of a file completed before.
pub(crate) fn set_repair_found(
    j: &dyn Journal,
    dl: &Download,
    f: &FileSlot,
    found: Found,
) -> Result<()> {
    let _row = lock(&f.row);
    j.store().set_repair_found(&dl.id, f.meta.idx, &found)?;
    if let Some(check) = &mut lock(&f.record).repair {
        check.found = Some(found);
    }
    Ok(())
}
