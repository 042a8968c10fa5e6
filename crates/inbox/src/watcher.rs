//! Watched portals: polls each one politely and hands every newly finalized package to
//! the engine, once. Packages still uploading have their progress followed and are
//! downloaded when they finalize.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_engine::Engine;
use inbound_masv::{MasvError, PubNub, PubNubConfig, TeamPackage, UploadProgress};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::automation::Automation;
use crate::ledger::Ledger;
use crate::{InboxError, TeamApi, watch_upload};

/// A portal whose new packages download by themselves into `folder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WatchedPortal {
    pub portal_id: String,
    pub portal_name: String,
    #[ts(type = "string")]
    pub folder: PathBuf,
    pub enabled: bool,
    /// Only packages sent from then on (Unix seconds) download by themselves, as MASV
    /// Agent's `effective_time`: ticking a portal does not fetch its whole past. A
    /// package still uploading at that moment counts as new. `None`: every package.
    #[ts(type = "number | null")]
    pub since: Option<i64>,
}

/// A watched portal's package that could not be handed to the engine (no access
/// token, a folder that cannot be written, MASV out of reach...). It is tried again at
/// `retry_at`, later after each failure; the portal's other packages go on meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PackageFailure {
    pub package_id: String,
    pub portal_id: String,
    pub package_name: String,
    pub reason: String,
    pub attempts: u32,
    /// Unix seconds.
    #[ts(type = "number")]
    pub retry_at: i64,
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
    /// The longest an upload's progress is followed: one still not done by then was
    /// most likely abandoned by its sender (a closed browser tab leaves it `new`). The
    /// polls still find it should it ever be finalized.
    pub upload_follow_limit: Duration,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            max_backoff: Duration::from_secs(15 * 60),
            pubnub: PubNubConfig::from_env(),
            package_folders: true,
            upload_follow_limit: Duration::from_secs(24 * 3600),
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
    /// No watched portal could be listed; the watcher waits and tries again.
    PollFailed { message: String },
    /// One portal could not be listed; the others were.
    PortalFailed {
        portal_id: String,
        portal_name: String,
        message: String,
    },
    /// One package could not be handed to the engine; it is tried again later.
    PackageFailed(PackageFailure),
}

pub(crate) struct Inner {
    pub(crate) api: TeamApi,
    pub(crate) engine: Engine,
    pub(crate) ledger: Ledger,
    pub(crate) config: WatcherConfig,
    pub(crate) events: broadcast::Sender<WatcherEvent>,
    /// One HTTP client for every upload followed.
    pub(crate) pubnub: PubNub,
    /// Packages whose upload is being followed now, by package id.
    pub(crate) following: Mutex<HashMap<String, Follower>>,
    /// Packages whose upload was followed for the longest allowed: not again.
    pub(crate) gave_up: Mutex<HashSet<String>>,
    pub(crate) cancel: CancellationToken,
    pub(crate) wake: tokio::sync::Notify,
}

