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

/// The byte ranges in `table` of the database at `data` (start, end).
fn recorded(data: &Path, table: &str) -> Vec<(u64, u64)> {
    let db = rusqlite::Connection::open(data.join("inbound.sqlite")).unwrap();
    let mut stmt = db
        .prepare(&format!("SELECT start, end FROM {table} ORDER BY start"))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The bytes of `pieces` outside every range of `flushed`.
fn outside(pieces: &[(u64, u64)], flushed: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut left = Vec::new();
    for &(start, end) in pieces {
        let mut from = start;
        for &(s, e) in flushed.iter().filter(|(s, e)| *s < end && start < *e) {
            if s > from {
                left.push((from, s));
            }
            from = from.max(e);
        }
        if from < end {
            left.push((from, end));
        }
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_saved_quickly_but_lost_to_a_power_cut_are_fetched_again() {
    let size = 24 * MIB;
    let h = Harness::with_config(vec![catalog::large("big", size)], |c| {
        c.connections_per_download = 2;
    })
    .await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    // The database as a power cut between two flushes would leave it: pieces written
    // and saved quickly, which the disk may not have.
    let saved: PathBuf = h.root.path().join("db-at-the-cut");
    let mut pieces = Vec::new();
    inbound_e2e::until(Duration::from_secs(30), "no piece saved quickly", || {
        copy_database(h.data.path(), &saved);
        // What a flush put on disk stays there; only the rest is lost.
        pieces = outside(
            &recorded(&saved, "unsynced_ranges"),
            &recorded(&saved, "ranges"),
        );
        pieces.iter().any(|(s, e)| e - s >= 64 * 1024)
    })
    .await;
    h.engine.pause(&id).await.unwrap();
    // Back on, nothing started yet (the database says the download was under way).
    let h = h
        .restart_with(
            |data| copy_database(&saved, data),
            |c| c.auto_resume = false,
        )
        .await;
    // The cut: the kernel never wrote those pieces.
    let part = find_part(&dest);
    let mut bytes = std::fs::read(&part).unwrap();
    for &(start, end) in &pieces {
        bytes[start as usize..end as usize].fill(0);
    }
    std::fs::write(&part, &bytes).unwrap();
    h.sim.faults().set_conn_rate(0);
    let served_before = h.sim.package_bytes_served("pkg-big");
    h.engine.resume(&id).unwrap();
    // Whole and right: the lost pieces were fetched again, not taken from the disk.
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    let fetched_again = h.sim.package_bytes_served("pkg-big") - served_before;
    let lost: u64 = pieces.iter().map(|(s, e)| e - s).sum();
    assert!(
        fetched_again >= lost,
        "fetched {fetched_again} again, {lost} were lost"
    );
}

/// The one part file under `dir`.
fn find_part(dir: &Path) -> PathBuf {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            return find_part(&path);
        }
        if path.to_string_lossy().ends_with(".inbound-part") {
            return path;
        }
    }
    panic!("no part file in {}", dir.display())
}
