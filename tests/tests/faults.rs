//! The engine survives every fault the simulator can throw, without re-downloading
//! more than a bounded amount.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::DownloadState;
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_files_match, wait_for};

const DONE: &[DownloadState] = &[DownloadState::Complete, DownloadState::Error];
const MIB: u64 = 1024 * 1024;

async fn run_with_faults(
    size: u64,
    setup: impl FnOnce(&inbound_e2e::inbound_sim::Faults),
) -> (Harness, u64) {
    let h = Harness::new(vec![catalog::large("big", size)]).await;
    setup(h.sim.faults());
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let detail = wait_for(&h.engine, &id, DONE, Duration::from_secs(120)).await;
    assert_eq!(
        detail.summary.state,
        DownloadState::Complete,
        "{:?}",
        detail.summary.error
    );
    assert_eq!(assert_files_match(&detail, h.package("big"), &dest), 1);
    let served = h.sim.package_bytes_served("pkg-big");
    (h, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_mid_body_cost_almost_nothing() {
    let size = 48 * MIB;
    let (h, served) = run_with_faults(size, |f| f.drop_mid_body_every.store(3, Relaxed)).await;
    let drops = h.sim.storage_requests() / 3;
    assert!(drops >= 5, "the fault fired ({drops} drops)");
    // Bytes received before a drop are kept: only what was in flight is fetched again.
    assert!(
        served <= size + drops * 512 * 1024,
        "served {served} for {size} with {drops} drops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limits_are_retried() {
    let size = 24 * MIB;
    let (h, served) = run_with_faults(size, |f| {
        f.error_503_every.store(4, Relaxed);
        f.error_429_every.store(7, Relaxed);
    })
    .await;
    assert!(
        h.sim.storage_requests() > 24,
        "errors forced extra requests"
    );
    // A 503 or 429 carries no body, so nothing is fetched twice.
    assert_eq!(served, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_presigned_urls_and_tokens_are_renewed() {
    let size = 32 * MIB;
    let (h, served) = run_with_faults(size, |f| {
        f.set_url_lifetime(Duration::from_millis(700));
        f.set_token_lifetime(Duration::from_millis(900));
        // 2 MiB/s per connection: the transfer takes several URL lifetimes.
        f.set_conn_rate(2 * MIB);
    })
    .await;
    assert!(
        h.sim.download_url_requests() >= 3,
        "URLs were renewed ({})",
        h.sim.download_url_requests()
    );
    assert!(
        h.sim.link_requests() >= 2,
        "the token was renewed ({})",
        h.sim.link_requests()
    );
    assert_eq!(served, size, "a rejected URL costs no body bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_abandoned_and_resumed() {
    let size = 16 * MIB;
    let (h, served) = run_with_faults(size, |f| f.stall_every.store(5, Relaxed)).await;
    let stalls = h.sim.storage_requests() / 5;
    assert!(stalls >= 2, "the fault fired ({stalls} stalls)");
    assert!(
        served <= size + stalls * 512 * 1024,
        "served {served} for {size} with {stalls} stalls"
    );
}
