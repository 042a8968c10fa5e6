//! The Inbound download engine: a queue of MASV packages, each fetched over several
//! ranged connections into part files, persisted in SQLite so that any crash resumes
//! where it stopped. The desktop app, the agent API and the CLI are thin faces over
//! [`Engine`].
//!
//! # Layout
//!
//! One folder per layer, bottom to top; a module imports from its own layer and those
//! below it, never above (`tests/layers.rs` reads the imports and fails on one upward):
//! - `sync.rs`: locks that outlive a panic.
//! - `model/`: the values the faces see and the store records (downloads, files,
//!   events, selections, schedules, safe names, sources, owners).
//! - `transfer/`: bytes from storage into part files (storage client, ranges, spans,
//!   part files, write batches, hashing, file-system rules, drives); no download, no
//!   SQLite, no engine.
//! - `hooks/`: what runs once a package completes.
//! - `config.rs`, `error.rs`, `logging.rs`.
//! - `store/`: SQLite (schema, downloads, files, ranges, repair, settings, choices).
//! - `download/`: one download in memory (its files, progress, owner, MASV session);
//!   its `ledger` is the only code that changes what is recorded (memory, row, event).
//! - `run/`: one run of one download (prepare, connections, hand-over with its
//!   manifest, expiry); it sees the engine only through `run::RunServices`.
//! - `engine/`: the queue and the public API; the only code that names `Shared`, the
//!   state every run and call shares.

mod config;
mod download;
mod engine;
mod error;
mod hooks;
mod logging;
mod model;
mod run;
mod store;
mod sync;
mod transfer;

pub use config::{DATA_DIR_ENV, EngineConfig, default_data_dir, default_destination};
pub use engine::placement::Destination;
pub use engine::reverify::{VerifySummary, record_verification, verify_folder};
pub use engine::url_schemes::{SchemeHandler, scheme_handler};
pub use engine::{
    CHUNK_BOUNDS, Engine, FilesChanged, IfDownloaded, LinkOptions, ListedFile, PackageListing,
    PackagePreview,
};
pub use error::EngineError;
pub use hooks::{AfterDownload, AfterError, CompletedFile, CompletedPackage};
pub use inbound_masv::{MasvError, Secret};
pub use inbound_mhl::HashAlgorithm;
pub use logging::{WorkerGuard, init_logging};
pub use model::Owner;
pub use model::display::{ByteSizeError, expires_in, human_bytes, local_moment, parse_bytes};
pub use model::display::{notification_safe, terminal_safe};
pub use model::held_back::HeldBack;
pub use model::paths::{
    NameRules, PART_SUFFIX, collision_key, safe_folder_name, sanitize_package_path,
};
pub use model::schedule::{
    Clock, Day, LimitRule, Schedule, ScheduleError, ScheduleTextError, SystemClock, TimeOfDay,
    Window,
};
pub use model::selection::{Selection, SelectionError};
pub use model::source::TeamDownload;
pub use model::{
    Checking, DownloadDetail, DownloadId, DownloadProgress, DownloadState, DownloadSummary, Event,
    FileHash, FileInfo, FileProgress, FileState, Origin, ScheduleStatus, WaitReason, Waiting,
    unix_now,
};
pub use transfer::fsutil::{available_space, write_private};
pub use transfer::storage_client::StorageClientError;

/// Checks a MASV link and returns it in canonical form (`https://get.massive.app/ID?secret=S`).
pub fn parse_link(input: &str) -> Result<String, MasvError> {
    inbound_masv::LinkRef::parse(input).map(|l| l.to_url_with_secret())
}
