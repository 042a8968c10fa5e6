//! The engine's values: what the UI, the agent API and the CLI show and the store
//! records, with the rules that belong to them (names, selections, schedules).

pub(crate) mod display;
pub(crate) mod held_back;
pub(crate) mod paths;
pub(crate) mod schedule;
pub(crate) mod selection;
pub(crate) mod source;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod owner;
mod repair_check;
pub use owner::Owner;
pub(crate) use repair_check::{Found, RepairCheck};

pub type DownloadId = String;

/// A download's state. `Queued` waits for a free slot (the agent API reports it as
/// `transferring`, since the MASV Agent has no idle state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum DownloadState {
    Queued,
    Transferring,
    Paused,
    Complete,
    Error,
}

impl DownloadState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Transferring => "transferring",
            Self::Paused => "paused",
            Self::Complete => "complete",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "transferring" => Self::Transferring,
            "paused" => Self::Paused,
            "complete" => Self::Complete,
            "error" => Self::Error,
            _ => return None,
        })
    }

    /// Wants to transfer: either running or waiting for a slot.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Transferring)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Pending,
    Transferring,
    Complete,
    /// Flagged by MASV's virus scan: never fetched.
    VirusWithheld,
    /// A whole-package zip entry, skipped because the individual files are fetched.
    Skipped,
    Error,
    /// Left out by the person's choice of files.
    Excluded,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Transferring => "transferring",
            Self::Complete => "complete",
            Self::VirusWithheld => "virus_withheld",
            Self::Skipped => "skipped",
            Self::Error => "error",
            Self::Excluded => "excluded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "transferring" => Self::Transferring,
            "complete" => Self::Complete,
            "virus_withheld" => Self::VirusWithheld,
            "skipped" => Self::Skipped,
            "excluded" => Self::Excluded,
            "error" => Self::Error,
            _ => return None,
        })
    }

    /// Nothing more will be fetched for this file.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Complete | Self::VirusWithheld | Self::Skipped | Self::Excluded
        )
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Pending,
            1 => Self::Transferring,
            2 => Self::Complete,
            3 => Self::VirusWithheld,
            4 => Self::Skipped,
            6 => Self::Excluded,
            _ => Self::Error,
        }
    }
}

/// Where a download came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A download link (pasted, clicked, or given to the CLI or the agent).
    Link,
    /// The team's package list.
    Team { team_id: String },
    /// A portal's package list (by hand or because the portal is watched).
    Portal {
        portal_id: String,
        portal_name: String,
    },
}

/// One download as listed.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DownloadSummary {
    pub id: DownloadId,
    pub name: String,
    pub package_id: String,
    pub sender_email: String,
    /// The link with its secret replaced by `***`; empty for team packages.
    pub link: String,
    pub origin: Origin,
    #[ts(type = "string")]
    pub dst_folder: PathBuf,
    pub state: DownloadState,
    pub error: Option<String>,
    #[ts(type = "number")]
    pub total_bytes: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub file_count: usize,
    /// Files of the package it fetches (all but those left out by the files chosen).
    #[ts(type = "number")]
    pub files_chosen: usize,
    #[ts(type = "number")]
    pub files_complete: usize,
    /// Whole-package zips left out because their files are fetched one by one.
    #[serde(default)]
    #[ts(type = "number")]
    pub files_skipped: usize,
    /// Names (package paths) of files withheld because MASV flagged them as infected.
    pub virus_files: Vec<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    /// Higher starts first and takes a slot from a lower one (0 unless set).
    #[ts(type = "number")]
    pub priority: i64,
    #[ts(type = "number | null")]
    pub completed_at: Option<i64>,
    /// When MASV deletes the package and its link stops working (Unix seconds), if
    /// known.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    /// Files whose hash was computed from their bytes on disk (and, where storage gave
    /// an MD5, matched it).
    #[ts(type = "number")]
    pub files_verified: usize,
    /// The hash format used, once a file has been hashed.
    pub hash_algorithm: Option<String>,
    /// The ASC MHL manifest written when the package completed.
    #[ts(type = "string | null")]
    pub manifest: Option<PathBuf>,
    /// Transferring, but held up (MASV or its storage cannot be reached): why, and
    /// when it tries again by itself.
    pub waiting: Option<Waiting>,
    /// Connections fetching its files now (none unless transferring).
    pub connections: usize,
    /// Why the after-download hook failed, when it did (the package is complete all
    /// the same).
    #[serde(default)]
    pub after_error: Option<String>,
    /// Its own speed limit in bytes per second, within the global one; `None`: none.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub rate_limit: Option<u64>,
}

/// What a download that is still transferring waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// MASV or its storage cannot be reached (no route, DNS, resets, timeouts).
    Network,
    /// The network works but MASV does not: its API answers with a server error (5xx,
    /// 408). It goes on by itself once MASV answers again.
    Masv,
    /// MASV asked Inbound to slow down (429, or storage's 503 going on): it waits as
    /// long as MASV asked, at least, and goes on by itself.
    RateLimited,
    /// Outside the schedule's download windows; `retry_at` is when the next one opens.
    Schedule,
    /// The destination's drive has too little free space (another program took it):
    /// it looks again at `retry_at` and goes on by itself once the space is there.
    Space,
    /// The destination folder is gone, or on another drive than the one it started on
    /// (a drive unplugged, a share unmounted): it looks again at `retry_at` and goes
    /// on by itself once the drive is back.
    Drive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Waiting {
    pub reason: WaitReason,
    /// What failed last, for a person.
    pub message: String,
    /// When the next attempt starts by itself (Unix seconds); sooner if another
    /// download gets through first.
    #[ts(type = "number")]
    pub retry_at: i64,
}

