//! The public face of the engine: add, pause, resume, retry, delete, list, events.

pub(crate) mod awake;
pub(crate) mod netwatch;
pub(crate) mod placement;
pub(crate) mod removal;
pub(crate) mod reverify;
pub(crate) mod url_schemes;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_masv::{LinkRef, MasvClient, Secret};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::EngineConfig;
use crate::download::progress::ProgressMeter;
use crate::download::session::RetryPolicy;
use crate::download::{Download, ledger};
use crate::error::EngineError;
use crate::model::source::Source;
use crate::model::{DownloadDetail, DownloadState, DownloadSummary, Event, Origin};
use crate::store::{DownloadRow, Store};
use crate::sync::lock;
use crate::transfer::bandwidth::Bandwidth;
use crate::transfer::fsutil::restrict_to_user;
use data_dir::DataDirLock;

mod adding;
mod again;
mod choosing;
#[cfg(test)]
mod cut_short;
mod data_dir;
mod expiring;
mod hooks;
mod planning;
mod preview;
mod queue;
#[cfg(test)]
mod races;
mod ranking;
#[cfg(test)]
mod recorded_races;
mod timetable;
mod unlisted;
mod verifying;

/// The key the kept count of downloads at once is saved under.
const MAX_ACTIVE_SETTING: &str = "max_active_downloads";

pub use adding::{CHUNK_BOUNDS, IfDownloaded, LinkOptions};
pub use choosing::FilesChanged;
pub use preview::{ListedFile, PackageListing, PackagePreview};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
const EVENT_CAPACITY: usize = 4096;
/// Failures in a row before MASV counts as out of reach (about 2 to 7 s by default).
pub(crate) const QUICK_ATTEMPTS: u32 = 3;

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
    pub storage: crate::transfer::storage_client::StorageClient,
    /// The limit in force now (the schedule's, or the global one).
    pub bandwidth: Bandwidth,
    /// The bandwidth schedule and the global limit.
    timetable: timetable::Timetable,
    /// What runs after each package completes.
    after_download: Mutex<crate::hooks::AfterDownload>,
    pub connections: Arc<Semaphore>,
    connections_per_download: AtomicUsize,
    adaptive_connections: std::sync::atomic::AtomicBool,
    /// Storage hosts that said "too many connections" this session, with their count.
    pub host_ceilings: crate::run::scale::HostCeilings,
    max_active: AtomicUsize,
    /// Files that start hashing from now on use this (the config's, until changed).
    hash_algorithm: Mutex<inbound_mhl::HashAlgorithm>,
    downloads: Mutex<Vec<Arc<Download>>>,
    /// Per (package, folder): held while an add runs.
    adding: Mutex<HashMap<(String, crate::engine::placement::Destination), AddGate>>,
    /// Held while a new download plans its paths and joins the list, so two adds
    /// never pick the same names.
    planning: Mutex<()>,
    /// Held while the scheduler counts and starts runs, so concurrent calls never
    /// start more than the limit.
    scheduling: Mutex<()>,
    /// Held while a package's ASC MHL generation is written.
    pub sealing: Mutex<()>,
    /// Told when a transfer gets through to storage: downloads waiting for the network
    /// try again at once instead of at the end of their pause.
    pub network_back: tokio::sync::Notify,
    /// Keeps the machine awake while anything transfers.
    pub awake: crate::engine::awake::Awake,
    events: broadcast::Sender<Event>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    next_run: AtomicU64,
    /// The runtime the engine was opened on; its tasks run there.
    runtime: tokio::runtime::Handle,
    /// Where a unit test holds a thread to force one interleaving of concurrent calls.
    #[cfg(test)]
    seam: Mutex<Option<races::Seam>>,
    _lock: DataDirLock,
}

impl Shared {
    pub fn emit(&self, e: Event) {
        // No subscriber is fine: events are a view, not the record.
        let _ = self.events.send(e);
    }

