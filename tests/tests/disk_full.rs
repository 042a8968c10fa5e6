//! The destination's drive fills up (another program took the space): the download
//! waits, says for how much, keeps its bytes, and goes on by itself once space is
//! freed, with no one acting.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// A small drive is a tmpfs mounted for the test (Linux, root).
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::WaitReason;
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes, until, wait_for_bytes, waiting_for};

const MIB: u64 = 1024 * 1024;

/// A tmpfs of `mib` MiB, unmounted when dropped.
struct SmallDrive {
    dir: tempfile::TempDir,
}

impl SmallDrive {
    fn mount(mib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDrive {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// What another program does: writes until the drive is full.
fn fill(drive: &Path) -> PathBuf {
    let path = drive.join("someone-elses.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![7u8; MIB as usize];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_drive_is_waited_out_and_the_download_goes_on_by_itself() {
    let Some(drive) = SmallDrive::mount(160) else {
        eprintln!("skipped: mounting a small drive (tmpfs) needs root");
        return;
    };
    let h = Harness::new(vec![
        catalog::large("big", 48 * MIB),
        catalog::large("more", 48 * MIB),
    ])
    .await;

    // Full before it starts: it waits, saying for what.
    let filler = fill(drive.path());
    let dest = drive.path().join("first");
    std::fs::create_dir(&dest).unwrap();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let mut said = String::new();
    until(Duration::from_secs(30), "waiting for space", || {
        said = waiting_for(&h, &id, WaitReason::Space).unwrap_or_default();
        !said.is_empty()
    })
    .await;
    assert!(said.contains(&dest.display().to_string()), "{said}");
    // The package and the margin, each named: not one sum.
    assert!(
        said.contains("48.0 MB to download") && said.contains("64.0 MB to spare"),
        "{said}"
    );
    std::fs::remove_file(&filler).unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;

    // Full in the middle: the bytes so far stay, and it goes on once space is back.
    std::fs::remove_dir_all(&dest).unwrap();
    h.sim.faults().set_conn_rate(4 * MIB);
    let dest = drive.path().join("second");
    std::fs::create_dir(&dest).unwrap();
    let id = h.engine.add(&h.link("more"), &dest, None).await.unwrap();
    wait_for_bytes(&h.engine, &id, 8 * MIB, Duration::from_secs(60)).await;
    let filler = fill(drive.path());
    until(
        Duration::from_secs(60),
        "waiting for space mid-download",
        || waiting_for(&h, &id, WaitReason::Space).is_some(),
    )
    .await;
    let kept = h.engine.get(&id).unwrap().summary.bytes_done;
    assert!(kept >= 8 * MIB, "{kept}");
    assert_eq!(h.engine.get(&id).unwrap().summary.error, None);
    h.sim.faults().conn_bytes_per_sec.store(0, Relaxed);
    std::fs::remove_file(&filler).unwrap();
    assert_completes(&h, &id, "more", &dest, Duration::from_secs(60)).await;
    let served = h.sim.package_bytes_served("pkg-more");
    assert!(
        served <= 48 * MIB + 16 * MIB,
        "kept bytes are not fetched again: {served}"
    );
}
