//! What the API accepts and answers, in the MASV Agent's vocabulary.

use inbound_engine::{
    DownloadDetail, DownloadState, DownloadSummary, FileInfo, FileState, WaitReason,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /downloads` body, as MASV Agent scripts send it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartDownload {
    /// The full MASV link, `https://get.massive.app/{LINK_ID}?secret={SECRET}`.
    pub url: String,
    /// Absolute folder to download into; created if missing.
    pub dst_folder: String,
    /// Only for password-protected links.
    #[serde(default)]
    pub password: Option<String>,
    /// Put the package into a new folder of its own inside `dst_folder`, named after
    /// the package (as the MASV Agent v2 option of that name). Without it the files go
    /// straight into `dst_folder`, as the MASV Agent does.
    #[serde(default)]
    pub create_package_folder: bool,
    /// Download only these package files (their MASV ids, as `GET /downloads/{id}`
    /// lists them); the others are listed as `excluded`. Omitted or empty: every file.
    #[serde(default)]
    pub file_ids: Option<Vec<String>>,
    /// Higher starts first (the MASV Agent v2 option); with every download slot taken
    /// (`inbound agent --max-active`), it takes the place of a running download of lower
    /// priority, which goes back to the queue with its bytes kept. Default 0.
    #[serde(default)]
    pub priority: i64,
    /// Give the package's files and folders to this user id when it completes (the
    /// MASV Agent v2 option, for NAS targets). Needs the right to change owners (root
    /// or CAP_CHOWN): checked at once, 403 `cannot_chown` otherwise.
    #[serde(default)]
    pub uid: Option<u32>,
    /// ...and this group id.
    #[serde(default)]
    pub gid: Option<u32>,
    /// When MASV's virus scan flagged a file of the package: `true` (the default)
    /// downloads its clean files and withholds the flagged ones; `false` refuses the
    /// package (409 `package_quarantined`, naming the files), writing nothing. As the
    /// MASV Agent's option of that name.
    #[serde(default = "yes")]
    pub bypass_package_quarantine: bool,
    /// Bytes asked of storage per range request (the MASV Agent's target chunk size),
    /// brought within 256 KiB to 1 GiB; by default Inbound sizes ranges itself (one long
    /// range per connection, split again by idle connections).
    #[serde(default)]
    #[schema(minimum = 1, example = 67108864)]
    pub chunk_size: Option<u64>,
}

fn yes() -> bool {
    true
}

/// A download's state, as the MASV Agent names them (a download waiting for a free slot
/// is `transferring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Transferring,
    Paused,
    Complete,
    Error,
}

impl AgentState {
    pub fn of(s: DownloadState) -> Self {
        match s {
            DownloadState::Queued | DownloadState::Transferring => Self::Transferring,
            DownloadState::Paused => Self::Paused,
            DownloadState::Complete => Self::Complete,
            DownloadState::Error => Self::Error,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "transferring" => Self::Transferring,
            "paused" => Self::Paused,
            "complete" => Self::Complete,
            "error" => Self::Error,
            _ => return None,
        })
    }
}

/// A download as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Download {
    pub download_id: String,
    /// Package name given by the sender.
    pub name: String,
    pub sender_email: String,
    /// The link with its secret replaced by `***`.
    pub url: String,
    pub dst_folder: String,
    pub state: AgentState,
    /// Why the download stopped, when `state` is `error`.
    pub error: Option<String>,
    /// `network` while a transferring download waits for MASV or its storage to be
    /// reachable again; `masv` while the network works but MASV's API answers with a
    /// server error; `rate_limited` while it waits because MASV asked it to slow
    /// down; `schedule` while it waits for the download hours of the bandwidth
    /// schedule; `space` while the destination's drive is too full (`waiting_reason`
    /// says how much is missing); `drive` while the destination folder is gone or on
    /// another drive than the one it started on (a drive unplugged, a share
    /// unmounted). It carries on by itself.
    pub waiting: Option<String>,
    /// What failed last, while waiting.
    pub waiting_reason: Option<String>,
    /// When the next attempt starts by itself (RFC 3339), while waiting.
    pub next_attempt_at: Option<String>,
    /// Connections fetching its files now.
    pub connections: usize,
    /// Why the after-download hook failed, if it did (the package is complete all the
    /// same); see `/settings/after_download`.
    pub after_error: Option<String>,
    /// Its own speed limit in bytes per second (`PUT .../speed_limit`); null: none.
    pub speed_limit: Option<u64>,
    /// Bytes to download (files withheld for viruses excluded).
    pub total_size: u64,
    pub bytes_downloaded: u64,
    /// 0 to 100.
    pub progress: f64,
    pub file_count: u64,
    pub files_complete: u64,
    /// Files MASV flagged as infected; never downloaded.
    pub virus_files: Vec<String>,
    /// Files whose hash was computed from the bytes on disk.
    pub files_verified: u64,
    /// The hash format of the files' hashes, once one is hashed.
    pub hash_algorithm: Option<String>,
    /// The package's ASC MHL manifest, written when it completed.
    pub manifest: Option<String>,
    /// Higher starts first.
    pub priority: i64,
    /// RFC 3339.
    pub created_at: String,
    pub completed_at: Option<String>,
}

