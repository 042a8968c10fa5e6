//! A package's expiry, as MASV says it: shown on the download, followed when the sender
//! extends it, and said once, a day ahead, for a download that is not complete, while
//! its files can still be fetched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use inbound_e2e::inbound_engine::{DownloadState, Event};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
use inbound_e2e::{Harness, until, wait_for, wait_for_bytes};

const LONG: Duration = Duration::from_secs(60);

fn expiring(hours: i64) -> SimPackage {
    SimPackage::new("soon", "Dailies")
        .with_file(SimFile::new(
            "f",
            "day1.mov",
            Content::generated(7, 4 * 1024 * 1024),
        ))
        .expiring_in(chrono::Duration::hours(hours))
}

/// The next event `pick` accepts, failing after a while.
async fn next<T>(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    what: &str,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    tokio::time::timeout(LONG, async {
        loop {
            if let Some(t) = pick(events.recv().await.unwrap()) {
                return t;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_expiring_within_a_day_is_said_so_once_and_an_extension_is_followed() {
    let h = Harness::new(vec![expiring(5)]).await;
    let package_id = h.package("soon").package_id.clone();
    let expires = h.sim.expiry(&package_id).unwrap().timestamp();
    // Slow enough that it is still under way when paused.
    h.sim.faults().set_conn_rate(256 * 1024);
    let mut events = h.engine.subscribe();
    let id = h
        .engine
        .add(&h.link("soon"), &h.dest(), None)
        .await
        .unwrap();

    let warned = next(&mut events, "expires-soon event", |e| match e {
        Event::ExpiresSoon { id: i, expires_at } if i == id => Some(expires_at),
        _ => None,
    })
    .await;
    assert_eq!(warned, expires);
    assert_eq!(h.engine.get(&id).unwrap().summary.expires_at, Some(expires));

    // The sender extends it by a week; the next opening of the link (here after a
    // restart: a pause keeps the session it has) says so.
    wait_for_bytes(&h.engine, &id, 1, LONG).await;
    let extended = Utc::now() + chrono::Duration::days(7);
    h.sim.set_expiry(&package_id, extended);
    h.sim.faults().set_conn_rate(0);
    let h = h.restart(|_| {}).await;
    until(LONG, "the new expiry is followed", || {
        h.engine.get(&id).unwrap().summary.expires_at == Some(extended.timestamp())
    })
    .await;
    wait_for(&h.engine, &id, &[DownloadState::Complete], LONG).await;

    // Kept with the download.
    let h = h.restart(|_| {}).await;
    assert_eq!(
        h.engine.get(&id).unwrap().summary.expires_at,
        Some(extended.timestamp())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_with_days_left_is_not_said_to_expire_soon() {
    let h = Harness::new(vec![expiring(72)]).await;
    let mut events = h.engine.subscribe();
    let id = h
        .engine
        .add(&h.link("soon"), &h.dest(), None)
        .await
        .unwrap();
    wait_for(&h.engine, &id, &[DownloadState::Complete], LONG).await;
    while let Ok(e) = events.try_recv() {
        assert!(!matches!(e, Event::ExpiresSoon { .. }), "{e:?}");
    }
    let expires = h.engine.get(&id).unwrap().summary.expires_at.unwrap();
    let hours = (expires - Utc::now().timestamp()) / 3600;
    assert!((71..=72).contains(&hours), "{hours}");
}

/// MASV counts each download session against a link's download limit (a sender may
/// allow only a few): paused and resumed, a download goes on in the session it had,
/// and opens the link once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_and_resume_opens_the_link_once() {
    let h = Harness::new(vec![expiring(72)]).await;
    h.sim.faults().set_conn_rate(256 * 1024);
    let id = h
        .engine
        .add(&h.link("soon"), &h.dest(), None)
        .await
        .unwrap();
    wait_for_bytes(&h.engine, &id, 1, LONG).await;
    h.engine.pause(&id).await.unwrap();
    h.sim.faults().set_conn_rate(0);
    h.engine.resume(&id).unwrap();
    wait_for(&h.engine, &id, &[DownloadState::Complete], LONG).await;
    assert_eq!(h.sim.link_requests_for("soon"), 1);
}