    /// A few quick tries, for calls a longer outage is waited out around (a download
    /// waits for the network as a whole; an add says at once that MASV is out of reach).
    pub fn quick_retry_policy(&self) -> RetryPolicy {
        let policy = self.retry_policy();
        RetryPolicy {
            attempts: policy.attempts.min(QUICK_ATTEMPTS),
            ..policy
        }
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

    /// Whether downloads find their connection count (up to `connections_per_download`).
    pub fn adaptive_connections(&self) -> bool {
        self.adaptive_connections.load(Relaxed)
    }

    /// A point where a unit test may hold this thread (see `races`); nothing outside
    /// tests.
    pub fn seam(&self, _point: &'static str) {
        #[cfg(test)]
        {
            // Not held while the hook waits: other calls pass their own seams meanwhile.
            let hold = lock(&self.seam).clone();
            if let Some(hold) = hold {
                hold(_point);
            }
        }
    }

    /// Bytes the other running downloads on `device` still have to write: space the
    /// drive's free space already owes them (part files are sparse).
    pub fn remaining_of_others_on(&self, dl: &Download, device: Option<u64>) -> u64 {
        let Some(device) = device else {
            return 0;
        };
        // Copied out: each folder is looked at on disk, not while the list is locked.
        let running: Vec<Arc<Download>> = lock(&self.downloads)
            .iter()
            .filter(|d| d.id != dl.id && d.status().run.is_some())
            .cloned()
            .collect();
        running
            .iter()
            .filter(|d| crate::transfer::identity::FileId::device_of(&d.dst) == Some(device))
            .map(|d| d.bytes_remaining())
            .sum()
    }

    /// Marks a transferring download as waiting for the network (or not any more),
    /// telling subscribers when that changes.
    pub fn set_waiting(&self, dl: &Download, waiting: Option<crate::model::Waiting>) {
        let changed = {
            let mut s = dl.status();
            let changed = s.waiting != waiting;
            s.waiting = waiting.clone();
            changed
        };
        if changed {
            self.emit(Event::Waiting {
                id: dl.id.clone(),
                waiting,
            });
        }
    }

    pub fn hash_algorithm(&self) -> inbound_mhl::HashAlgorithm {
        *lock(&self.hash_algorithm)
    }
}

/// A run sees the engine only through this.
impl crate::download::ledger::Journal for Shared {
    fn store(&self) -> &Store {
        &self.store
    }
    fn emit(&self, e: Event) {
        Shared::emit(self, e);
    }
}

impl crate::run::RunServices for Shared {
    fn config(&self) -> &EngineConfig {
        &self.config
    }
    fn client_for(&self, link_id: &str) -> MasvClient {
        Shared::client_for(self, link_id)
    }
    fn storage(&self) -> &crate::transfer::storage_client::StorageClient {
        &self.storage
    }
    fn bandwidth(&self) -> &Bandwidth {
        &self.bandwidth
    }
    fn connections(&self) -> &Arc<Semaphore> {
        &self.connections
    }
    fn connections_per_download(&self) -> usize {
        Shared::connections_per_download(self)
    }
    fn adaptive_connections(&self) -> bool {
        Shared::adaptive_connections(self)
    }
    fn host_ceilings(&self) -> &crate::run::scale::HostCeilings {
        &self.host_ceilings
    }
    fn hash_algorithm(&self) -> inbound_mhl::HashAlgorithm {
        Shared::hash_algorithm(self)
    }
    fn sealing(&self) -> &Mutex<()> {
        &self.sealing
    }
    fn network_back(&self) -> &tokio::sync::Notify {
        &self.network_back
    }
    fn quick_retry_policy(&self) -> RetryPolicy {
        Shared::quick_retry_policy(self)
    }
    fn retry_policy(&self) -> RetryPolicy {
        Shared::retry_policy(self)
    }
    fn set_waiting(&self, dl: &Download, waiting: Option<crate::model::Waiting>) {
        Shared::set_waiting(self, dl, waiting);
    }
    fn remaining_of_others_on(&self, dl: &Download, device: Option<u64>) -> u64 {
        Shared::remaining_of_others_on(self, dl, device)
    }
    fn seam(&self, point: &'static str) {
        Shared::seam(self, point);
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
        let storage = crate::transfer::storage_client::StorageClient::from_env()?;
        let rows = store.load_all().map_err(EngineError::db(&db_path))?;
        let owners: HashMap<String, crate::model::Owner> = store
            .download_owners()
            .map_err(EngineError::db(&db_path))?
            .into_iter()
            .collect();
        let limits: HashMap<String, u64> = store
            .download_limits()
            .map_err(EngineError::db(&db_path))?
            .into_iter()
            .collect();
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shared = Arc::new(Shared {
            connections: Arc::new(Semaphore::new(config.max_connections.max(1))),
            connections_per_download: AtomicUsize::new(config.connections_per_download),
            adaptive_connections: std::sync::atomic::AtomicBool::new(config.adaptive_connections),
            host_ceilings: Default::default(),
            max_active: AtomicUsize::new(
                config
                    .max_active_from_saved
                    .then(|| store.json_setting::<usize>(MAX_ACTIVE_SETTING))
                    .flatten()
                    .unwrap_or(config.max_active_downloads)
                    .max(1),
            ),
            hash_algorithm: Mutex::new(config.hash_algorithm),
            bandwidth: Bandwidth::new(config.bandwidth_limit),
            timetable: timetable::Timetable::load(&config, &store),
            after_download: Mutex::new(hooks::load(&config, &store)),
            store,
            routes,
            client,
            storage,
            downloads: Mutex::new(Vec::new()),
            adding: Mutex::new(HashMap::new()),
            planning: Mutex::new(()),
            scheduling: Mutex::new(()),
            sealing: Mutex::new(()),
            network_back: tokio::sync::Notify::new(),
            awake: crate::engine::awake::Awake::new(config.keep_awake),
            events,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            next_run: AtomicU64::new(1),
            runtime: tokio::runtime::Handle::current(),
            #[cfg(test)]
            seam: Mutex::new(None),
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
                let (limit, owner) = (limits.get(&row.id).copied(), owners.get(&row.id).copied());
                let dl = Download::from_rows(row, files, source).with_settings(limit, owner);
                {
                    let mut s = dl.status();
                    if s.state().is_active() {
                        // Unfinished when the last process stopped. Without auto-resume
                        // it waits, paused in memory only, so the next full start still
                        // resumes it.
                        let state = if shared.config.auto_resume {
                            DownloadState::Queued
                        } else {
                            DownloadState::Paused
                        };
                        let error = s.error().map(str::to_owned);
                        ledger::show_state(&mut s, state, error);
                    } else if s.state() == DownloadState::Error
                        && shared.config.auto_resume
                        && s.error()
                            .is_some_and(inbound_masv::MasvError::is_transient_message)
                    {
                        // An older version gave up on the network; this one waits it
                        // out, so such a download simply goes on.
                        tracing::info!(id = %dl.id, "retrying a download that failed for a network cause");
                        ledger::show_state(&mut s, DownloadState::Queued, None);
                    }
                }
                list.push(Arc::new(dl));
            }
        }
        let engine = Self { shared };
        engine.spawn_progress_ticker();
        engine.spawn_timetable();
        engine.spawn_expiry_watch();
        tokio::spawn(crate::engine::netwatch::watch(
            Arc::downgrade(&engine.shared),
            engine.shared.shutdown.clone(),
        ));
        engine.schedule();
        Ok(engine)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    pub(super) fn find(&self, id: &str) -> Result<Arc<Download>, EngineError> {
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

    /// The downloads with a file whose path in the package contains `query`, in any
    /// case: a search of every file without sending every file list to a UI.
    pub fn downloads_with_file(&self, query: &str) -> Vec<crate::model::DownloadId> {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        lock(&self.shared.downloads)
            .iter()
            .filter(|d| {
                d.files
                    .iter()
                    .any(|f| f.meta.package_path.to_lowercase().contains(&query))
            })
            .map(|d| d.id.clone())
            .collect()
    }

    pub fn get(&self, id: &str) -> Result<DownloadDetail, EngineError> {
        Ok(self.find(id)?.detail())
    }

    pub fn set_max_active_downloads(&self, n: usize) {
        self.shared.max_active.store(n.max(1), Relaxed);
        self.schedule();
    }

    /// How many downloads transfer at once.
    pub fn max_active_downloads(&self) -> usize {
        self.shared.max_active.load(Relaxed)
    }

    /// Sets how many downloads transfer at once and keeps it with the downloads, for the
    /// next process on this data folder that does not say otherwise (the agent's FIFO
    /// mode).
    pub fn keep_max_active_downloads(&self, n: usize) -> Result<(), EngineError> {
        self.shared
            .store
            .save_setting(MAX_ACTIVE_SETTING, &n.max(1))?;
        self.set_max_active_downloads(n);
        Ok(())
    }

    /// Applies to files that start hashing after the change; a package that completes
    /// with files hashed both ways has the others hashed again, so its manifest uses one.
    pub fn set_hash_algorithm(&self, algorithm: inbound_mhl::HashAlgorithm) {
        *lock(&self.shared.hash_algorithm) = algorithm;
    }

    /// Off lets the machine sleep even while packages transfer.
    pub fn set_keep_awake(&self, on: bool) {
        self.shared.awake.set_enabled(on);
    }

    /// Applies to runs that start after the change.
    pub fn set_connections_per_download(&self, n: usize) {
        self.shared
            .connections_per_download
            .store(n.max(1), Relaxed);
    }

    /// Whether runs from now on find their own connection count (up to the count set
    /// above) instead of using exactly that many.
    pub fn set_adaptive_connections(&self, adaptive: bool) {
        self.shared.adaptive_connections.store(adaptive, Relaxed);
    }

    /// Stops every transfer, saving progress; unfinished downloads resume on the next
    /// open. Returns when all connections are closed.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        self.shared.awake.set_busy(false);
    }

    fn spawn_progress_ticker(&self) {
        let mut meters: HashMap<String, ProgressMeter> = HashMap::new();
        self.spawn_every(PROGRESS_INTERVAL, move |shared| {
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
        });
    }

    /// Runs `tick` at once and then every `every` while the engine is open (ticks that
    /// fall behind are skipped). Tracked, so shutdown waits for it (see
    /// `spawn_timetable`).
    pub(super) fn spawn_every(
        &self,
        every: std::time::Duration,
        mut tick: impl FnMut(&Arc<Shared>) + Send + 'static,
    ) {
        let weak = Arc::downgrade(&self.shared);
        let shutdown = self.shared.shutdown.clone();
        self.shared.tasks.spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = interval.tick() => {}
                }
                let Some(shared) = weak.upgrade() else { break };
                tick(&shared);
            }
        });
    }
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
