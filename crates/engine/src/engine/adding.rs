//! Adding a package: by link or from a team listing, once per package and folder,
//! with every file's size known and its path reserved before the download is listed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use inbound_masv::{FileKind, LinkRef, Secret};

use super::Engine;
use crate::download::{Download, lock};
use crate::error::EngineError;
use crate::model::{DownloadId, DownloadState, Event, FileState};
use crate::paths::{PathPlanner, collision_key};
use crate::placement::{Destination, claim_package_folder};
use crate::runner;
use crate::session::Session;
use crate::source::{Source, TeamDownload};
use crate::store::{DownloadRow, FileMeta, FileRow};

impl Engine {
    /// Adds a package by link. The link is checked now, so a bad, expired or
    /// password-protected link fails here and nothing is written. Adding the same link
    /// to the same destination again returns the existing download (resuming it if it
    /// was paused or failed).
    pub async fn add(
        &self,
        url: &str,
        dst: impl Into<Destination>,
        password: Option<Secret>,
    ) -> Result<DownloadId, EngineError> {
        let dst = dst.into();
        let link = LinkRef::parse(url)?;
        if !dst.folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst.folder));
        }
        let _adding = self.adding(&format!("link:{}", link.id), &dst).await;
        if let Some(existing) = self.find_existing(&link.id, None, &dst) {
            return self.revive(&existing);
        }
        let (session, info) = Session::open(
            self.shared.client_for(&link.id),
            link.clone(),
            password.clone(),
            self.shared.quick_retry_policy(),
        )
        .await?;
        let new = NewDownload {
            package_id: info.package_id.clone(),
            name: package_name(&info.name, &info.package_id),
            sender_email: info.sender_email.clone(),
            source: Source::Link { link, password },
        };
        self.insert(new, session, &dst).await
    }

    /// Adds a team or portal package with the access token its listing gave, no link
    /// needed. Adding the same package to the same folder again returns the existing
    /// download, with the fresher token (resuming it if it was paused or failed).
    pub async fn add_team_package(
        &self,
        package: TeamDownload,
        dst: impl Into<Destination>,
    ) -> Result<DownloadId, EngineError> {
        let dst = dst.into();
        if !dst.folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst.folder));
        }
        let _adding = self
            .adding(&format!("package:{}", package.package_id), &dst)
            .await;
        if let Some(existing) = self.find_existing("", Some(&package.package_id), &dst) {
            let mut source = lock(&existing.source);
            if let Source::Team { token, .. } = &mut *source {
                *token = package.access_token.clone();
                let db = self.shared.store.path().to_owned();
                self.shared
                    .store
                    .set_access_token(&existing.id, package.access_token.expose())
                    .map_err(EngineError::db(&db))?;
            }
            drop(source);
            return self.revive(&existing);
        }
        let source = Source::Team {
            token: package.access_token,
            origin: package.origin,
        };
        let session = runner::open_session(&self.shared, &source, &package.package_id).await?;
        let new = NewDownload {
            name: package_name(&package.name, &package.package_id),
            package_id: package.package_id,
            sender_email: package.sender_email,
            source,
        };
        self.insert(new, session, &dst).await
    }

    /// One add at a time per package and folder, so a link arriving twice at once
    /// (a deep link seen by two handlers, a script retrying) makes one download.
    async fn adding(&self, key: &str, dst: &Destination) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = lock(&self.shared.adding)
            .entry((key.to_owned(), dst.clone()))
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    /// An existing download asked for again: resumed if it had stopped.
    fn revive(&self, existing: &Arc<Download>) -> Result<DownloadId, EngineError> {
        if matches!(
            existing.state(),
            DownloadState::Paused | DownloadState::Error
        ) {
            self.resume(&existing.id)?;
        }
        Ok(existing.id.clone())
    }

    /// Lists the package's files, plans where each goes, and records the download.
    async fn insert(
        &self,
        new: NewDownload,
        session: Session,
        dst: &Destination,
    ) -> Result<DownloadId, EngineError> {
        let listing = session.list_files().await?;
        let include_zips = self.shared.config.include_zips;
        let sizes = crate::probe::listed_or_stored_sizes(&self.shared, &session, &listing, |f| {
            initial_state(f, include_zips) == FileState::Pending
        })
        .await?;
        let dst_folder = &self.make_folder(dst, &new.name)?;
        let dst_dev = std::fs::metadata(dst_folder)
            .ok()
            .map(|m| crate::identity::FileId::of(&m).dev);
        // From here to joining the list, no other add may plan: the names this one
        // picks are reserved for it from the moment they are chosen.
        let planning = lock(&self.shared.planning);
        let mut planner = PathPlanner::with_reserved(
            dst_folder,
            self.shared.config.name_rules,
            self.reserved_paths(dst_folder),
        );
        let files: Vec<FileRow> = listing
            .iter()
            .zip(sizes)
            .enumerate()
            .map(|(idx, (f, size))| {
                let state = initial_state(f, include_zips);
                let package_path = f.package_path();
                let rel_path = if state == FileState::Pending {
                    planner.plan(&package_path)
                } else {
                    PathBuf::new()
                };
                FileRow {
                    meta: FileMeta {
                        idx,
                        file_id: f.id.clone(),
                        kind: serde_json::to_value(f.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_else(|| "file".into()),
                        package_path,
                        rel_path,
                        size,
                        mtime: f.last_modified.map(|t| t.timestamp()),
                        virus: f.virus_detected,
                    },
                    state,
                    error: None,
                    ranges: Vec::new(),
                    part: None,
                    etag: None,
                    written: None,
                    hash: None,
                }
            })
            .collect();
        let (link_id, link_url, password, access_token, origin) = match &new.source {
            Source::Link { link, password } => (
                link.id.clone(),
                link.to_url_with_secret(),
                password.as_ref().map(|p| p.expose().to_owned()),
                None,
                None,
            ),
            Source::Team { token, origin } => (
                String::new(),
                String::new(),
                None,
                Some(token.expose().to_owned()),
                serde_json::to_string(origin).ok(),
            ),
        };
        let row = DownloadRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            link_id,
            link_url,
            password,
            dst_folder: dst_folder.to_owned(),
            name: new.name,
            package_id: new.package_id,
            sender_email: new.sender_email,
            total_bytes: files.iter().map(|f| f.meta.size).sum(),
            state: DownloadState::Queued,
            error: None,
            created_at: crate::model::unix_now(),
            completed_at: None,
            access_token,
            origin,
            dst_dev,
            manifest: None,
            package_folder: dst.package_folder,
        };
        let db = self.shared.store.path().to_owned();
        if let Err(e) = self.shared.store.insert_download(&row, &files) {
            if dst.package_folder {
                // Only just created for this package, and still empty.
                let _ = std::fs::remove_dir(dst_folder);
            }
            return Err(EngineError::db(&db)(e));
        }
        let id = row.id.clone();
        let dl = Arc::new(Download::from_rows(row, files, new.source));
        *lock(&dl.session) = Some(Arc::new(session));
        lock(&self.shared.downloads).push(dl.clone());
        drop(planning);
        tracing::info!(id = %id, name = %dl.name, files = dl.files.len(), "download added");
        self.shared.emit(Event::Added {
            download: Box::new(dl.summary()),
        });
        self.schedule();
        Ok(id)
    }

    /// Every file path (final and part name) a known download holds that a download
    /// into `folder` could also pick, as [`crate::paths::collision_key`]s. Only a
    /// download whose folder contains `folder` or lies inside it can hold such a path
    /// (a path under two folders means one is inside the other), so a history of
    /// packages in folders of their own costs nothing here; before, every file of every
    /// download was keyed on each add, about 0.9 s per add with 200k files on record.
    fn reserved_paths(&self, folder: &Path) -> std::collections::HashSet<String> {
        let folder = PathBuf::from(collision_key(folder));
        let related = |dst: &Path| {
            let dst = PathBuf::from(collision_key(dst));
            dst.starts_with(&folder) || folder.starts_with(&dst)
        };
        let mut reserved = std::collections::HashSet::new();
        for d in lock(&self.shared.downloads)
            .iter()
            .filter(|d| related(&d.dst))
        {
            for f in d
                .files
                .iter()
                .filter(|f| !f.meta.rel_path.as_os_str().is_empty())
            {
                reserved.insert(collision_key(&f.final_path(&d.dst)));
                reserved.insert(collision_key(&f.part_path(&d.dst)));
            }
        }
        reserved
    }

    /// The folder the package's files go into, created: `dst` itself, or a new folder
    /// of the package's own inside it.
    fn make_folder(&self, dst: &Destination, name: &str) -> Result<PathBuf, EngineError> {
        let failed = |path: &Path| {
            let path = path.to_owned();
            move |source| EngineError::Destination { path, source }
        };
        std::fs::create_dir_all(&dst.folder).map_err(failed(&dst.folder))?;
        if !dst.package_folder {
            return Ok(dst.folder.clone());
        }
        let taken: Vec<PathBuf> = lock(&self.shared.downloads)
            .iter()
            .map(|d| d.dst.clone())
            .collect();
        claim_package_folder(&dst.folder, name, self.shared.config.name_rules, &taken)
            .map_err(failed(&dst.folder))
    }

    /// The download of this link (or, with `package_id`, this team package) asked into
    /// the same destination: the same folder, or a package folder inside the same folder.
    fn find_existing(
        &self,
        link_id: &str,
        package_id: Option<&str>,
        dst: &Destination,
    ) -> Option<Arc<Download>> {
        lock(&self.shared.downloads)
            .iter()
            .rev()
            .find(|d| {
                let same_place = if dst.package_folder {
                    d.package_folder && d.dst.parent() == Some(dst.folder.as_path())
                } else {
                    !d.package_folder && d.dst == dst.folder
                };
                same_place
                    && match (&*lock(&d.source), package_id) {
                        (Source::Link { link, .. }, None) => link.id == link_id,
                        (Source::Team { .. }, Some(p)) => d.package_id == p,
                        _ => false,
                    }
            })
            .cloned()
    }
}

/// The package's name as shown, or "Package ID" when its sender gave none.
pub(super) fn package_name(name: &str, package_id: &str) -> String {
    if name.is_empty() {
        format!("Package {package_id}")
    } else {
        name.to_owned()
    }
}

/// What a new download is, before its files are listed.
struct NewDownload {
    package_id: String,
    name: String,
    sender_email: String,
    source: Source,
}

/// What becomes of a listed file: withheld when flagged, skipped when it is a
/// whole-package zip (and zips are not wanted), fetched otherwise.
pub(super) fn initial_state(f: &inbound_masv::PackageFile, include_zips: bool) -> FileState {
    if f.virus_detected {
        FileState::VirusWithheld
    } else if f.kind != FileKind::File && !include_zips {
        FileState::Skipped
    } else {
        FileState::Pending
    }
}
