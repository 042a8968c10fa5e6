//! Keeps the bandwidth schedule in force: sets the limit it gives, holds downloads
//! outside its download windows, and wakes at each change (or when the schedule or
//! the global limit is changed).

use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;

use super::Engine;
use crate::download::ledger;
use crate::error::EngineError;
use crate::model::schedule::{Clock, Schedule};
use crate::model::{DownloadState, Event, ScheduleStatus, WaitReason, Waiting};
use crate::sync::lock;

/// The key the schedule is saved under in the engine's settings.
const SETTING: &str = "bandwidth_schedule";

pub(crate) struct Timetable {
    schedule: Mutex<Schedule>,
    /// The global limit (bytes per second): in force outside every limit rule.
    global: Mutex<Option<u64>>,
    status: Mutex<Option<ScheduleStatus>>,
    /// Told when the schedule or the global limit changes.
    changed: Arc<tokio::sync::Notify>,
    clock: Arc<dyn Clock>,
}

impl Timetable {
    /// The schedule given for this process, else the one saved in `store`.
    pub fn load(config: &crate::config::EngineConfig, store: &crate::store::Store) -> Self {
        let schedule = config
            .bandwidth_schedule
            .clone()
            .unwrap_or_else(|| store.json_setting(SETTING).unwrap_or_default());
        Self {
            schedule: Mutex::new(schedule),
            global: Mutex::new(config.bandwidth_limit.filter(|&b| b > 0)),
            status: Mutex::new(None),
            changed: Arc::default(),
            clock: config.clock.clone(),
        }
    }

    /// Downloads may transfer now (as last applied; open before the first time).
    pub fn is_open(&self) -> bool {
        lock(&self.status).as_ref().is_none_or(|s| s.open)
    }

    /// When the download hours begin again, as last applied (Unix seconds; 0: not
    /// within a week).
    fn opens_at(&self) -> i64 {
        lock(&self.status)
            .as_ref()
            .and_then(|s| s.changes_at)
            .unwrap_or(0)
    }

    /// What is in force now, and the local time that changes next.
    fn evaluate(&self) -> (ScheduleStatus, Option<NaiveDateTime>) {
        let schedule = lock(&self.schedule).clone();
        let global = *lock(&self.global);
        let now = self.clock.now();
        let rules = schedule.rules_at(now, global);
        let next = schedule.next_change(now, global);
        let then = next.map(|t| schedule.rules_at(t, global));
        let status = ScheduleStatus {
            open: rules.open,
            limit: rules.limit,
            scheduled_limit: rules.scheduled_limit,
            changes_at: next.map(|t| self.clock.unix(t)),
            next_open: then.is_none_or(|r| r.open),
            next_limit: then.and_then(|r| r.limit),
        };
        (status, next)
    }

    /// Why a download waits while the schedule is closed, for a person.
    fn closed_message(&self) -> String {
        let windows: Vec<String> = lock(&self.schedule)
            .only_between
            .iter()
            .map(|w| w.to_string())
            .collect();
        format!(
            "outside the download hours ({}); it goes on by itself when they begin",
            windows.join(", ")
        )
    }
}

impl Engine {
    /// The bandwidth schedule in force (empty when none is set).
    pub fn bandwidth_schedule(&self) -> Schedule {
        lock(&self.shared.timetable.schedule).clone()
    }

    /// Replaces the bandwidth schedule, saves it with the downloads and applies it now.
    pub fn set_bandwidth_schedule(&self, schedule: Schedule) -> Result<(), EngineError> {
        schedule.validate()?;
        self.shared.store.save_setting(SETTING, &schedule)?;
        *lock(&self.shared.timetable.schedule) = schedule;
        self.apply_timetable();
        self.shared.timetable.changed.notify_one();
        Ok(())
    }

    /// The global limit: in force outside the schedule's limit rules. `None` or 0 is
    /// unlimited.
    pub fn set_bandwidth_limit(&self, bytes_per_sec: Option<u64>) {
        *lock(&self.shared.timetable.global) = bytes_per_sec.filter(|&b| b > 0);
        self.apply_timetable();
        self.shared.timetable.changed.notify_one();
    }

