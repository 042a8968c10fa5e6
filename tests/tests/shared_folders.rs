//! Downloading into a folder another account may write into (a share on a NAS head, a
//! drop folder): whatever that account swaps in, Inbound writes nothing outside the
//! folder and gives nothing away there.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The second account is made with setpriv (util-linux), and needs root to become it.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use inbound_e2e::inbound_engine::{Destination, DownloadState};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
use inbound_e2e::{DONE, Harness, until, wait_for};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `script` run by `sh` as the account `nobody`.
fn as_nobody(script: &str) {
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_swapped_for_a_link_mid_download_is_never_written_through() {
    if !is_root() {
        eprintln!("skipped: acting as a second account (setpriv) needs root");
        return;
    }
    let package = SimPackage::new("clips", "Clips")
        .with_file(SimFile::new("a", "a.mov", Content::generated(7, 1 << 20)).in_folder("Clips"));
    let h = Harness::new(vec![package]).await;
    // The shared folder belongs to the other account; Inbound (root) downloads into it
    // straight. Somewhere that account cannot write, and must never get a file into:
    let shared = h.dest();
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(NOBODY), Some(NOBODY)).unwrap();
    let protected = tempfile::tempdir().unwrap();
    // Each MASV answer takes a while: between making Clips/ and asking where a.mov
    // is, there is time to swap Clips/ for a link.
    h.sim.faults().set_latency(Duration::from_millis(1500));
    let id = h
        .engine
        .add_link_with(
            &h.link("clips"),
            Destination::straight(&shared),
            Default::default(),
        )
        .await
        .unwrap();
    let clips = shared.join("Clips");
    until(Duration::from_secs(30), "Inbound makes Clips/", || {
        clips.is_dir()
    })
    .await;
    as_nobody(&format!(
        "mv '{0}/Clips' '{0}/Clips.old' && ln -s '{1}' '{0}/Clips'",
        shared.display(),
        protected.path().display()
    ));
    let done = wait_for(&h.engine, &id, DONE, Duration::from_secs(60)).await;
    assert_eq!(
        done.summary.state,
        DownloadState::Error,
        "{:?}",
        done.summary
    );
    let error = done.summary.error.unwrap_or_default();
    assert!(error.contains("symbolic link"), "{error}");
    let written: Vec<_> = std::fs::read_dir(protected.path()).unwrap().collect();
    assert!(written.is_empty(), "written through the link: {written:?}");
    assert!(!Path::new(&protected.path().join("a.mov")).exists());
}