/// A file's hash, as ASC MHL names the format (`xxh128`, `md5`, ...), in lowercase hex
/// (or a C4 ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FileHash {
    pub algorithm: String,
    pub value: String,
}

/// One file of a download.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FileInfo {
    #[ts(type = "number")]
    pub index: usize,
    pub file_id: String,
    /// `file`, or `zip_windows` / `zip_mac` for whole-package archives.
    pub kind: String,
    /// Where the sender put it, as the sender named it.
    pub package_path: String,
    /// Where it lands, relative to the destination folder (after sanitising).
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "number")]
    pub size: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    pub state: FileState,
    pub error: Option<String>,
    pub virus_detected: bool,
    /// Computed from the bytes on disk once the file is complete.
    pub hash: Option<FileHash>,
    /// The hash is known: the file is what arrived, byte for byte.
    pub verified: bool,
    /// Downloaded again into its folder, a different file was found at its place: that
    /// file was moved here (relative to the destination folder), not overwritten.
    #[ts(type = "string | null")]
    pub kept_aside: Option<PathBuf>,
}

impl FileInfo {
    /// Where the file is (or will be) saved, relative to its download's folder, with
    /// `/` between folders: not always the sender's name (a name already taken gets a
    /// ` (1)`, one that tried to leave the folder is saved inside it). A file left out
    /// has no place yet: its sender's path stands in.
    pub fn saved_name(&self) -> String {
        if self.path.as_os_str().is_empty() {
            return self.package_path.clone();
        }
        self.path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DownloadDetail {
    pub summary: DownloadSummary,
    pub files: Vec<FileInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FileProgress {
    #[ts(type = "number")]
    pub index: usize,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub rate: u64,
}

/// A throttled progress snapshot of one running download.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DownloadProgress {
    pub id: DownloadId,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub total_bytes: u64,
    /// Bytes per second, smoothed.
    #[ts(type = "number")]
    pub rate: u64,
    #[ts(type = "number | null")]
    pub eta_secs: Option<u64>,
    /// Only files whose progress changed since the previous snapshot.
    pub files: Vec<FileProgress>,
    /// Connections fetching its files now.
    pub connections: usize,
    /// What makes it slower than the network would, when Inbound can tell.
    #[serde(default)]
    pub held_back: Option<crate::model::held_back::HeldBack>,
    /// Downloaded again: how far the look at the files already in the folder is.
    #[serde(default)]
    pub checking: Option<Checking>,
}

/// A download asked for again (a repair) first hashes the files it completed before,
/// where they are: how far that is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Checking {
    #[ts(type = "number")]
    pub files_done: usize,
    #[ts(type = "number")]
    pub files: usize,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Added {
        download: Box<DownloadSummary>,
    },
    StateChanged {
        id: DownloadId,
        state: DownloadState,
        error: Option<String>,
    },
    FileStateChanged {
        id: DownloadId,
        #[ts(type = "number")]
        index: usize,
        state: FileState,
        error: Option<String>,
    },
    Progress {
        downloads: Vec<DownloadProgress>,
    },
    Removed {
        id: DownloadId,
    },
    /// A download started or stopped waiting for the network or the schedule.
    Waiting {
        id: DownloadId,
        waiting: Option<Waiting>,
    },
    /// The after-download hooks ran for a completed package: `error` says why one
    /// failed (the package stays complete).
    AfterDownload {
        id: DownloadId,
        error: Option<String>,
    },
    /// A download's place in the queue changed (higher starts first).
    PriorityChanged {
        id: DownloadId,
        #[ts(type = "number")]
        priority: i64,
    },
    /// What the bandwidth schedule has in force changed.
    Schedule {
        status: ScheduleStatus,
    },
    /// MASV gave another time at which the package expires (the sender or a team
    /// member extended it).
    ExpiryChanged {
        id: DownloadId,
        #[ts(type = "number | null")]
        expires_at: Option<i64>,
    },
    /// The download is not complete and its package expires within a day: said once
    /// per download while the engine runs, for a person to act on.
    ExpiresSoon {
        id: DownloadId,
        #[ts(type = "number")]
        expires_at: i64,
    },
}

/// What the bandwidth schedule has in force now, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScheduleStatus {
    /// Downloads may transfer now (inside a download window, or none is set).
    pub open: bool,
    /// Bytes per second over all downloads; `None` is unlimited.
    #[ts(type = "number | null")]
    pub limit: Option<u64>,
    /// The limit is a schedule rule's, not the global setting.
    pub scheduled_limit: bool,
    /// When what is in force changes next (Unix seconds), if within a week.
    #[ts(type = "number | null")]
    pub changes_at: Option<i64>,
    /// Whether downloads may transfer from then.
    pub next_open: bool,
    /// The limit from then.
    #[ts(type = "number | null")]
    pub next_limit: Option<u64>,
}

/// Now, in the Unix seconds every timestamp of this model is given in.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(package_path: &str, path: &str) -> FileInfo {
        FileInfo {
            index: 0,
            file_id: "f".into(),
            kind: "file".into(),
            package_path: package_path.into(),
            path: PathBuf::from(path),
            size: 1,
            bytes_done: 0,
            state: FileState::Pending,
            error: None,
            virus_detected: false,
            hash: None,
            verified: false,
            kept_aside: None,
        }
    }

    #[test]
    fn a_file_is_named_as_it_is_saved() {
        let twin = file("Day 1/A001_C002.mov", "Day 1/A001_C002 (1).mov");
        assert_eq!(twin.saved_name(), "Day 1/A001_C002 (1).mov");
        assert_eq!(
            file("../../../notes.txt", "notes.txt").saved_name(),
            "notes.txt"
        );
        // Left out: no place yet.
        assert_eq!(file("Day 1/b.mov", "").saved_name(), "Day 1/b.mov");
    }
}