    /// The global limit as set (the schedule may have another in force: see
    /// [`Engine::schedule_status`]).
    pub fn bandwidth_limit(&self) -> Option<u64> {
        *lock(&self.shared.timetable.global)
    }

    /// What the schedule has in force now and when that changes.
    pub fn schedule_status(&self) -> ScheduleStatus {
        self.shared.timetable.evaluate().0
    }

    /// Puts what the schedule says now in force; returns when that changes next.
    fn apply_timetable(&self) -> Option<NaiveDateTime> {
        let table = &self.shared.timetable;
        let (status, next) = table.evaluate();
        self.shared.bandwidth.set(status.limit);
        let changed = {
            let mut last = lock(&table.status);
            let changed = last.as_ref() != Some(&status);
            *last = Some(status.clone());
            changed
        };
        if changed {
            tracing::info!(open = status.open, limit = ?status.limit, "the bandwidth schedule's rules changed");
            self.shared.emit(Event::Schedule { status });
        }
        self.schedule();
        next
    }

    /// Applies the schedule now and again at each change, until the engine shuts down.
    pub(super) fn spawn_timetable(&self) {
        let weak = Arc::downgrade(&self.shared);
        let shutdown = self.shared.shutdown.clone();
        let clock = self.shared.timetable.clock.clone();
        let changed_signal = self.shared.timetable.changed.clone();
        // Tracked, so shutdown waits for it: a reopened engine never finds this one's
        // data-folder lock still held by a pass that was under way.
        self.shared.tasks.spawn(async move {
            loop {
                if shutdown.is_cancelled() {
                    break;
                }
                let Some(shared) = weak.upgrade() else { break };
                let engine = Engine { shared };
                let changed = changed_signal.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let next = engine.apply_timetable();
                drop(engine);
                let at_next = async {
                    match next {
                        Some(at) => clock.wait_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = changed => {}
                    _ = at_next => {}
                }
            }
        });
    }

    /// Outside the download windows: running downloads go back to the queue (their
    /// bytes kept) and every queued one shows until when it waits.
    pub(super) fn hold_for_schedule(&self, list: &[Arc<crate::download::Download>]) {
        let table = &self.shared.timetable;
        let opens_at = table.opens_at();
        let message = table.closed_message();
        for dl in list {
            let cancel = {
                let mut s = dl.status();
                if s.deleted || !s.state().is_active() {
                    continue;
                }
                let cancel = (s.state() == DownloadState::Transferring)
                    .then(|| s.run.as_ref().map(|r| r.cancel.clone()))
                    .flatten();
                if cancel.is_some() {
                    tracing::info!(id = %dl.id, "outside the download hours: stopping until they begin");
                    ledger::set_state(&*self.shared, dl, &mut s, DownloadState::Queued, None, None);
                } else {
                    // Queued already, or about to start: it does not start now.
                    let error = s.error().map(str::to_owned);
                    ledger::show_state(&mut s, DownloadState::Queued, error);
                }
                cancel
            };
            if let Some(cancel) = cancel {
                cancel.cancel();
            }
            self.shared.set_waiting(
                dl,
                Some(Waiting {
                    reason: WaitReason::Schedule,
                    message: message.clone(),
                    retry_at: opens_at,
                }),
            );
        }
    }

    /// Inside the download windows again: queued downloads no longer say they wait for
    /// them (those that start now, or stay queued behind others).
    pub(super) fn release_from_schedule(&self, list: &[Arc<crate::download::Download>]) {
        for dl in list {
            let held = {
                let s = dl.status();
                s.run.is_none()
                    && s.waiting
                        .as_ref()
                        .is_some_and(|w| w.reason == WaitReason::Schedule)
            };
            if held {
                self.shared.set_waiting(dl, None);
            }
        }
    }
}
