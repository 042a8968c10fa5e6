//! One run of a download: from opening the link to the last renamed file, or to the
//! first error that needs a person. It sees the engine only through [`RunServices`].

pub(crate) mod destination;
pub(crate) mod expiry;
pub(crate) mod manifest;
pub(crate) mod prepare;
pub(crate) mod probe;
pub(crate) mod repair;
pub(crate) mod taking_up;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use inbound_masv::MasvError;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::download::Download;
use crate::download::session::Session;
use crate::model::source::Source;
use crate::run::manifest::write_manifest;
use crate::run::prepare::prepare;
use crate::sync::lock;
use crate::transfer::partfile::PartFile;
use crate::transfer::span::{PaceMeter, Span, Work};

mod error;
mod files;
mod pace;
mod quick_save;
pub(crate) mod scale;
mod services;
mod split;
mod worker;

pub(crate) use error::RunError;
pub(crate) use services::RunServices;

use worker::worker;

/// A file whose object changes this often during one run is not settling down.
const MAX_OBJECT_CHANGES: u32 = 3;
/// Storage refusing fresh URLs this often in a row is not an expiry problem.
const MAX_URL_REFRESHES: u32 = 5;
/// Presigned URLs are fetched ahead for the files next in line, so connections moving to
/// a new file do not wait for the API: at least this many at once, more with more
/// connections (many small files need a URL per connection every round trip or two:
/// four at a time at 40 ms held 5,000 files of about 600 KiB to 100 files a second)...
const URL_PREFETCH_PARALLEL: usize = 4;
/// ...and at most this many, to be gentle with MASV's API.
const URL_PREFETCH_PARALLEL_MAX: usize = 16;

pub(crate) enum RunEnd {
    Complete,
    Failed(String),
    /// MASV or its storage could not be reached, or asked Inbound to slow down: the
    /// download waits and tries again by itself; it does not fail.
    Interrupted(Interruption),
    Cancelled,
}

/// Why a run stopped to wait: what a person reads, what it waits for, and how long
/// MASV asked it to wait (rate limiting: 429, or storage's 503).
#[derive(Debug, Clone)]
pub(crate) struct Interruption {
    pub message: String,
    pub reason: crate::model::WaitReason,
    pub retry_after: Option<std::time::Duration>,
}

impl Interruption {
    /// What a transient MASV error means for the wait: MASV answering with a server
    /// error is told apart from the network.
    pub fn of(e: &inbound_masv::MasvError) -> Self {
        use inbound_masv::MasvError;
        let (reason, retry_after, message) = match e {
            MasvError::RateLimited { retry_after } => (
                crate::model::WaitReason::RateLimited,
                *retry_after,
                e.to_string(),
            ),
            MasvError::Unavailable(_) => (
                crate::model::WaitReason::Masv,
                None,
                e.unreachable_sentence(),
            ),
            _ => (crate::model::WaitReason::Network, None, e.to_string()),
        };
        Self {
            message,
            reason,
            retry_after,
        }
    }

    /// The destination's drive is full: `message` says where and how much is needed.
    pub fn space(message: String) -> Self {
        Self {
            message,
            reason: crate::model::WaitReason::Space,
            retry_after: None,
        }
    }

    /// The destination's drive is not there: `message` says which folder.
    pub fn drive(message: String) -> Self {
        Self {
            message,
            reason: crate::model::WaitReason::Drive,
            retry_after: None,
        }
    }
}

impl From<String> for RunEnd {
    fn from(msg: String) -> Self {
        Self::Failed(msg)
    }
}

