//! Names a sender's Mac or Linux machine allows and Windows does not: `inbound get`
//! saves every file, byte for byte, under a name this platform takes, and `inbound
//! verify` of the folder is clean. Run on Linux and, in CI, on Windows under Wine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use inbound_sim::{Sim, catalog};
mod common;
use common::{get_straight, inbound, sha256_file, text};

/// Where each file of `catalog::windows_names` is saved, relative to the destination,
/// on this platform.
fn expected_names() -> Vec<(&'static str, String)> {
    let deep = format!(
        "{}/{}/{}.mov",
        "Reel 1 ".repeat(14).trim_end(),
        "Scene 12 ".repeat(12).trim_end(),
        "A001_C002 ".repeat(8).trim_end()
    );
    let windows = cfg!(windows);
    let pick =
        |on_windows: &str, elsewhere: &str| if windows { on_windows } else { elsewhere }.to_owned();
    vec![
        ("w1", pick("_CON", "CON")),
        ("w2", pick("_aux.wav", "aux.wav")),
        ("w3", pick("_COM1.txt", "COM1.txt")),
        // ':' is a separator on macOS too; Linux takes it.
        (
            "w4",
            pick(
                "a_b.mov",
                if cfg!(target_os = "macos") {
                    "a_b.mov"
                } else {
                    "a:b.mov"
                },
            ),
        ),
        ("w5", pick("what_.txt", "what?.txt")),
        ("w6", pick("_pipe_star___q_.txt", "<pipe|star*>\"q\".txt")),
        ("w7", pick("trailing dot", "trailing dot.")),
        ("w8", pick("trailing space", "trailing space ")),
        ("w9", "Case.txt".to_owned()),
        // Names that differ only in case are one name on Windows and macOS (and on a
        // shared drive anywhere): the second gets a number everywhere.
        ("w10", "case (1).txt".to_owned()),
        ("w11", pick("_lpt3/_NUL.tar.gz", "lpt3/NUL.tar.gz")),
        ("w12", deep),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_windows_forbids_arrive_byte_identical_under_names_it_takes() {
    let sim = Sim::start(vec![catalog::windows_names()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = get_straight(&sim, data.path(), dest.path());
    assert!(out.status.success(), "{}", text(&out));

    let package = &sim.packages()[0];
    let by_id: BTreeMap<&str, _> = package.files.iter().map(|f| (f.id.as_str(), f)).collect();
    let expected = expected_names();
    assert_eq!(
        expected.len(),
        package.files.len(),
        "every file is named here"
    );
    let long = dest.path().join(&expected[11].1);
    assert!(long.as_os_str().len() > 260, "{}", long.display());
    for (id, name) in &expected {
        let path = dest.path().join(name);
        assert!(path.is_file(), "{id} is saved as {}", path.display());
        assert_eq!(
            sha256_file(&path),
            by_id[id].content.sha256_hex(),
            "{id} at {name}"
        );
    }
    assert_eq!(
        files_in(dest.path()),
        expected.len(),
        "nothing else is saved (besides the ASC MHL history)"
    );

    let verify = inbound(&sim, data.path())
        .arg("verify")
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}

/// Files under `dir`, its ASC MHL history left out.
fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            if e.file_name() == "ascmhl" {
                0
            } else if p.is_dir() {
                files_in(&p)
            } else {
                1
            }
        })
        .sum()
}
