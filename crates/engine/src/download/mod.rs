//! The in-memory state of one download, shared by the engine and its running task.

pub(crate) mod file;
pub(crate) mod ledger;
pub(crate) mod ownership;
pub(crate) mod progress;
pub(crate) mod session;

pub(crate) use file::FileSlot;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::download::session::Session;
use crate::model::source::Source;
use crate::model::{DownloadDetail, DownloadState, DownloadSummary, FileState, Waiting};
use crate::store::{DownloadRow, FileRow};
use crate::sync::lock;

pub(crate) struct RunHandle {
    pub run_id: u64,
    pub cancel: CancellationToken,
    pub join: Option<JoinHandle<()>>,
}

/// Where a download stands. What is recorded (state, error, completion, manifest) is
/// read here and changed by the ledger; the rest lives in this process only.
pub(crate) struct Status {
    state: DownloadState,
    error: Option<String>,
    completed_at: Option<i64>,
    /// The ASC MHL manifest written when it completed.
    manifest: Option<PathBuf>,
    pub run: Option<RunHandle>,
    /// Deleted: nothing may start it again, whoever still holds it.
    pub deleted: bool,
    /// Transferring but held up until the network is back.
    pub waiting: Option<Waiting>,
    /// The last after-download hook's failure, if it failed.
    pub after_error: Option<String>,
}

impl Status {
    pub fn state(&self) -> DownloadState {
        self.state
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn completed_at(&self) -> Option<i64> {
        self.completed_at
    }

    pub fn manifest(&self) -> Option<&Path> {
        self.manifest.as_deref()
    }
}

pub(crate) struct Download {
    pub id: String,
    source: Mutex<Source>,
    pub dst: PathBuf,
    /// The drive the destination was on when the download was added, or when it was
    /// last found again (see `destination`).
    volume: Mutex<Option<crate::transfer::volume::Volume>>,
    /// `dst` is the package's own folder, created for it when it was added.
    pub package_folder: bool,
    /// The files chosen when it was added (applied when it is listed).
    pub selection: crate::model::selection::Selection,
    /// Higher starts first, and takes the place of a lower one when every slot is
    /// taken (see `Engine::set_priority`).
    priority: std::sync::atomic::AtomicI64,
    /// Bytes asked of storage per range, when it was added with its own size.
    pub chunk_size: Option<u64>,
    /// When MASV deletes the package (Unix seconds), as it last said (see `expiry`).
    expires_at: Mutex<Option<i64>>,
    /// Said to expire soon already (see `expiry::warn_if_soon`).
    pub expiry_warned: std::sync::atomic::AtomicBool,
    /// Its own speed limit, within the global one (none unless set).
    limit: crate::transfer::bandwidth::Bandwidth,
    /// Who its files are given to when it completes (`uid`/`gid`), if anyone.
    owner: Mutex<Option<crate::model::Owner>>,
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

    /// The drive its folder was on when it was added, or when it was last found again.
    pub fn volume(&self) -> Option<crate::transfer::volume::Volume> {
        *lock(&self.volume)
    }

    pub fn priority(&self) -> i64 {
        self.priority.load(Relaxed)
    }

    /// When MASV deletes the package (Unix seconds), as it last said.
    pub fn expires_at(&self) -> Option<i64> {
        *lock(&self.expires_at)
    }

    /// Its own speed limit, if it has one.
    pub fn rate_limit(&self) -> Option<u64> {
        self.limit.limit()
    }

    /// Its own speed limit, for the connections that keep to it.
    pub fn throttle(&self) -> &crate::transfer::bandwidth::Bandwidth {
        &self.limit
    }

    /// Who its files are given to when it completes, if anyone.
    pub fn owner(&self) -> Option<crate::model::Owner> {
        *lock(&self.owner)
    }

    /// The limit and owner kept in the settings, given to a download read from its rows.
    pub fn with_settings(self, limit: Option<u64>, owner: Option<crate::model::Owner>) -> Self {
        self.limit.set(limit);
        *lock(&self.owner) = owner;
        self
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
            .map(|f| f.meta.size - f.bytes_done().min(f.meta.size))
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
            .map(FileSlot::bytes_done)
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
            priority: self.priority(),
            completed_at,
            expires_at: self.expires_at(),
            files_verified: self.files.iter().filter(|f| f.is_verified()).count(),
            hash_algorithm: self.files.iter().find_map(|f| {
                f.record()
                    .hash
                    .as_ref()
                    .map(|d| d.algorithm.name().to_owned())
            }),
            manifest,
            waiting,
            connections: self.connections.load(Relaxed),
            after_error,
            rate_limit: self.rate_limit(),
        }
    }

    pub fn detail(&self) -> DownloadDetail {
        DownloadDetail {
            summary: self.summary(),
            files: self.files.iter().map(FileSlot::info).collect(),
        }
    }
}
