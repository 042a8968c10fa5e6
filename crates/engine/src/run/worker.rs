//! One connection of a run: takes ranges until none is left, and decides what each
//! way a request can end means for the download.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use inbound_masv::MasvError;

use crate::download::FileSlot;
use crate::download::ledger;
use crate::model::FileState;
use crate::sync::lock;
use crate::transfer::fsutil::{describe_io_error, is_disk_full};
use crate::transfer::partfile::PartFile;
use crate::transfer::span::{PaceMeter, Span};
use crate::transfer::{Checkpoint, FetchError, RangeRequest, fetch_range};

use super::files::withhold_virus;
use super::{Interruption, MAX_URL_REFRESHES, RunCtx};
use crate::transfer::span::Work;

pub(super) async fn worker(ctx: Arc<RunCtx>) {
    // A few quick tries ride out a blip; after that the download waits for the network
    // as a whole (and says so) instead of each connection backing off on its own.
    let mut backoff = ctx.shared.quick_retry_policy().backoff();
    let mut url_refreshes = 0u32;
    // However this connection ends, one waiting out a pause may be the last one left.
    let _idle = IdleOnDrop(&ctx);
    let pace = Arc::new(PaceMeter::new());
    lock(&ctx.connections).push(pace.clone());
    let mut member = ctx.scale.join();
    while !member.should_leave()
        && let Some(work) = ctx.next_work().await
    {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let f = &ctx.dl.files[work.idx];
        if f.state().is_settled() || f.state() == FileState::Error || work.epoch != f.epoch() {
            continue;
        }
        let permit = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            p = ctx.shared.connections().clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        if f.state() == FileState::Pending {
            ledger::show_transferring(f);
        }
        ctx.prefetch_urls();
        let url = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            u = ctx.session.file_url(f.meta.idx, &f.meta.file_id) => u,
        };
        let url = match url {
            Ok(u) => {
                ctx.scale
                    .saw_host(u.url.expose(), ctx.shared.host_ceilings());
                if member.should_leave() {
                    // That host took fewer connections before: this one closes.
                    ctx.requeue(work);
                    break;
                }
                u
            }
            Err(MasvError::Virus) => {
                withhold_virus(&ctx, f);
                continue;
            }
            Err(e) if e.is_transient() => {
                ctx.interrupt(Interruption::of(&e));
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
        let if_match = f.record().etag.clone();
        let span = Arc::new(Span::new(&work, ctx.cancel.child_token(), pace.clone()));
        ctx.track(&span);
        let (written, result) = fetch_range(
            RangeRequest {
                storage: ctx.shared.storage(),
                url: &url.url,
                file: &handle,
                span: &span,
                bandwidth: ctx.shared.bandwidth(),
                download_limit: ctx.dl.throttle(),
                stall_timeout: ctx.shared.config().stall_timeout,
                checkpoint_every: ctx.shared.config().chunk_size,
                checkpoint_interval: ctx.shared.config().checkpoint_interval,
                size: f.meta.size,
                if_match,
                on_answer: &|latency| ctx.scale.answered(latency),
                on_write: &|took| ctx.dl.signals.wrote(took),
            },
            |n| {
                if handle.epoch == f.epoch() {
                    f.add_arrived(n);
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
            ctx.shared.network_back().notify_waiters();
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
        if handle.epoch != f.epoch() {
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
            // Only this request was stopped: its rest went to another connection.
            Err(FetchError::Cancelled) if !ctx.cancel.is_cancelled() => ctx.requeue(rest),
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
                throttled,
            }) => {
                ctx.requeue(rest);
                if throttled {
                    ctx.dl.signals.throttled(std::time::Instant::now());
                    ctx.scale.throttled(ctx.shared.host_ceilings());
                }
                let Some(delay) = backoff.next_delay(retry_after) else {
                    ctx.interrupt(Interruption {
                        message,
                        reason: if throttled {
                            crate::model::WaitReason::RateLimited
                        } else {
                            crate::model::WaitReason::Network
                        },
                        retry_after,
                    });
                    break;
                };
                tracing::debug!(file = %f.meta.package_path, %message, ?delay, "transfer interrupted, retrying");
                if !ctx.pause_unless_done(delay).await {
                    break;
                }
            }
            Err(FetchError::Fatal(msg)) => {
                let msg = format!("{}: {msg}", f.meta.package_path);
                let _ = ledger::set_file_state(
                    &*ctx.shared,
                    &ctx.dl,
                    f,
                    FileState::Error,
                    Some(msg.clone()),
                );
                ctx.fail(msg);
                break;
            }
            Err(FetchError::Save(msg)) => {
                ctx.fail(msg);
                break;
            }
            // Another program filled the drive: wait for space, keeping every byte.
            Err(FetchError::Disk(e)) if is_disk_full(&e) => {
                ctx.requeue(rest);
                ctx.interrupt(Interruption::space(format!(
                    "the drive of {} is full; waiting for space (free some, and the download goes on)",
                    ctx.dl.dst.display()
                )));
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
            .map_err(|e| e.to_string())
    }

    fn pin_etag(&self, etag: &str) -> Result<(), FetchError> {
        self.ctx.pin_etag(self.f, self.handle, etag)
    }
}
