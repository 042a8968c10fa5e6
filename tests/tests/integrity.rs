//! Every file arrives byte-identical, nothing is overwritten, nothing is lost: two
//! packages in one folder, part files deleted or replaced, folders that vanish, storage
//! that answers ranges wrongly, objects that change under a download.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::DownloadState;
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, catalog};
use inbound_e2e::{
    DONE, Harness, assert_completes, files_under, sha256_file, until, wait_for, wait_for_bytes,
};

const MIB: u64 = 1024 * 1024;
const LONG: Duration = Duration::from_secs(90);

/// A camera card's worth of names, the same in every package built from it; `seed`
/// makes the bytes differ.
fn camera_card(link_id: &str, seed: u64, day_folder: &str) -> SimPackage {
    SimPackage::new(link_id, format!("Card {link_id}"))
        .with_file(SimFile::new(
            "c1",
            "A001_C001.mov",
            Content::generated(seed, 6 * MIB),
        ))
        .with_file(
            SimFile::new("c2", "A001_C002.MOV", Content::generated(seed + 1, 3 * MIB))
                .in_folder(day_folder),
        )
        .with_file(SimFile::new(
            "c3",
            "notes.txt",
            Content::bytes(format!("card {link_id}").into_bytes()),
        ))
}

/// A 24 MiB download on slow connections (2 MiB/s each), `bytes` into its transfer.
async fn big_download_under_way(bytes: u64) -> (Harness, String, std::path::PathBuf) {
    let h = Harness::new(vec![catalog::large("big", 24 * MIB)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, bytes, LONG).await;
    (h, id, dest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_packages_with_the_same_names_in_one_folder_both_arrive_intact() {
    // The second card spells the folder and a name differently only by case, as
    // cards from another camera or a re-export do: on a case-insensitive destination
    // (macOS, Windows, exFAT or SMB on Linux) they are the same names.
    let h = Harness::with_config(
        vec![
            camera_card("day1", 100, "Day 1"),
            camera_card("day2", 200, "day 1"),
        ],
        |c| c.connections_per_download = 1,
    )
    .await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let (link1, link2) = (h.link("day1"), h.link("day2"));
    let (a, b) = tokio::join!(
        h.engine.add(&link1, &dest, None),
        h.engine.add(&link2, &dest, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, b);
    // Both are transferring at once (the slow connections keep them mid-flight).
    wait_for_bytes(&h.engine, &a, MIB, LONG).await;
    wait_for_bytes(&h.engine, &b, MIB, LONG).await;
    h.sim.faults().set_conn_rate(0);
    let (da, na) = assert_completes(&h, &a, "day1", &dest, LONG).await;
    let (db, nb) = assert_completes(&h, &b, "day2", &dest, LONG).await;
    assert_eq!((na, nb), (3, 3));
    let lower = |p: &std::path::Path| p.to_string_lossy().to_lowercase();
    for (fa, fb) in da.files.iter().zip(&db.files) {
        assert_ne!(
            lower(&fa.path),
            lower(&fb.path),
            "two downloads share {}",
            fa.path.display()
        );
    }
    let renamed = da
        .files
        .iter()
        .chain(&db.files)
        .filter(|f| f.path.to_string_lossy().contains(" (1)"))
        .count();
    // Whichever planned second renamed its copies of the three shared names.
    assert_eq!(renamed, 3, "{:?} {:?}", da.files, db.files);
    assert_eq!(files_under(&dest).len(), 6, "{:?}", files_under(&dest));
}

/// One download at a time, and a slow one (`blocker`, into a folder of its own)
/// running first: the packages added next wait in the queue with no file on disk.
async fn behind_a_blocker(packages: Vec<SimPackage>) -> (Harness, String) {
    let mut all = vec![catalog::large("blocker", 8 * MIB)];
    all.extend(packages);
    let h = Harness::with_config(all, |c| c.max_active_downloads = 1).await;
    h.sim.faults().set_conn_rate(4 * MIB);
    let blocker = h
        .engine
        .add(&h.link("blocker"), &h.root.path().join("other"), None)
        .await
        .unwrap();
    (h, blocker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_added_while_another_is_queued_does_not_take_its_names() {
    // The first package waits in the queue, so none of its part files exist yet when
    // the second one plans its paths.
    let (h, blocker) = behind_a_blocker(vec![
        camera_card("day1", 100, "Day 1"),
        camera_card("day2", 200, "Day 1"),
    ])
    .await;
    let dest = h.dest();
    let a = h.engine.add(&h.link("day1"), &dest, None).await.unwrap();
    let b = h.engine.add(&h.link("day2"), &dest, None).await.unwrap();
    assert_eq!(
        h.engine.get(&a).unwrap().summary.state,
        DownloadState::Queued
    );
    h.sim.faults().set_conn_rate(0);
    wait_for(&h.engine, &blocker, DONE, LONG).await;
    assert_completes(&h, &a, "day1", &dest, LONG).await;
    assert_completes(&h, &b, "day2", &dest, LONG).await;
    assert_eq!(files_under(&dest).len(), 6, "{:?}", files_under(&dest));
}

/// Names are reserved across nested folders too: a queued package planned into a
/// folder holds its names against a package added into a folder inside it (and the
/// other way round), not only against one added into the same folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_added_into_a_folder_inside_a_queued_ones_does_not_take_its_names() {
    let (h, blocker) = behind_a_blocker(vec![
        camera_card("outer", 300, "Day 1"),
        // Its files land straight in "Day 1": the outer card's `Day 1/A001_C002.MOV`.
        SimPackage::new("inner", "Inner").with_file(SimFile::new(
            "i1",
            "A001_C002.MOV",
            Content::generated(400, 2 * MIB),
        )),
    ])
    .await;
    let dest = h.dest();
    let outer = h.engine.add(&h.link("outer"), &dest, None).await.unwrap();
    let inner_folder = dest.join("Day 1");
    let inner = h
        .engine
        .add(&h.link("inner"), &inner_folder, None)
        .await
        .unwrap();
    let inner_path = &h.engine.get(&inner).unwrap().files[0].path;
    assert_ne!(
        inner_folder.join(inner_path),
        dest.join("Day 1/A001_C002.MOV"),
        "the inner package took a name the queued outer one holds"
    );
    h.sim.faults().set_conn_rate(0);
    wait_for(&h.engine, &blocker, DONE, LONG).await;
    assert_completes(&h, &outer, "outer", &dest, LONG).await;
    assert_completes(&h, &inner, "inner", &inner_folder, LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_part_files_are_fetched_again_not_filled_with_zeros() {
    let h = Harness::new(vec![catalog::mixed("mixed", 2, 12 * MIB, 4)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("mixed"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 10 * MIB, LONG).await;
    h.engine.pause(&id).await.unwrap();
    // The person deletes the half-downloaded files, then presses Resume.
    let mut deleted = 0;
    for f in files_under(&dest) {
        if f.to_string_lossy().ends_with(".inbound-part") {
            std::fs::remove_file(dest.join(f)).unwrap();
            deleted += 1;
        }
    }
    assert!(deleted >= 1, "part files existed");
    h.sim.faults().set_conn_rate(0);
    h.engine.resume(&id).unwrap();
    let (_, checked) = assert_completes(&h, &id, "mixed", &dest, LONG).await;
    assert_eq!(checked, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_files_deleted_while_the_app_was_closed_are_fetched_again() {
    let (h, id, dest) = big_download_under_way(6 * MIB).await;
    h.engine.shutdown().await;
    std::fs::remove_file(dest.join("big.bin.inbound-part")).unwrap();
    let h = h.restart(|_| {}).await;
    h.sim.faults().set_conn_rate(0);
    assert_completes(&h, &id, "big", &dest, LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_vanished_is_waited_for_not_started_afresh() {
    let (h, id, dest) = big_download_under_way(4 * MIB).await;
    h.engine.pause(&id).await.unwrap();
    // The drive is unplugged: its folder is gone.
    let unplugged = h.root.path().join("unplugged");
    std::fs::rename(&dest, &unplugged).unwrap();
    h.engine.resume(&id).unwrap();
    let mut said = String::new();
    until(LONG, "waiting for the drive", || {
        let s = h.engine.get(&id).unwrap().summary;
        assert_ne!(s.state, DownloadState::Error, "{:?}", s.error);
        said = s.waiting.map(|w| w.message).unwrap_or_default();
        said.contains("is the drive connected")
    })
    .await;
    assert!(said.contains(&dest.display().to_string()), "{said}");
    assert!(!dest.exists(), "nothing was started on the local disk");
    // Plugged back in, it carries on by itself from the bytes on it.
    std::fs::rename(&unplugged, &dest).unwrap();
    h.sim.faults().set_conn_rate(0);
    assert_completes(&h, &id, "big", &dest, LONG).await;
    assert!(h.sim.package_bytes_served("pkg-big") < 24 * MIB + 24 * MIB / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_file_replaced_by_another_file_is_never_written_into() {
    let (h, id, dest) = big_download_under_way(4 * MIB).await;
    h.engine.pause(&id).await.unwrap();
    let part = dest.join("big.bin.inbound-part");
    std::fs::remove_file(&part).unwrap();
    std::fs::write(&part, b"somebody else's file").unwrap();
    h.engine.resume(&id).unwrap();
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(d.summary.state, DownloadState::Error);
    let msg = d.summary.error.unwrap();
    assert!(msg.contains("big.bin.inbound-part"), "{msg}");
    assert_eq!(std::fs::read(&part).unwrap(), b"somebody else's file");
    // Moved away, Retry fetches the file again into a part file of its own.
    std::fs::remove_file(&part).unwrap();
    h.sim.faults().set_conn_rate(0);
    h.engine.retry(&id).unwrap();
    assert_completes(&h, &id, "big", &dest, LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_files_leaves_a_file_that_took_the_place_of_a_downloaded_one() {
    let h = Harness::new(vec![catalog::demo()]).await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("demo"), &dest, None).await.unwrap();
    let (detail, checked) = assert_completes(&h, &id, "demo", &dest, LONG).await;
    assert!(checked >= 3);
    let delivered: Vec<_> = detail
        .files
        .iter()
        .filter(|f| f.state == inbound_e2e::inbound_engine::FileState::Complete)
        .collect();
    // The person moves one delivered file away and puts their own at its name.
    let replaced = dest.join(&delivered[0].path);
    let moved = h.root.path().join("moved-away");
    std::fs::rename(&replaced, &moved).unwrap();
    std::fs::write(&replaced, b"my edit of it").unwrap();
    // Another delivered file gets edited in place (new size and time).
    let edited = dest.join(&delivered[1].path);
    std::fs::write(&edited, b"edited in place").unwrap();

    h.engine.delete(&id, true).await.unwrap();
    assert_eq!(std::fs::read(&replaced).unwrap(), b"my edit of it");
    assert_eq!(std::fs::read(&edited).unwrap(), b"edited in place");
    assert!(moved.exists());
    let left: Vec<_> = files_under(&dest);
    assert_eq!(
        left.len(),
        2,
        "only the two files the person changed stay: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_that_answers_200_to_ranges_still_gives_identical_files() {
    let h = Harness::with_config(vec![catalog::large("big", 24 * MIB)], |c| {
        c.connections_per_download = 4;
    })
    .await;
    h.sim.faults().ignore_range_every.store(2, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, LONG).await;
    assert!(h.sim.faults().injected.bad_ranges.load(Relaxed) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misplaced_short_and_cut_ranges_never_land_in_the_wrong_place() {
    let h = Harness::with_config(vec![catalog::large("big", 24 * MIB)], |c| {
        c.connections_per_download = 4;
    })
    .await;
    let f = h.sim.faults();
    f.wrong_range_start_every.store(5, Relaxed);
    f.short_range_every.store(3, Relaxed);
    f.length_over_every.store(7, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, LONG).await;
    assert!(f.injected.bad_ranges.load(Relaxed) >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_size_different_from_the_listing_is_a_clear_error() {
    let h = Harness::new(vec![catalog::large("big", 4 * MIB)]).await;
    h.sim.faults().wrong_range_total_every.store(1, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(d.summary.state, DownloadState::Error);
    let msg = d.summary.error.unwrap();
    assert!(msg.contains("size changed on MASV"), "{msg}");
    assert!(!dest.join("big.bin").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_whose_size_differs_from_the_listing_is_a_clear_error() {
    let h = Harness::new(vec![catalog::large("big", 4 * MIB)]).await;
    h.sim
        .replace_object("pkg-big", "big", Content::generated(9, 3 * MIB));
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(d.summary.state, DownloadState::Error);
    let msg = d.summary.error.unwrap();
    assert!(msg.contains("size changed on MASV"), "{msg}");
    assert!(msg.contains("big.bin"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_changes_mid_download_restarts_that_file_cleanly() {
    let size = 24 * MIB;
    let h = Harness::with_config(vec![catalog::large("big", size)], |c| {
        c.connections_per_download = 4;
    })
    .await;
    h.sim.faults().set_conn_rate(2 * MIB);
    // Dropped connections make sure requests are made after the change too (a request
    // already answering keeps sending the object it started with, as S3 does).
    h.sim.faults().drop_mid_body_every.store(3, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 6 * MIB, LONG).await;
    // The sender re-uploads the file: same size, other bytes, new ETag.
    let new = Content::generated(0xD1FF, size);
    h.sim.replace_object("pkg-big", "big", new.clone());
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(
        d.summary.state,
        DownloadState::Complete,
        "{:?}",
        d.summary.error
    );
    assert_eq!(sha256_file(&dest.join("big.bin")), new.sha256_hex());
    assert!(d.summary.bytes_done <= d.summary.total_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_changed_while_paused_is_noticed_on_resume() {
    let size = 24 * MIB;
    let (h, id, dest) = big_download_under_way(4 * MIB).await;
    h.engine.shutdown().await;
    let new = Content::generated(0xD1FF, size);
    h.sim.replace_object("pkg-big", "big", new.clone());
    let h = h.restart(|_| {}).await;
    h.sim.faults().set_conn_rate(0);
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(
        d.summary.state,
        DownloadState::Complete,
        "{:?}",
        d.summary.error
    );
    assert_eq!(sha256_file(&dest.join("big.bin")), new.sha256_hex());
    assert!(h.sim.faults().injected.precondition_failed.load(Relaxed) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_without_sizes_still_gives_whole_files_not_empty_ones() {
    // One large file, one small, one truly empty: none of their sizes is listed.
    let pkg = SimPackage::new("nosize", "No sizes")
        .with_file(SimFile::new(
            "n1",
            "A001_C001.mov",
            Content::generated(7, 5 * MIB),
        ))
        .with_file(SimFile::new(
            "n2",
            "notes.txt",
            Content::bytes(b"slate 12, take 3".to_vec()),
        ))
        .with_file(SimFile::new("n3", "empty.txt", Content::bytes(Vec::new())));
    let h = Harness::new(vec![pkg]).await;
    h.sim.faults().listing_omits_size.store(true, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("nosize"), &dest, None).await.unwrap();
    let (detail, checked) = assert_completes(&h, &id, "nosize", &dest, LONG).await;
    assert_eq!(checked, 3);
    assert_eq!(detail.summary.total_bytes, 5 * MIB + 16);
}
