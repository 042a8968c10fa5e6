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
use crate::fsutil::{
    available_space, create_dirs_inside, describe_io_error, finish_part, open_part_file,
};
use crate::model::{Event, FileState};
use crate::partfile::PartFile;
use crate::session::Session;
use crate::source::Source;
use crate::transfer::{Checkpoint, FetchError, RangeRequest, Span, fetch_range};

/// One request covers at most this much; progress inside it is saved every
/// `chunk_size` bytes.
const MAX_SEGMENT: u64 = 1024 * 1024 * 1024;
/// Room kept free beyond the download itself, so the disk is never filled to the brim.
const FREE_SPACE_MARGIN: u64 = 64 * 1024 * 1024;
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
    Cancelled,
}

#[derive(Clone, Copy, Debug)]
struct Work {
    idx: usize,
    start: u64,
    end: u64,
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
        Err(msg) => return RunEnd::Failed(msg),
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
    match ctx.dl.files.iter().find(|f| !f.state().is_settled()) {
        None => RunEnd::Complete,
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
    match source {
        Source::Link { link, password } => Ok(Session::open(
            shared.client_for(source.route_key()),
            link.clone(),
            password.clone(),
            shared.retry_policy(),
        )
        .await?
        .0),
        Source::Team { token, .. } => Ok(Session::team(
            shared.client_for(source.route_key()),
            package_id.to_owned(),
            token.clone(),
            shared.retry_policy(),
        )),
    }
}

/// Opens the link, checks the disk, creates folders and empty files, and lists the
/// byte ranges still missing.
async fn prepare(
    shared: &Arc<Shared>,
    dl: &Arc<Download>,
) -> Result<(Arc<Session>, VecDeque<Work>), String> {
    let cached = lock(&dl.session).take();
    let session = match cached {
        Some(s) => s,
        None => Arc::new(
            open_session(shared, &dl.source(), &dl.package_id)
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let remaining: u64 = dl
        .files
        .iter()
        .filter(|f| !f.state().is_settled())
        .map(|f| f.meta.size - f.done.load(Relaxed).min(f.meta.size))
        .sum();
    std::fs::create_dir_all(&dl.dst)
        .map_err(|e| describe_io_error("create the folder", &dl.dst, &e))?;
    let free = available_space(&dl.dst)
        .map_err(|e| describe_io_error("check free space in", &dl.dst, &e))?;
    if remaining + FREE_SPACE_MARGIN > free {
        return Err(format!(
            "not enough free space in {}: {} needed, {} available; free some space or choose another folder, then retry",
            dl.dst.display(),
            human_bytes(remaining + FREE_SPACE_MARGIN),
            human_bytes(free)
        ));
    }
    let chunk = shared.config.chunk_size.max(64 * 1024);
    let connections = shared.connections_per_download() as u64;
    let mut queue = VecDeque::new();
    for f in &dl.files {
        if f.state().is_settled() {
            continue;
        }
        if f.state() == FileState::Error {
            f.set_state(FileState::Pending);
            *lock(&f.error) = None;
        }
        if let Some(parent) = f.meta.rel_path.parent() {
            let created = create_dirs_inside(&dl.dst, parent)
                .map_err(|e| describe_io_error("create the folder", &dl.dst.join(parent), &e))?;
            for dir in created {
                shared
                    .store
                    .add_created_dir(&dl.id, &dir)
                    .map_err(|e| format!("could not save progress: {e}"))?;
            }
        }
        if f.meta.size == 0 {
            finish_empty(shared, dl, f)?;
            continue;
        }
        // As many segments as connections (long requests spare round trips); idle
        // connections later split what is left (work stealing).
        let segment = f
            .meta
            .size
            .div_ceil(connections)
            .clamp(chunk, MAX_SEGMENT.max(chunk));
        for (start, end) in lock(&f.ranges).missing(f.meta.size) {
            let mut s = start;
            while s < end {
                let e = (s + segment).min(end);
                queue.push_back(Work {
                    idx: f.meta.idx,
                    start: s,
                    end: e,
                });
                s = e;
            }
        }
        if queue.back().is_none_or(|w| w.idx != f.meta.idx) {
            // Every byte is recorded but the rename did not happen (a crash between).
            finish_file(shared, dl, f)?;
        }
    }
    Ok((session, queue))
}

fn finish_empty(shared: &Shared, dl: &Download, f: &FileSlot) -> Result<(), String> {
    if !already_finished(dl, f) {
        let part = f.part_path(&dl.dst);
        open_part_file(&part, 0).map_err(|e| describe_io_error("create", &part, &e))?;
    }
    finish_file(shared, dl, f)
}

fn finish_file(shared: &Shared, dl: &Download, f: &FileSlot) -> Result<(), String> {
    let final_path = f.final_path(&dl.dst);
    if !already_finished(dl, f) {
        finish_part(&f.part_path(&dl.dst), &final_path, f.meta.mtime)
            .map_err(|e| describe_io_error("finish", &final_path, &e))?;
    }
    f.done.store(f.meta.size, Relaxed);
    set_file_state(shared, dl, f, FileState::Complete, None)
}

/// The rename happened but the process stopped before recording it: the part file is
/// gone and the final file (whose name no other file had when it was planned) has
/// the expected size.
fn already_finished(dl: &Download, f: &FileSlot) -> bool {
    !f.part_path(&dl.dst).exists()
        && std::fs::symlink_metadata(f.final_path(&dl.dst))
            .is_ok_and(|m| m.is_file() && m.len() == f.meta.size)
}

fn set_file_state(
    shared: &Shared,
    dl: &Download,
    f: &FileSlot,
    state: FileState,
    error: Option<String>,
) -> Result<(), String> {
    f.set_state(state);
    *lock(&f.error) = error.clone();
    shared
        .store
        .set_file_state(&dl.id, f.meta.idx, state, error.as_deref())
        .map_err(|e| format!("could not save progress: {e}"))?;
    shared.emit(Event::FileStateChanged {
        id: dl.id.clone(),
        index: f.meta.idx,
        state,
        error,
    });
    Ok(())
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

    fn file_handle(&self, f: &FileSlot) -> std::io::Result<Arc<PartFile>> {
        let mut open = lock(&self.open);
        if let Some(h) = open.get(&f.meta.idx) {
            return Ok(h.clone());
        }
        let h = Arc::new(PartFile::open(&f.part_path(&self.dl.dst), f.meta.size)?);
        open.insert(f.meta.idx, h.clone());
        Ok(h)
    }

    /// Makes `[start, end)` durable and records it. Returns whether the file is whole.
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
        ranges.insert(start, end);
        self.shared
            .store
            .set_ranges(&self.dl.id, f.meta.idx, ranges.ranges())
            .map_err(|e| format!("could not save progress: {e}"))?;
        Ok(ranges.covered() == f.meta.size)
    }

    fn complete(&self, f: &FileSlot) -> Result<(), String> {
        lock(&self.open).remove(&f.meta.idx);
        finish_file(&self.shared, &self.dl, f)
    }
}

async fn worker(ctx: Arc<RunCtx>) {
    let mut backoff = ctx.shared.retry_policy().backoff();
    let mut url_refreshes = 0u32;
    while let Some(work) = ctx.next_work() {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let f = &ctx.dl.files[work.idx];
        if f.state().is_settled() || f.state() == FileState::Error {
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
            Err(e) => {
                ctx.fail(format!("{}: {e}", f.meta.package_path));
                break;
            }
        };
        let handle = match ctx.file_handle(f) {
            Ok(h) => h,
            Err(e) => {
                ctx.fail(describe_io_error("open", &f.part_path(&ctx.dl.dst), &e));
                break;
            }
        };
        let span = Arc::new(Span::new(work.idx, work.start, work.end));
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
            },
            |n| {
                f.done.fetch_add(n, Relaxed);
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
            backoff.reset();
            url_refreshes = 0;
            match ctx
                .record(f, &handle, work.start, work.start + written)
                .await
            {
                Ok(true) => {
                    if let Err(msg) = ctx.complete(f) {
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
        let rest = Work {
            start: work.start + written,
            end: span.end.load(Relaxed),
            ..work
        };
        match result {
            Ok(()) => {}
            Err(FetchError::Cancelled) => break,
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
                    ctx.fail(format!(
                        "{}: {message}; check your connection, then retry",
                        f.meta.package_path
                    ));
                    break;
                };
                tracing::debug!(file = %f.meta.package_path, %message, ?delay, "transfer interrupted, retrying");
                tokio::select! {
                    _ = ctx.cancel.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
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
}

/// MASV refused the download URL because the file is infected: never fetch it, and
/// remove whatever part of it is on disk.
fn withhold_virus(ctx: &RunCtx, f: &FileSlot) {
    tracing::warn!(file = %f.meta.package_path, "file flagged as infected, withheld");
    lock(&ctx.open).remove(&f.meta.idx);
    let _ = std::fs::remove_file(f.part_path(&ctx.dl.dst));
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
