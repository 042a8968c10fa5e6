//! Histories written here are read, verified and extended by the ASC's reference
//! implementation (`ascmhl` from PyPI, installed by `.ci/run`), and ours reads theirs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use inbound_mhl::{
    Action, Digest, FileHash, Generation, HashAlgorithm, Outcome, Process, exact_path_pattern,
    hash_file, record_generation, verify,
};

fn ascmhl(tool: &str, args: &[&str], root: &Path) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("{tool} must be installed (pip install ascmhl): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A received package: nested folders, unicode names, an empty file.
fn package(root: &Path) -> Vec<&'static str> {
    let files = [
        ("A001_C001.mov", vec![7u8; 300_000]),
        (
            "Day 1/Clip é 🎬.mov",
            (0..200_000u32).map(|i| i as u8).collect(),
        ),
        ("Day 1/Sound/Take 3.wav", b"RIFF....WAVE".to_vec()),
        ("empty.txt", Vec::new()),
    ];
    for (path, bytes) in &files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files.iter().map(|(p, _)| *p).collect()
}

fn seal(root: &Path, paths: &[&str], algorithm: HashAlgorithm) {
    seal_ignoring(root, paths, algorithm, vec![]);
}

fn seal_ignoring(root: &Path, paths: &[&str], algorithm: HashAlgorithm, ignore: Vec<String>) {
    let files = paths
        .iter()
        .map(|p| {
            let path = root.join(p);
            FileHash {
                path: (*p).to_owned(),
                size: std::fs::metadata(&path).unwrap().len(),
                modified: Some(Utc::now()),
                digest: Digest {
                    algorithm,
                    value: hash_file(&path, algorithm).unwrap(),
                },
                action: Action::Original,
                hashed_at: Utc::now(),
            }
        })
        .collect();
    record_generation(
        root,
        algorithm,
        files,
        Generation {
            tool: "Inbound".into(),
            tool_version: "test".into(),
            comment: Some("MASV package P1 from sender@example.com; withheld: virus.exe".into()),
            process: Process::Transfer,
            ignore: [vec!["*.inbound-part".to_owned()], ignore].concat(),
            created: Utc::now(),
        },
    )
    .unwrap();
}

/// A package folder `pkg` with a history of one xxh128 generation.
fn sealed_package() -> (tempfile::TempDir, Vec<&'static str>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pkg");
    std::fs::create_dir(&root).unwrap();
    let paths = package(&root);
    seal(&root, &paths, HashAlgorithm::Xxh128);
    (dir, paths)
}

#[test]
fn the_reference_tool_verifies_reads_and_extends_our_history() {
    for algorithm in HashAlgorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Day 2 rushes");
        std::fs::create_dir(&root).unwrap();
        let paths = package(&root);
        seal(&root, &paths, algorithm);

        let (ok, out) = ascmhl("ascmhl-debug", &["verify"], &root);
        assert!(ok, "{algorithm}: ascmhl-debug verify failed:\n{out}");
        let (ok, out) = ascmhl("ascmhl-debug", &["verify", "-dh"], &root);
        assert!(ok, "{algorithm}: directory hashes differ:\n{out}");
        let (ok, out) = ascmhl("ascmhl", &["info", "-v"], &root);
        assert!(
            ok && out.contains("Inbound"),
            "{algorithm}: ascmhl info:\n{out}"
        );
        let (ok, out) = ascmhl("ascmhl", &["create", "-h", algorithm.name()], &root);
        assert!(ok, "{algorithm}: ascmhl create failed:\n{out}");
        let second = std::fs::read_dir(root.join("ascmhl"))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().starts_with("0002_"))
            .expect("ascmhl create wrote generation 0002");
        let xml = std::fs::read_to_string(second.path()).unwrap();
        assert_eq!(
            xml.matches("action=\"verified\"").count(),
            paths.len(),
            "{algorithm}: every file verified in 0002:\n{xml}"
        );
        // And ours reads the history with the reference tool's generation in it.
        let report = verify(&root, &[], |_| {}).unwrap();
        assert!(report.is_clean(), "{algorithm}: {:?}", report.files);
        assert_eq!(report.generations, 2);
    }
}

