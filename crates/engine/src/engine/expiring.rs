//! Looks over the downloads once a minute for packages that will expire within a day
//! and are not complete (see `crate::run::expiry`): a download added long before its expiry
//! is said to expire soon when that day begins, not only when it is added.

use std::time::Duration;

use super::Engine;
use crate::sync::lock;

/// Often enough that the day's notice is at most a minute late.
const LOOK_EVERY: Duration = Duration::from_secs(60);

impl Engine {
    /// MASV now keeps package `package_id` until `expires_at` (Unix seconds): a team
    /// member extended it. Every download of it follows at once.
    pub fn package_expiry_changed(&self, package_id: &str, expires_at: i64) {
        let downloads: Vec<_> = lock(&self.shared.downloads)
            .iter()
            .filter(|d| d.package_id == package_id)
            .cloned()
            .collect();
        for dl in &downloads {
            crate::run::expiry::record(&*self.shared, dl, Some(expires_at));
        }
    }

    pub(super) fn spawn_expiry_watch(&self) {
        self.spawn_every(LOOK_EVERY, |shared| {
            let now = crate::model::unix_now();
            let downloads: Vec<_> = lock(&shared.downloads).clone();
            for dl in &downloads {
                crate::run::expiry::warn_if_soon(&**shared, dl, now);
            }
        });
    }
}
