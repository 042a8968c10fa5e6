//! Unattended downloads through network outages: MASV and its storage unreachable for
//! minutes in the middle of a package, and the download carries on by itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{Destination, Engine, MasvError, Waiting, unix_now};
use inbound_e2e::inbound_engine::{DownloadState, Event, WaitReason};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, catalog};
use inbound_e2e::{Harness, assert_completes, until, wait_for_bytes};

const MIB: u64 = 1024 * 1024;
/// As long as the "must pass" says: five minutes with no route to MASV.
const OUTAGE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_survives_a_five_minute_outage_with_no_one_acting() {
    let h = Harness::new(vec![catalog::large("big", 24 * MIB)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let mut events = h.engine.subscribe();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 4 * MIB, Duration::from_secs(30)).await;
    h.sim.faults().set_outage(OUTAGE);
    let cut = tokio::time::Instant::now();

    // It waits for the network, says so, and never fails.
    let waiting = until_waiting(&h.engine, &id, Duration::from_secs(30)).await;
    assert_eq!(waiting.reason, WaitReason::Network);
    assert!(waiting.retry_at >= unix_now() - 1, "{waiting:?}");
    assert_eq!(
        h.engine.get(&id).unwrap().summary.state,
        DownloadState::Transferring,
        "waiting is still transferring, for the agent API and the queue"
    );

    h.sim.faults().set_conn_rate(0);
    let (done, _) = assert_completes(&h, &id, "big", &dest, OUTAGE + Duration::from_secs(60)).await;
    assert!(
        cut.elapsed() >= OUTAGE,
        "it cannot finish while unreachable"
    );
    assert!(
        cut.elapsed() < OUTAGE + Duration::from_secs(20),
        "back to work soon after the network is: {:?}",
        cut.elapsed()
    );
    assert!(done.summary.waiting.is_none());
    while let Ok(e) = events.try_recv() {
        if let Event::StateChanged { state, error, .. } = e {
            assert_ne!(state, DownloadState::Error, "{error:?}");
        }
    }
}

/// Waits until the download says it waits for the network.
async fn until_waiting(engine: &Engine, id: &str, within: Duration) -> Waiting {
    let mut waiting = None;
    until(within, "never said it waits", || {
        let s = engine.get(id).unwrap().summary;
        assert_ne!(s.state, DownloadState::Error, "{:?}", s.error);
        waiting = s.waiting;
        waiting.is_some()
    })
    .await;
    waiting.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_for_the_network_is_shown_soon_and_ends_at_once_on_pause() {
    // Long pauses between attempts, as after many failures in a row in real life.
    let h = Harness::with_config(vec![catalog::large("big", 16 * MIB)], |c| {
        c.retry_base_delay = Duration::from_millis(500);
        c.retry_max_delay = Duration::from_secs(600);
    })
    .await;
    h.sim.faults().set_conn_rate(MIB);
    let id = h.engine.add(&h.link("big"), h.dest(), None).await.unwrap();
    wait_for_bytes(&h.engine, &id, MIB, Duration::from_secs(30)).await;
    h.sim.faults().set_outage(Duration::from_secs(3600));
    let cut = tokio::time::Instant::now();
    until_waiting(&h.engine, &id, Duration::from_secs(15)).await;
    eprintln!("waiting shown {:?} after the outage began", cut.elapsed());
    pause_at_once(&h.engine, &id).await;
    let s = h.engine.get(&id).unwrap().summary;
    assert_eq!(s.state, DownloadState::Paused);
    assert!(s.waiting.is_none(), "a paused download waits for nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_long_retry_after_from_storage_neither_parks_the_package_nor_delays_a_pause() {
    use std::sync::atomic::Ordering::Relaxed;
    // Twelve files of 2 MiB: a few dozen storage requests, so several get the 429.
    let package = (0..12).fold(SimPackage::new("twelve", "Twelve clips"), |p, i| {
        p.with_file(SimFile::new(
            format!("c{i}"),
            format!("clip-{i:02}.mov"),
            Content::generated(i, 2 * MIB),
        ))
    });
    let h = Harness::new(vec![package]).await;
    let faults = h.sim.faults();
    faults.set_conn_rate(2 * MIB);
    faults.storage_retry_after_secs.store(86_400, Relaxed);
    faults.error_429_every.store(5, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("twelve"), &dest, None).await.unwrap();
    // Some connection is now told to come back tomorrow; pausing is still immediate.
    until(Duration::from_secs(30), "no 429 was sent", || {
        faults.injected.status_429.load(Relaxed) >= 1
    })
    .await;
    pause_at_once(&h.engine, &id).await;
    h.engine.resume(&id).unwrap();
    // The other connections carry the package; the one told to wait does not hold it.
    assert_completes(&h, &id, "twelve", &dest, Duration::from_secs(90)).await;
    assert!(faults.injected.status_429.load(Relaxed) >= 2);
}

/// Pauses, and checks the pause took effect within a second.
async fn pause_at_once(engine: &Engine, id: &str) {
    let asked = tokio::time::Instant::now();
    engine.pause(id).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "pause took {:?}",
        asked.elapsed()
    );
}

/// A download an older version left in Error because MASV could not be reached goes on
/// by itself at the next start; one that failed for a terminal cause stays failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_failed_for_a_network_cause_are_retried_at_start_up() {
    let h = Harness::new(vec![
        catalog::large("netfail", 2 * MIB),
        catalog::large("expired", 2 * MIB),
    ])
    .await;
    let dest = h.dest().join("net");
    let net = h.engine.add(&h.link("netfail"), &dest, None).await.unwrap();
    let gone = h
        .engine
        .add(&h.link("expired"), &h.dest().join("expired"), None)
        .await
        .unwrap();
    for id in [&net, &gone] {
        h.engine.pause(id).await.unwrap();
    }
    h.engine.shutdown().await;
    let db = rusqlite::Connection::open(h.data.path().join("inbound.sqlite")).unwrap();
    for (id, error) in [
        (
            &net,
            MasvError::Transient("could not connect to the server".into()).to_string(),
        ),
        (&gone, MasvError::Expired.to_string()),
    ] {
        let changed = db
            .execute(
                "UPDATE downloads SET state = 'error', error = ?1 WHERE id = ?2",
                (error, id),
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    drop(db);

    let h = h.restart(|_| {}).await;
    assert_completes(&h, &net, "netfail", &dest, Duration::from_secs(60)).await;
    let still = h.engine.get(&gone).unwrap().summary;
    assert_eq!(still.state, DownloadState::Error);
    assert!(still.error.unwrap().contains("expired"));
}

/// A download of 16 MiB under way, then cut off by a long outage, waiting for the
/// network with its next try far enough away (6 s or more) to tell "at once" from "on
/// schedule". Returns the harness and the download.
async fn waiting_far_from_its_next_try(link: &str) -> (Harness, String) {
    let h = Harness::with_config(vec![catalog::large(link, 16 * MIB)], |c| {
        c.retry_base_delay = Duration::from_millis(500);
        c.retry_max_delay = Duration::from_secs(600);
    })
    .await;
    h.sim.faults().set_conn_rate(MIB);
    let id = h.engine.add(&h.link(link), h.dest(), None).await.unwrap();
    wait_for_bytes(&h.engine, &id, MIB, Duration::from_secs(30)).await;
    h.sim.faults().set_outage(Duration::from_secs(3600));
    until(
        Duration::from_secs(90),
        "a long wait for the network",
        || {
            h.engine
                .get(&id)
                .unwrap()
                .summary
                .waiting
                .is_some_and(|w| w.retry_at >= unix_now() + 6)
        },
    )
    .await;
    (h, id)
}

/// A person's "Try now" makes a download waiting for the network try at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_now_makes_a_waiting_download_try_at_once() {
    use std::sync::atomic::Ordering::Relaxed;
    let (h, _) = waiting_far_from_its_next_try("trynow").await;
    let refusals = || h.sim.faults().injected.outage_refusals.load(Relaxed);
    let before = refusals();
    h.engine.try_waiting_now();
    until(Duration::from_secs(3), "a try right after Try now", || {
        refusals() > before
    })
    .await;
}

/// The kernel reporting a network change (here a veth pair added and removed; in life a
/// Wi-Fi joined, a VPN up, a cable plugged in) makes a download waiting for the network
/// try at once instead of at the end of its backoff. Needs root (CAP_NET_ADMIN) for
/// the veth pair, as CI has.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_change_makes_a_waiting_download_try_at_once() {
    use std::sync::atomic::Ordering::Relaxed;
    let (h, _) = waiting_far_from_its_next_try("netchange").await;
    let refusals = || h.sim.faults().injected.outage_refusals.load(Relaxed);
    let before = refusals();
    let (a, b) = (
        format!("inbna{}", std::process::id() % 100_000),
        format!("inbnb{}", std::process::id() % 100_000),
    );
    for args in [
        vec![
            "link",
            "add",
            a.as_str(),
            "type",
            "veth",
            "peer",
            "name",
            b.as_str(),
        ],
        vec!["link", "del", a.as_str()],
    ] {
        let status = std::process::Command::new("ip")
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success(), "ip {args:?} (needs root)");
    }
    until(
        Duration::from_secs(3),
        "a try right after the change",
        || refusals() > before,
    )
    .await;
}

