//! Adding a package: by link or from a team listing, once per package and folder,
//! with every file's size known and its path reserved before the download is listed.

use std::sync::Arc;

use inbound_masv::{LinkRef, Secret};

use super::Engine;
use super::planning::{NewDownload, package_name, retire, selection_json, source_row};
use crate::download::Download;
use crate::download::ledger;
use crate::download::session::Session;
use crate::engine::placement::Destination;
use crate::error::EngineError;
use crate::model::selection::Selection;
use crate::model::source::{Source, TeamDownload};
use crate::model::{DownloadId, DownloadState, Event};
use crate::run;
use crate::sync::lock;

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
        let options = LinkOptions {
            password,
            ..LinkOptions::default()
        };
        self.add_link_with(url, dst, options).await
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
        let options = LinkOptions {
            password,
            wait_if_unreachable: true,
            ..LinkOptions::default()
        };
        self.add_link_with(url, dst, options).await
    }

    /// Adds a link with the options beyond its folder: a password, the files chosen,
    /// and whether to keep it waiting when MASV cannot be reached (see `add_or_wait`).
    /// Asked for again (same link, same folder), the existing download is returned
    /// whatever the options.
    pub async fn add_link_with(
        &self,
        url: &str,
        dst: impl Into<Destination>,
        options: LinkOptions,
    ) -> Result<DownloadId, EngineError> {
        let dst: Destination = dst.into();
        let LinkOptions {
            password,
            selection,
            wait_if_unreachable,
            priority,
            owner,
            if_downloaded,
            refuse_flagged,
            chunk_size,
        } = options;
        // A mistyped pattern is reported before MASV is asked anything.
        selection.matcher()?;
        let link = LinkRef::parse(url)?;
        if !dst.folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst.folder));
        }
        let owner = owner.filter(|o| !o.is_empty());
        if let Some(o) = owner {
            o.check_allowed(&dst.folder)
                .map_err(EngineError::Ownership)?;
        }
        let id = self
            .add_link_checked(
                link,
                dst,
                password,
                Choice {
                    selection,
                    priority,
                    refuse_flagged,
                    chunk_size: chunk_size.map(bounded_chunk),
                },
                wait_if_unreachable && !refuse_flagged,
                if_downloaded,
            )
            .await?;
        if let Some(o) = owner {
            self.set_owner(&id, o)?;
        }
        Ok(id)
    }

    /// `add_link_with` once its options are checked.
    async fn add_link_checked(
        &self,
        link: LinkRef,
        dst: Destination,
        password: Option<Secret>,
        choice: Choice,
        wait_if_unreachable: bool,
        if_downloaded: IfDownloaded,
    ) -> Result<DownloadId, EngineError> {
        let _adding = self.adding(&format!("link:{}", link.id), &dst).await;
        let replaces = match self.find_existing(&link.id, None, &dst) {
            _ if if_downloaded == IfDownloaded::Copy => None,
            Some(existing) if existing.state() == DownloadState::Complete => {
                self.unless_asking(if_downloaded, &existing)?;
                Some(existing)
            }
            Some(existing) => return self.revive(&existing),
            None => None,
        };
        if if_downloaded == IfDownloaded::Ask
            && let Some(elsewhere) = self.find_anywhere(
                |d| matches!(d.source(), Source::Link { link: l, .. } if l.id == link.id),
            )
        {
            return Err(downloaded_before(&elsewhere));
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
                return self.insert_unlisted(link, password, choice, &dst, &e);
            }
            Err(e) => return Err(e.into()),
        };
        // Another link to a package already downloaded (sent twice, or forwarded).
        if if_downloaded == IfDownloaded::Ask
            && let Some(same) = self.find_anywhere(|d| d.package_id == info.package_id)
        {
            return Err(downloaded_before(&same));
        }
        let new = NewDownload {
            package_id: info.package_id.clone(),
            name: package_name(&info.name, &info.package_id),
            sender_email: info.sender_email.clone(),
            source: Source::Link { link, password },
            selection: choice.selection,
            priority: choice.priority,
            replaces,
            refuse_flagged: choice.refuse_flagged,
            chunk_size: choice.chunk_size,
            expires_at: None,
        };
        self.insert(new, session, &dst).await
    }

    /// Refuses when asked to say that the package is already a download.
    fn unless_asking(
        &self,
        if_downloaded: IfDownloaded,
        existing: &Download,
    ) -> Result<(), EngineError> {
        match if_downloaded {
            IfDownloaded::Ask => Err(downloaded_before(existing)),
            IfDownloaded::Reuse | IfDownloaded::Copy => Ok(()),
        }
    }

    /// The latest listed download that `matches`, in any folder.
    fn find_anywhere(&self, matches: impl Fn(&Download) -> bool) -> Option<Arc<Download>> {
        lock(&self.shared.downloads)
            .iter()
            .rev()
            .find(|d| !d.is_unlisted() && matches(d))
            .cloned()
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
        let existing = self.find_existing("", Some(&package.package_id), &dst);
        let replaces = existing
            .clone()
            .filter(|e| e.state() == DownloadState::Complete);
        if let Some(existing) = existing.filter(|_| replaces.is_none()) {
            let db = self.shared.store.path().to_owned();
            ledger::renew_token(&*self.shared, &existing, &package.access_token)
                .map_err(EngineError::db(&db))?;
            return self.revive(&existing);
        }
        let source = Source::Team {
            token: package.access_token,
            origin: package.origin,
        };
        let session = run::open_session(&*self.shared, &source, &package.package_id).await?;
        let new = NewDownload {
            name: package_name(&package.name, &package.package_id),
            package_id: package.package_id,
            sender_email: package.sender_email,
            source,
            selection: Selection::All,
            priority: 0,
            replaces,
            refuse_flagged: false,
            chunk_size: None,
            expires_at: package.expires_at,
        };
        self.insert(new, session, &dst).await
    }

    /// Records who a download's files go to when it completes.
    fn set_owner(&self, id: &str, owner: crate::model::Owner) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        let db = self.shared.store.path().to_owned();
        ledger::set_owner(&*self.shared, &dl, owner).map_err(EngineError::db(&db))
    }

    /// One add at a time per package and folder, so a link arriving twice at once
    /// (a deep link seen by two handlers, a script retrying) makes one download.
    pub(super) async fn adding(
        &self,
        key: &str,
        dst: &Destination,
    ) -> tokio::sync::OwnedMutexGuard<()> {
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
    pub(super) async fn insert(
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
        let recorded = match &planned.replaces {
            Some(earlier) => self
                .shared
                .store
                .supersede(&earlier.id, &planned.row, &planned.files),
            None => self
                .shared
                .store
                .insert_download(&planned.row, &planned.files),
        };
        if let Err(e) = recorded {
            planned.abandon();
            return Err(EngineError::db(&db)(e));
        }
        let (dl, replaced, _planning) = planned.into_download();
        let id = dl.id.clone();
        *lock(&dl.session) = Some(Arc::new(session));
        {
            let mut list = lock(&self.shared.downloads);
            if let Some(earlier) = &replaced {
                retire(&mut list, earlier);
            }
            list.push(dl.clone());
        }
        drop(_planning);
        if let Some(earlier) = replaced {
            tracing::info!(id = %id, replaces = %earlier.id, "package downloaded again into its folder: the files there are checked first");
            self.shared.emit(Event::Removed {
                id: earlier.id.clone(),
            });
        }
        tracing::info!(id = %id, name = %dl.name, files = dl.files.len(), "download added");
        self.shared.emit(Event::Added {
            download: Box::new(dl.summary()),
        });
        crate::run::expiry::warn_if_soon(&*self.shared, &dl, crate::model::unix_now());
        self.schedule();
        Ok(id)
    }

    /// Records a link MASV could not be reached for as a download of its own, not yet
    /// listed: it waits for the network like any other and lists its files once MASV
    /// answers (see `unlisted`), so a script or a person gets its id now.
    fn insert_unlisted(
        &self,
        link: LinkRef,
        password: Option<Secret>,
        choice: Choice,
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
        row.selection = selection_json(&choice.selection);
        row.priority = choice.priority;
        row.chunk_size = choice.chunk_size;
        let db = self.shared.store.path().to_owned();
        self.shared
            .store
            .insert_download(&row, &[])
            .map_err(EngineError::db(&db))?;
        let dl = Arc::new(Download::from_rows(row, Vec::new(), source));
        // The first try just failed: it waits before the next.
        let delay = self.shared.retry_policy().base;
        dl.status().waiting = Some(crate::model::Waiting {
            reason: crate::run::Interruption::of(error).reason,
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

    /// The completed download of this link into `dst`, other than `listing` (a link
    /// added while MASV was out of reach, listed now).
    pub(super) fn find_complete(
        &self,
        link_id: &str,
        dst: &Destination,
        listing: &Arc<Download>,
    ) -> Option<Arc<Download>> {
        self.find_matching(link_id, None, dst, |d| {
            !Arc::ptr_eq(d, listing) && d.state() == DownloadState::Complete
        })
    }

    /// The download of this link (or, with `package_id`, this team package) asked into
    /// the same destination: the same folder, or a package folder inside the same folder.
    fn find_existing(
        &self,
        link_id: &str,
        package_id: Option<&str>,
        dst: &Destination,
    ) -> Option<Arc<Download>> {
        self.find_matching(link_id, package_id, dst, |_| true)
    }

    /// The latest download as [`Engine::find_existing`] finds them, among those `also`
    /// accepts.
    fn find_matching(
        &self,
        link_id: &str,
        package_id: Option<&str>,
        dst: &Destination,
        also: impl Fn(&Arc<Download>) -> bool,
    ) -> Option<Arc<Download>> {
        lock(&self.shared.downloads)
            .iter()
            .rev()
            .filter(|d| also(d))
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
                    && match (&d.source(), package_id) {
                        (Source::Link { link, .. }, None) => link.id == link_id,
                        (Source::Team { .. }, Some(p)) => d.package_id == p,
                        _ => false,
                    }
            })
            .cloned()
    }
}

/// How a link is added, beyond its URL and folder.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    pub password: Option<Secret>,
    /// The files to download (every file by default).
    pub selection: Selection,
    /// Kept as a download waiting for the network when MASV cannot be reached, instead
    /// of refused (see `Engine::add_or_wait`).
    pub wait_if_unreachable: bool,
    /// Higher starts first (see `Engine::set_priority`); 0 by default.
    pub priority: i64,
    /// Who the files are given to when the package completes (checked now).
    pub owner: Option<crate::model::Owner>,
    /// What to do when the package is already a download.
    pub if_downloaded: IfDownloaded,
    /// Refuse the package whole, writing nothing, when MASV's virus scan flagged one of
    /// its files (by default its clean files are downloaded and the flagged ones
    /// withheld). The package's files must be seen first: MASV out of reach is then an
    /// error, not a download waiting for it.
    pub refuse_flagged: bool,
    /// Bytes asked of storage per range (the MASV Agent's `chunk_size`), brought within
    /// [`CHUNK_BOUNDS`]; by default Inbound sizes ranges itself.
    pub chunk_size: Option<u64>,
}

