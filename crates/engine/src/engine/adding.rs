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
        self.add_link(url, dst.into(), password, false).await
    }

    /// As [`Engine::add`], except that when MASV cannot be reached (no route, DNS, an
    /// outage) the link is kept as a download waiting for the network instead of
    /// refused: it lists its files and starts by itself once MASV answers. A link MASV
    /// answers for is checked as `add` checks it.
    pub async fn add_or_wait(
        &self,
        url: &str,
        dst: impl Into<Destination>,
        password: Option<Secret>,
    ) -> Result<DownloadId, EngineError> {
        self.add_link(url, dst.into(), password, true).await
    }

    async fn add_link(
        &self,
        url: &str,
        dst: Destination,
        password: Option<Secret>,
        wait_if_unreachable: bool,
    ) -> Result<DownloadId, EngineError> {
        let link = LinkRef::parse(url)?;
        if !dst.folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst.folder));
        }
        let _adding = self.adding(&format!("link:{}", link.id), &dst).await;
        if let Some(existing) = self.find_existing(&link.id, None, &dst) {
            return self.revive(&existing);
        }
        let opened = Session::open(
            self.shared.client_for(&link.id),
            link.clone(),
            password.clone(),
            self.shared.quick_retry_policy(),
        )
        .await;
        let (session, info) = match opened {
            Ok(opened) => opened,
            Err(e) if wait_if_unreachable && e.is_transient() => {
                return self.insert_unlisted(link, password, &dst, &e);
            }
            Err(e) => return Err(e.into()),
        };
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
        let id = uuid::Uuid::new_v4().simple().to_string();
        let planned = self
            .plan(new, &session, dst, id, crate::model::unix_now())
            .await?;
        let db = self.shared.store.path().to_owned();
        if let Err(e) = self
            .shared
            .store
            .insert_download(&planned.row, &planned.files)
        {
            planned.abandon();
            return Err(EngineError::db(&db)(e));
        }
        let (dl, _planning) = planned.into_download();
        let id = dl.id.clone();
        *lock(&dl.session) = Some(Arc::new(session));
        lock(&self.shared.downloads).push(dl.clone());
        drop(_planning);
        tracing::info!(id = %id, name = %dl.name, files = dl.files.len(), "download added");
        self.shared.emit(Event::Added {
            download: Box::new(dl.summary()),
        });
        self.schedule();
        Ok(id)
    }

    /// Lists the package's files and plans where each goes: the download as it will
    /// be recorded, under `id`. The names chosen stay reserved for it while the
    /// returned plan is held.
    pub(super) async fn plan(
        &self,
        new: NewDownload,
        session: &Session,
        dst: &Destination,
        id: String,
        created_at: i64,
    ) -> Result<Planned<'_>, EngineError> {
        let listing = session.list_files().await?;
        let include_zips = self.shared.config.include_zips;
        let sizes = crate::probe::listed_or_stored_sizes(&self.shared, session, &listing, |f| {
            initial_state(f, include_zips) == FileState::Pending
        })
        .await?;
        let dst_folder = self.make_folder(dst, &new.name)?;
        let dst_dev = std::fs::metadata(&dst_folder)
            .ok()
            .map(|m| crate::identity::FileId::of(&m).dev);
        // From here to joining the list, no other add may plan: the names this one
        // picks are reserved for it from the moment they are chosen.
        let planning = lock(&self.shared.planning);
        let mut planner = PathPlanner::with_reserved(
            &dst_folder,
            self.shared.config.name_rules,
            self.reserved_paths(&dst_folder),
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
                FileRow::listed(
                    FileMeta {
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
                )
            })
            .collect();
        let made_folder = dst.package_folder.then(|| dst_folder.clone());
        let mut row = source_row(id, &new.source, dst, created_at);
        row.dst_folder = dst_folder;
        row.dst_dev = dst_dev;
        row.name = new.name;
        row.package_id = new.package_id;
        row.sender_email = new.sender_email;
        row.total_bytes = files.iter().map(|f| f.meta.size).sum();
        Ok(Planned {
            row,
            files,
            source: new.source,
            made_folder,
            _planning: planning,
        })
    }

    /// Records a link MASV could not be reached for as a download of its own, not yet
    /// listed: it waits for the network like any other and lists its files once MASV
    /// answers (see `unlisted`), so a script or a person gets its id now.
    fn insert_unlisted(
        &self,
        link: LinkRef,
        password: Option<Secret>,
        dst: &Destination,
        error: &inbound_masv::MasvError,
    ) -> Result<DownloadId, EngineError> {
        std::fs::create_dir_all(&dst.folder).map_err(|source| EngineError::Destination {
            path: dst.folder.clone(),
            source,
        })?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // What it is called until MASV names its package.
        let name = format!("Link {}", link.id);
        let source = Source::Link { link, password };
        let mut row = source_row(id, &source, dst, crate::model::unix_now());
        row.name = name;
        let db = self.shared.store.path().to_owned();
        self.shared
            .store
            .insert_download(&row, &[])
            .map_err(EngineError::db(&db))?;
        let dl = Arc::new(Download::from_rows(row, Vec::new(), source));
        // The first try just failed: it waits before the next.
        let delay = self.shared.retry_policy().base;
        dl.status().waiting = Some(crate::model::Waiting {
            reason: crate::model::WaitReason::Network,
            message: error.unreachable_sentence(),
            retry_at: crate::model::unix_now() + delay.as_secs().max(1) as i64,
        });
        let id = dl.id.clone();
        lock(&self.shared.downloads).push(dl.clone());
        tracing::info!(id = %id, reason = %error, "link kept until MASV can be reached");
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
                let same_place = if d.is_unlisted() {
                    // Not listed yet: its folder is the one it was asked into.
                    d.package_folder == dst.package_folder && d.dst == dst.folder
                } else if dst.package_folder {
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
pub(super) struct NewDownload {
    pub package_id: String,
    pub name: String,
    pub sender_email: String,
    pub source: Source,
}

/// A download's files listed and their paths chosen, not yet recorded. Holds the
/// planning lock: no other add picks a name until this one is recorded or abandoned.
pub(super) struct Planned<'a> {
    pub row: DownloadRow,
    pub files: Vec<FileRow>,
    pub source: Source,
    /// The package folder made for it, still empty.
    made_folder: Option<PathBuf>,
    _planning: std::sync::MutexGuard<'a, ()>,
}

impl<'a> Planned<'a> {
    /// Not recorded after all: the package folder made for it goes again.
    pub fn abandon(self) {
        if let Some(folder) = &self.made_folder {
            // Only just created for this package, and still empty.
            let _ = std::fs::remove_dir(folder);
        }
    }

    /// The download as recorded, and the planning lock (held until it is listed).
    pub fn into_download(self) -> (Arc<Download>, std::sync::MutexGuard<'a, ()>) {
        let dl = Download::from_rows(self.row, self.files, self.source);
        (Arc::new(dl), self._planning)
    }
}

/// A download's record with what its source says; the package's own fields (name,
/// files, folder) are filled in once it is listed.
fn source_row(id: String, source: &Source, dst: &Destination, created_at: i64) -> DownloadRow {
    let (link_id, link_url, password, access_token, origin) = match source {
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
    DownloadRow {
        id,
        link_id,
        link_url,
        password,
        dst_folder: dst.folder.clone(),
        name: String::new(),
        package_id: String::new(),
        sender_email: String::new(),
        total_bytes: 0,
        state: DownloadState::Queued,
        error: None,
        created_at,
        completed_at: None,
        access_token,
        origin,
        dst_dev: None,
        manifest: None,
        package_folder: dst.package_folder,
    }
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
