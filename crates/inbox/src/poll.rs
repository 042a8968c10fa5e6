//! One pass over the watched portals and automations. Each portal and each package
//! stands alone: a
//! portal that cannot be listed, or a package that cannot be handed to the engine, is
//! reported and tried again later while everything else goes on.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use inbound_engine::{Destination, Origin, unix_now};
use inbound_masv::{PackageState, TeamPackage};

use crate::automation::{Automation, AutomationKind};
use crate::watcher::{PackageFailure, WatchedPortal, Watcher, WatcherEvent};
use crate::{InboxError, to_download};

/// A package that failed is tried again after this long, doubling each time...
const PACKAGE_RETRY_FIRST: Duration = Duration::from_secs(60);
/// ...up to this.
const PACKAGE_RETRY_MAX: Duration = Duration::from_secs(60 * 60);

/// A portal to look at and what to do with its packages: a watched portal's, or an
/// automation's.
struct Target<'a> {
    portal_id: String,
    portal_name: String,
    /// Packages sent from then on (Unix seconds).
    since: Option<i64>,
    rule: Rule<'a>,
}

enum Rule<'a> {
    Watched(&'a WatchedPortal),
    Automation(&'a Automation),
}

impl Target<'_> {
    fn destination(&self, p: &TeamPackage, package_folders: bool) -> (Destination, i64) {
        match self.rule {
            Rule::Watched(w) if package_folders => (Destination::package_folder_in(&w.folder), 0),
            Rule::Watched(w) => (Destination::straight(&w.folder), 0),
            Rule::Automation(a) => (a.destination_for(&self.portal_name, p), a.priority),
        }
    }
}

