//! Drives that come and go: a shuttle drive unplugged and plugged in again (under a new
//! device number), a folder moved away and put back, finished files gone before the
//! package is sealed. The download waits for its folder like it waits for the network,
//! takes up again what it had, and fetches only what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::FileState;
#[cfg(unix)]
use inbound_e2e::inbound_engine::{DownloadState, WaitReason};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
#[cfg(unix)]
use inbound_e2e::waiting_for;
use inbound_e2e::{Harness, assert_completes, until, wait_for_bytes};

const MIB: u64 = 1024 * 1024;

/// Two small clips in `Day 1/` and one large reel: the clips finish long before the
/// reel when connections are slow.
fn rushes() -> SimPackage {
    SimPackage::new("rushes", "Rushes")
        .with_file(SimFile::new("a", "a.mov", Content::generated(1, MIB)).in_folder("Day 1"))
        .with_file(SimFile::new("b", "b.mov", Content::generated(2, MIB)).in_folder("Day 1"))
        .with_file(SimFile::new(
            "reel",
            "reel.mov",
            Content::generated(3, 24 * MIB),
        ))
}

/// Waits until both clips are complete and the reel has `reel_bytes` at least.
async fn clips_done_and_reel_at(h: &Harness, id: &str, reel_bytes: u64) {
    until(Duration::from_secs(60), "the clips done", || {
        let d = h.engine.get(id).unwrap();
        d.files
            .iter()
            .filter(|f| f.file_id != "reel")
            .all(|f| f.state == FileState::Complete)
    })
    .await;
    wait_for_bytes(&h.engine, id, 2 * MIB + reel_bytes, Duration::from_secs(60)).await;
}

/// Waits until the download waits for its folder, and returns what it says (for the
/// tests that move or unplug a folder, which Windows cannot do).
#[cfg(unix)]
async fn waits_for_folder(h: &Harness, id: &str) -> String {
    let mut said = String::new();
    until(Duration::from_secs(60), "waiting for the folder", || {
        if let Some(s) = waiting_for(h, id, WaitReason::Drive) {
            said = s;
            return true;
        }
        let s = h.engine.get(id).unwrap().summary;
        assert_ne!(s.state, DownloadState::Error, "{:?}", s.error);
        false
    })
    .await;
    said
}

// A loop-mounted ext4 image: Linux, as root.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_drive_is_waited_for_and_taken_up_under_its_new_device_number() {
    let Some(mut drive) = LoopDrive::new(192) else {
        eprintln!("skipped: a loop-mounted drive needs root and losetup (Linux)");
        return;
    };
    let h = Harness::new(vec![rushes()]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = drive.mount_point().join("Shuttle/Project");
    std::fs::create_dir_all(&dest).unwrap();
    let id = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    clips_done_and_reel_at(&h, &id, 4 * MIB).await;

    // The app is closed, the drive unplugged; the app is opened again without it.
    let h = h.restart_with(|_| drive.unplug(), |_| {}).await;
    let said = waits_for_folder(&h, &id).await;
    assert!(
        said.contains(&dest.display().to_string()) && said.contains("is the drive connected?"),
        "{said}"
    );
    assert!(!said.contains("os error"), "{said}");
    let before = h.sim.package_bytes_served("pkg-rushes");

    // Plugged in again: another loop device, so another device number.
    let dev_before = drive.device_number();
    drive.plug();
    assert_ne!(
        drive.device_number(),
        dev_before,
        "the test needs a new st_dev"
    );
    h.sim.faults().conn_bytes_per_sec.store(0, Relaxed);
    assert_completes(&h, &id, "rushes", &dest, Duration::from_secs(60)).await;
    for clip in ["a", "b"] {
        assert_eq!(
            h.sim.bytes_served("pkg-rushes", clip),
            MIB,
            "{clip}: complete before, not fetched again"
        );
    }
    let fetched_after = h.sim.package_bytes_served("pkg-rushes") - before;
    assert!(
        fetched_after <= 24 * MIB - 4 * MIB + 2 * MIB,
        "the reel's bytes on the drive are kept: {fetched_after} fetched after"
    );
}

