//! When a package expires: MASV deletes it and its link stops working (10 days after
//! it was sent, unless the sender or a team member chose otherwise). Recorded as MASV
//! last said it, and said once, a day ahead, for a download that is not complete, so a
//! person can act while the files can still be fetched.

use std::sync::atomic::Ordering::Relaxed;

use crate::download::{Download, ledger};
use crate::model::{DownloadState, Event};
use crate::run::RunServices;

/// How long before expiry an unfinished download is said to expire soon.
pub const WARN_BEFORE_SECS: i64 = 24 * 3600;

/// Records the time MASV now gives for `dl`'s expiry (memory, row, event); the one
/// already known changes nothing, and no time (a team package's session) keeps it.
pub(crate) fn record(shared: &dyn RunServices, dl: &Download, expires_at: Option<i64>) {
    let Some(at) = expires_at else { return };
    if ledger::set_expiry(shared, dl, at) {
        warn_if_soon(shared, dl, crate::model::unix_now());
    }
}

/// Says [`Event::ExpiresSoon`] once for `dl` when it is not complete and its package
/// expires within [`WARN_BEFORE_SECS`] of `now` (and has not expired yet).
pub(crate) fn warn_if_soon(shared: &dyn RunServices, dl: &Download, now: i64) {
    let Some(at) = dl.expires_at() else {
        return;
    };
    if dl.state() == DownloadState::Complete || !expires_soon(at, now) {
        return;
    }
    if dl.expiry_warned.swap(true, Relaxed) {
        return;
    }
    tracing::info!(id = %dl.id, name = %dl.name, hours = (at - now) / 3600, "the package expires within a day and is not complete");
    shared.emit(Event::ExpiresSoon {
        id: dl.id.clone(),
        expires_at: at,
    });
}

fn expires_soon(at: i64, now: i64) -> bool {
    now < at && at - now <= WARN_BEFORE_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soon_is_within_a_day_and_not_past() {
        let now = 1_000_000;
        assert!(expires_soon(now + 3600, now));
        assert!(expires_soon(now + WARN_BEFORE_SECS, now));
        assert!(!expires_soon(now + WARN_BEFORE_SECS + 1, now));
        assert!(
            !expires_soon(now, now),
            "already expired: nothing to warn of"
        );
    }
}