/// Links added while MASV cannot be reached are downloads of their own, waiting for the
/// network with the ids they were given: one paused stays paused when MASV comes back,
/// one deleted leaves nothing behind (not even after a restart), and the others are
/// listed once MASV answers, each in a package folder of its own, and complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_added_while_masv_is_unreachable_wait_as_downloads_of_their_own() {
    let h = Harness::new(vec![
        catalog::large("first", 2 * MIB),
        catalog::large("paused", 2 * MIB),
        catalog::large("dropped", 2 * MIB),
    ])
    .await;
    h.sim.faults().set_outage(Duration::from_secs(3600));
    let into = Destination::package_folder_in(h.dest());
    let mut events = h.engine.subscribe();
    let mut ids = Vec::new();
    for link in ["first", "paused", "dropped"] {
        let id = h
            .engine
            .add_or_wait(&h.link(link), into.clone(), None)
            .await
            .unwrap();
        ids.push(id);
    }
    let [first, paused, dropped] = [&ids[0], &ids[1], &ids[2]];
    for id in &ids {
        let s = h.engine.get(id).unwrap().summary;
        assert!(s.state.is_active(), "{:?}", s.state);
        assert_eq!(s.file_count, 0);
        let waiting = s.waiting.expect("waiting for the network");
        assert!(
            waiting.message.starts_with("MASV cannot be reached"),
            "{waiting:?}"
        );
    }
    // The same link into the same place again: the download it already is.
    assert_eq!(
        &h.engine
            .add_or_wait(&h.link("first"), into.clone(), None)
            .await
            .unwrap(),
        first
    );
    h.engine.pause(paused).await.unwrap();
    h.engine.delete(dropped, true).await.unwrap();

    h.sim.faults().set_outage(Duration::ZERO);
    let own = h.dest().join("Large file");
    let (done, _) = assert_completes(&h, first, "first", &own, Duration::from_secs(60)).await;
    assert_eq!(done.summary.dst_folder, own);
    let mut listed = None;
    while let Ok(e) = events.try_recv() {
        if let Event::Added { download } = e
            && download.id == *first
            && download.file_count == 1
        {
            listed = Some(download);
        }
    }
    assert_eq!(listed.expect("an event once listed").name, "Large file");

    // MASV answers, yet the paused one has not asked it for anything.
    let held = h.engine.get(paused).unwrap().summary;
    assert_eq!(held.state, DownloadState::Paused);
    assert_eq!(held.file_count, 0);
    assert_eq!(h.sim.package_bytes_served("pkg-paused"), 0);
    h.engine.resume(paused).unwrap();
    let second = h.dest().join("Large file (1)");
    assert_completes(&h, paused, "paused", &second, Duration::from_secs(60)).await;

    assert!(h.engine.get(dropped).is_err());
    assert_eq!(h.sim.package_bytes_served("pkg-dropped"), 0);
    let h = h.restart(|_| {}).await;
    let known: Vec<String> = h.engine.list().into_iter().map(|d| d.id).collect();
    assert_eq!(known.len(), 2, "{known:?}");
    assert!(!known.contains(dropped));
    assert_eq!(
        h.engine.get(first).unwrap().summary.state,
        DownloadState::Complete
    );
}

