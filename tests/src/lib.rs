//! Helpers for the end-to-end tests: a simulator, an engine wired to it, and checks on
//! what landed on disk.

// Test support: a failed setup step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use inbound_engine::{
    DownloadDetail, DownloadState, Engine, EngineConfig, Event, FileState, WaitReason,
};
use inbound_sim::{Sim, SimPackage};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

mod clock;
pub use clock::{ManualClock, local};
pub use inbound_engine;
pub use inbound_sim;

/// A simulator and an engine using it, each with its own temporary folders.
pub struct Harness {
    pub sim: Sim,
    pub engine: Engine,
    pub data: TempDir,
    /// Parent of the destination, to check nothing lands beside it.
    pub root: TempDir,
}

impl Harness {
    pub async fn new(packages: Vec<SimPackage>) -> Self {
        Self::with_config(packages, |_| {}).await
    }

    pub async fn with_config(
        packages: Vec<SimPackage>,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> Self {
        let sim = Sim::start(packages).await.expect("simulator starts");
        Self::on_sim(sim, tweak).await
    }

    /// An engine on an already started simulator (one with a team side, say).
    pub async fn on_sim(sim: Sim, tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let root = tempfile::tempdir().expect("temp dir");
        let config = test_config(&sim, data.path(), tweak);
        let engine = Engine::open(config).await.expect("engine opens");
        Self {
            sim,
            engine,
            data,
            root,
        }
    }

    pub fn dest(&self) -> PathBuf {
        self.root.path().join("dest")
    }

    pub fn link(&self, link_id: &str) -> String {
        self.package(link_id).link()
    }

    pub fn package(&self, link_id: &str) -> &SimPackage {
        self.sim
            .packages()
            .iter()
            .find(|p| p.link_id == link_id)
            .expect("package exists")
    }

    /// Stops the engine and opens a new one on the same data folder, as after a
    /// restart of the app.
    pub async fn restart(self, tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        self.restart_with(|_| {}, tweak).await
    }

    /// As [`Harness::restart`], doing `between` to the data folder while no engine
    /// has it open (a power cut's lost writes, a copied-back database).
    pub async fn restart_with(
        self,
        between: impl FnOnce(&Path),
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> Self {
        let Self {
            sim,
            engine,
            data,
            root,
        } = self;
        engine.shutdown().await;
        drop(engine);
        between(data.path());
        let config = test_config(&sim, data.path(), tweak);
        let engine = Engine::open(config).await.expect("engine reopens");
        Self {
            sim,
            engine,
            data,
            root,
        }
    }
}

/// Short retry delays and stall timeout so fault tests finish quickly.
pub fn test_config(sim: &Sim, data: &Path, tweak: impl FnOnce(&mut EngineConfig)) -> EngineConfig {
    let mut c = EngineConfig::new(data);
    c.api_url = sim.api_url();
    c.retry_base_delay = Duration::from_millis(50);
    c.retry_max_delay = Duration::from_millis(500);
    c.stall_timeout = Duration::from_secs(2);
    c.chunk_size = 1024 * 1024;
    tweak(&mut c);
    c
}

/// The states a download ends in, for [`wait_for`].
pub const DONE: &[DownloadState] = &[DownloadState::Complete, DownloadState::Error];

/// Waits until the download reaches one of `states`, failing after `timeout`.
pub async fn wait_for(
    engine: &Engine,
    id: &str,
    states: &[DownloadState],
    timeout: Duration,
) -> DownloadDetail {
    let mut events = engine.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let detail = engine.get(id).expect("download exists");
        if states.contains(&detail.summary.state) {
            return detail;
        }
        let wait = tokio::time::timeout_at(deadline, async {
            loop {
                match events.recv().await {
                    Ok(Event::StateChanged { .. }) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if wait.is_err() {
            let d = engine.get(id).expect("download exists");
            panic!(
                "download did not reach {states:?} within {timeout:?}: state {:?}, error {:?}, {}/{} bytes",
                d.summary.state, d.summary.error, d.summary.bytes_done, d.summary.total_bytes
            );
        }
    }
}

/// Waits for the download to end, asserts it completed, and checks every file against
/// the simulator's bytes. Returns the detail and how many files were checked.
pub async fn assert_completes(
    h: &Harness,
    id: &str,
    link_id: &str,
    dest: &Path,
    timeout: Duration,
) -> (DownloadDetail, usize) {
    let detail = wait_for(&h.engine, id, DONE, timeout).await;
    assert_eq!(
        detail.summary.state,
        DownloadState::Complete,
        "{:?}",
        detail.summary.error
    );
    let checked = assert_files_match(&detail, h.package(link_id), dest);
    (detail, checked)
}

/// Polls `holds` until it is true, failing the test with "`what` within `within`"
/// when it never is.
pub async fn until(within: Duration, what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !holds() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a transferring download says it waits for, if it waits for `reason`.
pub fn waiting_for(h: &Harness, id: &str, reason: WaitReason) -> Option<String> {
    let s = h.engine.get(id).expect("download exists").summary;
    (s.state == DownloadState::Transferring)
        .then_some(s.waiting)
        .flatten()
        .filter(|w| w.reason == reason)
        .map(|w| w.message)
}

/// Waits until at least `bytes` of the download are done.
pub async fn wait_for_bytes(engine: &Engine, id: &str, bytes: u64, timeout: Duration) {
    until(timeout, &format!("no progress to {bytes} bytes"), || {
        engine.get(id).expect("download exists").summary.bytes_done >= bytes
    })
    .await;
}

pub fn sha256_file(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("read file");
    hex::encode(h.finalize())
}

/// Every file of `detail` that should have been downloaded is at its planned path
/// under `dest` with the simulator's exact bytes. Returns how many were checked.
pub fn assert_files_match(detail: &DownloadDetail, package: &SimPackage, dest: &Path) -> usize {
    let mut checked = 0;
    for f in &detail.files {
        let sim_file = package
            .files
            .iter()
            .find(|s| s.id == f.file_id)
            .expect("file is in the package");
        // Withheld, a whole-package zip, or left out by the files chosen: not on disk.
        if sim_file.virus || sim_file.kind != "file" || f.state == FileState::Excluded {
            continue;
        }
        let on_disk = dest.join(&f.path);
        assert!(
            on_disk.starts_with(dest),
            "{} escapes {}",
            on_disk.display(),
            dest.display()
        );
        assert_eq!(
            sha256_file(&on_disk),
            sim_file.content.sha256_hex(),
            "content of {} ({})",
            f.package_path,
            on_disk.display()
        );
        checked += 1;
    }
    checked
}

/// All regular files under `dir`, relative, sorted: the package content, so the
/// `ascmhl` history folder Inbound writes beside it is left out.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != inbound_mhl::FOLDER {
                    stack.push(p);
                }
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_owned());
            }
        }
    }
    out.sort();
    out
}