// Windows does not rename a folder while files in it are open (ours are): a person
// cannot move it away mid-download there, so there is nothing to wait out.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_moved_away_mid_download_is_waited_for_and_the_download_goes_on() {
    let h = Harness::new(vec![rushes()]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest().join("Project");
    std::fs::create_dir_all(&dest).unwrap();
    let id = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    clips_done_and_reel_at(&h, &id, 2 * MIB).await;

    let away = h.dest().join("Project (moved)");
    std::fs::rename(&dest, &away).unwrap();
    let said = waits_for_folder(&h, &id).await;
    assert!(
        said.contains(&dest.display().to_string())
            && said.contains("is gone")
            && said.contains("is the drive connected?"),
        "{said}"
    );
    assert!(!said.contains("os error"), "{said}");
    // Nothing made in its place meanwhile.
    assert!(!dest.exists());

    std::fs::rename(&away, &dest).unwrap();
    h.sim.faults().conn_bytes_per_sec.store(0, Relaxed);
    assert_completes(&h, &id, "rushes", &dest, Duration::from_secs(60)).await;
    for clip in ["a", "b"] {
        assert_eq!(h.sim.bytes_served("pkg-rushes", clip), MIB, "{clip}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_files_gone_before_the_package_is_sealed_are_fetched_again() {
    let h = Harness::new(vec![rushes()]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let dest = h.dest();
    let id = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    clips_done_and_reel_at(&h, &id, 2 * MIB).await;

    // The clips' folder is deleted (or was on a share that dropped and came back
    // empty) while the reel goes on.
    std::fs::remove_dir_all(dest.join("Day 1")).unwrap();
    h.sim.faults().conn_bytes_per_sec.store(0, Relaxed);
    let (detail, _) = assert_completes(&h, &id, "rushes", &dest, Duration::from_secs(60)).await;
    assert!(detail.summary.manifest.is_some());
    for clip in ["a", "b"] {
        assert_eq!(
            h.sim.bytes_served("pkg-rushes", clip),
            2 * MIB,
            "{clip}: fetched again once"
        );
    }
}

/// An ext4 image on a loop device, mounted for the test; unplugged and plugged in
/// again on another loop device (as a USB drive comes back under a new device).
#[cfg(target_os = "linux")]
struct LoopDrive {
    dir: tempfile::TempDir,
    device: Option<String>,
}

#[cfg(target_os = "linux")]
impl LoopDrive {
    fn new(mib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("drive.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(mib * MIB)
            .unwrap();
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        let made = run("mkfs.ext4", &["-q", &image.display().to_string()]).is_some();
        let mut drive = Self { dir, device: None };
        if !made {
            return None;
        }
        drive.device = drive.attach();
        drive.device.as_ref()?;
        drive.mount().then_some(drive)
    }

    fn mount_point(&self) -> std::path::PathBuf {
        self.dir.path().join("mnt")
    }

    fn attach(&self) -> Option<String> {
        let image = self.dir.path().join("drive.img");
        run("losetup", &["-f", "--show", &image.display().to_string()])
    }

    fn mount(&self) -> bool {
        let (Some(dev), mnt) = (&self.device, self.mount_point()) else {
            return false;
        };
        run("mount", &[dev, &mnt.display().to_string()]).is_some()
    }

    fn unplug(&mut self) {
        run("umount", &[&self.mount_point().display().to_string()]).expect("umount");
    }

    /// On another loop device than before (the old one is let go once the new one
    /// holds the image, so the numbers differ).
    fn plug(&mut self) {
        let new = self.attach().expect("losetup");
        if let Some(old) = self.device.replace(new) {
            run("losetup", &["-d", &old]);
        }
        assert!(self.mount(), "mount");
    }

    fn device_number(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(self.mount_point()).unwrap().dev()
    }
}

#[cfg(target_os = "linux")]
impl Drop for LoopDrive {
    fn drop(&mut self) {
        let _ = run("umount", &[&self.mount_point().display().to_string()]);
        if let Some(dev) = &self.device {
            let _ = run("losetup", &["-d", dev]);
        }
    }
}

/// Runs a system tool; its trimmed output when it succeeded.
#[cfg(target_os = "linux")]
fn run(tool: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
