//! Pause, resume, delete, restart, the queue and the data-folder lock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadState, Engine, EngineError};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{
    DONE, Harness, assert_completes, assert_files_match, test_config, wait_for, wait_for_bytes,
};

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_bytes_and_resume_completes_identically() {
    let h = Harness::new(vec![catalog::large("big", 24 * MIB)]).await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 2 * MIB, Duration::from_secs(30)).await;

    h.engine.pause(&id).await.unwrap();
    let paused = h.engine.get(&id).unwrap().summary;
    assert_eq!(paused.state, DownloadState::Paused);
    let served_at_pause = h.sim.package_bytes_served("pkg-big");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        h.engine.get(&id).unwrap().summary.bytes_done,
        paused.bytes_done,
        "bytes stop growing"
    );
    assert_eq!(
        h.sim.package_bytes_served("pkg-big"),
        served_at_pause,
        "no connection keeps pulling"
    );
    assert!(paused.bytes_done < paused.total_bytes);

    h.sim.faults().set_conn_rate(0);
    // From a thread outside the runtime, as a UI's main thread calls it.
    let engine = h.engine.clone();
    let id2 = id.clone();
    std::thread::spawn(move || engine.resume(&id2))
        .join()
        .expect("resume from a plain thread does not panic")
        .unwrap();
    let (_, checked) = assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    assert_eq!(checked, 1);
    // What was kept at the pause is not fetched again (beyond buffers in flight).
    let served = h.sim.package_bytes_served("pkg-big");
    assert!(served <= 24 * MIB + 8 * 512 * 1024, "served {served}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_with_remove_files_removes_only_what_the_download_wrote() {
    let h = Harness::new(vec![catalog::demo(), catalog::hostile()]).await;
    let dest = h.dest();
    // Files that were there before: one with a name the package also uses.
    std::fs::create_dir_all(dest.join("Coastline/Stills")).unwrap();
    std::fs::write(dest.join("Coastline/Stills/still_01.jpg"), b"my own photo").unwrap();
    std::fs::write(dest.join("notes.txt"), b"keep me").unwrap();

    let id = h.engine.add(&h.link("demo"), &dest, None).await.unwrap();
    let (_, checked) = assert_completes(&h, &id, "demo", &dest, Duration::from_secs(60)).await;
    assert_eq!(checked, 7);
    // The existing file was not overwritten: the package's copy got another name.
    assert_eq!(
        std::fs::read(dest.join("Coastline/Stills/still_01.jpg")).unwrap(),
        b"my own photo"
    );
    assert!(dest.join("Coastline/Stills/still_01 (1).jpg").exists());

    // A second download into the same folder must survive the first one's deletion.
    let other = h.engine.add(&h.link("hostile"), &dest, None).await.unwrap();
    wait_for(&h.engine, &other, DONE, Duration::from_secs(60)).await;

    h.engine.delete(&id, true).await.unwrap();
    assert!(matches!(
        h.engine.get(&id),
        Err(EngineError::UnknownDownload(_))
    ));
    assert_eq!(
        std::fs::read(dest.join("Coastline/Stills/still_01.jpg")).unwrap(),
        b"my own photo"
    );
    assert_eq!(std::fs::read(dest.join("notes.txt")).unwrap(), b"keep me");
    assert!(
        !dest.join("Coastline/Day 1").exists(),
        "folders it created are removed"
    );
    assert!(
        dest.join("Coastline/Stills").exists(),
        "a folder that was there before stays"
    );
    assert!(!dest.join("Read me.txt").exists());
    let hostile = h.engine.get(&other).unwrap();
    assert_eq!(
        assert_files_match(&hostile, h.package("hostile"), &dest),
        10
    );

    // Without remove_files the files stay.
    h.engine.delete(&other, false).await.unwrap();
    assert!(dest.join("a/b/c/good.txt").exists());
    assert!(h.engine.list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_transferring_removes_part_files() {
    let h = Harness::new(vec![catalog::large("big", 16 * MIB)]).await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, MIB, Duration::from_secs(30)).await;
    assert!(dest.join("big.bin.inbound-part").exists());
    h.engine.delete(&id, true).await.unwrap();
    assert!(!dest.join("big.bin.inbound-part").exists());
    assert!(
        dest.exists(),
        "the destination itself was not created by the download"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_unfinished_downloads_by_itself() {
    let size = 24 * MIB;
    let h = Harness::new(vec![catalog::large("big", size)]).await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 3 * MIB, Duration::from_secs(30)).await;

    let h = h.restart(|_| {}).await;
    h.sim.faults().set_conn_rate(0);
    let (_, checked) = assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    assert_eq!(checked, 1);
    let served = h.sim.package_bytes_served("pkg-big");
    assert!(
        served <= size + 8 * 512 * 1024,
        "served {served} for {size}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_runs_at_most_the_configured_number_of_packages() {
    let packages = vec![
        catalog::large("a", 8 * MIB),
        catalog::large("b", 8 * MIB),
        catalog::large("c", 8 * MIB),
    ];
    let h = Harness::with_config(packages, |c| c.max_active_downloads = 1).await;
    h.sim.faults().set_conn_rate(4 * MIB);
    let dest = h.dest();
    let mut ids = Vec::new();
    for link in ["a", "b", "c"] {
        ids.push(
            h.engine
                .add(&h.link(link), &dest.join(link), None)
                .await
                .unwrap(),
        );
    }
    // After every state change, at most one package transfers.
    let mut events = h.engine.subscribe();
    let mut saw_queue = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let states: Vec<_> = ids
            .iter()
            .map(|id| h.engine.get(id).unwrap().summary.state)
            .collect();
        let running = states
            .iter()
            .filter(|s| **s == DownloadState::Transferring)
            .count();
        assert!(running <= 1, "{states:?}");
        saw_queue |= states.contains(&DownloadState::Queued);
        if states.iter().all(|s| *s == DownloadState::Complete) {
            break;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("the queue stopped moving: {other:?} {states:?}"),
        }
    }
    assert!(saw_queue);
    for (id, link) in ids.iter().zip(["a", "b", "c"]) {
        let d = wait_for(&h.engine, id, DONE, Duration::from_secs(60)).await;
        assert_eq!(assert_files_match(&d, h.package(link), &dest.join(link)), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_on_the_same_data_folder_is_refused() {
    let h = Harness::new(vec![catalog::demo()]).await;
    let second = Engine::open(test_config(&h.sim, h.data.path(), |_| {})).await;
    let Err(err) = second else {
        panic!("a second engine opened the same data folder")
    };
    assert!(matches!(err, EngineError::AlreadyRunning { .. }));
    assert!(err.to_string().contains("already running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_the_same_link_again_returns_the_same_download() {
    let h = Harness::new(vec![catalog::demo()]).await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("demo"), &dest, None).await.unwrap();
    let again = h
        .engine
        .add(&format!("  {}&lang=fr ", h.link("demo")), &dest, None)
        .await
        .unwrap();
    assert_eq!(id, again);
    assert_eq!(h.engine.list().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bandwidth_limit_applies_while_running() {
    let h = Harness::new(vec![catalog::large("big", 64 * MIB)]).await;
    h.engine.set_bandwidth_limit(Some(2 * MIB));
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    // Measure from the moment bytes flow, so a download that never starts fails.
    wait_for_bytes(&h.engine, &id, 1, Duration::from_secs(30)).await;
    let start = h.engine.get(&id).unwrap().summary.bytes_done;
    let t0 = std::time::Instant::now();
    wait_for_bytes(&h.engine, &id, start + 3 * MIB, Duration::from_secs(30)).await;
    let elapsed = t0.elapsed();
    // 3 MiB at 2 MiB/s takes about 1.5 s; the limiter's burst is at most one second's
    // worth, so anything under 0.5 s means the limit did not apply.
    assert!(
        elapsed >= Duration::from_millis(500),
        "3 MiB in {elapsed:?} with a 2 MiB/s limit"
    );
    h.engine.set_bandwidth_limit(None);
    assert_eq!(h.engine.bandwidth_limit(), None);
    let d = wait_for(&h.engine, &id, DONE, Duration::from_secs(60)).await;
    assert_eq!(d.summary.state, DownloadState::Complete);
}
