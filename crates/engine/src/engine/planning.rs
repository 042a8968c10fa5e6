//! Planning a new download: its files listed and their states (chosen, withheld,
//! skipped), every path picked and reserved, and the rows it will be recorded as.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use inbound_masv::FileKind;
use inbound_mhl::Digest;

use super::Engine;
use crate::download::Download;
use crate::download::session::Session;
use crate::engine::placement::{Destination, claim_package_folder};
use crate::error::EngineError;
use crate::model::RepairCheck;
use crate::model::paths::{PathPlanner, collision_key};
use crate::model::selection::{Matcher, Selection, SelectionError};
use crate::model::source::Source;
use crate::model::{DownloadState, FileState};
use crate::store::{DownloadRow, FileMeta, FileRow};
use crate::sync::lock;

impl Engine {
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
        if new.refuse_flagged {
            let flagged: Vec<String> = listing
                .iter()
                .filter(|f| f.virus_detected)
                .map(|f| f.package_path())
                .collect();
            if !flagged.is_empty() {
                return Err(EngineError::Quarantined(flagged));
            }
        }
        let matcher = new.selection.matcher()?;
        let states = chosen_states(&listing, &matcher, self.shared.config.include_zips)?;
        if !new.selection.is_all() && !states.contains(&FileState::Pending) {
            return Err(SelectionError::NothingSelected(new.selection.describe()).into());
        }
        let sizes =
            crate::run::probe::listed_or_stored_sizes(&*self.shared, session, &listing, |idx| {
                states[idx] == FileState::Pending
            })
            .await?;
        // Downloaded again: into the folder the earlier download completed in.
        let dst_folder = match &new.replaces {
            Some(earlier) => {
                std::fs::create_dir_all(&earlier.dst).map_err(|source| {
                    EngineError::Destination {
                        path: earlier.dst.clone(),
                        source,
                    }
                })?;
                earlier.dst.clone()
            }
            None => self.make_folder(dst, &new.name)?,
        };
        let found_before = new
            .replaces
            .as_deref()
            .map(completed_files)
            .unwrap_or_default();
        let volume = crate::transfer::volume::Volume::of(&dst_folder)
            .ok()
            .map(|(_, v)| v);
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
                let state = states[idx];
                let package_path = f.package_path();
                let before = found_before
                    .get(f.id.as_str())
                    .filter(|_| state == FileState::Pending);
                let rel_path = match before {
                    // Where the earlier download put it, to be checked there.
                    Some((rel, _)) => rel.clone(),
                    None if state == FileState::Pending => planner.plan(&package_path),
                    None => PathBuf::new(),
                };
                let mut row = FileRow::listed(
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
                );
                row.repair = before.map(|(_, expected)| RepairCheck {
                    expected: expected.clone(),
                    found: None,
                });
                row
            })
            .collect();
        let made_folder =
            (dst.package_folder && new.replaces.is_none()).then(|| dst_folder.clone());
        let mut row = source_row(id, &new.source, dst, created_at);
        row.dst_folder = dst_folder;
        row.volume = volume;
        row.name = new.name;
        row.package_id = new.package_id;
        row.sender_email = new.sender_email;
        row.total_bytes = files.iter().map(|f| f.meta.size).sum();
        row.selection = selection_json(&new.selection);
        row.priority = new.priority;
        row.chunk_size = new.chunk_size;
        row.expires_at = session.expiry().or(new.expires_at);
        Ok(Planned {
            row,
            files,
            source: new.source,
            replaces: new.replaces,
            made_folder,
            _planning: planning,
        })
    }

    /// Every file path (final and part name) a known download holds that a download
    /// into `folder` could also pick, and the folders they go in. Only a
    /// download whose folder contains `folder` or lies inside it can hold such a path
    /// (a path under two folders means one is inside the other), so a history of
    /// packages in folders of their own costs nothing here; before, every file of every
    /// download was keyed on each add, about 0.9 s per add with 200k files on record.
    pub(super) fn reserved_paths(&self, folder: &Path) -> crate::model::paths::Reserved {
        let folder = PathBuf::from(collision_key(folder));
        let related = |dst: &Path| {
            let dst = PathBuf::from(collision_key(dst));
            dst.starts_with(&folder) || folder.starts_with(&dst)
        };
        let mut reserved = crate::model::paths::Reserved::default();
        for d in lock(&self.shared.downloads)
            .iter()
            .filter(|d| related(&d.dst))
        {
            for f in d
                .files
                .iter()
                .filter(|f| !f.meta.rel_path.as_os_str().is_empty())
            {
                reserved.hold(&d.dst, &f.meta.rel_path);
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
}

/// The files a download completed with a hash on record, by MASV file id: where each
/// is and what it hashed to. (A file with no hash on record cannot be checked, so it is
/// fetched under a name of its own, as for any new download.)
fn completed_files(dl: &Download) -> HashMap<&str, (PathBuf, Digest)> {
    dl.files
        .iter()
        .filter(|f| f.state() == FileState::Complete && !f.meta.rel_path.as_os_str().is_empty())
        .filter_map(|f| {
            let hash = f.record().hash.clone()?;
            Some((f.meta.file_id.as_str(), (f.meta.rel_path.clone(), hash)))
        })
        .collect()
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
    pub selection: Selection,
    pub priority: i64,
    /// A completed download of the same package into the same place, downloaded again:
    /// its files are checked where it put them, and the new download takes its place.
    pub replaces: Option<Arc<Download>>,
    /// Refused whole, before anything is written, when MASV's virus scan flagged a
    /// file of the package (the MASV Agent's `bypass_package_quarantine: false`).
    pub refuse_flagged: bool,
    /// Bytes asked of storage per range; `None`: Inbound sizes them.
    pub chunk_size: Option<u64>,
    /// When the package expires, where the session does not say (a team package's
    /// listing does).
    pub expires_at: Option<i64>,
}

/// A download's files listed and their paths chosen, not yet recorded. Holds the
/// planning lock: no other add picks a name until this one is recorded or abandoned.
pub(super) struct Planned<'a> {
    pub row: DownloadRow,
    pub files: Vec<FileRow>,
    pub source: Source,
    pub replaces: Option<Arc<Download>>,
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

    /// The download as recorded, the one it takes the place of (if any), and the
    /// planning lock (held until it is listed).
    pub fn into_download(
        self,
    ) -> (
        Arc<Download>,
        Option<Arc<Download>>,
        std::sync::MutexGuard<'a, ()>,
    ) {
        let dl = Download::from_rows(self.row, self.files, self.source);
        (Arc::new(dl), self.replaces, self._planning)
    }
}

/// Takes the download a new one replaces out of the list (a repair); whoever still
/// holds it finds it deleted.
pub(super) fn retire(list: &mut Vec<Arc<Download>>, earlier: &Arc<Download>) {
    earlier.status().deleted = true;
    list.retain(|d| !Arc::ptr_eq(d, earlier));
}

/// A download's record with what its source says; the package's own fields (name,
/// files, folder) are filled in once it is listed.
pub(super) fn source_row(
    id: String,
    source: &Source,
    dst: &Destination,
    created_at: i64,
) -> DownloadRow {
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
        volume: None,
        manifest: None,
        package_folder: dst.package_folder,
        selection: None,
        priority: 0,
        chunk_size: None,
        expires_at: None,
    }
}

