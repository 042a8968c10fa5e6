//! How many connections a download opens when none was asked for: more while they pay
//! (storage capping each connection), no more when they do not (a bandwidth limit),
//! and exactly the count asked for otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadState, Engine};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes};

const MIB: u64 = 1024 * 1024;

/// The most connections the download had open at once, sampled until it settled.
async fn peak_connections(engine: &Engine, id: &str, within: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    let mut peak = 0;
    loop {
        let s = engine.get(id).unwrap().summary;
        peak = peak.max(s.connections);
        if matches!(s.state, DownloadState::Complete | DownloadState::Error) {
            return peak;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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
    let dest = h.dest();
    let id = h.engine.add(&h.link("capped"), &dest, None).await.unwrap();
    let peak = peak_connections(&h.engine, &id, Duration::from_secs(60)).await;
    assert_completes(&h, &id, "capped", &dest, Duration::from_secs(10)).await;
    assert_eq!(peak, 16, "grown to its cap, not past it");
    assert_eq!(h.engine.get(&id).unwrap().summary.connections, 0);
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
    let dest = h.dest();
    let id = h.engine.add(&h.link("limited"), &dest, None).await.unwrap();
    let peak = peak_connections(&h.engine, &id, Duration::from_secs(60)).await;
    assert_completes(&h, &id, "limited", &dest, Duration::from_secs(10)).await;
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
    let dest = h.dest();
    let id = h.engine.add(&h.link("fixed"), &dest, None).await.unwrap();
    let peak = peak_connections(&h.engine, &id, Duration::from_secs(60)).await;
    assert_completes(&h, &id, "fixed", &dest, Duration::from_secs(10)).await;
    assert_eq!(peak, 6);
    assert_eq!(h.sim.peak_bodies_in_flight(), 6, "as many as storage saw");
}
