//! Choosing a package's files in the engine: what is chosen is downloaded, the rest is
//! listed as excluded, and the choice survives a restart, even one made while MASV was
//! out of reach.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{Destination, EngineError};
use inbound_e2e::inbound_engine::{
    DownloadState, FileState, LinkOptions, Selection, SelectionError,
};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
use inbound_e2e::{DONE, Harness, sha256_file, wait_for};

fn shoot() -> SimPackage {
    SimPackage::new("shoot", "Shoot")
        .with_file(
            SimFile::new("m1", "A001.mov", Content::generated(1, 300_000)).in_folder("Day 1"),
        )
        .with_file(
            SimFile::new("w1", "A001.wav", Content::generated(2, 200_000)).in_folder("Day 1/audio"),
        )
        .with_file(
            SimFile::new("m2", "B001.mov", Content::generated(3, 100_000)).in_folder("Day 2"),
        )
}

fn choose(selection: Selection, wait: bool) -> LinkOptions {
    LinkOptions {
        selection,
        wait_if_unreachable: wait,
        ..LinkOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_choice_made_while_masv_is_unreachable_is_kept_and_applied_once_it_answers() {
    let h = Harness::new(vec![shoot()]).await;
    h.sim.faults().set_outage(Duration::from_secs(3600));
    let into = Destination::straight(h.dest());
    let only_movs = Selection::patterns(vec!["*.mov".into()], vec!["Day 2/**".into()]).unwrap();
    let id = h
        .engine
        .add_link_with(&h.link("shoot"), into, choose(only_movs, true))
        .await
        .unwrap();
    assert_eq!(
        h.engine.get(&id).unwrap().summary.file_count,
        0,
        "not listed yet"
    );
    // The choice is recorded with the download, not only held in memory.
    let h = h.restart(|_| {}).await;
    h.sim.faults().set_outage(Duration::ZERO);
    let done = wait_for(&h.engine, &id, DONE, Duration::from_secs(60)).await;
    assert_eq!(
        done.summary.state,
        DownloadState::Complete,
        "{:?}",
        done.summary.error
    );
    let states: Vec<(String, FileState)> = done
        .files
        .iter()
        .map(|f| (f.file_id.clone(), f.state))
        .collect();
    assert_eq!(
        states,
        [
            ("m1".to_owned(), FileState::Complete),
            ("w1".to_owned(), FileState::Excluded),
            ("m2".to_owned(), FileState::Excluded),
        ]
    );
    assert_eq!(done.summary.total_bytes, 300_000);
    let package = h.package("shoot");
    assert_eq!(
        sha256_file(&h.dest().join("Day 1/A001.mov")),
        package.files[0].content.sha256_hex()
    );
    assert!(!h.dest().join("Day 1/audio").exists());
    assert!(!h.dest().join("Day 2").exists());
    assert_eq!(
        h.sim.bytes_served("pkg-shoot", "w1") + h.sim.bytes_served("pkg-shoot", "m2"),
        0
    );
    // The proof names what was left out, so a verify of the folder is not surprised.
    let manifest = std::fs::read_to_string(done.summary.manifest.clone().unwrap()).unwrap();
    assert!(
        manifest.contains("not selected for download: Day 1/audio/A001.wav, Day 2/B001.mov"),
        "{manifest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_an_empty_choice_are_refused_with_nothing_recorded() {
    let h = Harness::new(vec![shoot()]).await;
    let into = Destination::straight(h.dest());
    let err = h
        .engine
        .add_link_with(
            &h.link("shoot"),
            into.clone(),
            choose(Selection::files(["m1", "x9"]), false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Selection(SelectionError::UnknownFiles(ids)) if ids == &["x9"]),
        "{err}"
    );
    let none = Selection::patterns(vec!["*.mxf".into()], vec![]).unwrap();
    let err = h
        .engine
        .add_link_with(&h.link("shoot"), into, choose(none, false))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no file of the package is selected"),
        "{err}"
    );
    assert!(h.engine.list().is_empty());
    assert_eq!(std::fs::read_dir(h.dest()).map_or(0, |d| d.count()), 0);
}
