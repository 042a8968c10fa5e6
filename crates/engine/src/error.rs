use std::path::PathBuf;

use inbound_masv::MasvError;

/// What can go wrong with an engine call. Display texts are full sentences a person can
/// act on, and never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "Inbound is already running: its data folder {dir} is already used{holder}. Stop that one first (Ctrl-C in its terminal, quit the desktop app, or end that process), or set INBOUND_DATA_DIR to another folder"
    )]
    AlreadyRunning {
        dir: PathBuf,
        /// ` by `inbound agent` (process 1234)` when the holder is known, else empty.
        holder: String,
    },
    #[error(transparent)]
    Masv(#[from] MasvError),
    #[error("the destination folder must be an absolute path, but got {0}")]
    RelativeDestination(PathBuf),
    #[error("cannot use the destination folder {path}: {source}")]
    Destination {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no download with id {0}")]
    UnknownDownload(String),
    #[error(
        "the download database at {path} cannot be used: {source}; move it aside to start fresh"
    )]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot use the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "MASV's file list does not say how large '{name}' is, and its storage could not tell either ({reason}); nothing was downloaded. Add the link again in a while, or ask the sender to re-send the package"
    )]
    UnknownSize { name: String, reason: String },
    #[error("the download is removed, but some of its files could not be deleted: {0}")]
    RemoveFiles(String),
    #[error(transparent)]
    Selection(#[from] crate::model::selection::SelectionError),
    #[error(transparent)]
    StorageClient(#[from] crate::transfer::storage_client::StorageClientError),
    #[error("{0}")]
    Ownership(String),
    #[error("the after-download hook cannot be used: {0}")]
    After(#[from] crate::hooks::AfterError),
    #[error("the bandwidth schedule cannot be used: {0}")]
    Schedule(#[from] crate::model::schedule::ScheduleError),
    #[error("cannot verify the package: {0}")]
    NotVerifiable(String),
    #[error("the files of this download cannot be changed now: {0}")]
    CannotChooseFiles(String),
    /// Asked to say so (see `IfDownloaded::Ask`): this package is already a download.
    #[error("{}", if *.complete { format!("“{}” is already downloaded into {}", .name, .folder.display()) } else { format!("“{}” is already being downloaded into {}", .name, .folder.display()) })]
    DownloadedBefore {
        id: String,
        name: String,
        folder: PathBuf,
        complete: bool,
    },
    #[error("cannot check the package again: {0}")]
    NotRepairable(String),
    #[error(
        "MASV's virus scan flagged {} in this package ({}); nothing was downloaded, as asked. Ask the sender to send it again without it, or download the package's clean files",
        if .0.len() == 1 { "a file".to_owned() } else { format!("{} files", .0.len()) },
        .0.join(", ")
    )]
    Quarantined(Vec<String>),
}

impl EngineError {
    pub(crate) fn db(path: &std::path::Path) -> impl FnOnce(rusqlite::Error) -> Self + '_ {
        move |source| Self::Database {
            path: path.to_owned(),
            source,
        }
    }
}