impl From<DownloadSummary> for Download {
    fn from(s: DownloadSummary) -> Self {
        let progress = if s.total_bytes == 0 {
            if s.state == DownloadState::Complete {
                100.0
            } else {
                0.0
            }
        } else {
            (s.bytes_done as f64 * 100.0 / s.total_bytes as f64).min(100.0)
        };
        Self {
            download_id: s.id,
            name: s.name,
            sender_email: s.sender_email,
            url: s.link,
            dst_folder: s.dst_folder.to_string_lossy().into_owned(),
            state: AgentState::of(s.state),
            error: s.error,
            waiting: s.waiting.as_ref().map(|w| match w.reason {
                WaitReason::Network => "network".to_owned(),
                WaitReason::Masv => "masv".to_owned(),
                WaitReason::Schedule => "schedule".to_owned(),
                WaitReason::RateLimited => "rate_limited".to_owned(),
                WaitReason::Space => "space".to_owned(),
                WaitReason::Drive => "drive".to_owned(),
            }),
            waiting_reason: s.waiting.as_ref().map(|w| w.message.clone()),
            next_attempt_at: s.waiting.as_ref().map(|w| rfc3339(w.retry_at)),
            connections: s.connections,
            after_error: s.after_error,
            speed_limit: s.rate_limit,
            total_size: s.total_bytes,
            bytes_downloaded: s.bytes_done,
            progress: (progress * 10.0).round() / 10.0,
            file_count: s.file_count as u64,
            files_complete: s.files_complete as u64,
            virus_files: s.virus_files,
            files_verified: s.files_verified as u64,
            hash_algorithm: s.hash_algorithm,
            manifest: s.manifest.map(|m| m.to_string_lossy().into_owned()),
            priority: s.priority,
            created_at: rfc3339(s.created_at),
            completed_at: s.completed_at.map(rfc3339),
        }
    }
}

pub(crate) fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339()
}

/// One file of a download.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadFile {
    pub id: String,
    /// File name as the sender named it.
    pub name: String,
    /// Where it is written, relative to `dst_folder` (after making the name safe).
    pub path: String,
    pub size: u64,
    pub bytes_downloaded: u64,
    pub state: FileStateView,
    pub virus_detected: bool,
    pub error: Option<String>,
    /// The file's hash, computed from its bytes on disk as it arrived.
    pub hash: Option<HashView>,
    /// Complete, and its hash was computed from the bytes on disk (and matched
    /// storage's MD5 where storage gave one).
    pub verified: bool,
    /// The package was downloaded again into its folder and a different file was at
    /// this one's place: that file was moved here (relative to `dst_folder`), never
    /// overwritten. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_aside: Option<String>,
}

/// A hash as ASC MHL names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HashView {
    /// `xxh128`, `xxh64`, `md5`, `sha1` or `c4`.
    pub algorithm: String,
    /// Lowercase hex (a C4 ID for `c4`).
    pub value: String,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileStateView {
    Pending,
    Transferring,
    Complete,
    /// Flagged by MASV's virus scan: not downloaded.
    VirusWithheld,
    /// A whole-package zip entry: the individual files are downloaded instead.
    Skipped,
    Error,
    /// Left out of the download by the files chosen (`file_ids`).
    Excluded,
}

impl From<FileState> for FileStateView {
    fn from(s: FileState) -> Self {
        match s {
            FileState::Pending => Self::Pending,
            FileState::Transferring => Self::Transferring,
            FileState::Complete => Self::Complete,
            FileState::VirusWithheld => Self::VirusWithheld,
            FileState::Skipped => Self::Skipped,
            FileState::Error => Self::Error,
            FileState::Excluded => Self::Excluded,
        }
    }
}

impl From<FileInfo> for DownloadFile {
    fn from(f: FileInfo) -> Self {
        Self {
            id: f.file_id,
            name: f.package_path,
            path: f.path.to_string_lossy().into_owned(),
            size: f.size,
            bytes_downloaded: f.bytes_done,
            state: f.state.into(),
            virus_detected: f.virus_detected,
            error: f.error,
            hash: f.hash.map(|h| HashView {
                algorithm: h.algorithm,
                value: h.value,
            }),
            verified: f.verified,
            kept_aside: f.kept_aside.map(|p| p.to_string_lossy().into_owned()),
        }
    }
}

/// A download with its files.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadWithFiles {
    #[serde(flatten)]
    pub download: Download,
    pub files: Vec<DownloadFile>,
}

impl From<DownloadDetail> for DownloadWithFiles {
    fn from(d: DownloadDetail) -> Self {
        Self {
            download: d.summary.into(),
            files: d.files.into_iter().map(Into::into).collect(),
        }
    }
}

/// Answer of `DELETE`: the downloads that were forgotten.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: Vec<String>,
    /// Whether their files were removed too.
    pub removed_files: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use inbound_engine::{Origin, Waiting};

    #[test]
    fn a_download_waiting_for_the_network_is_transferring_and_says_when_it_tries_again() {
        let summary = DownloadSummary {
            id: "d1".into(),
            name: "Rushes".into(),
            package_id: "p".into(),
            sender_email: String::new(),
            link: "https://get.massive.app/x?secret=***".into(),
            origin: Origin::Link,
            dst_folder: "/tmp/x".into(),
            state: DownloadState::Transferring,
            error: None,
            total_bytes: 10,
            bytes_done: 4,
            file_count: 1,
            files_chosen: 1,
            files_complete: 0,
            files_skipped: 0,
            virus_files: Vec::new(),
            created_at: 0,
            priority: 0,
            completed_at: None,
            expires_at: None,
            files_verified: 0,
            hash_algorithm: None,
            manifest: None,
            waiting: Some(Waiting {
                reason: WaitReason::Network,
                message: "could not connect to the server".into(),
                retry_at: 1_800_000_040,
            }),
            connections: 0,
            after_error: None,
            rate_limit: None,
        };
        let json = serde_json::to_value(Download::from(summary)).unwrap();
        assert_eq!(json["state"], "transferring");
        assert_eq!(json["waiting"], "network");
        assert_eq!(json["waiting_reason"], "could not connect to the server");
        assert_eq!(json["next_attempt_at"], "2027-01-15T08:00:40+00:00");
        assert_eq!(json["error"], serde_json::Value::Null);
    }
}