impl Watcher {
    /// One pass over the enabled portals and automations. Returns the packages handed
    /// to the engine. Fails only when nothing could be listed (MASV out of reach, the
    /// key refused) or the watcher's own records cannot be read or written.
    pub async fn poll_once(&self) -> Result<Vec<String>, InboxError> {
        let watched: Vec<_> = self.portals()?.into_iter().filter(|p| p.enabled).collect();
        let automations: Vec<_> = self
            .automations()?
            .into_iter()
            .filter(|a| a.enabled)
            .collect();
        let mut targets: Vec<Target<'_>> = watched
            .iter()
            .map(|w| Target {
                portal_id: w.portal_id.clone(),
                portal_name: w.portal_name.clone(),
                since: w.since,
                rule: Rule::Watched(w),
            })
            .collect();
        let mut unlisted = None;
        let mut listed = 0;
        if !automations.is_empty() {
            match self.inner.api.portals().await {
                Ok(portals) => {
                    listed += 1;
                    for a in &automations {
                        let covered: Vec<_> = portals
                            .iter()
                            .filter(|p| p.active && a.covers(&p.id, &p.subdomain))
                            .collect();
                        if covered.is_empty() && a.kind == AutomationKind::PortalDownload {
                            let _ = self.inner.events.send(WatcherEvent::PortalFailed {
                                portal_id: a.portal.clone().unwrap_or_default(),
                                portal_name: a.name.clone(),
                                message: format!(
                                    "automation '{}' names portal '{}', which the team does not have (or not active)",
                                    a.name,
                                    a.portal.as_deref().unwrap_or_default()
                                ),
                            });
                        }
                        targets.extend(covered.into_iter().map(|p| Target {
                            portal_id: p.id.clone(),
                            portal_name: if p.name.is_empty() {
                                p.subdomain.clone()
                            } else {
                                p.name.clone()
                            },
                            since: a.effective_time,
                            rule: Rule::Automation(a),
                        }));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the team's portals for its automations");
                    unlisted = Some(e);
                }
            }
        }
        // Each portal is listed once per pass, however many targets look at it.
        let mut listings: HashMap<String, Vec<TeamPackage>> = HashMap::new();
        // Portals listed in this pass, and the packages still uploading there.
        let (mut listed_now, mut uploading) = (HashSet::new(), HashSet::new());
        let mut started = Vec::new();
        for target in &targets {
            if !listings.contains_key(&target.portal_id) {
                match self.inner.api.portal_packages(&target.portal_id).await {
                    Ok(p) => {
                        listed += 1;
                        listed_now.insert(target.portal_id.clone());
                        listings.insert(target.portal_id.clone(), p);
                    }
                    Err(e) => {
                        tracing::warn!(portal = %target.portal_id, error = %e, "cannot list a watched portal");
                        let _ = self.inner.events.send(WatcherEvent::PortalFailed {
                            portal_id: target.portal_id.clone(),
                            portal_name: target.portal_name.clone(),
                            message: e.to_string(),
                        });
                        unlisted.get_or_insert(e);
                        listings.insert(target.portal_id.clone(), Vec::new());
                        continue;
                    }
                }
            }
            let packages = listings
                .get(&target.portal_id)
                .map_or(&[][..], Vec::as_slice);
            for p in packages {
                match p.state {
                    PackageState::Finalized => {
                        if let Some(id) = self.consider(target, p).await? {
                            started.push(id);
                        }
                    }
                    PackageState::New => {
                        // Still arriving: new to whoever watches, whenever it began.
                        self.inner.ledger.await_package(&p.id)?;
                        uploading.insert(p.id.clone());
                        self.follow_upload(p, &target.portal_id);
                    }
                    _ => {}
                }
            }
        }
        self.stop_followers_not_in(&listed_now, &uploading);
        match unlisted {
            Some(e) if listed == 0 => Err(e.into()),
            _ => Ok(started),
        }
    }

    /// Hands a finalized package to the engine if it is wanted, not handled before, and
    /// not waiting out an earlier failure. A failure is recorded, not returned.
    async fn consider(
        &self,
        target: &Target<'_>,
        p: &TeamPackage,
    ) -> Result<Option<String>, InboxError> {
        let ledger = &self.inner.ledger;
        if ledger.handled(&p.id)?.is_some() || !self.wanted(target, p)? {
            return Ok(None);
        }
        let earlier = ledger.failure(&p.id)?;
        if earlier.as_ref().is_some_and(|f| f.retry_at > unix_now()) {
            return Ok(None);
        }
        match self.take(target, p).await {
            Ok(id) => {
                if earlier.is_some() {
                    ledger.clear_failure(&p.id)?;
                }
                Ok(Some(id))
            }
            // The watcher's own records failing is not this package's problem.
            Err(e @ (InboxError::Database { .. } | InboxError::File { .. })) => Err(e),
            Err(e) => {
                let attempts = earlier.map_or(1, |f| f.attempts.saturating_add(1));
                let failure = PackageFailure {
                    package_id: p.id.clone(),
                    portal_id: target.portal_id.clone(),
                    package_name: p.name.clone(),
                    reason: e.to_string(),
                    attempts,
                    retry_at: unix_now() + retry_delay(attempts).as_secs() as i64,
                };
                tracing::warn!(package = %p.id, portal = %target.portal_id, error = %e, attempts, "a watched portal's package could not be started; trying again later");
                ledger.record_failure(&failure)?;
                let _ = self.inner.events.send(WatcherEvent::PackageFailed(failure));
                Ok(None)
            }
        }
    }

    /// Sent since the start date, or still uploading when it was first seen.
    fn wanted(&self, target: &Target<'_>, p: &TeamPackage) -> Result<bool, InboxError> {
        let (Some(since), Some(created)) = (target.since, p.created_at) else {
            // No start date, or a package of unknown age: downloading is the safe side.
            return Ok(true);
        };
        Ok(created.timestamp() >= since || self.inner.ledger.awaited(&p.id)?)
    }

    /// The engine is asked first and the ledger written after: a crash in between
    /// makes the next poll ask again, and the engine answers with the same download.
    async fn take(&self, target: &Target<'_>, p: &TeamPackage) -> Result<String, InboxError> {
        let origin = Origin::Portal {
            portal_id: target.portal_id.clone(),
            portal_name: target.portal_name.clone(),
        };
        let download = to_download(p, origin)?;
        let (dst, priority) = target.destination(p, self.inner.config.package_folders);
        let engine = &self.inner.engine;
        let id = engine.add_team_package(download, dst).await?;
        if priority != 0 {
            engine.set_priority(&id, priority)?;
        }
        self.inner
            .ledger
            .mark_handled(&p.id, &target.portal_id, &id)?;
        tracing::info!(package = %p.id, portal = %target.portal_id, download = %id, "watched portal package downloading");
        let _ = self.inner.events.send(WatcherEvent::Downloading {
            package_id: p.id.clone(),
            portal_id: target.portal_id.clone(),
            download_id: id.clone(),
        });
        Ok(id)
    }
}

/// 1 min, 2, 4... up to an hour.
fn retry_delay(attempts: u32) -> Duration {
    PACKAGE_RETRY_FIRST
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
        .min(PACKAGE_RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_package_waits_longer_each_time_up_to_an_hour() {
        let delays: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 3600);
    }
}
