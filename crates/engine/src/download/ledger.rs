//! The only code that changes what is recorded of a download: memory, its row and the
//! event the faces are told, in one place, the event last (the record is written before
//! anyone is told). Everyone else reads (`Download`'s and `FileSlot`'s getters); a
//! change that is shown but not recorded says so here too. A change to one of its
//! files is in `files.rs`.
//!
//! Lock order: a download's `status` (an earlier download's before the one taking its
//! place), then a file's record; never two files' records at once.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;

use crate::download::{Download, Status};
use crate::model::source::Source;
use crate::model::{DownloadState, Event, Owner};
use crate::store::Store;
use crate::sync::lock;
use crate::transfer::volume::Volume;

mod files;

pub(crate) use files::*;

type Result<T> = rusqlite::Result<T>;

/// Where a change goes besides memory: the record, then the faces.
pub(crate) trait Journal: Send + Sync {
    /// The downloads' record (SQLite).
    fn store(&self) -> &Store;
    /// Tells the faces something changed; the record is written first.
    fn emit(&self, e: Event);
}

/// The download's state: in memory (under the status lock the caller holds, so the
/// check that led here and the change are one step), in its row, and told. A row that
/// cannot be written is logged: the state in memory is the truth for this process.
pub(crate) fn set_state(
    j: &dyn Journal,
    dl: &Download,
    s: &mut Status,
    state: DownloadState,
    error: Option<String>,
    completed_at: Option<i64>,
) {
    s.state = state;
    s.error = error.clone();
    s.completed_at = completed_at;
    if let Err(e) = j
        .store()
        .set_state(&dl.id, state, error.as_deref(), completed_at)
    {
        tracing::error!(id = %dl.id, error = %e, "could not save a download's state");
    }
    j.emit(Event::StateChanged {
        id: dl.id.clone(),
        state,
        error,
    });
}

/// Shown in this process only; the record keeps what it says, so the next start
/// decides afresh (a download unfinished when the last process stopped, paused here
/// without auto-resume; one that failed for a network cause, queued again).
pub(crate) fn show_state(s: &mut Status, state: DownloadState, error: Option<String>) {
    s.state = state;
    s.error = error;
}

/// A download with new files takes the place of `old` (see `Engine::choose_files`):
/// it is shown where `old` was, with `state`, its manifest and its hooks' outcome. Its
/// state is recorded by [`set_state`] when it differs from the recorded one.
pub(crate) fn carry_over(old: &Download, next: &Download, state: DownloadState) {
    carry_settings(old, next);
    let old = old.status();
    let mut s = next.status();
    s.state = state;
    s.completed_at = old
        .completed_at
        .filter(|_| state == DownloadState::Complete);
    s.manifest = old.manifest.clone();
    s.after_error = old.after_error.clone();
}

/// The limit and owner of a download listed once MASV answered, from its placeholder.
pub(crate) fn carry_settings(old: &Download, next: &Download) {
    next.limit.set(old.limit.limit());
    *lock(&next.owner) = *lock(&old.owner);
}

/// Its own speed limit (`None`: only the global one).
pub(crate) fn set_limit(j: &dyn Journal, dl: &Download, limit: Option<u64>) -> Result<()> {
    j.store().set_download_limit(&dl.id, limit)?;
    dl.limit.set(limit);
    Ok(())
}

/// Who its files are given to when it completes.
pub(crate) fn set_owner(j: &dyn Journal, dl: &Download, owner: Owner) -> Result<()> {
    j.store().set_download_owner(&dl.id, owner)?;
    *lock(&dl.owner) = Some(owner);
    Ok(())
}

/// Its rank in the queue. False when it already had it (nothing recorded or told).
pub(crate) fn set_priority(j: &dyn Journal, dl: &Download, priority: i64) -> Result<bool> {
    if dl.priority.swap(priority, Relaxed) == priority {
        return Ok(false);
    }
    j.store().set_priority(&dl.id, priority)?;
    j.emit(Event::PriorityChanged {
        id: dl.id.clone(),
        priority,
    });
    Ok(true)
}

/// A team package's listing handed out a newer access token.
pub(crate) fn renew_token(
    j: &dyn Journal,
    dl: &Download,
    token: &inbound_masv::Secret,
) -> Result<()> {
    let mut source = lock(&dl.source);
    if let Source::Team { token: held, .. } = &mut *source {
        *held = token.clone();
        j.store().set_access_token(&dl.id, token.expose())?;
    }
    Ok(())
}

/// When MASV deletes the package (Unix seconds), as it says now: in memory, in its row
/// and told. False when it said so already (nothing changes).
pub(crate) fn set_expiry(j: &dyn Journal, dl: &Download, at: i64) -> bool {
    if lock(&dl.expires_at).replace(at) == Some(at) {
        return false;
    }
    if let Err(e) = j.store().set_expiry(&dl.id, Some(at)) {
        // Only the view is behind: the next opening of the link says it again.
        tracing::warn!(id = %dl.id, error = %e, "could not save the package's expiry");
    }
    // A later time is a new day's notice, if it comes to that.
    dl.expiry_warned.store(false, Relaxed);
    j.emit(Event::ExpiryChanged {
        id: dl.id.clone(),
        expires_at: Some(at),
    });
    true
}

/// The ASC MHL manifest written when it completed.
pub(crate) fn set_manifest(j: &dyn Journal, dl: &Download, manifest: PathBuf) -> Result<()> {
    j.store().set_manifest(&dl.id, &manifest)?;
    dl.status().manifest = Some(manifest);
    Ok(())
}

/// The drive the download's folder is on from now on.
pub(crate) fn set_volume(j: &dyn Journal, dl: &Download, now: &Volume) -> Result<()> {
    j.store().set_volume(&dl.id, now)?;
    *lock(&dl.volume) = Some(*now);
    Ok(())
}

/// The drive came back as device `now.dev`: every identity recorded on `was` moves to
/// it, in the database first.
pub(crate) fn move_to_volume(j: &dyn Journal, dl: &Download, was: u64, now: &Volume) -> Result<()> {
    j.store().move_to_volume(&dl.id, was, now)?;
    for f in &dl.files {
        let mut r = lock(&f.record);
        if let Some(id) = &mut r.part
            && id.dev == was
        {
            id.dev = now.dev;
        }
        if let Some(w) = &mut r.written
            && w.id.dev == was
        {
            w.id.dev = now.dev;
        }
    }
    *lock(&dl.volume) = Some(*now);
    Ok(())
}

#[cfg(test)]
mod tests;