struct RunCtx {
    shared: Arc<dyn RunServices>,
    dl: Arc<Download>,
    session: Arc<Session>,
    cancel: CancellationToken,
    queue: Mutex<VecDeque<Work>>,
    open: Mutex<HashMap<usize, Arc<PartFile>>>,
    /// Every part file this run opened, to see each closed before the run ends.
    opened: Mutex<Vec<std::sync::Weak<PartFile>>>,
    inflight: Mutex<Vec<Arc<Span>>>,
    /// How fast each connection of this run goes, and their median (see `pace`).
    connections: Mutex<Vec<Arc<PaceMeter>>>,
    peers: Mutex<pace::Peers>,
    prefetch: Arc<tokio::sync::Semaphore>,
    failure: Mutex<Option<String>>,
    /// Why the run stopped to wait for the network, if it did.
    interruption: Mutex<Option<Interruption>>,
    /// Told whenever a connection ends, for connections pausing before a retry.
    idle: tokio::sync::Notify,
    /// Told when work goes back in the queue, for idle connections waiting to judge
    /// whether a range is worth splitting (see `next_work`).
    more_work: tokio::sync::Notify,
    /// Times each file's object changed during this run (by file index).
    object_changes: Mutex<HashMap<usize, u32>>,
    /// Times each file's bytes did not match storage's MD5 during this run.
    md5_mismatches: Mutex<HashMap<usize, u32>>,
    /// How many connections the run has and wants.
    scale: scale::Scale,
    /// Presigned URLs fetched ahead at once, at most.
    prefetch_parallel: usize,
}

pub(crate) async fn run(
    shared: Arc<dyn RunServices>,
    dl: Arc<Download>,
    cancel: CancellationToken,
) -> RunEnd {
    let result = tokio::select! {
        _ = cancel.cancelled() => return RunEnd::Cancelled,
        r = prepare(&*shared, &dl) => r,
    };
    let (session, queue) = match result {
        Ok(v) => v,
        Err(end) => return end,
    };
    let prefetch_parallel = shared
        .connections_per_download()
        .clamp(URL_PREFETCH_PARALLEL, URL_PREFETCH_PARALLEL_MAX);
    let limited = shared.bandwidth().limit().is_some() || dl.rate_limit().is_some();
    let scale = scale::Scale::new(
        shared.connections_per_download(),
        shared.adaptive_connections(),
        limited,
        dl.connections.clone(),
    );
    let workers = scale
        .wanted()
        .min(queue.len())
        .max(usize::from(!queue.is_empty()));
    let ctx = Arc::new(RunCtx {
        shared,
        dl,
        session,
        cancel: cancel.child_token(),
        queue: Mutex::new(queue),
        open: Mutex::new(HashMap::new()),
        opened: Mutex::new(Vec::new()),
        inflight: Mutex::new(Vec::new()),
        connections: Mutex::new(Vec::new()),
        peers: Mutex::new(pace::Peers::default()),
        prefetch: Arc::new(tokio::sync::Semaphore::new(prefetch_parallel)),
        failure: Mutex::new(None),
        interruption: Mutex::new(None),
        idle: tokio::sync::Notify::new(),
        more_work: tokio::sync::Notify::new(),
        object_changes: Mutex::new(HashMap::new()),
        md5_mismatches: Mutex::new(HashMap::new()),
        scale,
        prefetch_parallel,
    });
    let mut set = JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(ctx.clone()));
    }
    // The pace watcher runs as long as connections do; the scaler until it settles.
    let (open_tx, mut open_rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = pace::watch(&ctx);
    let adapt = scale::adapt(&ctx, open_tx, |n| ctx.close_connections(n));
    let quick_saves = quick_save::keep_saving(&ctx);
    tokio::pin!(watch, adapt, quick_saves);
    let mut adapting = true;
    loop {
        tokio::select! {
            joined = set.join_next() => if joined.is_none() { break },
            Some(more) = open_rx.recv() => {
                for _ in 0..more {
                    set.spawn(worker(ctx.clone()));
                }
            }
            () = &mut adapt, if adapting => adapting = false,
            () = &mut quick_saves => {}
            () = &mut watch => break,
        }
    }
    // No connection outlives its run, and no part file stays open after it: on Windows
    // an open file keeps its name after a delete (outside POSIX semantics) and its
    // folder cannot be moved, so a paused download must leave its files alone.
    set.shutdown().await;
    lock(&ctx.open).clear();
    let opened = std::mem::take(&mut *lock(&ctx.opened));
    all_closed(&opened).await;
    // Paused, held back or cut off by the network, the download keeps its session for
    // the next run: MASV counts a new session against a link's download limit (and it
    // spares a round trip). A failed run opens a fresh one.
    let keep_session = || *lock(&ctx.dl.session) = Some(ctx.session.clone());
    if cancel.is_cancelled() {
        keep_session();
        return RunEnd::Cancelled;
    }
    if let Some(msg) = lock(&ctx.failure).take() {
        return RunEnd::Failed(msg);
    }
    if let Some(why) = lock(&ctx.interruption).take() {
        keep_session();
        return RunEnd::Interrupted(why);
    }
    match ctx.dl.files.iter().find(|f| !f.state().is_settled()) {
        None => {
            let (shared, dl) = (ctx.shared.clone(), ctx.dl.clone());
            let manifest_and_owner = move || {
                write_manifest(&*shared, &dl)?;
                let owner = dl.owner();
                match owner {
                    Some(o) => crate::download::ownership::give_written(shared.store(), &dl, o)
                        .map_err(RunError::from),
                    None => Ok(()),
                }
            };
            match tokio::task::spawn_blocking(manifest_and_owner).await {
                Ok(Ok(_)) => RunEnd::Complete,
                Ok(Err(e)) => RunEnd::from(e),
                Err(e) => RunEnd::Failed(format!("writing the ASC MHL manifest stopped: {e}")),
            }
        }
        Some(f) => RunEnd::Failed(
            f.error()
                .unwrap_or_else(|| format!("{} could not be downloaded", f.meta.package_path)),
        ),
    }
}

