//! How many connections a download opens when none was asked for: more while they pay
//! (storage capping each connection), no more when they do not (a bandwidth limit),
//! and exactly the count asked for otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::DownloadState;
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes};

const MIB: u64 = 1024 * 1024;

/// Downloads the package behind `link`, checks it arrived intact, and returns the most
/// connections it had open at once (sampled until it settled) and its id.
async fn peak_connections(h: &Harness, link: &str) -> (usize, String) {
    let dest = h.dest();
    let id = h.engine.add(&h.link(link), &dest, None).await.unwrap();
    let within = Duration::from_secs(60);
    let deadline = tokio::time::Instant::now() + within;
    let mut peak = 0;
    loop {
        let s = h.engine.get(&id).unwrap().summary;
        peak = peak.max(s.connections);
        if matches!(s.state, DownloadState::Complete | DownloadState::Error) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_completes(h, &id, link, &dest, Duration::from_secs(10)).await;
    (peak, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_added_while_each_adds_throughput() {
    let h = Harness::with_config(vec![catalog::large("capped", 48 * MIB)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 16;
    })
    .await;
    // Storage caps every connection at 1 MiB/s, as a long path does: each connection
    // added is another MiB/s.
    h.sim.faults().set_conn_rate(MIB);
    let (peak, id) = peak_connections(&h, "capped").await;
    assert_eq!(peak, 16, "grown to its cap, not past it");
    assert_eq!(h.engine.get(&id).unwrap().summary.connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adaptive_run_opens_wide_before_it_has_measured_anything() {
    let h = Harness::with_config(vec![catalog::many_files("wide", 24)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 32;
        // Requests wait for their answer, not give up and ask again (which would count
        // as more requests waiting).
        c.stall_timeout = Duration::from_secs(120);
    })
    .await;
    // Storage answers nothing until 16 requests wait at once: a run that opens a few and
    // adds more only once it has measured what they bring never gets an answer.
    h.sim.faults().hold_storage_until(16);
    let dest = h.dest();
    let id = h.engine.add(&h.link("wide"), &dest, None).await.unwrap();
    // Complete: 16 requests waited at once.
    assert_completes(&h, &id, "wide", &dest, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_add_nothing_are_not_opened() {
    let h = Harness::with_config(vec![catalog::large("limited", 40 * MIB)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 32;
        c.chunk_size = MIB;
        // The bottleneck is the person's limit: more connections cannot raise it.
        c.bandwidth_limit = Some(5 * MIB);
    })
    .await;
    let (peak, _) = peak_connections(&h, "limited").await;
    // It starts with 4 and tries 8 once; with no gain those close again.
    assert!((4..=8).contains(&peak), "peak {peak} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_asked_for_is_used_from_the_start() {
    let h = Harness::with_config(vec![catalog::large("fixed", 24 * MIB)], |c| {
        c.adaptive_connections = false;
        c.connections_per_download = 6;
    })
    .await;
    h.sim.faults().set_conn_rate(MIB);
    let (peak, _) = peak_connections(&h, "fixed").await;
    assert_eq!(peak, 6);
    assert_eq!(h.sim.peak_bodies_in_flight(), 6, "as many as storage saw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_away_storage_gets_many_connections_before_a_measurement() {
    let h = Harness::with_config(vec![catalog::large("far", 48 * MIB)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 16;
    })
    .await;
    // Every answer takes 300 ms to start, as over a long path; each connection is
    // capped, so connections are what speed it up.
    h.sim.faults().set_latency(Duration::from_millis(300));
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("far"), &dest, None).await.unwrap();
    // A measurement with 4 connections would see megabytes arrive before the run grew;
    // the first answer's delay is enough to open all 16 at once.
    let arrived_before_sixteen = loop {
        let s = h.engine.get(&id).unwrap().summary;
        if s.connections >= 16 {
            break s.bytes_done;
        }
        assert!(
            !matches!(s.state, DownloadState::Complete | DownloadState::Error),
            "finished without ever having 16 connections"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(
        arrived_before_sixteen < MIB,
        "{arrived_before_sixteen} bytes arrived before the run had 16 connections"
    );
    assert_completes(&h, &id, "far", &dest, Duration::from_secs(60)).await;
}

/// Splitting a range costs the bytes storage has already sent past the cut (the first
/// request stops there and they are thrown away: socket buffers, megabytes on a fast
/// path) and a new request. So the idle connections of a wide start wait until a
/// range's bytes show whether splitting it pays, instead of splitting every range the
/// moment it is requested; on storage that sends fast, each range stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_not_split_before_their_pace_shows_it_pays() {
    let h = Harness::with_config(vec![catalog::large("near", 8 * MIB)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 32;
        // Two ranges of 4 MiB for 32 connections.
        c.chunk_size = 4 * MIB;
    })
    .await;
    peak_connections(&h, "near").await;
    assert_eq!(h.sim.storage_requests(), 2, "one request per range");
    assert_eq!(h.sim.package_bytes_served("pkg-near"), 8 * MIB);
}

/// Where a range would take a while at its connection's pace, idle connections still
/// split it: storage capping each connection at 2 MiB/s gets twice the connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_that_would_take_a_while_are_split_by_idle_connections() {
    let h = Harness::with_config(vec![catalog::large("capped", 32 * MIB)], |c| {
        c.adaptive_connections = true;
        c.connections_per_download = 32;
        // Four ranges of 8 MiB for 32 connections.
        c.chunk_size = 8 * MIB;
    })
    .await;
    h.sim.faults().set_conn_rate(2 * MIB);
    peak_connections(&h, "capped").await;
    let requests = h.sim.storage_requests();
    assert!(requests >= 8, "every range split: {requests} requests");
}
