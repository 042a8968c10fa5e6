//! One run of a download: from opening the link to the last renamed file, or to the
//! first error that needs a person.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use inbound_masv::MasvError;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::download::{Download, FileSlot, lock};
use crate::engine::Shared;
use crate::fsutil::{PartCheck, describe_io_error, reopen_part_file};
use crate::hashing::{PrefixHash, Sealed};
use crate::model::FileState;
use crate::partfile::PartFile;
use crate::prepare::{
    create_part, finish_file, prepare, push_segments, reset_file, set_file_state,
};
use crate::seal::seal_package;
use crate::session::Session;
use crate::source::Source;
use crate::transfer::{Checkpoint, FetchError, RangeRequest, Span, fetch_range};

/// A file whose object changes this often during one run is not settling down.
const MAX_OBJECT_CHANGES: u32 = 3;
/// Storage refusing fresh URLs this often in a row is not an expiry problem.
const MAX_URL_REFRESHES: u32 = 5;
/// An idle connection splits another's range only if both halves are at least this big
/// (a new request costs a round trip).
const MIN_STEAL_PIECE: u64 = 2 * 1024 * 1024;
/// Presigned URLs fetched ahead for the files next in line, so connections moving to a
/// new file do not wait for the API.
const URL_PREFETCH_AHEAD: usize = 8;
const URL_PREFETCH_PARALLEL: usize = 4;

pub(crate) enum RunEnd {
    Complete,
    Failed(String),
    /// MASV or its storage could not be reached (the message says how): the download
    /// waits and tries again by itself; it does not fail.
    Interrupted(String),
    Cancelled,
}

impl From<String> for RunEnd {
    fn from(msg: String) -> Self {
        Self::Failed(msg)
    }
}

/// A byte range of one file to fetch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    pub idx: usize,
    pub start: u64,
    pub end: u64,
    /// The file's epoch when this range was queued: a range of a file that has since
    /// started again is dropped.
    pub epoch: u64,
}

struct RunCtx {
    shared: Arc<Shared>,
    dl: Arc<Download>,
    session: Arc<Session>,
    cancel: CancellationToken,
    queue: Mutex<VecDeque<Work>>,
    open: Mutex<HashMap<usize, Arc<PartFile>>>,
    inflight: Mutex<Vec<Arc<Span>>>,
    prefetch: Arc<tokio::sync::Semaphore>,
    failure: Mutex<Option<String>>,
    /// Why the run stopped to wait for the network, if it did.
    interruption: Mutex<Option<String>>,
    /// Told whenever a connection ends, for connections pausing before a retry.
    idle: tokio::sync::Notify,
    /// Times each file's object changed during this run (by file index).
    object_changes: Mutex<HashMap<usize, u32>>,
    /// Times each file's bytes did not match storage's MD5 during this run.
    md5_mismatches: Mutex<HashMap<usize, u32>>,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    dl: Arc<Download>,
    cancel: CancellationToken,
) -> RunEnd {
    let result = tokio::select! {
        _ = cancel.cancelled() => return RunEnd::Cancelled,
        r = prepare(&shared, &dl) => r,
    };
    let (session, queue) = match result {
        Ok(v) => v,
        Err(end) => return end,
    };
    let workers = shared
        .connections_per_download()
        .min(queue.len())
        .max(usize::from(!queue.is_empty()));
    let ctx = Arc::new(RunCtx {
        shared,
        dl,
        session,
        cancel: cancel.child_token(),
        queue: Mutex::new(queue),
        open: Mutex::new(HashMap::new()),
        inflight: Mutex::new(Vec::new()),
        prefetch: Arc::new(tokio::sync::Semaphore::new(URL_PREFETCH_PARALLEL)),
        failure: Mutex::new(None),
        interruption: Mutex::new(None),
        idle: tokio::sync::Notify::new(),
        object_changes: Mutex::new(HashMap::new()),
        md5_mismatches: Mutex::new(HashMap::new()),
    });
    let mut set = JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(ctx.clone()));
    }
    while set.join_next().await.is_some() {}
    if cancel.is_cancelled() {
        return RunEnd::Cancelled;
    }
    if let Some(msg) = lock(&ctx.failure).take() {
        return RunEnd::Failed(msg);
    }
    if let Some(msg) = lock(&ctx.interruption).take() {
        return RunEnd::Interrupted(msg);
    }
    match ctx.dl.files.iter().find(|f| !f.state().is_settled()) {
        None => {
            let (shared, dl) = (ctx.shared.clone(), ctx.dl.clone());
            match tokio::task::spawn_blocking(move || seal_package(&shared, &dl)).await {
                Ok(Ok(_)) => RunEnd::Complete,
                Ok(Err(msg)) => RunEnd::Failed(msg),
                Err(e) => RunEnd::Failed(format!("writing the ASC MHL manifest stopped: {e}")),
            }
        }
        Some(f) => RunEnd::Failed(
            f.error()
                .unwrap_or_else(|| format!("{} could not be downloaded", f.meta.package_path)),
        ),
    }
}

