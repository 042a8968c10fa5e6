//! `uid`/`gid` on `POST /downloads` (the MASV Agent v2 options, for NAS targets): with
//! the right to change owners, the package's folder, files and ASC MHL history are given
//! away when it completes; without it, the start is refused at once, saying why.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// Unix owners (uid/gid, chown): Windows has neither; listed in scripts/windows-skips.txt.
#![cfg(unix)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use inbound_sim::{Sim, catalog};
use serde_json::json;
mod common;
use common::agent::Agent;

/// This process may change owners (it runs as root): `/proc/self` belongs to the
/// effective user.
fn can_chown() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_given_to_the_uid_and_gid_asked_for_or_the_start_says_why_not() {
    let sim = Sim::start(vec![catalog::large("big", 1 << 20)])
        .await
        .unwrap();
    let (data, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let agent = Agent::start(&sim, data.path(), &[]);
    let body = json!({
        "url": sim.packages()[0].link(), "dst_folder": root.path(),
        "create_package_folder": true, "uid": 4242, "gid": 4343,
    });
    if !can_chown() {
        let (code, v) = agent.post(&body);
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["code"], "cannot_chown");
        assert!(v["message"].as_str().unwrap().contains("CAP_CHOWN"), "{v}");
        return;
    }
    let id = agent.post_download(&body);
    let done = agent.wait_state(&id, "complete", Duration::from_secs(60));
    let folder = Path::new(done["dst_folder"].as_str().unwrap()).to_owned();
    assert_ne!(folder, root.path(), "a package folder of its own");
    let mut checked = 0;
    for entry in walk(&folder) {
        assert_eq!(owner(&entry), (4242, 4343), "{}", entry.display());
        checked += 1;
    }
    assert!(
        checked >= 4,
        "the folder, the file, the history folder and its files: {checked}"
    );
    assert_eq!(
        owner(root.path()).0,
        0,
        "the folder it was put in is left alone"
    );
    assert!(folder.join("ascmhl").is_dir());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_the_right_to_change_owners_refuses_uid_at_once() {
    if !can_chown() {
        // The test above covers this case when not run as root.
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::start(vec![catalog::large("big", 1 << 20)])
        .await
        .unwrap();
    let (data, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [data.path(), root.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    // Its own data folder, made by it (a folder another user owns is not its to use).
    let agent = Agent::start_as_nobody(&sim, &data.path().join("nobody"));
    let (code, v) = agent
        .post(&json!({"url": sim.packages()[0].link(), "dst_folder": root.path(), "uid": 4242}));
    assert_eq!(code, 403, "{v}");
    assert_eq!(v["code"], "cannot_chown");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("cannot give the files to uid 4242") && message.contains("CAP_CHOWN"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing was written"
    );
    assert_eq!(sim.storage_requests(), 0);
}