/// MASV down while the network works (its API answers 503, its storage still serves):
/// a link added then, and a download resumed then, say that MASV cannot be reached,
/// not that they wait for the network; each failed try sets a later next one (the
/// countdown never stays in the past); both complete once MASV answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masv_down_is_told_apart_from_the_network() {
    use std::sync::atomic::Ordering::Relaxed;
    let h = Harness::with_config(
        vec![
            catalog::large("down", 2 * MIB),
            catalog::large("under_way", 8 * MIB),
        ],
        |c| {
            c.retry_base_delay = Duration::from_millis(500);
            c.retry_max_delay = Duration::from_secs(2);
        },
    )
    .await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let under_way = h
        .engine
        .add(&h.link("under_way"), h.dest(), None)
        .await
        .unwrap();
    wait_for_bytes(&h.engine, &under_way, MIB, Duration::from_secs(30)).await;
    h.engine.pause(&under_way).await.unwrap();

    h.sim.faults().api_down.store(true, Relaxed);
    // Restarted, the paused download has no session left: resuming it asks MASV.
    let h = h
        .restart(|c| {
            c.retry_base_delay = Duration::from_millis(500);
            c.retry_max_delay = Duration::from_secs(2);
        })
        .await;
    let into = Destination::package_folder_in(h.dest().join("new"));
    let added = h
        .engine
        .add_or_wait(&h.link("down"), into, None)
        .await
        .unwrap();
    h.engine.resume(&under_way).unwrap();
    for id in [&added, &under_way] {
        let first = until_waiting(&h.engine, id, Duration::from_secs(30)).await;
        assert_eq!(first.reason, WaitReason::Masv, "{first:?}");
        assert!(
            first.message.starts_with("MASV cannot be reached"),
            "{first:?}"
        );
        until(Duration::from_secs(15), "a later next try", || {
            h.engine
                .get(id)
                .unwrap()
                .summary
                .waiting
                .is_some_and(|w| w.reason == WaitReason::Masv && w.retry_at > first.retry_at)
        })
        .await;
    }

    h.sim.faults().api_down.store(false, Relaxed);
    h.sim.faults().set_conn_rate(0);
    let own = h.dest().join("new").join("Large file");
    assert_completes(&h, &added, "down", &own, Duration::from_secs(60)).await;
    assert_completes(
        &h,
        &under_way,
        "under_way",
        &h.dest(),
        Duration::from_secs(60),
    )
    .await;
}