/// Cheap to clone; [`Watcher::stop`] ends every clone's work.
#[derive(Clone)]
pub struct Watcher {
    pub(crate) inner: Arc<Inner>,
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
        let pubnub = PubNub::new(config.pubnub.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                engine,
                ledger: Ledger::open(data_dir)?,
                config,
                events,
                pubnub,
                following: Mutex::new(HashMap::new()),
                gave_up: Mutex::new(HashSet::new()),
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

    /// The team whose portals it watches.
    pub fn team_id(&self) -> &str {
        self.inner.api.team_id()
    }

    pub fn automations(&self) -> Result<Vec<Automation>, InboxError> {
        self.inner.ledger.automations()
    }

    /// Saves a new automation (given a fresh id) and polls soon after.
    pub fn create_automation(&self, mut a: Automation) -> Result<Automation, InboxError> {
        a.validate()?;
        a.id = crate::automation::new_id();
        self.inner.ledger.put_automation(&a)?;
        self.inner.wake.notify_one();
        Ok(a)
    }

    /// Replaces automation `a.id`, which must exist; polls soon after.
    pub fn update_automation(&self, a: &Automation) -> Result<(), InboxError> {
        a.validate()?;
        if !self.automations()?.iter().any(|x| x.id == a.id) {
            return Err(crate::AutomationError::Unknown(a.id.clone()).into());
        }
        self.inner.ledger.put_automation(a)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Stops an automation for good; its downloads so far go on.
    pub fn remove_automation(&self, id: &str) -> Result<(), InboxError> {
        if self.inner.ledger.remove_automation(id)? {
            Ok(())
        } else {
            Err(crate::AutomationError::Unknown(id.to_owned()).into())
        }
    }

    /// Watched portals' packages waiting to be tried again, soonest first.
    pub fn failures(&self) -> Result<Vec<PackageFailure>, InboxError> {
        self.inner.ledger.failures()
    }

    /// Polls until [`Watcher::stop`]: every interval (with jitter), longer after
    /// failures (doubling, or what a 429 asks for).
    pub async fn run(&self) {
        let cfg = &self.inner.config;
        let mut backoff = cfg.interval;
        loop {
            // A poll may be waiting between retries of a listing (a minute and more
            // when MASV is out of reach): stopping must not wait for it.
            let polled = tokio::select! {
                () = self.inner.cancel.cancelled() => return,
                polled = self.poll_once() => polled,
            };
            let wait = match polled {
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

    /// Follows a package's upload progress; when it ends, polls again at once so the
    /// finalized package downloads without waiting for the next interval. Follows for
    /// [`WatcherConfig::upload_follow_limit`] at most, and stops as soon as a listing
    /// of its portal no longer shows it uploading ([`Watcher::stop_followers_not_in`]).
    pub(crate) fn follow_upload(&self, p: &TeamPackage, portal_id: &str) {
        let Some(channel) = p.upload_channel().cloned() else {
            return;
        };
        if lock(&self.inner.gave_up).contains(&p.id) {
            return;
        }
        let stop = self.inner.cancel.child_token();
        {
            let mut following = lock(&self.inner.following);
            if following.contains_key(&p.id) {
                return;
            }
            following.insert(
                p.id.clone(),
                Follower {
                    portal_id: portal_id.to_owned(),
                    stop: stop.clone(),
                },
            );
        }
        let this = self.clone();
        let package_id = p.id.clone();
        tokio::spawn(async move {
            let events = this.inner.events.clone();
            let id = package_id.clone();
            let watched = watch_upload(
                &this.inner.pubnub,
                &channel,
                &stop,
                |progress: UploadProgress| {
                    let _ = events.send(WatcherEvent::Upload {
                        package_id: id.clone(),
                        fraction: progress.fraction,
                        bytes: progress.bytes,
                        total: progress.total,
                    });
                },
            );
            match tokio::time::timeout(this.inner.config.upload_follow_limit, watched).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(package = %package_id, error = %e, "cannot follow the upload");
                }
                Err(_) => {
                    tracing::info!(package = %package_id, "the upload has gone on too long to follow; the polls will find it if it is finalized");
                    lock(&this.inner.gave_up).insert(package_id.clone());
                }
            }
            lock(&this.inner.following).remove(&package_id);
            this.inner.wake.notify_one();
        });
    }

    /// Stops following the uploads of `portals` (listed just now) that are not among
    /// `uploading` there any more: deleted, expired or abandoned.
    pub(crate) fn stop_followers_not_in(
        &self,
        portals: &HashSet<String>,
        uploading: &HashSet<String>,
    ) {
        lock(&self.inner.following).retain(|id, f| {
            let keep = !portals.contains(&f.portal_id) || uploading.contains(id);
            if !keep {
                tracing::info!(package = %id, "the upload is no longer listed; not following it");
                f.stop.cancel();
            }
            keep
        });
    }

    /// The packages whose upload is followed now.
    pub fn uploads_followed(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.inner.following).keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// One upload being followed.
pub(crate) struct Follower {
    portal_id: String,
    stop: CancellationToken,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// ±10 %, so many clients started together do not poll in step.
fn jitter(d: Duration) -> Duration {
    let f = 0.9 + rand::random::<f64>() * 0.2;
    d.mul_f64(f)
}
