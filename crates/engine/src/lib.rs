//! The Inbound download engine: a queue of MASV packages, each fetched over several
//! ranged connections into part files, persisted in SQLite so that any crash resumes
//! where it stopped. The desktop app, the agent API and the CLI are thin faces over
//! [`Engine`].
//!
//! # Layout
//!
//! Layers, bottom to top; a module imports from its own layer and those below it
//! (`tests/layers.rs` holds which module is in which, and fails on an import upward):
//! - `sync`: locks that outlive a panic.
//! - model: the values the faces see and the store records (downloads, files, events,
//!   selections, schedules, safe names).
//! - transfer: bytes from storage into part files (storage client, ranges, spans, part
//!   files, write batches, hashing, file-system rules, drives); no download, no SQLite.
//! - hooks (`after`): what runs once a package completes.
//! - `config`, `error`, logging.
//! - store: SQLite (schema, downloads, files, ranges, repair, settings, choices).
//! - download: one download in memory (its files, progress, owner, MASV session).
//! - run: one run of one download (prepare, connections, hand-over with its manifest,
//!   expiry); it sees the engine only through `runner::RunServices`.
//! - engine: the queue and the public API; the only code that names `Shared`, the
//!   state every run and call shares.

mod after;
mod awake;
mod bandwidth;
mod beneath;
mod config;
mod destination;
mod display;
mod download;
mod engine;
mod error;
mod expiry;
mod fsutil;
mod hashing;
mod held_back;
mod identity;
mod logging;
mod model;
mod netwatch;
mod ownership;
mod part_on_disk;
mod partfile;
mod paths;
mod placement;
mod prepare;
mod probe;
mod progress;
mod ranges;
mod removal;
mod repair;
mod retry;
mod reverify;
mod runner;
mod schedule;
mod schema;
mod seal;
mod selection;
mod session;
mod source;
mod span;
mod storage_client;
mod store;
mod store_choice;
mod store_drive;
mod store_part;
mod store_repair;
mod store_settings;
mod store_unsynced;
mod sync;
mod taking_up;
mod transfer;
mod unsynced;
mod url_schemes;
mod volume;
mod write_batch;

pub use after::{AfterDownload, AfterError, CompletedFile, CompletedPackage};
pub use config::{DATA_DIR_ENV, EngineConfig, default_data_dir, default_destination};
pub use display::{ByteSizeError, expires_in, human_bytes, local_moment, parse_bytes};
pub use display::{notification_safe, terminal_safe};
pub use engine::{
    CHUNK_BOUNDS, Engine, FilesChanged, IfDownloaded, LinkOptions, ListedFile, PackageListing,
    PackagePreview,
};
pub use error::EngineError;
pub use fsutil::{available_space, write_private};
pub use held_back::HeldBack;
pub use inbound_masv::{MasvError, Secret};
pub use inbound_mhl::HashAlgorithm;
pub use logging::{WorkerGuard, init_logging};
pub use model::Owner;
pub use model::{
    Checking, DownloadDetail, DownloadId, DownloadProgress, DownloadState, DownloadSummary, Event,
    FileHash, FileInfo, FileProgress, FileState, Origin, ScheduleStatus, WaitReason, Waiting,
    unix_now,
};
pub use paths::{NameRules, PART_SUFFIX, collision_key, safe_folder_name, sanitize_package_path};
pub use placement::Destination;
pub use reverify::{VerifySummary, record_verification, verify_folder};
pub use schedule::{
    Clock, Day, LimitRule, Schedule, ScheduleError, ScheduleTextError, SystemClock, TimeOfDay,
    Window,
};
pub use selection::{Selection, SelectionError};
pub use source::TeamDownload;
pub use storage_client::StorageClientError;
pub use url_schemes::{SchemeHandler, scheme_handler};

/// Checks a MASV link and returns it in canonical form (`https://get.massive.app/ID?secret=S`).
pub fn parse_link(input: &str) -> Result<String, MasvError> {
    inbound_masv::LinkRef::parse(input).map(|l| l.to_url_with_secret())
}