/// What tells one file from another beside its name, for "was this file left alone":
/// device and inode on Unix, volume serial and file index on Windows, with the
/// modification time.
pub fn file_identity(path: &Path) -> (u64, u64, std::time::SystemTime) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino(), modified)
    }
    #[cfg(windows)]
    {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let info = winapi_util::file::information(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (info.volume_serial_number(), info.file_index(), modified)
    }
}

/// Runs the ASC's reference verifier (`ascmhl-debug verify`, from PyPI's `ascmhl`) on
/// a folder: whether it passed, and what it printed.
#[cfg(unix)]
pub fn ascmhl_verify(root: &Path) -> (bool, String) {
    let out = std::process::Command::new("ascmhl-debug")
        .arg("verify")
        .arg(root)
        .output()
        .expect("ascmhl-debug must be installed (pip install ascmhl; .ci/run does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The reference verifier is a Python program, and the Windows tests run under Wine
/// with no Python: there the folder's history (written by the Windows build) is read by
/// Inbound's own verifier, whose report names every file that is not as recorded. The
/// Linux run of the same test has the reference tool's word on the same writer.
#[cfg(windows)]
pub fn ascmhl_verify(root: &Path) -> (bool, String) {
    match inbound_engine::verify_folder(root, |_| {}) {
        Ok(report) => {
            let text: String = report
                .files
                .iter()
                .filter(|f| f.outcome != inbound_mhl::Outcome::Ok)
                .map(|f| format!("{:?}: {}\n", f.outcome, f.path))
                .collect();
            (report.is_clean(), text)
        }
        Err(e) => (false, e.to_string()),
    }
}
