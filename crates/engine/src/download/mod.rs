//! The in-memory state of one download, shared by the engine and its running task.

pub(crate) mod ownership;
pub(crate) mod progress;
pub(crate) mod session;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use inbound_mhl::Digest;

use crate::download::session::Session;
use crate::model::paths::part_path;
use crate::model::source::Source;
use crate::model::{
    DownloadDetail, DownloadState, DownloadSummary, FileHash, FileInfo, FileState, Waiting,
};
use crate::store::{DownloadRow, FileMeta, FileRow};
use crate::sync::lock;
use crate::transfer::identity::{FileId, Written};
use crate::transfer::ranges::RangeSet;

pub(crate) struct FileSlot {
    pub meta: FileMeta,
    /// Bytes written so far (recorded ranges plus what is arriving now).
    pub done: AtomicU64,
    state: AtomicU8,
    pub error: Mutex<Option<String>>,
    /// What the database says is on disk.
    pub ranges: Mutex<RangeSet>,
    /// The part file this download created (`None` until it has one).
    pub part: Mutex<Option<FileId>>,
    /// When it set out to create a part file it has not recorded yet (nanoseconds
    /// since the Unix epoch).
    pub part_intent: Mutex<Option<i64>>,
    /// The storage ETag the recorded bytes belong to; later requests must match it.
    pub etag: Mutex<Option<String>>,
    /// The completed file as written, to recognise it later.
    pub written: Mutex<Option<Written>>,
    /// The completed file's hash.
    pub hash: Mutex<Option<Digest>>,
    /// Bumped when the file starts again from scratch (see [`crate::transfer::partfile::PartFile`]).
    pub epoch: AtomicU64,
    /// Downloaded again into its folder: what the file found there must hash to.
    pub repair: Mutex<Option<crate::model::RepairCheck>>,
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
            error: Mutex::new(row.error),
            ranges: Mutex::new(ranges),
            part: Mutex::new(row.part),
            part_intent: Mutex::new(row.part_intent),
            etag: Mutex::new(row.etag),
            written: Mutex::new(row.written),
            hash: Mutex::new(row.hash),
            epoch: AtomicU64::new(0),
            repair: Mutex::new(row.repair),
        }
    }

    pub fn state(&self) -> FileState {
        FileState::from_u8(self.state.load(Relaxed))
    }

    pub fn set_state(&self, s: FileState) {
        self.state.store(s.to_u8(), Relaxed);
    }

    /// Counts toward the download's total (withheld, skipped and excluded files do not).
    pub fn is_wanted(&self) -> bool {
        !matches!(
            self.state(),
            FileState::VirusWithheld | FileState::Skipped | FileState::Excluded
        )
    }

    pub fn error(&self) -> Option<String> {
        lock(&self.error).clone()
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

    fn info(&self) -> FileInfo {
        // Read once, and not while another lock of this file is held.
        let hash = lock(&self.hash).as_ref().map(|d| FileHash {
            algorithm: d.algorithm.name().to_owned(),
            value: d.value.clone(),
        });
        let kept_aside = lock(&self.repair)
            .as_ref()
            .and_then(|c| c.found.as_ref())
            .and_then(|found| found.kept_as())
            .map(Path::to_path_buf);
        FileInfo {
            index: self.meta.idx,
            file_id: self.meta.file_id.clone(),
            kind: self.meta.kind.clone(),
            package_path: self.meta.package_path.clone(),
            path: self.meta.rel_path.clone(),
            size: self.meta.size,
            bytes_done: self.done.load(Relaxed),
            state: self.state(),
            error: self.error(),
            virus_detected: self.meta.virus,
            hash,
            verified: self.is_verified(),
            kept_aside,
        }
    }

    pub fn is_verified(&self) -> bool {
        self.state() == FileState::Complete && lock(&self.hash).is_some()
    }
}

pub(crate) struct RunHandle {
    pub run_id: u64,
    pub cancel: CancellationToken,
    pub join: Option<JoinHandle<()>>,
}

pub(crate) struct Status {
    pub state: DownloadState,
    pub error: Option<String>,
    pub completed_at: Option<i64>,
    pub run: Option<RunHandle>,
    /// Deleted: nothing may start it again, whoever still holds it.
    pub deleted: bool,
    /// The ASC MHL manifest written when it completed.
    pub manifest: Option<PathBuf>,
    /// Transferring but held up until the network is back.
    pub waiting: Option<Waiting>,
    /// The last after-download hook's failure, if it failed.
    pub after_error: Option<String>,
}

pub(crate) struct Download {
    pub id: String,
    pub source: Mutex<Source>,
    pub dst: PathBuf,
    /// The drive the destination was on when the download was added, or when it was
    /// last found again (see `destination`).
    pub volume: Mutex<Option<crate::transfer::volume::Volume>>,
    /// `dst` is the package's own folder, created for it when it was added.
    pub package_folder: bool,
    /// The files chosen when it was added (applied when it is listed).
    pub selection: crate::model::selection::Selection,
    /// Higher starts first, and takes the place of a lower one when every slot is
    /// taken (see `Engine::set_priority`).
    pub priority: std::sync::atomic::AtomicI64,
    /// Bytes asked of storage per range, when it was added with its own size.
    pub chunk_size: Option<u64>,
    /// When MASV deletes the package (Unix seconds), as it last said (see `expiry`).
    pub expires_at: Mutex<Option<i64>>,
    /// Said to expire soon already (see `expiry::warn_if_soon`).
    pub expiry_warned: std::sync::atomic::AtomicBool,
    /// Its own speed limit, within the global one (none unless set).
    pub limit: crate::transfer::bandwidth::Bandwidth,
    /// Who its files are given to when it completes (`uid`/`gid`), if anyone.
    pub owner: Mutex<Option<crate::model::Owner>>,
    pub name: String,
    pub sender_email: String,
    pub package_id: String,
    pub created_at: i64,
    pub files: Vec<FileSlot>,
    pub status: Mutex<Status>,
    /// The link session opened when the download was added, reused by its first run.
    pub session: Mutex<Option<Arc<Session>>>,
    /// Connections of the current run fetching its files (see `run::scale`).
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    /// What its transfer reports about what holds it back (see `held_back`).
    pub signals: crate::model::held_back::Signals,
    /// While a repair hashes the files already in the folder: how far it is.
    pub checking: Mutex<Option<crate::model::Checking>>,
}