/// Waits until none of `files` is open any more. A flush or a hash step already handed
/// to a blocking thread holds its part file until it returns (aborting its task does
/// not stop it); those take milliseconds. Bounded, so a stuck disk cannot hold a run's
/// end forever: it is said, and the files close when the disk answers.
async fn all_closed(files: &[std::sync::Weak<PartFile>]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while files.iter().any(|f| f.strong_count() > 0) {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("a part file is still being written after its run ended (slow disk?)");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Opens access to the package: through its link, or with a team access token.
pub(crate) async fn open_session(
    shared: &dyn RunServices,
    source: &Source,
    package_id: &str,
) -> Result<Session, MasvError> {
    // A few quick tries; a longer outage is waited out by the download as a whole.
    let policy = shared.quick_retry_policy();
    match source {
        Source::Link { link, password } => Ok(Session::open(
            shared.client_for(source.route_key()),
            link.clone(),
            password.clone(),
            policy,
        )
        .await?
        .0),
        Source::Team { token, .. } => Ok(Session::team(
            shared.client_for(source.route_key()),
            package_id.to_owned(),
            token.clone(),
            policy,
        )),
    }
}

impl RunCtx {
    /// The next range to fetch: from the queue; else the rest of a range whose
    /// connection is far slower than its peers (end-game); else the second half of
    /// the longest range another connection is still fetching, where splitting pays.
    /// When none pays yet but a range too young to judge may, waits until it can be
    /// judged (see `split`), or until work goes back in the queue.
    async fn next_work(&self) -> Option<Work> {
        loop {
            // Before the queue is looked at, so work queued after that still wakes it.
            let more_work = self.more_work.notified();
            let now = tokio::time::Instant::now();
            if let Some(w) = lock(&self.queue).pop_front() {
                return Some(w);
            }
            let inflight = lock(&self.inflight).clone();
            let peers = *lock(&self.peers);
            if let Some(w) = pace::hand_over(&inflight, peers, now) {
                return Some(w);
            }
            if let Some(w) = split::steal(&inflight, now) {
                return Some(w);
            }
            let wait = split::until_judged(&inflight, now)?;
            tokio::select! {
                _ = self.cancel.cancelled() => return None,
                _ = tokio::time::sleep(wait) => {}
                _ = more_work => {}
            }
        }
    }

    /// Closes `n` connections now rather than at the end of their ranges: their
    /// requests stop (the bytes they have are kept), what they had left goes back in
    /// the queue, and as many connections leave as the run has too many.
    fn close_connections(&self, n: usize) {
        let rests: Vec<Work> = {
            let inflight = lock(&self.inflight);
            let mut longest: Vec<_> = inflight.iter().collect();
            longest.sort_by_key(|s| std::cmp::Reverse(s.remaining()));
            longest
                .into_iter()
                .take(n)
                .filter_map(|s| s.take_rest().map(|(start, end)| s.work(start, end)))
                .collect()
        };
        for rest in rests {
            self.requeue(rest);
        }
    }

    fn track(&self, span: &Arc<Span>) {
        lock(&self.inflight).push(span.clone());
    }

    fn untrack(&self, span: &Arc<Span>) {
        lock(&self.inflight).retain(|s| !Arc::ptr_eq(s, span));
    }

    /// Starts fetching the presigned URLs of the next files in line.
    fn prefetch_urls(self: &Arc<Self>) {
        let upcoming: Vec<usize> = {
            let queue = lock(&self.queue);
            let mut seen = Vec::new();
            for w in queue.iter() {
                // Two for each that may be fetched at once.
                if seen.len() >= 2 * self.prefetch_parallel {
                    break;
                }
                if !seen.contains(&w.idx) {
                    seen.push(w.idx);
                }
            }
            seen
        };
        for idx in upcoming {
            if self.session.knows_url(idx) {
                continue;
            }
            let Ok(permit) = self.prefetch.clone().try_acquire_owned() else {
                return;
            };
            let ctx = self.clone();
            tokio::spawn(async move {
                let f = &ctx.dl.files[idx];
                tokio::select! {
                    _ = ctx.cancel.cancelled() => {}
                    // Errors surface again when a connection asks for this URL.
                    _ = ctx.session.file_url(idx, &f.meta.file_id) => {}
                }
                drop(permit);
            });
        }
    }

    fn requeue(&self, w: Work) {
        if w.start < w.end {
            lock(&self.queue).push_front(w);
            self.more_work.notify_waiters();
        }
    }

    /// Stops the whole run with a message for the person.
    fn fail(&self, msg: impl std::fmt::Display) {
        let msg = msg.to_string();
        tracing::warn!(download = %self.dl.id, error = %msg, "download failed");
        lock(&self.failure).get_or_insert(msg);
        self.cancel.cancel();
    }

    /// Waits `delay` before this connection tries again (its range is back in the
    /// queue for the others meanwhile). Returns false when there is no point: the run
    /// was stopped, or every other connection finished and nothing is left to fetch, so
    /// a long `Retry-After` never holds a finished package.
    async fn pause_unless_done(&self, delay: std::time::Duration) -> bool {
        let until = tokio::time::Instant::now() + delay;
        loop {
            let idle = self.idle.notified();
            tokio::select! {
                _ = self.cancel.cancelled() => return false,
                _ = tokio::time::sleep_until(until) => return true,
                _ = idle => {
                    if lock(&self.inflight).is_empty() && lock(&self.queue).is_empty() {
                        return false;
                    }
                }
            }
        }
    }

    /// MASV or its storage cannot be reached, or asked to slow down: the run stops and
    /// the download waits.
    fn interrupt(&self, why: Interruption) {
        tracing::info!(download = %self.dl.id, reason = %why.message, reason = ?why.reason, "waiting");
        lock(&self.interruption).get_or_insert(why);
        self.cancel.cancel();
    }
}