#[test]
fn a_flipped_byte_and_a_deleted_file_are_reported_by_both_tools() {
    let (dir, paths) = sealed_package();
    let root = dir.path().join("pkg");
    let clip = root.join(paths[1]);
    let mut bytes = std::fs::read(&clip).unwrap();
    bytes[1234] ^= 0x01;
    std::fs::write(&clip, bytes).unwrap();
    std::fs::remove_file(root.join(paths[2])).unwrap();
    std::fs::write(root.join("stray.txt"), b"not from the sender").unwrap();
    std::fs::write(root.join("other.mov.inbound-part"), b"in progress").unwrap();

    let report = verify(&root, &["*.inbound-part".into()], |_| {}).unwrap();
    let outcome = |p: &str| report.files.iter().find(|f| f.path == p).map(|f| f.outcome);
    assert_eq!(outcome(paths[0]), Some(Outcome::Ok));
    assert_eq!(outcome(paths[1]), Some(Outcome::Changed));
    assert_eq!(outcome(paths[2]), Some(Outcome::Missing));
    assert_eq!(outcome("stray.txt"), Some(Outcome::Extra));
    assert_eq!(outcome("other.mov.inbound-part"), None, "ignored");
    assert!(!report.is_clean());

    let (ok, out) = ascmhl("ascmhl-debug", &["verify"], &root);
    assert!(!ok, "the reference tool must fail too:\n{out}");
    assert!(out.contains("Clip é"), "names the changed file:\n{out}");
    assert!(out.contains("Take 3.wav"), "names the missing file:\n{out}");
}

#[test]
fn a_manifest_changed_after_writing_is_noticed() {
    let (dir, _) = sealed_package();
    let root = dir.path().join("pkg");
    let manifest = std::fs::read_dir(root.join("ascmhl"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".mhl"))
        .unwrap()
        .path();
    let xml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, xml.replace("Inbound", "Imposter")).unwrap();
    let err = verify(&root, &[], |_| {}).unwrap_err().to_string();
    assert!(err.contains("changed after it was written"), "{err}");
}

#[test]
fn one_file_left_out_by_its_exact_path_is_left_out_by_both_tools_and_only_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pkg");
    std::fs::create_dir(&root).unwrap();
    let paths = package(&root);
    // Wildcard characters in the name must be taken literally.
    let kept = "Day 1/[take 1] *final?.mov";
    std::fs::write(root.join(kept), b"someone's edit").unwrap();
    seal_ignoring(
        &root,
        &paths,
        HashAlgorithm::Xxh128,
        vec![exact_path_pattern(kept)],
    );
    let (ok, out) = ascmhl("ascmhl-debug", &["verify"], &root);
    assert!(ok, "ascmhl-debug verify:\n{out}");
    let report = verify(&root, &[], |_| {}).unwrap();
    assert_eq!(report.count(Outcome::Extra), 0, "{report:?}");
    assert_eq!(report.count(Outcome::Ok), paths.len());

    // A name the pattern would match were its wildcards read as wildcards is new.
    let other = "Day 1/t xfinalx.mov";
    std::fs::write(root.join(other), b"new").unwrap();
    let (ok, out) = ascmhl("ascmhl-debug", &["verify"], &root);
    assert!(!ok && out.contains("t xfinalx.mov"), "{out}");
    let report = verify(&root, &[], |_| {}).unwrap();
    let extra: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.outcome == Outcome::Extra)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(extra, [other]);
}

/// Spaces at either end of a name are part of it (senders on macOS and Linux use
/// them): the manifest keeps them and both tools find the file. Windows cannot name a
/// file so (Inbound saves it without the trailing space there).
#[test]
fn names_with_spaces_at_either_end_are_kept_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pkg");
    std::fs::create_dir_all(root.join("Day 1 ")).unwrap();
    let paths = ["trailing space ", " leading space.wav", "Day 1 /take 2.mov"];
    for (i, p) in paths.iter().enumerate() {
        std::fs::write(root.join(p), vec![i as u8; 1000 + i]).unwrap();
    }
    seal(&root, &paths, HashAlgorithm::Xxh128);
    let report = verify(&root, &[], |_| {}).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.count(Outcome::Ok), paths.len());
    let (ok, out) = ascmhl("ascmhl-debug", &["verify"], &root);
    assert!(ok, "ascmhl-debug verify:\n{out}");
}
