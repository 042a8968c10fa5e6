//! The bandwidth schedule on a clock the test moves: downloads stop when the download
//! hours end and go on, from where they were, when they begin again; a limit rule is
//! in force inside its hours only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadState, Event, Schedule, WaitReason};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, ManualClock, assert_completes, local, until, wait_for_bytes};

const MIB: u64 = 1024 * 1024;

fn schedule(limits: &[&str], only_between: &[&str]) -> Schedule {
    Schedule {
        limits: limits.iter().map(|s| s.parse().unwrap()).collect(),
        only_between: only_between.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_stop_when_the_download_hours_end_and_go_on_when_they_begin() {
    // Two seconds before the hours end.
    let clock = ManualClock::at(local(23, 12, 59, 58));
    let size = 8 * MIB;
    let h = Harness::with_config(vec![catalog::large("big", size)], |c| {
        c.clock = clock.clone();
        c.connections_per_download = 2;
    })
    .await;
    h.engine
        .set_bandwidth_schedule(schedule(&[], &["daily 12:00-13:00"]))
        .unwrap();
    // Slow enough that the hours end mid-file.
    h.sim.faults().set_conn_rate(MIB / 2);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, MIB / 2, Duration::from_secs(30)).await;

    clock.set(local(23, 13, 0, 0));
    until(
        Duration::from_secs(10),
        "the download waits for the schedule with no connection left open",
        || {
            let s = h.engine.get(&id).unwrap().summary;
            s.state == DownloadState::Queued
                && s.waiting.as_ref().map(|w| w.reason) == Some(WaitReason::Schedule)
                && s.connections == 0
                && h.sim.bodies_in_flight() == 0
        },
    )
    .await;
    let summary = h.engine.get(&id).unwrap().summary;
    let waiting = summary.waiting.unwrap();
    assert!(
        waiting.message.contains("daily 12:00-13:00"),
        "{}",
        waiting.message
    );
    assert_eq!(
        waiting.retry_at,
        h.engine.schedule_status().changes_at.unwrap(),
        "it says when the hours begin again"
    );
    let done_at_close = summary.bytes_done;
    assert!(done_at_close < size, "the package was not done yet");
    let served_at_close = h.sim.package_bytes_served("big");
    let requests_at_close = h.sim.storage_requests();
    // Asking the scheduler again (another setting changed) starts nothing.
    h.engine.set_max_active_downloads(3);
    assert_eq!(
        h.engine.get(&id).unwrap().summary.state,
        DownloadState::Queued
    );
    assert_eq!(h.sim.storage_requests(), requests_at_close);
    assert_eq!(h.sim.package_bytes_served("big"), served_at_close);

    // The next day's hours begin.
    h.sim.faults().set_conn_rate(0);
    clock.set(local(24, 12, 0, 0));
    let (detail, _) = assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    assert!(detail.summary.waiting.is_none());
    // It went on from where it was: what storage sent after the hours began is what
    // was missing (give or take the unsaved tail of each connection's last chunk).
    let served_after = h.sim.package_bytes_served("big") - served_at_close;
    assert!(
        served_after <= size - done_at_close + 2 * MIB,
        "{served_after} bytes sent after reopening, {} were missing",
        size - done_at_close
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_added_outside_the_hours_waits_without_asking_storage() {
    let clock = ManualClock::at(local(23, 8, 0, 0));
    let h = Harness::with_config(vec![catalog::large("big", MIB)], |c| {
        c.clock = clock.clone();
        c.bandwidth_schedule = Some(schedule(&[], &["mon-fri 22:00-06:00"]));
    })
    .await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let s = h.engine.get(&id).unwrap().summary;
    assert_eq!(s.state, DownloadState::Queued);
    assert_eq!(s.waiting.map(|w| w.reason), Some(WaitReason::Schedule));
    assert_eq!(h.sim.storage_requests(), 0);
    let status = h.engine.schedule_status();
    assert!(!status.open && status.next_open);
    clock.set(local(23, 22, 0, 0));
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_rule_is_in_force_inside_its_hours_and_the_global_limit_outside() {
    let clock = ManualClock::at(local(23, 17, 0, 0));
    let h = Harness::with_config(vec![], |c| {
        c.clock = clock.clone();
        c.bandwidth_limit = Some(50 * MIB);
    })
    .await;
    let mut events = h.engine.subscribe();
    h.engine
        .set_bandwidth_schedule(schedule(&["mon-fri 09:00-18:00 10M"], &[]))
        .unwrap();
    let status = h.engine.schedule_status();
    assert_eq!(status.limit, Some(10 * MIB));
    assert!(status.scheduled_limit);
    assert_eq!(
        status.next_limit,
        Some(50 * MIB),
        "the global limit from 18:00"
    );
    clock.set(local(23, 18, 0, 0));
    // The change is announced without anyone asking.
    let announced = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Event::Schedule { status }) = events.recv().await
                && status.limit == Some(50 * MIB)
            {
                return status;
            }
        }
    })
    .await
    .expect("the schedule's change is announced");
    assert!(!announced.scheduled_limit);
    assert_eq!(h.engine.bandwidth_limit(), Some(50 * MIB));
    // The schedule was saved with the downloads: a restart keeps it.
    let h = h.restart(|c| c.clock = clock.clone()).await;
    assert_eq!(h.engine.bandwidth_schedule().limits.len(), 1);
}
