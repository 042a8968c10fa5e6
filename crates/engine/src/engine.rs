//! The public face of the engine: add, pause, resume, retry, delete, list, events.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_masv::{FileKind, LinkRef, MasvClient, Secret};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bandwidth::Bandwidth;
use crate::config::EngineConfig;
use crate::download::{Download, RunHandle, lock};
use crate::error::EngineError;
use crate::fsutil::{DataDirLock, restrict_to_user};
use crate::model::{
    DownloadDetail, DownloadId, DownloadState, DownloadSummary, Event, FileState, Origin,
};
use crate::paths::{PathPlanner, collision_key};
use crate::progress::Meter;
use crate::removal::remove_written_files;
use crate::runner::{self, RunEnd};
use crate::session::{RetryPolicy, Session};
use crate::source::{Source, TeamDownload};
use crate::store::{DownloadRow, FileMeta, FileRow, Store};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
const EVENT_CAPACITY: usize = 4096;

/// Held while one package is being added to one folder.
type AddGate = Arc<tokio::sync::Mutex<()>>;

/// State shared by the engine handle and every running download.
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub store: Store,
    pub client: MasvClient,
    /// Link ids served by another MASV API than `client`'s (the desktop's demo
    /// simulator), with the client to use for them.
    routes: HashMap<String, MasvClient>,
    /// For storage: no overall timeout (stalls are detected per read instead).
    pub http: reqwest::Client,
    pub bandwidth: Bandwidth,
    pub connections: Arc<Semaphore>,
    connections_per_download: AtomicUsize,
    max_active: AtomicUsize,
    downloads: Mutex<Vec<Arc<Download>>>,
    /// Per (package, folder): held while an add runs.
    adding: Mutex<HashMap<(String, PathBuf), AddGate>>,
    /// Held while a new download plans its paths and joins the list, so two adds
    /// never pick the same names.
    planning: Mutex<()>,
    /// Held while the scheduler counts and starts runs, so concurrent calls never
    /// start more than the limit.
    scheduling: Mutex<()>,
    events: broadcast::Sender<Event>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    next_run: AtomicU64,
    /// The runtime the engine was opened on; its tasks run there.
    runtime: tokio::runtime::Handle,
    _lock: DataDirLock,
}

impl Shared {
    pub fn emit(&self, e: Event) {
        // No subscriber is fine: events are a view, not the record.
        let _ = self.events.send(e);
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.config.retry_base_delay,
            max: self.config.retry_max_delay,
            attempts: self.config.max_retries,
        }
    }

    /// The MASV client for a link: its route if one is set, else the default.
    pub fn client_for(&self, link_id: &str) -> MasvClient {
        self.routes.get(link_id).unwrap_or(&self.client).clone()
    }

    pub fn connections_per_download(&self) -> usize {
        self.connections_per_download.load(Relaxed).max(1)
    }
}

