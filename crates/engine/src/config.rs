use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::paths::NameRules;

/// Environment variable that overrides the data folder.
pub const DATA_DIR_ENV: &str = "INBOUND_DATA_DIR";

/// How the engine behaves. Start from [`EngineConfig::new`] and adjust.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds the database, the lock and the logs.
    pub data_dir: PathBuf,
    /// MASV API base URL.
    pub api_url: String,
    /// Parallel connections per download: the count, or with `adaptive_connections`
    /// the most a download grows to.
    pub connections_per_download: usize,
    /// Open many connections at once (up to `connections_per_download`) and close
    /// those that do not add to the download's throughput (see `run::scale`).
    pub adaptive_connections: bool,
    /// Parallel connections over all downloads.
    pub max_connections: usize,
    /// Downloads transferring at once; the rest wait in the queue.
    pub max_active_downloads: usize,
    /// Use the count kept with the downloads (`Engine::keep_max_active_downloads`)
    /// instead of `max_active_downloads`, when one was kept.
    pub max_active_from_saved: bool,
    /// Progress inside a long request is saved after this many bytes...
    pub chunk_size: u64,
    /// ...or after this long, whichever comes first, so a crash costs at most about
    /// this much transfer time per connection on a slow link.
    pub checkpoint_interval: Duration,
    /// Global bandwidth limit in bytes per second.
    pub bandwidth_limit: Option<u64>,
    /// A bandwidth schedule for this process only, in place of the saved one (which
    /// stays saved); `None` uses the saved one.
    pub bandwidth_schedule: Option<crate::model::schedule::Schedule>,
    /// What runs after each package completes, for this process only, in place of the
    /// saved hooks; `None` uses the saved ones.
    pub after_download: Option<crate::hooks::AfterDownload>,
    /// The local time the schedule follows.
    pub clock: std::sync::Arc<dyn crate::model::schedule::Clock>,
    /// A body that sends nothing for this long is abandoned and retried.
    pub stall_timeout: Duration,
    /// A connection at under a tenth of its peers' pace for this long gives its range
    /// to a fresh connection.
    pub slow_connection_after: Duration,
    /// Failures in a row (without any progress in between) before a download stops
    /// with an error.
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// Restart unfinished downloads when the engine opens.
    pub auto_resume: bool,
    pub name_rules: NameRules,
    /// Flush file data to the disk before recording it as done, so a power cut never
    /// leaves a recorded range that is not on disk.
    pub durable_writes: bool,
    /// Download the whole-package zip entries too (by default the individual files are
    /// downloaded and the tree rebuilt).
    pub include_zips: bool,
    /// Link ids whose MASV API is elsewhere (link id, API base URL), e.g. a demo
    /// package served by an embedded simulator.
    pub link_routes: Vec<(String, String)>,
    /// Every file is hashed with this as it arrives.
    pub hash_algorithm: inbound_mhl::HashAlgorithm,
    /// Write an ASC MHL generation into the destination when a package completes.
    pub write_manifest: bool,
    /// Keep the machine from sleeping while anything transfers.
    pub keep_awake: bool,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            api_url: inbound_masv::api_url_from_env(),
            connections_per_download: 8,
            adaptive_connections: false,
            max_connections: 32,
            max_active_downloads: 3,
            max_active_from_saved: false,
            chunk_size: 8 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(1),
            bandwidth_limit: None,
            bandwidth_schedule: None,
            after_download: None,
            clock: std::sync::Arc::new(crate::model::schedule::SystemClock),
            stall_timeout: Duration::from_secs(30),
            slow_connection_after: Duration::from_secs(20),
            max_retries: 10,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            auto_resume: true,
            name_rules: NameRules::native(),
            durable_writes: true,
            include_zips: false,
            link_routes: Vec::new(),
            hash_algorithm: inbound_mhl::HashAlgorithm::Xxh128,
            write_manifest: true,
            keep_awake: true,
        }
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.data_dir.join("inbound.sqlite")
    }
}

/// `INBOUND_DATA_DIR` when set, else the platform's data folder for Inbound (see
/// [`data_dir_under`]).
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = directories::BaseDirs::new()?;
    Some(data_dir_under(base.data_local_dir(), std::env::consts::OS))
}

/// Inbound's folder in the platform's folder for data that stays on this machine:
/// `~/.local/share/inbound` on Linux, `~/Library/Application Support/Inbound` on macOS,
/// `%LOCALAPPDATA%\Inbound` on Windows. Local, not roaming (`%APPDATA%`): the database
/// records this machine's disks (file identities, folders), which mean nothing on the
/// next machine a roaming profile is carried to, and logs would be copied at every logon.
fn data_dir_under(local_data: &Path, os: &str) -> PathBuf {
    match os {
        "macos" | "windows" => local_data.join("Inbound"),
        _ => local_data.join("inbound"),
    }
}

/// The default destination: the user's Downloads/MASV.
pub fn default_destination() -> Option<PathBuf> {
    let user = directories::UserDirs::new()?;
    let downloads = user
        .download_dir()
        .map(Path::to_owned)
        .unwrap_or_else(|| user.home_dir().join("Downloads"));
    Some(downloads.join("MASV"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_folder_is_where_each_platform_keeps_local_application_data() {
        // What `directories` gives as the local data folder on each platform.
        let cases = [
            (
                "linux",
                "/home/ed/.local/share",
                "/home/ed/.local/share/inbound",
            ),
            (
                "macos",
                "/Users/ed/Library/Application Support",
                "/Users/ed/Library/Application Support/Inbound",
            ),
            (
                "windows",
                "C:/Users/ed/AppData/Local",
                "C:/Users/ed/AppData/Local/Inbound",
            ),
        ];
        for (os, base, expected) in cases {
            assert_eq!(
                data_dir_under(Path::new(base), os),
                Path::new(expected),
                "{os}"
            );
        }
    }
}
