//! Every file is hashed from its bytes on disk, and a completed package carries an ASC
//! MHL history that the ASC's reference verifier accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadDetail, DownloadState, FileState};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, catalog};
use inbound_e2e::{DONE, Harness, ascmhl_verify, assert_completes, wait_for, wait_for_bytes};
use inbound_mhl::{HashAlgorithm, hash_file};

const MIB: u64 = 1024 * 1024;
const LONG: Duration = Duration::from_secs(90);

/// Every complete file's recorded hash is the xxh128 of the bytes on disk.
fn assert_hashes_are_the_bytes(detail: &DownloadDetail) -> usize {
    let mut checked = 0;
    for f in detail
        .files
        .iter()
        .filter(|f| f.state == FileState::Complete)
    {
        let hash = f
            .hash
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no hash", f.package_path));
        assert_eq!(hash.algorithm, "xxh128");
        let on_disk = hash_file(
            &detail.summary.dst_folder.join(&f.path),
            HashAlgorithm::Xxh128,
        )
        .unwrap();
        assert_eq!(hash.value, on_disk, "{}", f.package_path);
        assert!(f.verified, "{}", f.package_path);
        checked += 1;
    }
    assert_eq!(detail.summary.files_verified, checked);
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_package_carries_a_history_the_reference_verifier_accepts() {
    let h = Harness::new(vec![catalog::demo()]).await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("demo"), &dest, None).await.unwrap();
    let (detail, _) = assert_completes(&h, &id, "demo", &dest, LONG).await;
    assert_eq!(
        assert_hashes_are_the_bytes(&detail),
        7,
        "the demo's 7 wanted files"
    );
    assert_eq!(detail.summary.hash_algorithm.as_deref(), Some("xxh128"));
    let manifest = detail
        .summary
        .manifest
        .clone()
        .expect("a manifest was written");
    assert!(
        manifest.starts_with(dest.join("ascmhl")),
        "{}",
        manifest.display()
    );
    let xml = std::fs::read_to_string(&manifest).unwrap();
    assert!(xml.contains("<tool version="), "{xml}");
    assert!(xml.contains(">Inbound</tool>"), "{xml}");
    assert!(xml.contains("pkg-demo"), "the package id is named: {xml}");
    assert!(
        xml.contains("invoice.pdf.exe") && xml.contains("virus"),
        "the withheld file is named in the comment: {xml}"
    );
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "ascmhl-debug verify:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_resumed_after_a_restart_is_hashed_from_what_is_on_disk() {
    let h = Harness::new(vec![catalog::large("big", 24 * MIB)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 8 * MIB, LONG).await;
    let h = h.restart(|_| {}).await;
    h.sim.faults().set_conn_rate(0);
    let (detail, _) = assert_completes(&h, &id, "big", &dest, LONG).await;
    assert_eq!(assert_hashes_are_the_bytes(&detail), 1);
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "ascmhl-debug verify:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_match_storage_md5_are_fetched_once_more_then_fail() {
    let size = 3 * MIB;
    let pkg = SimPackage::new("md5", "Checked").with_file(SimFile::new(
        "m1",
        "A001_C001.mov",
        Content::generated(3, size),
    ));
    let h = Harness::new(vec![pkg]).await;
    h.sim.faults().md5_etag_lies.store(true, Relaxed);
    let dest = h.dest();
    let id = h.engine.add(&h.link("md5"), &dest, None).await.unwrap();
    let d = wait_for(&h.engine, &id, DONE, LONG).await;
    assert_eq!(d.summary.state, DownloadState::Error);
    let msg = d.summary.error.unwrap();
    assert!(
        msg.contains("A001_C001.mov") && msg.contains("MD5"),
        "{msg}"
    );
    let served = h.sim.package_bytes_served("pkg-md5");
    assert!(
        (2 * size..3 * size).contains(&served),
        "fetched twice, not more: {served} bytes served"
    );
    assert!(
        !dest.join("A001_C001.mov").exists(),
        "a wrong file is never given its name"
    );
    assert!(!d.files[0].verified);
}

/// A received file that is gone when the manifest is written (moved away by a person
/// or a script while the rest arrived) is fetched again and named in the manifest: a
/// manifest that quietly left a file out would prove a package that is not there, and
/// one that fails for good would leave it never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_file_gone_before_the_manifest_is_fetched_again_not_left_out() {
    let package = SimPackage::new("gap", "Sealing gap")
        .with_file(SimFile::new(
            "n",
            "notes.txt",
            Content::bytes(b"call sheet\n".to_vec()),
        ))
        .with_file(SimFile::new("b", "big.bin", Content::generated(5, 6 * MIB)));
    let h = Harness::with_config(vec![package], |c| c.connections_per_download = 2).await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("gap"), &dest, None).await.unwrap();
    inbound_e2e::until(LONG, "notes.txt arrived", || {
        h.engine.get(&id).unwrap().files[0].state == FileState::Complete
    })
    .await;
    assert_ne!(
        h.engine.get(&id).unwrap().summary.state,
        DownloadState::Complete,
        "the package finished before the file could be moved away"
    );
    std::fs::remove_file(dest.join("notes.txt")).unwrap();
    h.sim.faults().set_conn_rate(0);
    let (d, _) = assert_completes(&h, &id, "gap", &dest, LONG).await;
    assert_eq!(
        std::fs::read(dest.join("notes.txt")).unwrap(),
        b"call sheet\n"
    );
    let manifest = std::fs::read_to_string(d.summary.manifest.unwrap()).unwrap();
    assert!(manifest.contains("notes.txt"), "{manifest}");
    assert_eq!(
        h.sim.bytes_served("pkg-gap", "n"),
        2 * 11,
        "fetched again once"
    );
}