/// The download manager. Cheap to clone; all clones drive the same engine.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    /// Opens the engine on its data folder. Fails with
    /// [`EngineError::AlreadyRunning`] if another engine holds the folder.
    pub async fn open(config: EngineConfig) -> Result<Self, EngineError> {
        let dir_lock = DataDirLock::acquire(&config.data_dir)?;
        let db_path = config.db_path();
        let store = Store::open(&db_path).map_err(EngineError::db(&db_path))?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db_path.clone().into_os_string();
            p.push(suffix);
            let _ = restrict_to_user(Path::new(&p), 0o600);
        }
        let client = MasvClient::new(config.api_url.clone())?;
        let mut routes = HashMap::new();
        for (link_id, api_url) in &config.link_routes {
            routes.insert(link_id.clone(), MasvClient::new(api_url.clone())?);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("Inbound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::Masv(inbound_masv::MasvError::from_reqwest(e)))?;
        let rows = store.load_all().map_err(EngineError::db(&db_path))?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shared = Arc::new(Shared {
            connections: Arc::new(Semaphore::new(config.max_connections.max(1))),
            connections_per_download: AtomicUsize::new(config.connections_per_download),
            max_active: AtomicUsize::new(config.max_active_downloads),
            bandwidth: Bandwidth::new(config.bandwidth_limit),
            store,
            routes,
            client,
            http,
            downloads: Mutex::new(Vec::new()),
            adding: Mutex::new(HashMap::new()),
            planning: Mutex::new(()),
            scheduling: Mutex::new(()),
            events,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            next_run: AtomicU64::new(1),
            runtime: tokio::runtime::Handle::current(),
            _lock: dir_lock,
            config,
        });
        {
            let mut list = lock(&shared.downloads);
            for (row, files) in rows {
                let Some(source) = stored_source(&row) else {
                    tracing::warn!(id = %row.id, "skipping a stored download with an unreadable source");
                    continue;
                };
                let dl = Download::from_rows(row, files, source);
                {
                    let mut s = dl.status();
                    if s.state.is_active() {
                        // Unfinished when the last process stopped. Without auto-resume
                        // it waits, paused in memory only, so the next full start still
                        // resumes it.
                        s.state = if shared.config.auto_resume {
                            DownloadState::Queued
                        } else {
                            DownloadState::Paused
                        };
                    }
                }
                list.push(Arc::new(dl));
            }
        }
        let engine = Self { shared };
        engine.spawn_progress_ticker();
        engine.schedule();
        Ok(engine)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Adds a package by link. The link is checked now, so a bad, expired or
    /// password-protected link fails here and nothing is written. Adding the same link
    /// to the same folder again returns the existing download (resuming it if it was
    /// paused or failed).
    pub async fn add(
        &self,
        url: &str,
        dst_folder: &Path,
        password: Option<Secret>,
    ) -> Result<DownloadId, EngineError> {
        let link = LinkRef::parse(url)?;
        if !dst_folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst_folder.to_owned()));
        }
        let _adding = self.adding(&format!("link:{}", link.id), dst_folder).await;
        if let Some(existing) = self.find_existing(&link.id, None, dst_folder) {
            return self.revive(&existing);
        }
        let (session, info) = Session::open(
            self.shared.client_for(&link.id),
            link.clone(),
            password.clone(),
            self.shared.retry_policy(),
        )
        .await?;
        let name = if info.name.is_empty() {
            format!("Package {}", info.package_id)
        } else {
            info.name.clone()
        };
        let new = NewDownload {
            package_id: info.package_id.clone(),
            name,
            sender_email: info.sender_email.clone(),
            source: Source::Link { link, password },
        };
        self.insert(new, session, dst_folder).await
    }

    /// Adds a team or portal package with the access token its listing gave, no link
    /// needed. Adding the same package to the same folder again returns the existing
    /// download, with the fresher token (resuming it if it was paused or failed).
    pub async fn add_team_package(
        &self,
        package: TeamDownload,
        dst_folder: &Path,
    ) -> Result<DownloadId, EngineError> {
        if !dst_folder.is_absolute() {
            return Err(EngineError::RelativeDestination(dst_folder.to_owned()));
        }
        let _adding = self
            .adding(&format!("package:{}", package.package_id), dst_folder)
            .await;
        if let Some(existing) = self.find_existing("", Some(&package.package_id), dst_folder) {
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
            name: if package.name.is_empty() {
                format!("Package {}", package.package_id)
            } else {
                package.name
            },
            package_id: package.package_id,
            sender_email: package.sender_email,
            source,
        };
        self.insert(new, session, dst_folder).await
    }

    /// One add at a time per package and folder, so a link arriving twice at once
    /// (a deep link seen by two handlers, a script retrying) makes one download.
    async fn adding(&self, key: &str, dst: &Path) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = lock(&self.shared.adding)
            .entry((key.to_owned(), dst.to_owned()))
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
        dst_folder: &Path,
    ) -> Result<DownloadId, EngineError> {
        let listing = session.list_files().await?;
        std::fs::create_dir_all(dst_folder).map_err(|source| EngineError::Destination {
            path: dst_folder.to_owned(),
            source,
        })?;
        let dst_dev = std::fs::metadata(dst_folder)
            .ok()
            .map(|m| crate::identity::FileId::of(&m).dev);
        // From here to joining the list, no other add may plan: the names this one
        // picks are reserved for it from the moment they are chosen.
        let planning = lock(&self.shared.planning);
        let mut planner = PathPlanner::with_reserved(
            dst_folder,
            self.shared.config.name_rules,
            self.reserved_paths(),
        );
        let files: Vec<FileRow> = listing
            .iter()
            .enumerate()
            .map(|(idx, f)| {
                let state = if f.virus_detected {
                    FileState::VirusWithheld
                } else if f.kind != FileKind::File && !self.shared.config.include_zips {
                    FileState::Skipped
                } else {
                    FileState::Pending
                };
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
                        size: f.size,
                        mtime: f.last_modified.map(|t| t.timestamp()),
                        virus: f.virus_detected,
                    },
                    state,
                    error: None,
                    ranges: Vec::new(),
                    part: None,
                    etag: None,
                    written: None,
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
            created_at: chrono::Utc::now().timestamp(),
            completed_at: None,
            access_token,
            origin,
            dst_dev,
        };
        let db = self.shared.store.path().to_owned();
        self.shared
            .store
            .insert_download(&row, &files)
            .map_err(EngineError::db(&db))?;
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

    /// Every file path (final and part name) a known download holds, as
    /// [`crate::paths::collision_key`]s.
    fn reserved_paths(&self) -> std::collections::HashSet<String> {
        let mut reserved = std::collections::HashSet::new();
        for d in lock(&self.shared.downloads).iter() {
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

    /// The download of this link (or, with `package_id`, this team package) into `dst`.
    fn find_existing(
        &self,
        link_id: &str,
        package_id: Option<&str>,
        dst: &Path,
    ) -> Option<Arc<Download>> {
        lock(&self.shared.downloads)
            .iter()
            .rev()
            .find(|d| {
                d.dst == dst
                    && match (&*lock(&d.source), package_id) {
                        (Source::Link { link, .. }, None) => link.id == link_id,
                        (Source::Team { .. }, Some(p)) => d.package_id == p,
                        _ => false,
                    }
            })
            .cloned()
    }

    fn find(&self, id: &str) -> Result<Arc<Download>, EngineError> {
        lock(&self.shared.downloads)
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| EngineError::UnknownDownload(id.to_owned()))
    }

    pub fn list(&self) -> Vec<DownloadSummary> {
        lock(&self.shared.downloads)
            .iter()
            .map(|d| d.summary())
            .collect()
    }

    pub fn get(&self, id: &str) -> Result<DownloadDetail, EngineError> {
        Ok(self.find(id)?.detail())
    }

    /// Stops transferring; bytes already received are kept. Returns once the running
    /// connections have stopped and their progress is saved.
    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        let run = {
            let mut s = dl.status();
            if !s.state.is_active() {
                return Ok(());
            }
            s.state = DownloadState::Paused;
            s.run.take()
        };
        self.persist_state(&dl, DownloadState::Paused, None, None);
        stop_run(run).await;
        self.schedule();
        Ok(())
    }

    /// Continues a paused download (or retries a failed one).
    pub fn resume(&self, id: &str) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        {
            let mut s = dl.status();
            if s.deleted {
                return Err(EngineError::UnknownDownload(id.to_owned()));
            }
            if !matches!(s.state, DownloadState::Paused | DownloadState::Error) {
                return Ok(());
            }
            s.state = DownloadState::Queued;
            s.error = None;
        }
        self.persist_state(&dl, DownloadState::Queued, None, None);
        self.schedule();
        Ok(())
    }

    /// Tries a failed download again from where it stopped.
    pub fn retry(&self, id: &str) -> Result<(), EngineError> {
        self.resume(id)
    }

    /// Forgets a download. With `remove_files`, deletes what this download wrote (its
    /// files, part files and the folders it created, if empty) and nothing else.
    pub async fn delete(&self, id: &str, remove_files: bool) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        let run = {
            let mut s = dl.status();
            if s.deleted {
                return Err(EngineError::UnknownDownload(id.to_owned()));
            }
            // From now on nothing starts it again (a resume racing with this delete).
            s.deleted = true;
            s.run.take()
        };
        lock(&self.shared.downloads).retain(|d| d.id != dl.id);
        stop_run(run).await;
        self.shared.emit(Event::Removed { id: dl.id.clone() });
        self.schedule();
        // Files first, the record after: a crash in between leaves the record, so the
        // rest can still be removed.
        let failures = if remove_files {
            let created_dirs = self.shared.store.created_dirs(&dl.id).unwrap_or_default();
            remove_written_files(&dl, created_dirs)
        } else {
            Vec::new()
        };
        let db = self.shared.store.path().to_owned();
        self.shared
            .store
            .delete(&dl.id)
            .map_err(EngineError::db(&db))?;
        tracing::info!(id = %dl.id, remove_files, "download deleted");
        if failures.is_empty() {
            Ok(())
        } else {
            Err(EngineError::RemoveFiles(failures.join("; ")))
        }
    }

    pub fn set_bandwidth_limit(&self, bytes_per_sec: Option<u64>) {
        self.shared.bandwidth.set(bytes_per_sec);
    }

    pub fn bandwidth_limit(&self) -> Option<u64> {
        self.shared.bandwidth.limit()
    }

    pub fn set_max_active_downloads(&self, n: usize) {
        self.shared.max_active.store(n.max(1), Relaxed);
        self.schedule();
    }

    /// Applies to runs that start after the change.
    pub fn set_connections_per_download(&self, n: usize) {
        self.shared
            .connections_per_download
            .store(n.max(1), Relaxed);
    }

    /// Stops every transfer, saving progress; unfinished downloads resume on the next
    /// open. Returns when all connections are closed.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }

    /// Starts queued downloads while there are free slots.
    fn schedule(&self) {
        if self.shared.shutdown.is_cancelled() {
            return;
        }
        let _scheduling = lock(&self.shared.scheduling);
        let list = lock(&self.shared.downloads).clone();
        let max = self.shared.max_active.load(Relaxed).max(1);
        let mut running = list.iter().filter(|d| d.status().run.is_some()).count();
        for dl in list {
            if running >= max {
                break;
            }
            let mut s = dl.status();
            if s.state != DownloadState::Queued || s.run.is_some() || s.deleted {
                continue;
            }
            s.state = DownloadState::Transferring;
            let run_id = self.shared.next_run.fetch_add(1, Relaxed);
            let cancel = self.shared.shutdown.child_token();
            let engine = self.clone();
            let (dl2, cancel2) = (dl.clone(), cancel.clone());
            // On the engine's runtime: resume() and retry() may be called from a thread
            // outside it (a UI's main thread).
            let join = self.shared.tasks.spawn_on(
                async move {
                    let end = runner::run(engine.shared.clone(), dl2.clone(), cancel2).await;
                    engine.finish_run(&dl2, run_id, end);
                },
                &self.shared.runtime,
            );
            s.run = Some(RunHandle {
                run_id,
                cancel,
                join: Some(join),
            });
            drop(s);
            running += 1;
            self.persist_state(&dl, DownloadState::Transferring, None, None);
        }
    }

    fn finish_run(&self, dl: &Arc<Download>, run_id: u64, end: RunEnd) {
        let outcome = {
            let mut s = dl.status();
            if s.run.as_ref().is_some_and(|r| r.run_id == run_id) {
                s.run = None;
            }
            if s.state != DownloadState::Transferring
                || s.deleted
                || self.shared.shutdown.is_cancelled()
            {
                None
            } else {
                match end {
                    RunEnd::Cancelled => None,
                    RunEnd::Complete => {
                        let now = chrono::Utc::now().timestamp();
                        s.state = DownloadState::Complete;
                        s.error = None;
                        s.completed_at = Some(now);
                        Some((DownloadState::Complete, None, Some(now)))
                    }
                    RunEnd::Failed(msg) => {
                        s.state = DownloadState::Error;
                        s.error = Some(msg.clone());
                        Some((DownloadState::Error, Some(msg), None))
                    }
                }
            }
        };
        if let Some((state, error, completed_at)) = outcome {
            tracing::info!(id = %dl.id, state = state.as_str(), "download finished");
            self.persist_state(dl, state, error, completed_at);
        }
        self.schedule();
    }

    fn persist_state(
        &self,
        dl: &Download,
        state: DownloadState,
        error: Option<String>,
        completed_at: Option<i64>,
    ) {
        if let Err(e) = self
            .shared
            .store
            .set_state(&dl.id, state, error.as_deref(), completed_at)
        {
            tracing::error!(id = %dl.id, error = %e, "could not save a download's state");
        }
        self.shared.emit(Event::StateChanged {
            id: dl.id.clone(),
            state,
            error,
        });
    }

    fn spawn_progress_ticker(&self) {
        let weak = Arc::downgrade(&self.shared);
        let shutdown = self.shared.shutdown.clone();
        tokio::spawn(async move {
            let mut meters: HashMap<String, Meter> = HashMap::new();
            let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Some(shared) = weak.upgrade() else { break };
                let running: Vec<_> = lock(&shared.downloads)
                    .iter()
                    .filter(|d| d.status().run.is_some())
                    .cloned()
                    .collect();
                meters.retain(|id, _| running.iter().any(|d| &d.id == id));
                let now = Instant::now();
                let downloads: Vec<_> = running
                    .iter()
                    .filter_map(|d| meters.entry(d.id.clone()).or_default().sample(d, now))
                    .collect();
                if !downloads.is_empty() {
                    shared.emit(Event::Progress { downloads });
                }
            }
        });
    }
}

async fn stop_run(run: Option<RunHandle>) {
    if let Some(mut run) = run {
        run.cancel.cancel();
        if let Some(join) = run.join.take() {
            let _ = join.await;
        }
    }
}

/// What a new download is, before its files are listed.
struct NewDownload {
    package_id: String,
    name: String,
    sender_email: String,
    source: Source,
}

/// A stored download's source: its access token for a team package, else its link.
fn stored_source(row: &DownloadRow) -> Option<Source> {
    match &row.access_token {
        Some(token) => Some(Source::Team {
            token: Secret::new(token.clone()),
            origin: row
                .origin
                .as_deref()
                .and_then(|o| serde_json::from_str::<Origin>(o).ok())
                .unwrap_or(Origin::Link),
        }),
        None => LinkRef::parse(&row.link_url).ok().map(|link| Source::Link {
            link,
            password: row.password.clone().map(Secret::new),
        }),
    }
}
