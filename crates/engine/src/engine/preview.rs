//! What a link points to, read without adding it: for asking the person before a link
//! that came from outside (a web page, another program) starts anything.

use inbound_masv::{LinkRef, Secret};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Engine;
use super::planning::{chosen_states, package_name};
use crate::download::session::Session;
use crate::error::EngineError;
use crate::model::FileState;
use crate::model::selection::Selection;

/// A package as MASV describes it, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PackagePreview {
    pub name: String,
    pub package_id: String,
    /// As MASV reports it; empty when MASV gives none.
    pub sender_email: String,
    /// Files that would be downloaded (whole-package zips and files MASV flagged as
    /// infected are not).
    #[ts(type = "number")]
    pub file_count: usize,
    /// Their listed sizes added up.
    #[ts(type = "number")]
    pub total_bytes: u64,
    /// False when the listing leaves some sizes out: `total_bytes` is then a lower bound.
    pub sizes_complete: bool,
    /// Files MASV flagged as infected, which would be withheld.
    #[ts(type = "number")]
    pub withheld: usize,
    /// When MASV deletes the package and the link stops working (Unix seconds), if it
    /// says.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
}

/// One file of a package as MASV lists it, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ListedFile {
    /// MASV's id for the file (what the agent's `file_ids` names).
    pub id: String,
    /// Its path in the package, folders joined with `/`.
    pub path: String,
    /// As listed; `None` when MASV gives none (storage is asked when it downloads).
    #[ts(type = "number | null")]
    pub size: Option<u64>,
    /// What becomes of it: `pending` (downloaded), `virus_withheld`, `skipped` (a
    /// whole-package archive) or `excluded` (left out by the selection).
    pub state: FileState,
}

/// A package and its files, read without adding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PackageListing {
    pub preview: PackagePreview,
    pub files: Vec<ListedFile>,
}

impl Engine {
    /// Reads the package behind a link (name, sender, files, size) and adds nothing.
    /// Fails as [`Engine::add`] would: a bad or expired link, a password needed or
    /// wrong, MASV out of reach.
    pub async fn preview(
        &self,
        url: &str,
        password: Option<Secret>,
    ) -> Result<PackagePreview, EngineError> {
        Ok(self
            .list_package(url, password, &Selection::All)
            .await?
            .preview)
    }

    /// Lists the package behind a link, each file with what would become of it under
    /// `selection`; the preview counts the files that would be downloaded. Adds nothing.
    pub async fn list_package(
        &self,
        url: &str,
        password: Option<Secret>,
        selection: &Selection,
    ) -> Result<PackageListing, EngineError> {
        // A mistyped pattern is reported before MASV is asked anything.
        let matcher = selection.matcher()?;
        let link = LinkRef::parse(url)?;
        let (session, info) = Session::open(
            self.shared.client_for(&link.id),
            link,
            password,
            self.shared.quick_retry_policy(),
        )
        .await?;
        let listing = session.list_files().await?;
        let states = chosen_states(&listing, &matcher, self.shared.config.include_zips)?;
        let files: Vec<ListedFile> = listing
            .iter()
            .zip(states)
            .map(|(f, state)| ListedFile {
                id: f.id.clone(),
                path: f.package_path(),
                size: f.size,
                state,
            })
            .collect();
        let wanted: Vec<_> = files
            .iter()
            .filter(|f| f.state == FileState::Pending)
            .collect();
        let preview = PackagePreview {
            name: package_name(&info.name, &info.package_id),
            package_id: info.package_id,
            sender_email: info.sender_email,
            file_count: wanted.len(),
            total_bytes: wanted.iter().filter_map(|f| f.size).sum(),
            sizes_complete: wanted.iter().all(|f| f.size.is_some()),
            withheld: files
                .iter()
                .filter(|f| f.state == FileState::VirusWithheld)
                .count(),
            expires_at: info.expiry.map(|e| e.timestamp()),
        };
        Ok(PackageListing { preview, files })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use inbound_sim::{Content, Sim, SimFile, SimPackage};

    use crate::config::EngineConfig;
    use crate::engine::Engine;

    #[tokio::test]
    async fn a_preview_describes_the_package_and_writes_nothing() {
        let mut pkg = SimPackage::new("pv1", "Day 2 rushes")
            .with_file(SimFile::new("f1", "A001.mov", Content::generated(1, 3000)))
            .with_file(SimFile::new("f2", "A002.mov", Content::generated(2, 5000)))
            .with_file(SimFile::new("f3", "bad.exe", Content::generated(3, 100)).virus())
            .with_file(
                SimFile::new("z", "all.zip", Content::generated(4, 8100)).kind("zip_windows"),
            );
        pkg.sender_email = "editor@example.com".into();
        let sim = Sim::start(vec![pkg]).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(dir.path().join("data"));
        config.api_url = sim.api_url();
        config.retry_base_delay = Duration::from_millis(10);
        let engine = Engine::open(config).await.unwrap();
        let preview = engine
            .preview(&sim.packages()[0].link(), None)
            .await
            .unwrap();
        assert_eq!(preview.name, "Day 2 rushes");
        assert_eq!(preview.sender_email, "editor@example.com");
        assert_eq!(preview.file_count, 2);
        assert_eq!(preview.total_bytes, 8000);
        assert!(preview.sizes_complete);
        assert_eq!(preview.withheld, 1);
        assert!(engine.list().is_empty(), "a preview adds nothing");
        assert_eq!(sim.package_bytes_served(&sim.packages()[0].package_id), 0);
    }
}
