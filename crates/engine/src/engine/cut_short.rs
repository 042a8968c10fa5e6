//! A process stopped between two steps that belong together (killed, or the power
//! cut): held at the seam between them while the database is copied as a kill would
//! leave it, then started again on that copy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use inbound_sim::{Sim, catalog};

use super::races::{arrived, engine_on, hold_first_at, until};
use crate::model::DownloadState;

const MIB: u64 = 1024 * 1024;

/// The database's files (with its write-ahead log), copied from `from` to `to`.
fn copy_database(from: &Path, to: &Path) {
    for name in ["inbound.sqlite", "inbound.sqlite-wal", "inbound.sqlite-shm"] {
        let _ = std::fs::remove_file(to.join(name));
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_file_created_just_before_a_kill_is_taken_up_not_refused() {
    let sim = Sim::start(vec![catalog::large("a", 8 * MIB)])
        .await
        .unwrap();
    let (data, dest, killed) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let engine = engine_on(&sim, data.path(), 1).await;
    let (at_seam, go) = hold_first_at(&engine, "part.created");
    let id = engine
        .add(&sim.packages()[0].link(), dest.path(), None)
        .await
        .unwrap();
    arrived(at_seam).await;
    // Killed here: the part file is on disk, the database does not name it.
    assert!(dest.path().join("big.bin.inbound-part").exists());
    copy_database(data.path(), killed.path());
    go.send(()).unwrap();
    engine.shutdown().await;
    drop(engine);

    copy_database(killed.path(), data.path());
    let engine = engine_on(&sim, data.path(), 1).await;
    until(&engine, &id, "the end", |d| {
        matches!(
            d.summary.state,
            DownloadState::Complete | DownloadState::Error
        )
    })
    .await;
    let summary = engine.get(&id).unwrap().summary;
    assert_eq!(
        summary.state,
        DownloadState::Complete,
        "{:?}",
        summary.error
    );
    let content = &sim.packages()[0].files[0].content;
    let mut expected = vec![0u8; content.len() as usize];
    content.fill(0, &mut expected);
    assert!(std::fs::read(dest.path().join("big.bin")).unwrap() == expected);
    engine.shutdown().await;
}
