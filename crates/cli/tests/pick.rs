//! Choosing a package's files from the command line: `inbound ls` shows them (and what
//! the patterns leave out), `inbound get --only/--exclude` downloads exactly those.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use inbound_sim::{Content, Sim, SimFile, SimPackage};
mod common;
use common::{inbound, sha256_file, text};

fn shoot() -> SimPackage {
    SimPackage::new("shoot", "Shoot")
        .expiring_in(chrono::Duration::minutes(30 * 60 + 30))
        .with_file(SimFile::new("m1", "A001.mov", Content::generated(1, 40_000)).in_folder("Day 1"))
        .with_file(
            SimFile::new("w1", "A001.wav", Content::generated(2, 30_000)).in_folder("Day 1/audio"),
        )
        .with_file(SimFile::new("m2", "B001.mov", Content::generated(3, 50_000)).in_folder("Day 2"))
        .with_file(SimFile::new("r", "readme.txt", Content::generated(4, 100)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_lists_every_file_with_its_id_and_marks_what_the_patterns_leave_out() {
    let sim = Sim::start(vec![shoot()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = inbound(&sim, data.path())
        .args([
            "ls",
            &sim.packages()[0].link(),
            "--only",
            "Day 1/**",
            "--exclude",
            "*.wav",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("Shoot — from "), "{stdout}");
    assert!(
        lines[0].ends_with("1 of 4 files to download, 39.1 KB"),
        "{stdout}"
    );
    // When the link stops working, in the table's words and as a moment.
    assert!(lines[1].starts_with("Expires in 30 h — "), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("m1") && l.ends_with("Day 1/A001.mov")),
        "{stdout}"
    );
    for (id, path) in [
        ("w1", "Day 1/audio/A001.wav"),
        ("m2", "Day 2/B001.mov"),
        ("r", "readme.txt"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(id) && l.ends_with(&format!("{path}  (not selected)"))),
            "{id}: {stdout}"
        );
    }
    assert_eq!(
        sim.package_bytes_served("pkg-shoot"),
        0,
        "nothing was downloaded"
    );
    // Nothing was kept in the data folder either: a listing is not a download.
    assert!(!data.path().join("inbound.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_with_only_and_exclude_downloads_exactly_the_chosen_files() {
    let sim = Sim::start(vec![shoot()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = inbound(&sim, data.path())
        .args([
            "get",
            &sim.packages()[0].link(),
            "--no-package-folder",
            "--only",
            "Day 1/",
            "--exclude",
            "*.wav",
            "--dest",
        ])
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let package = &sim.packages()[0];
    assert_eq!(
        sha256_file(&dest.path().join("Day 1/A001.mov")),
        package.files[0].content.sha256_hex()
    );
    for absent in ["Day 1/audio/A001.wav", "Day 2/B001.mov", "readme.txt"] {
        assert!(
            !dest.path().join(absent).exists(),
            "{absent} was downloaded"
        );
    }
    assert_eq!(
        sim.package_bytes_served("pkg-shoot"),
        40_000,
        "only the chosen file was fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_that_choose_nothing_or_do_not_parse_say_so_and_write_nothing() {
    let sim = Sim::start(vec![shoot()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["--only", "*.mxf"],
            "no file of the package is selected (only *.mxf)",
        ),
        (
            vec!["--exclude", "Day [1"],
            "not a usable file pattern: \"Day [1\"",
        ),
    ] {
        let out = inbound(&sim, data.path())
            .args(["get", &sim.packages()[0].link(), "--dest"])
            .arg(dest.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read_dir(dest.path()).unwrap().count(),
            0,
            "{args:?} wrote something"
        );
    }
    assert_eq!(sim.package_bytes_served("pkg-shoot"), 0);
}

#[test]
fn ls_with_masv_out_of_reach_says_so_plainly() {
    let data = tempfile::tempdir().unwrap();
    // Nothing listens on the discard port.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inbound"))
        .env("MASV_API_URL", "http://127.0.0.1:9/v1")
        .env("INBOUND_DATA_DIR", data.path())
        .args(["ls", "https://get.massive.app/abc?secret=s3cr3t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: MASV cannot be reached (could not connect to the server)"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}