/// Opens access to the package: through its link, or with a team access token.
pub(crate) async fn open_session(
    shared: &Shared,
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
    /// The next range to fetch: from the queue, or else the second half of the
    /// longest range another connection is still fetching.
    fn next_work(&self) -> Option<Work> {
        if let Some(w) = lock(&self.queue).pop_front() {
            return Some(w);
        }
        let inflight = lock(&self.inflight);
        let mut by_remaining: Vec<_> = inflight.iter().collect();
        by_remaining.sort_by_key(|s| std::cmp::Reverse(s.remaining()));
        by_remaining.into_iter().find_map(|s| {
            s.steal_half(MIN_STEAL_PIECE).map(|(start, end)| Work {
                idx: s.idx,
                start,
                end,
                epoch: s.epoch,
            })
        })
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
                if seen.len() >= URL_PREFETCH_AHEAD {
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
        }
    }

    /// Stops the whole run with a message for the person.
    fn fail(&self, msg: String) {
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

    /// MASV or its storage cannot be reached: the run stops and the download waits.
    fn interrupt(&self, msg: String) {
        tracing::info!(download = %self.dl.id, reason = %msg, "waiting for the network");
        lock(&self.interruption).get_or_insert(msg);
        self.cancel.cancel();
    }

    /// The part file of `f` for the current epoch: created exclusively the first time,
    /// else reopened only if it is still the file this download created.
    fn file_handle(&self, f: &FileSlot) -> Result<Arc<PartFile>, String> {
        let mut open = lock(&self.open);
        let epoch = f.epoch.load(Relaxed);
        if let Some(h) = open.get(&f.meta.idx).filter(|h| h.epoch == epoch) {
            return Ok(h.clone());
        }
        let recorded = *lock(&f.part);
        let (file, id) = match recorded {
            None => create_part(&self.shared, &self.dl, f)?,
            Some(id) => {
                let path = f.part_path(&self.dl.dst);
                match reopen_part_file(&path, f.meta.size, id) {
                    Ok(file) => (file, id),
                    Err(PartCheck::Io(e)) => return Err(describe_io_error("open", &path, &e)),
                    Err(_) => {
                        return Err(format!(
                            "{} was removed or replaced while downloading; retry to fetch the file again",
                            path.display()
                        ));
                    }
                }
            }
        };
        let hash = PrefixHash::new(self.shared.hash_algorithm(), lock(&f.etag).as_deref());
        let h = Arc::new(PartFile::new(file, id, epoch, hash));
        open.insert(f.meta.idx, h.clone());
        Ok(h)
    }

    /// Makes `[start, end)` durable and records it. Returns whether the file is whole.
    /// Bytes written into a part file the file has since moved on from are not
    /// recorded.
    async fn record(
        &self,
        f: &FileSlot,
        handle: &Arc<PartFile>,
        start: u64,
        end: u64,
    ) -> Result<bool, String> {
        if self.shared.config.durable_writes {
            handle
                .sync()
                .await
                .map_err(|e| describe_io_error("write", &f.part_path(&self.dl.dst), &e))?;
        }
        let mut ranges = lock(&f.ranges);
        if handle.epoch != f.epoch.load(Relaxed) {
            return Ok(false);
        }
        ranges.insert(start, end);
        self.shared
            .store
            .set_ranges(&self.dl.id, f.meta.idx, ranges.ranges())
            .map_err(|e| format!("could not save progress: {e}"))?;
        let whole = ranges.covered() == f.meta.size;
        // The written-from-0 prefix, when this range joined it (a range elsewhere in
        // the file leaves it as it was: nothing new to hash).
        let prefix = ranges
            .ranges()
            .first()
            .filter(|r| r.0 == 0 && start < r.1)
            .map(|r| r.1);
        drop(ranges);
        if let Some(end) = prefix.filter(|_| !whole) {
            // Hash what is now written from the start, off this connection's path:
            // it goes on receiving meanwhile.
            let handle = handle.clone();
            tokio::task::spawn_blocking(move || handle.hash.try_advance(handle.file(), end));
        }
        Ok(whole)
    }

    /// Every byte of `f` is on disk: finish its hash and give it its final name, or,
    /// when the bytes are not what storage's MD5 says, fetch it once more.
    async fn complete(&self, f: &FileSlot, handle: &Arc<PartFile>) -> Result<(), String> {
        let (h, size) = (handle.clone(), f.meta.size);
        let sealed = tokio::task::spawn_blocking(move || h.hash.finish(h.file(), size))
            .await
            .map_err(|e| format!("hashing stopped: {e}"))?
            .map_err(|e| describe_io_error("read back", &f.part_path(&self.dl.dst), &e))?;
        match sealed {
            // Another connection already finished it.
            None => Ok(()),
            Some(Sealed::Good(digest)) => {
                lock(&self.open).remove(&f.meta.idx);
                finish_file(&self.shared, &self.dl, f, digest)
            }
            Some(Sealed::Md5Mismatch { etag, found }) => {
                let why = format!(
                    "the bytes received do not match the checksum MASV storage gave for them (MD5 {found}, expected {etag})"
                );
                let mismatches = {
                    let mut map = lock(&self.md5_mismatches);
                    let n = map.entry(f.meta.idx).or_default();
                    *n += 1;
                    *n
                };
                if mismatches > 1 {
                    let msg = format!(
                        "{}: {why}, twice; the file was not kept. Retry later, or ask the sender to upload it again",
                        f.meta.package_path
                    );
                    set_file_state(
                        &self.shared,
                        &self.dl,
                        f,
                        FileState::Error,
                        Some(msg.clone()),
                    )?;
                    return Err(msg);
                }
                if self.restart_file(f, handle, &why) {
                    Ok(())
                } else {
                    Err(why)
                }
            }
        }
    }

    /// The ETag storage gave for `f`: remembered the first time, compared after.
    fn pin_etag(&self, f: &FileSlot, handle: &PartFile, etag: &str) -> Result<(), FetchError> {
        let mut pinned = lock(&f.etag);
        match pinned.as_deref() {
            Some(known) if known == etag => Ok(()),
            Some(_) => Err(FetchError::Changed(
                "the file changed on MASV while downloading".into(),
            )),
            None if handle.epoch != f.epoch.load(Relaxed) => Ok(()),
            None => {
                handle.hash.learn_etag(etag);
                self.shared
                    .store
                    .set_etag(&self.dl.id, f.meta.idx, Some(etag))
                    .map_err(|e| FetchError::Save(format!("could not save progress: {e}")))?;
                *pinned = Some(etag.to_owned());
                Ok(())
            }
        }
    }

    /// The object behind `f` is not the one its bytes so far came from: drop them and
    /// fetch the whole file again, once per change (the first connection to notice
    /// does it; the others find a new epoch). Returns false if the run must stop.
    fn restart_file(&self, f: &FileSlot, handle: &PartFile, why: &str) -> bool {
        let mut open = lock(&self.open);
        if handle.epoch != f.epoch.load(Relaxed) {
            return true;
        }
        let changes = {
            let mut map = lock(&self.object_changes);
            let n = map.entry(f.meta.idx).or_default();
            *n += 1;
            *n
        };
        if changes > MAX_OBJECT_CHANGES {
            self.fail(format!(
                "{}: {why}, again and again; retry later, or ask the sender whether the file is still being replaced",
                f.meta.package_path
            ));
            return false;
        }
        tracing::warn!(file = %f.meta.package_path, "{why}; fetching the file again from the start");
        open.remove(&f.meta.idx);
        // Connections still on this file stop at their next chunk.
        for span in lock(&self.inflight).iter().filter(|s| s.idx == f.meta.idx) {
            span.end.store(span.pos.load(Relaxed), Relaxed);
        }
        let part = f.part_path(&self.dl.dst);
        if handle.id.is_at(&part) {
            let _ = std::fs::remove_file(&part);
        }
        if let Err(msg) = reset_file(&self.shared, &self.dl, f) {
            self.fail(msg);
            return false;
        }
        let mut queue = lock(&self.queue);
        queue.retain(|w| w.idx != f.meta.idx);
        push_segments(&self.shared, &mut queue, f, &[(0, f.meta.size)]);
        true
    }
}

async fn worker(ctx: Arc<RunCtx>) {
    // A few quick tries ride out a blip; after that the download waits for the network
    // as a whole (and says so) instead of each connection backing off on its own.
    let mut backoff = ctx.shared.quick_retry_policy().backoff();
    let mut url_refreshes = 0u32;
    // However this connection ends, one waiting out a pause may be the last one left.
    let _idle = IdleOnDrop(&ctx);
    while let Some(work) = ctx.next_work() {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let f = &ctx.dl.files[work.idx];
        if f.state().is_settled()
            || f.state() == FileState::Error
            || work.epoch != f.epoch.load(Relaxed)
        {
            continue;
        }
        let permit = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            p = ctx.shared.connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        if f.state() == FileState::Pending {
            f.set_state(FileState::Transferring);
        }
        ctx.prefetch_urls();
        let url = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            u = ctx.session.file_url(f.meta.idx, &f.meta.file_id) => u,
        };
        let url = match url {
            Ok(u) => u,
            Err(MasvError::Virus) => {
                withhold_virus(&ctx, f);
                continue;
            }
            Err(e) if e.is_transient() => {
                ctx.interrupt(e.to_string());
                break;
            }
            Err(e) => {
                ctx.fail(format!("{}: {e}", f.meta.package_path));
                break;
            }
        };
        let handle = match ctx.file_handle(f) {
            Ok(h) if h.epoch == work.epoch => h,
            Ok(_) => continue,
            Err(msg) => {
                ctx.fail(format!("{}: {msg}", f.meta.package_path));
                break;
            }
        };
        let if_match = lock(&f.etag).clone();
        let span = Arc::new(Span::new(work.idx, work.epoch, work.start, work.end));
        ctx.track(&span);
        let (written, result) = fetch_range(
            RangeRequest {
                http: &ctx.shared.http,
                url: &url.url,
                file: &handle,
                span: &span,
                bandwidth: &ctx.shared.bandwidth,
                stall_timeout: ctx.shared.config.stall_timeout,
                cancel: ctx.cancel.clone(),
                checkpoint_every: ctx.shared.config.chunk_size,
                checkpoint_interval: ctx.shared.config.checkpoint_interval,
                size: f.meta.size,
                if_match,
            },
            |n| {
                if handle.epoch == f.epoch.load(Relaxed) {
                    f.done.fetch_add(n, Relaxed);
                }
            },
            &Saver {
                ctx: &ctx,
                f,
                handle: &handle,
            },
        )
        .await;
        ctx.untrack(&span);
        drop(permit);
        if written > 0 {
            // Through to storage: whatever waits for the network may go now.
            ctx.shared.set_waiting(&ctx.dl, None);
            ctx.shared.network_back.notify_waiters();
            backoff.reset();
            url_refreshes = 0;
            match ctx
                .record(f, &handle, work.start, work.start + written)
                .await
            {
                Ok(true) => {
                    if let Err(msg) = ctx.complete(f, &handle).await {
                        ctx.fail(msg);
                        break;
                    }
                }
                Ok(false) => {}
                Err(msg) => {
                    ctx.fail(msg);
                    break;
                }
            }
        }
        if handle.epoch != f.epoch.load(Relaxed) {
            // The file started again meanwhile: this range is not wanted any more.
            continue;
        }
        let rest = Work {
            start: work.start + written,
            end: span.end.load(Relaxed),
            ..work
        };
        match result {
            // A short answer (legal for storage) leaves the rest to ask for again.
            Ok(()) => ctx.requeue(rest),
            Err(FetchError::Cancelled) => break,
            Err(FetchError::Changed(why)) => {
                if !ctx.restart_file(f, &handle, &why) {
                    break;
                }
            }
            Err(FetchError::UrlRejected) => {
                url_refreshes += 1;
                if url_refreshes > MAX_URL_REFRESHES {
                    ctx.fail(format!(
                        "{}: MASV storage keeps refusing access to this file; retry later",
                        f.meta.package_path
                    ));
                    break;
                }
                tracing::debug!(file = %f.meta.package_path, "presigned URL rejected, getting a new one");
                ctx.session.invalidate_url(f.meta.idx, url.generation);
                ctx.requeue(rest);
            }
            Err(FetchError::Transient {
                message,
                retry_after,
            }) => {
                ctx.requeue(rest);
                let Some(delay) = backoff.next_delay(retry_after) else {
                    ctx.interrupt(message);
                    break;
                };
                tracing::debug!(file = %f.meta.package_path, %message, ?delay, "transfer interrupted, retrying");
                if !ctx.pause_unless_done(delay).await {
                    break;
                }
            }
            Err(FetchError::Fatal(msg)) => {
                let msg = format!("{}: {msg}", f.meta.package_path);
                let _ =
                    set_file_state(&ctx.shared, &ctx.dl, f, FileState::Error, Some(msg.clone()));
                ctx.fail(msg);
                break;
            }
            Err(FetchError::Save(msg)) => {
                ctx.fail(msg);
                break;
            }
            Err(FetchError::Disk(e)) => {
                ctx.fail(describe_io_error("write", &f.part_path(&ctx.dl.dst), &e));
                break;
            }
        }
    }
}

