//! One file of a download in memory: what is listed of it, how far it is, and its
//! record (state, ranges, part file, ETag, hash, repair) as the database holds it.
//! Everything recorded sits under one lock, so a reader never sees half of a change
//! (the ranges of one epoch beside the part file of the next), and it is never held
//! across a database write. Only the ledger (`ledger.rs`) changes what is recorded;
//! everyone else reads.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use inbound_mhl::Digest;

use crate::model::paths::part_path;
use crate::model::{FileHash, FileInfo, FileState, RepairCheck};
use crate::store::{FileMeta, FileRow};
use crate::sync::lock;
use crate::transfer::identity::{FileId, Written};
use crate::transfer::ranges::RangeSet;

/// What the database records of a file besides its state.
pub(crate) struct FileRecord {
    pub error: Option<String>,
    /// What is on disk, durably.
    pub ranges: RangeSet,
    /// The part file this download created (`None` until it has one).
    pub part: Option<FileId>,
    /// When it set out to create a part file it has not recorded yet (nanoseconds
    /// since the Unix epoch).
    pub part_intent: Option<i64>,
    /// The storage ETag the recorded bytes belong to; later requests must match it.
    pub etag: Option<String>,
    /// The completed file as written, to recognise it later.
    pub written: Option<Written>,
    /// The completed file's hash.
    pub hash: Option<Digest>,
    /// Downloaded again into its folder: what the file found there must hash to.
    pub repair: Option<RepairCheck>,
}

/// A file's record, held for reading. Not held across a call that may change it (the
/// ledger takes the same lock), nor across I/O.
pub(crate) struct RecordRef<'a>(MutexGuard<'a, FileRecord>);

impl Deref for RecordRef<'_> {
    type Target = FileRecord;

    fn deref(&self) -> &FileRecord {
        &self.0
    }
}

pub(crate) struct FileSlot {
    pub meta: FileMeta,
    /// Bytes written so far (recorded ranges plus what is arriving now).
    pub(super) done: AtomicU64,
    pub(super) state: AtomicU8,
    pub(super) record: Mutex<FileRecord>,
    /// Held while the file's row is written: rows are written one at a time, in the
    /// order memory changed, while the record itself is locked only for the change
    /// (a listing never waits on the database).
    pub(super) row: Mutex<()>,
    /// Bumped when the file starts again from scratch (see [`crate::transfer::partfile::PartFile`]).
    pub(super) epoch: AtomicU64,
}

impl FileSlot {
    pub fn from_row(row: FileRow) -> Self {
        let ranges = RangeSet::from_ranges(row.ranges);
        let done = if row.state == FileState::Complete {
            row.meta.size
        } else {
            ranges.covered()
        };
        Self {
            meta: row.meta,
            done: AtomicU64::new(done),
            state: AtomicU8::new(row.state.to_u8()),
            record: Mutex::new(FileRecord {
                error: row.error,
                ranges,
                part: row.part,
                part_intent: row.part_intent,
                etag: row.etag,
                written: row.written,
                hash: row.hash,
                repair: row.repair,
            }),
            row: Mutex::new(()),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn state(&self) -> FileState {
        FileState::from_u8(self.state.load(Relaxed))
    }

    /// Its record, for reading.
    pub fn record(&self) -> RecordRef<'_> {
        RecordRef(lock(&self.record))
    }

    /// Bytes written so far (recorded ranges plus what is arriving now).
    pub fn bytes_done(&self) -> u64 {
        self.done.load(Relaxed)
    }

    /// Counts `n` bytes just written by a connection (memory only: recorded with
    /// their range).
    pub fn add_arrived(&self, n: u64) {
        self.done.fetch_add(n, Relaxed);
    }

    /// Which start of the file bytes belong to (see [`crate::transfer::partfile::PartFile`]).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    /// Counts toward the download's total (withheld, skipped and excluded files do not).
    pub fn is_wanted(&self) -> bool {
        !matches!(
            self.state(),
            FileState::VirusWithheld | FileState::Skipped | FileState::Excluded
        )
    }

    pub fn error(&self) -> Option<String> {
        self.record().error.clone()
    }

    pub fn final_path(&self, dst: &Path) -> PathBuf {
        dst.join(&self.meta.rel_path)
    }

    pub fn part_path(&self, dst: &Path) -> PathBuf {
        part_path(&self.final_path(dst))
    }

    /// The part file's path below the download's folder.
    pub fn part_rel(&self) -> PathBuf {
        part_path(&self.meta.rel_path)
    }

    pub(super) fn info(&self) -> FileInfo {
        let (hash, kept_aside, error) = {
            let r = self.record();
            let hash = r.hash.as_ref().map(|d| FileHash {
                algorithm: d.algorithm.name().to_owned(),
                value: d.value.clone(),
            });
            let kept_aside = r
                .repair
                .as_ref()
                .and_then(|c| c.found.as_ref())
                .and_then(|found| found.kept_as())
                .map(Path::to_path_buf);
            (hash, kept_aside, r.error.clone())
        };
        FileInfo {
            index: self.meta.idx,
            file_id: self.meta.file_id.clone(),
            kind: self.meta.kind.clone(),
            package_path: self.meta.package_path.clone(),
            path: self.meta.rel_path.clone(),
            size: self.meta.size,
            bytes_done: self.bytes_done(),
            state: self.state(),
            error,
            virus_detected: self.meta.virus,
            hash,
            verified: self.is_verified(),
            kept_aside,
        }
    }

    pub fn is_verified(&self) -> bool {
        self.state() == FileState::Complete && self.record().hash.is_some()
    }
}
