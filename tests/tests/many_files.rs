//! A 10,000-file package, whose listing MASV rate limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes, files_under};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_files_complete_and_the_listing_limit_is_honoured() {
    let h = Harness::with_config(vec![catalog::many_files("many", 10_000)], |c| {
        c.connections_per_download = 16;
    })
    .await;
    // As MASV does for big packages: one listing per interval, 429 + Retry-After else.
    h.sim
        .faults()
        .set_listing_limit(9_999, Duration::from_secs(2));
    let first = h.root.path().join("first");
    let second = h.dest();

    let id1 = h.engine.add(&h.link("many"), &first, None).await.unwrap();
    assert_eq!(h.sim.listing_requests(), 1);
    let started = Instant::now();
    // Listing again right away is refused once; the engine waits as told, then succeeds.
    let id2 = h.engine.add(&h.link("many"), &second, None).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(
        h.sim.listing_requests(),
        3,
        "one refused listing, then one that worked: no hammering"
    );
    h.engine.delete(&id1, true).await.unwrap();

    let (detail, checked) =
        assert_completes(&h, &id2, "many", &second, Duration::from_secs(600)).await;
    assert_eq!(checked, 10_000);
    assert_eq!(detail.summary.files_complete, 10_000);
    assert_eq!(files_under(&second).len(), 10_000);
}
