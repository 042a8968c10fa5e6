//! A trickling connection never holds a file: storage paths differ per connection, and
//! one that crawls while its peers run at full speed gives its range to a fresh one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes, until};

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_connection_near_the_end_does_not_hold_the_file() {
    let h = Harness::with_config(vec![catalog::large("big", 24 * MIB)], |c| {
        c.connections_per_download = 4;
    })
    .await;
    let faults = h.sim.faults();
    // Four connections at 2 MiB/s each: about 3 s for the package. One request in four
    // trickles at 2 KiB/s: its 6 MiB range alone would take most of an hour.
    faults.set_conn_rate(2 * MIB);
    faults.trickle_every.store(4, Relaxed);
    let dest = h.dest();
    let started = tokio::time::Instant::now();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(120)).await;
    let took = started.elapsed();

    let injected = &faults.injected;
    assert!(injected.trickles.load(Relaxed) >= 1, "the fault fired");
    assert!(
        injected.trickles_abandoned.load(Relaxed) >= 1,
        "the trickling request was given up, not waited out"
    );
    // Its peers alone need about 3 s; handing a range over costs a couple of seconds
    // of measuring and a round trip, never the trickle's pace.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_connection_is_replaced_while_its_peers_still_have_work() {
    let h = Harness::with_config(vec![catalog::mixed("pkg", 8, 4 * MIB, 0)], |c| {
        c.connections_per_download = 2;
        c.slow_connection_after = Duration::from_secs(3);
    })
    .await;
    let faults = h.sim.faults();
    // 32 MiB over two connections at 1 MiB/s each: about 16 s, with a long queue of
    // ranges. The second request trickles; later ones do not.
    faults.set_conn_rate(MIB);
    faults.trickle_every.store(2, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("pkg"), &dest, None).await.unwrap();
    let injected = &faults.injected;
    until(Duration::from_secs(20), "a request trickled", || {
        injected.trickles.load(Relaxed) >= 1
    })
    .await;
    faults.trickle_every.store(0, Relaxed);

    // Given up after about `slow_connection_after`, long before the queue runs dry
    // (when an idle connection would take its range over anyway).
    until(Duration::from_secs(15), "the trickle was replaced", || {
        injected.trickles_abandoned.load(Relaxed) >= 1
    })
    .await;
    let progress = h.engine.get(&id).unwrap().summary;
    assert!(
        progress.bytes_done < progress.total_bytes / 2,
        "replaced while its peers still had work: {}/{} bytes done",
        progress.bytes_done,
        progress.total_bytes
    );
    assert_completes(&h, &id, "pkg", &dest, Duration::from_secs(120)).await;
}
