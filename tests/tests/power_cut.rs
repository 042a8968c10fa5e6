//! The file system ahead of the database: a power cut loses SQLite's last commits
//! (WAL, `synchronous=NORMAL`) but not what the kernel had already put on disk. What
//! the disk shows, and can be proven to be this download's, is taken up again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use inbound_e2e::inbound_engine::DownloadState;
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes, wait_for, wait_for_bytes};

const MIB: u64 = 1024 * 1024;

/// The database's files (with its write-ahead log), copied to or from `to`.
fn copy_database(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["inbound.sqlite", "inbound.sqlite-wal", "inbound.sqlite-shm"] {
        let _ = std::fs::remove_file(to.join(name));
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_renamed_before_the_last_commit_was_lost_is_taken_up_not_refused() {
    let size = 16 * MIB;
    let h = Harness::new(vec![catalog::large("big", size)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 4 * MIB, Duration::from_secs(60)).await;
    h.engine.pause(&id).await.unwrap();
    // The database as a power cut would leave it: its commits from here on lost.
    let saved: PathBuf = h.root.path().join("db-before-the-cut");
    let h = h
        .restart_with(|data| copy_database(data, &saved), |_| {})
        .await;
    h.sim.faults().set_conn_rate(0);
    h.engine.resume(&id).unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    let served = h.sim.package_bytes_served("pkg-big");
    // The cut: the file has its final name on disk, the database remembers a part
    // file with 4 MiB in it.
    let h = h
        .restart_with(|data| copy_database(&saved, data), |_| {})
        .await;
    let d = h.engine.get(&id).unwrap();
    assert_eq!(
        d.summary.state,
        DownloadState::Paused,
        "the old database is back"
    );
    h.engine.resume(&id).unwrap();
    let done = wait_for(
        &h.engine,
        &id,
        &[DownloadState::Complete, DownloadState::Error],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        done.summary.state,
        DownloadState::Complete,
        "{:?}",
        done.summary.error
    );
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(5)).await;
    assert_eq!(
        h.sim.package_bytes_served("pkg-big"),
        served,
        "nothing fetched again"
    );
}