fn selection_from_row(id: &str, json: Option<&str>) -> crate::model::selection::Selection {
    match json.map(serde_json::from_str) {
        None => crate::model::selection::Selection::All,
        Some(Ok(selection)) => selection,
        Some(Err(e)) => {
            // Unreadable (a database edited by hand): every file, the safe superset.
            tracing::warn!(download = %id, error = %e, "stored file selection unreadable; taking every file");
            crate::model::selection::Selection::All
        }
    }
}

impl Download {
    pub fn from_rows(row: DownloadRow, files: Vec<FileRow>, source: Source) -> Self {
        let selection = selection_from_row(&row.id, row.selection.as_deref());
        Self {
            id: row.id,
            source: Mutex::new(source),
            dst: row.dst_folder,
            volume: Mutex::new(row.volume),
            package_folder: row.package_folder,
            selection,
            priority: std::sync::atomic::AtomicI64::new(row.priority),
            chunk_size: row.chunk_size,
            expires_at: Mutex::new(row.expires_at),
            expiry_warned: Default::default(),
            limit: Default::default(),
            owner: Mutex::new(None),
            name: row.name,
            sender_email: row.sender_email,
            package_id: row.package_id,
            created_at: row.created_at,
            files: files.into_iter().map(FileSlot::from_row).collect(),
            status: Mutex::new(Status {
                state: row.state,
                error: row.error,
                completed_at: row.completed_at,
                run: None,
                deleted: false,
                manifest: row.manifest,
                waiting: None,
                after_error: None,
            }),
            session: Mutex::new(None),
            connections: Default::default(),
            signals: Default::default(),
            checking: Mutex::new(None),
        }
    }

    /// Added while MASV could not be reached: its package and files are not known yet.
    pub fn is_unlisted(&self) -> bool {
        self.package_id.is_empty() && matches!(*lock(&self.source), Source::Link { .. })
    }

    pub fn source(&self) -> Source {
        lock(&self.source).clone()
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        lock(&self.status)
    }

    pub fn state(&self) -> DownloadState {
        self.status().state
    }

    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.is_wanted())
            .map(|f| f.meta.size)
            .sum()
    }

    /// Bytes of the unsettled files still to arrive.
    pub fn bytes_remaining(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.state().is_settled())
            .map(|f| f.meta.size - f.done.load(Relaxed).min(f.meta.size))
            .sum()
    }

    /// The download's folder, held open: every file below it is reached from there
    /// without following a link (its own package folder is entered without following
    /// one either).
    pub(crate) fn folder(&self) -> std::io::Result<crate::transfer::beneath::Beneath> {
        crate::transfer::beneath::Beneath::of_download(&self.dst, self.package_folder)
    }

    pub fn bytes_done(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.is_wanted())
            .map(|f| f.done.load(Relaxed))
            .sum()
    }

    pub fn summary(&self) -> DownloadSummary {
        let (state, error, completed_at, manifest, waiting, after_error) = {
            let s = self.status();
            (
                s.state,
                s.error.clone(),
                s.completed_at,
                s.manifest.clone(),
                s.waiting.clone(),
                s.after_error.clone(),
            )
        };
        let source = self.source();
        DownloadSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            package_id: self.package_id.clone(),
            sender_email: self.sender_email.clone(),
            link: source.redacted_link(),
            origin: source.origin(),
            dst_folder: self.dst.clone(),
            state,
            error,
            total_bytes: self.total_bytes(),
            bytes_done: self.bytes_done(),
            file_count: self.files.len(),
            files_chosen: self
                .files
                .iter()
                .filter(|f| f.state() != FileState::Excluded)
                .count(),
            files_complete: self
                .files
                .iter()
                .filter(|f| f.state() == FileState::Complete)
                .count(),
            files_skipped: self
                .files
                .iter()
                .filter(|f| f.state() == FileState::Skipped)
                .count(),
            virus_files: self
                .files
                .iter()
                .filter(|f| f.state() == FileState::VirusWithheld)
                .map(|f| f.meta.package_path.clone())
                .collect(),
            created_at: self.created_at,
            priority: self.priority.load(Relaxed),
            completed_at,
            expires_at: *lock(&self.expires_at),
            files_verified: self.files.iter().filter(|f| f.is_verified()).count(),
            hash_algorithm: self.files.iter().find_map(|f| {
                lock(&f.hash)
                    .as_ref()
                    .map(|d| d.algorithm.name().to_owned())
            }),
            manifest,
            waiting,
            connections: self.connections.load(Relaxed),
            after_error,
            rate_limit: self.limit.limit(),
        }
    }

    pub fn detail(&self) -> DownloadDetail {
        DownloadDetail {
            summary: self.summary(),
            files: self.files.iter().map(FileSlot::info).collect(),
        }
    }
}