/// The range sizes a download may ask for: below, a request costs more than it
/// carries; above, a dropped connection costs too much again.
pub const CHUNK_BOUNDS: std::ops::RangeInclusive<u64> = 256 * 1024..=1024 * 1024 * 1024;

fn bounded_chunk(bytes: u64) -> u64 {
    bytes.clamp(*CHUNK_BOUNDS.start(), *CHUNK_BOUNDS.end())
}

/// What adding a package that is already a download does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IfDownloaded {
    /// The same link into the same place again: the download it already is (resumed
    /// if it had stopped), or, once complete, checked again in its folder and only what
    /// differs fetched (a repair). Elsewhere, a download of its own. What scripts
    /// expect: adding a link twice is harmless.
    #[default]
    Reuse,
    /// Refused with [`EngineError::DownloadedBefore`] when this link or this package
    /// (by another link) is already a download anywhere, for a person to choose; only
    /// the same link into the same place while it is still under way is that download.
    Ask,
    /// A new download into a folder of its own, whatever is there already.
    Copy,
}

/// The package is already `existing`: said so, for a person to choose.
fn downloaded_before(existing: &Download) -> EngineError {
    EngineError::DownloadedBefore {
        id: existing.id.clone(),
        name: existing.name.clone(),
        folder: existing.dst.clone(),
        complete: existing.state() == DownloadState::Complete,
    }
}

/// What a person chose about a link beyond where it goes.
pub(super) struct Choice {
    pub selection: Selection,
    pub priority: i64,
    /// See `LinkOptions::refuse_flagged`.
    pub refuse_flagged: bool,
    /// See `LinkOptions::chunk_size` (already bounded).
    pub chunk_size: Option<u64>,
}