/// Tells the connections pausing before a retry that one connection ended.
struct IdleOnDrop<'a>(&'a RunCtx);

impl Drop for IdleOnDrop<'_> {
    fn drop(&mut self) {
        self.0.idle.notify_waiters();
    }
}

/// Saves progress in the middle of a long request.
struct Saver<'a> {
    ctx: &'a RunCtx,
    f: &'a FileSlot,
    handle: &'a Arc<PartFile>,
}

impl Checkpoint for Saver<'_> {
    async fn save(&self, start: u64, end: u64) -> Result<(), String> {
        self.ctx
            .record(self.f, self.handle, start, end)
            .await
            .map(|_| ())
    }

    fn pin_etag(&self, etag: &str) -> Result<(), FetchError> {
        self.ctx.pin_etag(self.f, self.handle, etag)
    }
}

/// MASV refused the download URL because the file is infected: never fetch it, and
/// remove whatever part of it is on disk.
fn withhold_virus(ctx: &RunCtx, f: &FileSlot) {
    tracing::warn!(file = %f.meta.package_path, "file flagged as infected, withheld");
    lock(&ctx.open).remove(&f.meta.idx);
    let part = f.part_path(&ctx.dl.dst);
    if let Some(id) = *lock(&f.part)
        && id.is_at(&part)
    {
        let _ = std::fs::remove_file(&part);
    }
    ctx.session.forget_url(f.meta.idx);
    f.done.store(0, Relaxed);
    if let Err(msg) = set_file_state(&ctx.shared, &ctx.dl, f, FileState::VirusWithheld, None) {
        ctx.fail(msg);
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
