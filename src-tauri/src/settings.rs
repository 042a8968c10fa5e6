//! The desktop's settings, kept as JSON beside the download database.

use std::path::{Path, PathBuf};

use inbound_engine::HashAlgorithm;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct Settings {
    /// Where new packages go unless the person picks another folder.
    pub destination: String,
    pub max_active_downloads: u32,
    /// Connections per package: exactly this many, or with `adaptive_connections` the
    /// most a package opens.
    pub connections_per_download: u32,
    /// Each package opens many connections at once (up to `connections_per_download`)
    /// and closes those that do not add to its throughput.
    pub adaptive_connections: bool,
    /// Bytes per second; `null` for no limit.
    #[ts(type = "number | null")]
    pub bandwidth_limit: Option<u64>,
    /// A system notification when a package completes or fails.
    pub notifications: bool,
    /// Open the package's folder when it completes.
    pub open_folder_when_done: bool,
    /// Serve the MASV-Agent-compatible API on 127.0.0.1:8080.
    pub agent_api: bool,
    /// The agent API answers only requests carrying the token Inbound made (kept in
    /// the data folder, readable by its owner only). Changed by making or dropping a
    /// token, not by saving settings.
    pub agent_api_token: bool,
    /// Seconds between two looks at the watched portals.
    pub inbox_poll_secs: u32,
    /// Each package into a new folder of its own, named after it, inside the
    /// destination (off: the files go straight into the destination).
    pub package_folders: bool,
    /// Hash format of the files' proof (ASC MHL): `xxh128`, `xxh64`, `md5`, `sha1`
    /// or `c4`.
    pub hash_algorithm: String,
    /// Keep the computer from sleeping while packages transfer.
    pub keep_awake: bool,
    /// Senders (as MASV reports them, lowercase) whose links from outside the app start
    /// without asking; every other link from a web page or another program is shown
    /// first and waits for the person.
    pub trusted_senders: Vec<String>,
    /// While the app runs, a MASV link copied anywhere is offered for download (the
    /// window asks; nothing starts by itself). Only MASV links are taken out of what is
    /// copied, and nothing of it is kept.
    pub clipboard_capture: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            destination: inbound_engine::default_destination()
                .unwrap_or_else(|| PathBuf::from("Downloads/MASV"))
                .to_string_lossy()
                .into_owned(),
            max_active_downloads: 3,
            connections_per_download: 16,
            adaptive_connections: true,
            bandwidth_limit: None,
            notifications: true,
            open_folder_when_done: false,
            agent_api: false,
            agent_api_token: false,
            inbox_poll_secs: 60,
            package_folders: true,
            hash_algorithm: HashAlgorithm::Xxh128.name().into(),
            keep_awake: true,
            trusted_senders: Vec::new(),
            clipboard_capture: false,
        }
    }
}

impl Settings {
    /// Reads the settings; a missing or unreadable file gives the defaults (and a
    /// warning in the log), never a failed start.
    pub fn load(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, path = %path.display(), "settings unreadable, using defaults");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Replaces the file whole (a crash leaves the old settings or the new, never half),
    /// readable by the person only: it lists whom they trust.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        inbound_engine::write_private(path, &json)
    }

    /// Clamps values a hand-edited file or a buggy caller could get wrong.
    pub fn sanitized(mut self) -> Self {
        self.max_active_downloads = self.max_active_downloads.clamp(1, 32);
        self.connections_per_download = self.connections_per_download.clamp(1, 64);
        self.bandwidth_limit = self.bandwidth_limit.filter(|&b| b > 0);
        // More often than every 15 s would be impolite to a shared API.
        self.inbox_poll_secs = self.inbox_poll_secs.clamp(15, 3600);
        self.hash_algorithm = HashAlgorithm::parse(&self.hash_algorithm)
            .unwrap_or(HashAlgorithm::Xxh128)
            .name()
            .into();
        if self.destination.trim().is_empty() {
            self.destination = Self::default().destination;
        }
        let mut senders: Vec<String> = self
            .trusted_senders
            .iter()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        senders.sort();
        senders.dedup();
        self.trusted_senders = senders;
        self
    }

    /// Whether links from this sender may start without asking. A package without a
    /// sender is never trusted.
    pub fn trusts(&self, sender: &str) -> bool {
        let sender = sender.trim().to_lowercase();
        !sender.is_empty() && self.trusted_senders.contains(&sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_defaults_and_clamping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let s = Settings {
            connections_per_download: 500,
            bandwidth_limit: Some(0),
            destination: " ".into(),
            inbox_poll_secs: 1,
            hash_algorithm: "sha256".into(),
            trusted_senders: vec![
                " Editor@Example.com".into(),
                "editor@example.com".into(),
                " ".into(),
            ],
            ..Settings::default()
        }
        .sanitized();
        assert_eq!(s.inbox_poll_secs, 15);
        assert_eq!(s.hash_algorithm, "xxh128", "an unknown format falls back");
        assert_eq!(s.connections_per_download, 64);
        assert_eq!(s.bandwidth_limit, None);
        assert!(!s.destination.trim().is_empty());
        assert_eq!(s.trusted_senders, ["editor@example.com"]);
        assert!(s.trusts("EDITOR@example.com "));
        assert!(!s.trusts(""));
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, b"{garbage").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
