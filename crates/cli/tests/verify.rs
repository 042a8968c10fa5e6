//! `inbound get --hash`, `--no-package-folder` and `inbound verify` on a delivery with
//! nested and non-Latin names, checked against the ASC's reference tool.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use inbound_e2e::ascmhl_verify;
use inbound_sim::Sim;
mod common;
use common::{get_straight, inbound, text};

const MIB: u64 = 1024 * 1024;

/// A small delivery with nested and non-Latin names.
fn nested_unicode() -> inbound_sim::SimPackage {
    use inbound_sim::{Content, SimFile, SimPackage};
    SimPackage::new("nested", "Szene 4")
        .with_file(
            SimFile::new("n1", "Aufnahme ☕.wav", Content::generated(1, 3 * MIB))
                .in_folder("Ton/日本語"),
        )
        .with_file(SimFile::new(
            "n2",
            "notes.txt",
            Content::bytes(b"take 2".to_vec()),
        ))
        .with_file(SimFile::new("n3", "still.jpg", Content::generated(3, MIB)).in_folder("Bilder"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_verify_names_every_changed_missing_and_extra_file_and_records_clean_runs() {
    let sim = Sim::start(vec![nested_unicode()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = inbound(&sim, data.path())
        .args(["get", &sim.packages()[0].link(), "--hash", "md5", "--dest"])
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let package = dest.path().join("Szene 4");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "3 files verified (md5), manifest in {}",
            package.join("ascmhl").display()
        )),
        "{}",
        text(&out)
    );
    let verify = |extra: &[&str]| {
        inbound(&sim, data.path())
            .arg("verify")
            .args(extra)
            .arg(&package)
            .output()
            .unwrap()
    };

    let out = verify(&["--record"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OK       Ton/日本語/Aufnahme ☕.wav"),
        "{stdout}"
    );
    assert!(
        stdout.contains("every file matches its hash: 3 OK, 0 changed, 0 missing, 0 extra (md5; history of 1 generation)"),
        "{stdout}"
    );
    assert!(stdout.contains("recorded in"), "{stdout}");
    let (ok, report) = ascmhl_verify(&package);
    assert!(
        ok,
        "the reference tool reads our second generation:\n{report}"
    );

    let flipped = package.join("Ton/日本語/Aufnahme ☕.wav");
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&flipped, bytes).unwrap();
    std::fs::remove_file(package.join("notes.txt")).unwrap();
    std::fs::write(package.join("Bilder/stray.jpg"), b"added later").unwrap();
    let out = verify(&["--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "CHANGED  Ton/日本語/Aufnahme ☕.wav",
        "MISSING  notes.txt",
        "EXTRA    Bilder/stray.jpg",
        "PROBLEMS FOUND: 1 OK, 1 changed, 1 missing, 1 extra (md5; history of 2 generations)",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("OK       "),
        "--quiet hides matches: {stdout}"
    );
    let (ok, report) = ascmhl_verify(&package);
    assert!(!ok, "the reference tool fails it too:\n{report}");
    assert!(report.contains("Aufnahme"), "{report}");

    let out = inbound(&sim, data.path())
        .args(["verify"])
        .arg(dest.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no ASC MHL history"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_package_folder_puts_the_files_straight_into_the_destination() {
    let sim = Sim::start(vec![nested_unicode()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = get_straight(&sim, data.path(), dest.path());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(dest.path().join("notes.txt")).unwrap(),
        b"take 2"
    );
    assert!(!dest.path().join("Szene 4").exists());
    let (ok, report) = ascmhl_verify(dest.path());
    assert!(ok, "{report}");
}

#[test]
fn an_unknown_hash_format_is_refused_with_the_ones_there_are() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["get", "--demo", "--hash", "sha256"])
        .env("INBOUND_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xxh128, xxh64, md5, sha1, c4"), "{err}");
}
