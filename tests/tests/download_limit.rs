//! A download's own speed limit: it holds that download to its pace while others run
//! at full speed, and it is kept across a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use inbound_e2e::inbound_engine::DownloadState;
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{DONE, Harness, assert_completes, wait_for};

const KIB: u64 = 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_download_keeps_its_pace_while_another_runs_at_full_speed() {
    let h = Harness::with_config(
        vec![
            catalog::large("slow", 1024 * KIB),
            catalog::large("fast", 4096 * KIB),
        ],
        |c| c.max_active_downloads = 2,
    )
    .await;
    let dest = h.dest();
    let slow = h
        .engine
        .add(&h.link("slow"), &dest.join("slow"), None)
        .await
        .unwrap();
    h.engine.pause(&slow).await.unwrap();
    h.engine.set_download_limit(&slow, Some(256 * KIB)).unwrap();
    assert_eq!(
        h.engine.get(&slow).unwrap().summary.rate_limit,
        Some(256 * KIB)
    );
    let started = Instant::now();
    h.engine.resume(&slow).unwrap();
    let fast = h
        .engine
        .add(&h.link("fast"), &dest.join("fast"), None)
        .await
        .unwrap();
    assert_completes(
        &h,
        &fast,
        "fast",
        &dest.join("fast"),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(
        h.engine.get(&slow).unwrap().summary.state,
        DownloadState::Complete,
        "the unlimited package, four times larger, finished first"
    );
    assert_completes(
        &h,
        &slow,
        "slow",
        &dest.join("slow"),
        Duration::from_secs(60),
    )
    .await;
    // 1 MiB at 256 KiB/s, less the limiter's fifth of a second of burst.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3),
        "1 MiB at 256 KiB/s took only {took:?}"
    );

    let h = h.restart(|_| {}).await;
    assert_eq!(
        h.engine.get(&slow).unwrap().summary.rate_limit,
        Some(256 * KIB)
    );
    h.engine.set_download_limit(&slow, None).unwrap();
    let h = h.restart(|_| {}).await;
    assert_eq!(h.engine.get(&slow).unwrap().summary.rate_limit, None);
    let _ = wait_for(&h.engine, &fast, DONE, Duration::from_secs(5)).await;
}
