//! The queue: pause, resume, delete, and the scheduler that starts queued downloads
//! while slots are free and records how each run ended.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::Engine;
use crate::download::{Download, RunHandle, Status, ledger};
use crate::error::EngineError;
use crate::sync::lock;
use tokio_util::sync::CancellationToken;

use crate::engine::removal::remove_written_files;
use crate::model::{DownloadState, Event, Waiting};
use crate::run::destination::Recovery;
use crate::run::{self, Interruption, RunEnd};
use crate::transfer::retry::Backoff;

/// A failed run is run again at once at most this many times in a row when finished
/// files were found gone (see `destination::after_failure`).
const MAX_RUNS_AGAIN: u32 = 3;

impl Engine {
    /// Stops transferring; bytes already received are kept. Returns once the running
    /// connections have stopped and their progress is saved.
    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        let (_, run) = self.with_status(id, |dl, s| {
            if !s.state().is_active() {
                return None;
            }
            ledger::set_state(&*self.shared, dl, s, DownloadState::Paused, None, None);
            Some(s.run.take())
        })?;
        self.seam("pause.decided");
        let Some(run) = run else {
            return Ok(());
        };
        stop_run(run).await;
        self.schedule();
        Ok(())
    }

    /// Continues a paused download (or retries a failed one).
    pub fn resume(&self, id: &str) -> Result<(), EngineError> {
        let (_, resumed) = self.with_status(id, |dl, s| {
            if !matches!(s.state(), DownloadState::Paused | DownloadState::Error) {
                return false;
            }
            ledger::set_state(&*self.shared, dl, s, DownloadState::Queued, None, None);
            true
        })?;
        if !resumed {
            return Ok(());
        }
        self.schedule();
        Ok(())
    }

    /// Every download waiting for the network tries again now, not at the end of its
    /// pause (a person's "Try now").
    pub fn try_waiting_now(&self) {
        self.shared.network_back.notify_waiters();
    }

    /// Tries a failed download again from where it stopped.
    pub fn retry(&self, id: &str) -> Result<(), EngineError> {
        self.resume(id)
    }

    /// Forgets a download. With `remove_files`, deletes what this download wrote (its
    /// files, part files and the folders it created, if empty) and nothing else.
    pub async fn delete(&self, id: &str, remove_files: bool) -> Result<(), EngineError> {
        let (dl, run) = self.with_status(id, |_, s| {
            // From now on nothing starts it again (a resume racing with this delete).
            s.deleted = true;
            s.run.take()
        })?;
        lock(&self.shared.downloads).retain(|d| d.id != dl.id);
        stop_run(run).await;
        self.shared.emit(Event::Removed { id: dl.id.clone() });
        self.schedule();
        // Files first, the record after: a crash in between leaves the record, so the
        // rest can still be removed.
        let created_dirs = self.shared.store.created_dirs(&dl.id).unwrap_or_default();
        let failures = remove_written_files(&dl, created_dirs, remove_files);
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

    /// Runs `change` on the status of the download under `id`, locked. A link listed
    /// once MASV answered replaces its placeholder under the same id (see `unlisted`):
    /// a request that found the placeholder just before follows it to its successor.
    fn with_status<R>(
        &self,
        id: &str,
        change: impl FnOnce(&Download, &mut Status) -> R,
    ) -> Result<(Arc<Download>, R), EngineError> {
        loop {
            let dl = self.find(id)?;
            let mut s = dl.status();
            if s.deleted {
                drop(s);
                if self.find(id).is_ok_and(|now| !Arc::ptr_eq(&now, &dl)) {
                    continue;
                }
                return Err(EngineError::UnknownDownload(id.to_owned()));
            }
            let changed = change(&dl, &mut s);
            drop(s);
            return Ok((dl, changed));
        }
    }

    /// A point where a unit test may hold this thread; nothing outside tests.
    fn seam(&self, point: &'static str) {
        self.shared.seam(point);
    }

    /// Starts queued downloads while there are free slots.
    pub(super) fn schedule(&self) {
        if self.shared.shutdown.is_cancelled() {
            return;
        }
        let _scheduling = lock(&self.shared.scheduling);
        let mut list = lock(&self.shared.downloads).clone();
        if !self.shared.timetable.is_open() {
            self.hold_for_schedule(&list);
            self.shared.awake.set_busy(false);
            return;
        }
        self.release_from_schedule(&list);
        // Higher priority first; among equals, the order they were added in.
        list.sort_by_key(|d| std::cmp::Reverse(d.priority()));
        let max = self.shared.max_active.load(Relaxed).max(1);
        let mut running = list.iter().filter(|d| d.status().run.is_some()).count();
        self.seam("schedule.counted");
        for dl in &list {
            if running >= max {
                self.make_room_for(dl, &list);
                break;
            }
            let mut s = dl.status();
            if s.state() != DownloadState::Queued || s.run.is_some() || s.deleted {
                continue;
            }
            // Recorded before the run exists: a run that ends at once records its end
            // after this, never before (the database and the events end on the truth).
            ledger::set_state(
                &*self.shared,
                dl,
                &mut s,
                DownloadState::Transferring,
                None,
                None,
            );
            let run_id = self.shared.next_run.fetch_add(1, Relaxed);
            let cancel = self.shared.shutdown.child_token();
            let engine = self.clone();
            let (dl2, cancel2) = (dl.clone(), cancel.clone());
            // On the engine's runtime: resume() and retry() may be called from a thread
            // outside it (a UI's main thread).
            let join = self.shared.tasks.spawn_on(
                async move {
                    // A link added while MASV was out of reach is listed first.
                    let (dl, end) = match engine.list_when_reachable(dl2, &cancel2).await {
                        Ok(dl) => {
                            let end = engine.run_until_settled(&dl, cancel2).await;
                            (dl, end)
                        }
                        Err((dl, end)) => (dl, end),
                    };
                    engine.shared.set_waiting(&dl, None);
                    engine.finish_run(&dl, run_id, end);
                },
                &self.shared.runtime,
            );
            s.run = Some(RunHandle {
                run_id,
                cancel,
                join: Some(join),
            });
            drop(s);
            self.seam("schedule.started");
            running += 1;
        }
        self.shared.awake.set_busy(running > 0);
    }

    /// Every slot is taken and `waiting` may be next: if it is queued and outranks a
    /// running download, that one goes back to the queue (its bytes kept) and its run
    /// is stopped. The slot counts as taken until that run has ended; then `waiting`
    /// starts (the run's end schedules again).
    fn make_room_for(&self, waiting: &Arc<Download>, list: &[Arc<Download>]) {
        let rank = waiting.priority();
        {
            let s = waiting.status();
            if s.state() != DownloadState::Queued || s.run.is_some() || s.deleted {
                return;
            }
        }
        // A slot already being given up is the room: asking again before that run has
        // ended must not send a second download back to the queue.
        if list.iter().any(|d| {
            let s = d.status();
            s.state() == DownloadState::Queued && s.run.is_some()
        }) {
            return;
        }
        // The lowest-ranked running download, the most recently added among equals.
        let Some(lowest) = list.iter().rev().find(|d| {
            let s = d.status();
            s.state() == DownloadState::Transferring && s.run.is_some()
        }) else {
            return;
        };
        if lowest.priority() >= rank {
            return;
        }
        tracing::info!(id = %lowest.id, before = %waiting.id, "a download of higher priority takes its place");
        let cancel = {
            let mut s = lowest.status();
            ledger::set_state(
                &*self.shared,
                lowest,
                &mut s,
                DownloadState::Queued,
                None,
                None,
            );
            s.run.as_ref().map(|r| r.cancel.clone())
        };
        if let Some(cancel) = cancel {
            cancel.cancel();
        }
    }

    /// Runs the download until it completes, fails or is stopped. While MASV or its
    /// storage cannot be reached it waits (still transferring) and tries again, with
    /// growing pauses up to the configured cap, or at once when another download gets
    /// through: an outage never ends in an error.
    async fn run_until_settled(&self, dl: &Arc<Download>, cancel: CancellationToken) -> RunEnd {
        let mut backoff = self.network_backoff();
        // Runs again at once in a row (finished files gone): a file that keeps
        // vanishing (a quarantine?) ends in its error rather than a loop.
        let mut again = 0;
        loop {
            let before = dl.bytes_done();
            let why = match run::run(self.shared.clone(), dl.clone(), cancel.clone()).await {
                RunEnd::Interrupted(why) => why,
                RunEnd::Failed(msg) if !cancel.is_cancelled() => {
                    match crate::run::destination::after_failure(&*self.shared, dl) {
                        Some(Recovery::Wait(why)) => why,
                        Some(Recovery::Again) if again < MAX_RUNS_AGAIN => {
                            again += 1;
                            continue;
                        }
                        _ => return RunEnd::Failed(msg),
                    }
                }
                end => return end,
            };
            again = 0;
            if dl.bytes_done() > before {
                backoff.reset();
            }
            if !self.wait_for_network(dl, &mut backoff, why, &cancel).await {
                return RunEnd::Cancelled;
            }
            // Still waiting until bytes flow again (the runner says so) or the run ends.
        }
    }

    /// Growing pauses between tries while the network is out, up to the configured cap.
    pub(super) fn network_backoff(&self) -> Backoff {
        let policy = self.shared.retry_policy();
        Backoff::new(policy.base, policy.max, u32::MAX)
    }

    /// Shows the download waiting for the network, or for MASV's rate limit (`why`
    /// says which), and waits for the next try: the backoff's pause (at least what MASV
    /// asked for), or less when another download gets through or the network changes.
    /// False when the run was stopped meanwhile.
    pub(super) async fn wait_for_network(
        &self,
        dl: &Download,
        backoff: &mut Backoff,
        why: Interruption,
        cancel: &CancellationToken,
    ) -> bool {
        let policy = self.shared.retry_policy();
        let delay = backoff.next_delay(why.retry_after).unwrap_or(policy.max);
        let retry_at = chrono::Utc::now()
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::zero());
        self.shared.set_waiting(
            dl,
            Some(Waiting {
                reason: why.reason,
                message: why.message,
                retry_at: retry_at.timestamp(),
            }),
        );
        let network_back = self.shared.network_back.notified();
        tokio::select! {
            _ = cancel.cancelled() => {
                self.shared.set_waiting(dl, None);
                false
            }
            _ = tokio::time::sleep(delay) => true,
            _ = network_back => true,
        }
    }

    pub(super) fn finish_run(&self, dl: &Arc<Download>, run_id: u64, end: RunEnd) {
        self.seam("finish_run");
        let outcome = {
            let mut s = dl.status();
            if s.run.as_ref().is_some_and(|r| r.run_id == run_id) {
                s.run = None;
            }
            let stopped =
                s.state() != DownloadState::Transferring || self.shared.shutdown.is_cancelled();
            let outcome = match end {
                _ if s.deleted => None,
                // Every file is in and the manifest written: a pause, a pre-emption or
                // a shutdown that came while it was written changes nothing now (a
                // run again would write a second generation for one transfer).
                RunEnd::Complete => Some((
                    DownloadState::Complete,
                    None,
                    Some(crate::model::unix_now()),
                )),
                _ if stopped => None,
                RunEnd::Cancelled | RunEnd::Interrupted(_) => None,
                RunEnd::Failed(msg) => Some((DownloadState::Error, Some(msg), None)),
            };
            outcome.map(|(state, error, completed_at)| {
                tracing::info!(id = %dl.id, state = state.as_str(), "download finished");
                ledger::set_state(&*self.shared, dl, &mut s, state, error, completed_at);
                state
            })
        };
        if outcome == Some(DownloadState::Complete) {
            self.after_complete(dl);
        }
        self.schedule();
    }
}

pub(super) async fn stop_run(run: Option<RunHandle>) {
    if let Some(mut run) = run {
        run.cancel.cancel();
        if let Some(join) = run.join.take() {
            let _ = join.await;
        }
    }
}