/// What becomes of each listed file, in listing order, once the person's choice is
/// applied to [`initial_state`]: a file not chosen is excluded; a whole-package zip
/// asked for by its id is fetched. An id the package does not have is refused.
pub(super) fn chosen_states(
    listing: &[inbound_masv::PackageFile],
    matcher: &Matcher,
    include_zips: bool,
) -> Result<Vec<FileState>, SelectionError> {
    let unknown = matcher.unknown_ids(listing.iter().map(|f| f.id.as_str()));
    if !unknown.is_empty() {
        return Err(SelectionError::UnknownFiles(unknown));
    }
    Ok(listing
        .iter()
        .map(|f| {
            let chosen = matcher.selects(&f.id, &f.package_path());
            match initial_state(f, include_zips) {
                FileState::Pending if !chosen => FileState::Excluded,
                FileState::Skipped if chosen && matcher.names_files() => FileState::Pending,
                other => other,
            }
        })
        .collect())
}

/// The selection as stored with the download (`None`: every file).
pub(super) fn selection_json(selection: &Selection) -> Option<String> {
    (!selection.is_all())
        .then(|| serde_json::to_string(selection).ok())
        .flatten()
}

/// What becomes of a listed file: withheld when flagged, skipped when it is a
/// whole-package zip (and zips are not wanted), fetched otherwise.
fn initial_state(f: &inbound_masv::PackageFile, include_zips: bool) -> FileState {
    if f.virus_detected {
        FileState::VirusWithheld
    } else if f.kind != FileKind::File && !include_zips {
        FileState::Skipped
    } else {
        FileState::Pending
    }
}
