//! Many packages put straight into one folder (no folder of their own each): a folder
//! one package will make is never taken by another's file, and a package that carries
//! its own `ascmhl/` never mixes it with the folder's history.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, catalog};
use inbound_e2e::{Harness, assert_completes, files_under, wait_for_bytes};

const MIB: u64 = 1024 * 1024;
const LONG: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_packages_folder_is_not_taken_by_another_packages_file() {
    let first = SimPackage::new("first", "First")
        .with_file(SimFile::new("c", "clip.mov", Content::generated(1, MIB)).in_folder("Day 1"));
    let second = SimPackage::new("second", "Second").with_file(SimFile::new(
        "n",
        "Day 1",
        Content::bytes(b"a file named like the other package's folder".to_vec()),
    ));
    let h = Harness::with_config(vec![catalog::large("slow", 8 * MIB), first, second], |c| {
        c.max_active_downloads = 1
    })
    .await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let slow = h.engine.add(&h.link("slow"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &slow, 1, LONG).await;
    // Queued behind it: its folder is not on disk yet.
    let a = h.engine.add(&h.link("first"), &dest, None).await.unwrap();
    let b = h.engine.add(&h.link("second"), &dest, None).await.unwrap();
    h.engine.pause(&a).await.unwrap();
    assert!(!dest.join("Day 1").exists());
    h.sim.faults().set_conn_rate(0);
    assert_completes(&h, &slow, "slow", &dest, LONG).await;
    let (done, _) = assert_completes(&h, &b, "second", &dest, LONG).await;
    assert_eq!(done.files[0].path, PathBuf::from("Day 1 (1)"));
    h.engine.resume(&a).unwrap();
    assert_completes(&h, &a, "first", &dest, LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packages_own_ascmhl_folder_is_kept_apart_from_the_history() {
    let senders_chain = b"<?xml version=\"1.0\"?><ascmhldirectory><hashlist sequencenr=\"1\"><path>0001_Reel_2026-01-01_000000Z.mhl</path><c4>c4notreal</c4>".to_vec();
    let sealed = SimPackage::new("sealed", "Sealed by the sender")
        .with_file(SimFile::new("r", "reel.mov", Content::generated(7, MIB)))
        .with_file(
            SimFile::new(
                "m",
                "0001_Reel_2026-01-01_000000Z.mhl",
                Content::bytes(b"<hashlist>the sender's</hashlist>".to_vec()),
            )
            .in_folder("ascmhl"),
        )
        .with_file(
            SimFile::new(
                "ch",
                "ascmhl_chain.xml",
                Content::bytes(senders_chain.clone()),
            )
            .in_folder("ascmhl"),
        );
    let h = Harness::new(vec![sealed]).await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("sealed"), &dest, None).await.unwrap();
    let (done, _) = assert_completes(&h, &id, "sealed", &dest, LONG).await;
    // The sender's history arrived whole, under a name of its own...
    let kept: Vec<PathBuf> = done.files.iter().map(|f| f.path.clone()).collect();
    assert!(
        kept.contains(&PathBuf::from("ascmhl (1)/ascmhl_chain.xml")),
        "{kept:?}"
    );
    assert_eq!(
        std::fs::read(dest.join("ascmhl (1)/ascmhl_chain.xml")).unwrap(),
        senders_chain
    );
    // ...and the folder's history is Inbound's alone: one generation, its chain.
    let mut history = files_under(&dest.join("ascmhl"));
    history.sort();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1], PathBuf::from("ascmhl_chain.xml"));
    let manifest = std::fs::read_to_string(dest.join("ascmhl").join(&history[0])).unwrap();
    assert!(manifest.contains("Inbound"), "{manifest}");
    assert!(
        manifest.contains("ascmhl (1)/ascmhl_chain.xml"),
        "{manifest}"
    );
}
