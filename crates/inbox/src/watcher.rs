//! Watched portals: polls each one politely and hands every newly finalized package to
//! the engine, once. Packages still uploading have their progress followed and are
//! downloaded when they finalize.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_engine::{Destination, Engine, Origin};
use inbound_masv::{MasvError, PackageState, PubNubConfig, TeamPackage, UploadProgress};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::ledger::Ledger;
use crate::{InboxError, TeamApi, to_download, watch_upload};

/// A portal whose new packages download by themselves into `folder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WatchedPortal {
    pub portal_id: String,
    pub portal_name: String,
    #[ts(type = "string")]
    pub folder: PathBuf,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct WatcherConfig {
    /// Between two polls of the watched portals.
    pub interval: Duration,
    /// Most a failing poll waits before the next.
    pub max_backoff: Duration,
    pub pubnub: PubNubConfig,
    /// Each package into a folder of its own inside the portal's folder, so packages
    /// arriving unattended never mix their files or their ASC MHL histories.
    pub package_folders: bool,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            max_backoff: Duration::from_secs(15 * 60),
            pubnub: PubNubConfig::from_env(),
            package_folders: true,
        }
    }
}

/// What the watcher tells its face (the desktop's inbox view, the CLI).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WatcherEvent {
    /// A package still being sent reported progress.
    Upload {
        package_id: String,
        /// 0.0 to 1.0.
        fraction: f64,
        #[ts(type = "number | null")]
        bytes: Option<u64>,
        #[ts(type = "number | null")]
        total: Option<u64>,
    },
    /// A watched portal's package was handed to the engine.
    Downloading {
        package_id: String,
        portal_id: String,
        download_id: String,
    },
    /// A poll failed; the watcher waits and tries again.
    PollFailed { message: String },
}

struct Inner {
    api: TeamApi,
    engine: Engine,
    ledger: Ledger,
    config: WatcherConfig,
    events: broadcast::Sender<WatcherEvent>,
    /// Packages whose upload is being followed now.
    following: Mutex<HashSet<String>>,
    cancel: CancellationToken,
    wake: tokio::sync::Notify,
}

/// Cheap to clone; [`Watcher::stop`] ends every clone's work.
#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

impl Watcher {
    /// Opens the ledger in `data_dir`; call [`Watcher::run`] to start polling.
    pub fn open(
        api: TeamApi,
        engine: Engine,
        data_dir: &Path,
        config: WatcherConfig,
    ) -> Result<Self, InboxError> {
        let (events, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                engine,
                ledger: Ledger::open(data_dir)?,
                config,
                events,
                following: Mutex::new(HashSet::new()),
                cancel: CancellationToken::new(),
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WatcherEvent> {
        self.inner.events.subscribe()
    }

    pub fn portals(&self) -> Result<Vec<WatchedPortal>, InboxError> {
        self.inner.ledger.portals()
    }

    /// Watches a portal (or changes its folder or on/off); polls soon after.
    pub fn set_portal(&self, portal: &WatchedPortal) -> Result<(), InboxError> {
        self.inner.ledger.set_portal(portal)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    pub fn remove_portal(&self, portal_id: &str) -> Result<(), InboxError> {
        self.inner.ledger.remove_portal(portal_id)
    }

    /// Polls until [`Watcher::stop`]: every interval (with jitter), longer after
    /// failures (doubling, or what a 429 asks for).
    pub async fn run(&self) {
        let cfg = &self.inner.config;
        let mut backoff = cfg.interval;
        loop {
            let wait = match self.poll_once().await {
                Ok(_) => {
                    backoff = cfg.interval;
                    jitter(cfg.interval)
                }
                Err(e) => {
                    let asked = match &e {
                        InboxError::Masv(MasvError::RateLimited { retry_after }) => *retry_after,
                        _ => None,
                    };
                    backoff = (backoff * 2).min(cfg.max_backoff);
                    let wait = asked.map_or(backoff, |a| a.max(backoff));
                    tracing::warn!(error = %e, ?wait, "polling the watched portals failed");
                    let _ = self.inner.events.send(WatcherEvent::PollFailed {
                        message: e.to_string(),
                    });
                    wait
                }
            };
            tokio::select! {
                () = self.inner.cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.inner.wake.notified() => {}
            }
        }
    }

    pub fn stop(&self) {
        self.inner.cancel.cancel();
    }

    /// One pass over the enabled portals. Returns the packages handed to the engine.
    pub async fn poll_once(&self) -> Result<Vec<String>, InboxError> {
        let mut started = Vec::new();
        for portal in self.portals()?.into_iter().filter(|p| p.enabled) {
            let packages = self.inner.api.portal_packages(&portal.portal_id).await?;
            for p in packages {
                match p.state {
                    PackageState::Finalized => {
                        if let Some(id) = self.take(&portal, &p).await? {
                            started.push(id);
                        }
                    }
                    PackageState::New => self.follow_upload(&p),
                    _ => {}
                }
            }
        }
        Ok(started)
    }

    /// Hands a finalized package to the engine unless it was handled before. The
    /// engine is asked first and the ledger written after: a crash in between makes
    /// the next poll ask again, and the engine answers with the same download.
    async fn take(
        &self,
        portal: &WatchedPortal,
        p: &TeamPackage,
    ) -> Result<Option<String>, InboxError> {
        if self.inner.ledger.handled(&p.id)?.is_some() {
            return Ok(None);
        }
        let origin = Origin::Portal {
            portal_id: portal.portal_id.clone(),
            portal_name: portal.portal_name.clone(),
        };
        let download = to_download(p, origin)?;
        let dst = if self.inner.config.package_folders {
            Destination::package_folder_in(&portal.folder)
        } else {
            Destination::straight(&portal.folder)
        };
        let id = self.inner.engine.add_team_package(download, dst).await?;
        self.inner
            .ledger
            .mark_handled(&p.id, &portal.portal_id, &id)?;
        tracing::info!(package = %p.id, portal = %portal.portal_id, download = %id, "watched portal package downloading");
        let _ = self.inner.events.send(WatcherEvent::Downloading {
            package_id: p.id.clone(),
            portal_id: portal.portal_id.clone(),
            download_id: id.clone(),
        });
        Ok(Some(id))
    }

    /// Follows a package's upload progress; when it ends, polls again at once so the
    /// finalized package downloads without waiting for the next interval.
    fn follow_upload(&self, p: &TeamPackage) {
        let Some(channel) = p.upload_channel().cloned() else {
            return;
        };
        if !lock(&self.inner.following).insert(p.id.clone()) {
            return;
        }
        let this = self.clone();
        let package_id = p.id.clone();
        tokio::spawn(async move {
            let events = this.inner.events.clone();
            let id = package_id.clone();
            let result = watch_upload(
                &this.inner.config.pubnub,
                &channel,
                &this.inner.cancel,
                |progress: UploadProgress| {
                    let _ = events.send(WatcherEvent::Upload {
                        package_id: id.clone(),
                        fraction: progress.fraction,
                        bytes: progress.bytes,
                        total: progress.total,
                    });
                },
            )
            .await;
            if let Err(e) = result {
                tracing::warn!(package = %package_id, error = %e, "cannot follow the upload");
            }
            lock(&this.inner.following).remove(&package_id);
            this.inner.wake.notify_one();
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// ±10 %, so many clients started together do not poll in step.
fn jitter(d: Duration) -> Duration {
    let f = 0.9 + rand::random::<f64>() * 0.2;
    d.mul_f64(f)
}
