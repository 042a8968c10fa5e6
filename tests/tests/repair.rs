//! Downloading a package again into the folder it completed in: the files already
//! there are checked against the hashes recorded when they arrived, and only what is
//! missing or changed is fetched. A file that differs is someone's to keep: it is
//! moved aside under a name that says so, never overwritten.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadState, Event};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
use inbound_e2e::{Harness, ascmhl_verify, assert_completes, file_identity, files_under};

const KIB: u64 = 1024;
const LONG: Duration = Duration::from_secs(60);

fn rushes() -> SimPackage {
    let file = |id: &str, name: &str, seed: u64, size: u64| {
        SimFile::new(id, name, Content::generated(seed, size))
    };
    SimPackage::new("rushes", "Rushes")
        .with_file(file("a", "a.mov", 1, 1024 * KIB).in_folder("Day 1"))
        .with_file(file("b", "b.wav", 2, 512 * KIB).in_folder("Day 1"))
        .with_file(file("c", "c.txt", 3, 200 * KIB))
        .with_file(file("d", "d.mov", 4, 300 * KIB))
}

/// The package downloaded once into `dest`, complete: the harness, `dest`, its id.
async fn completed_once() -> (Harness, PathBuf, String) {
    let h = Harness::new(vec![rushes()]).await;
    let dest = h.dest();
    let first = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    assert_completes(&h, &first, "rushes", &dest, LONG).await;
    (h, dest, first)
}

/// Bytes storage has sent of the package so far.
fn served(h: &Harness) -> u64 {
    h.sim.package_bytes_served(&h.package("rushes").package_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloading_again_fetches_only_what_is_missing_or_changed_and_keeps_the_changed_copy() {
    let (h, dest, first) = completed_once().await;
    let served_once = served(&h);

    // Someone deletes one file and edits another (same length, other bytes).
    std::fs::remove_file(dest.join("Day 1/a.mov")).unwrap();
    let edit = vec![b'e'; 512 * KIB as usize];
    std::fs::write(dest.join("Day 1/b.wav"), &edit).unwrap();
    let untouched = [dest.join("c.txt"), dest.join("d.mov")].map(|p| file_identity(&p));

    let again = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    assert_ne!(again, first, "downloading again is a new download");
    assert!(
        h.engine.get(&first).is_err(),
        "the new download takes the earlier one's place"
    );
    let (detail, checked) = assert_completes(&h, &again, "rushes", &dest, LONG).await;
    assert_eq!(checked, 4);

    // Only the missing and the changed file came from storage.
    assert_eq!(served(&h) - served_once, (1024 + 512) * KIB);
    // The files that were right were not written again.
    assert_eq!(
        [dest.join("c.txt"), dest.join("d.mov")].map(|p| file_identity(&p)),
        untouched
    );
    // The edit is kept beside the package's file, and the download says where.
    let kept = PathBuf::from("Day 1/b (changed).wav");
    assert_eq!(std::fs::read(dest.join(&kept)).unwrap(), edit);
    let b = detail.files.iter().find(|f| f.file_id == "b").unwrap();
    assert_eq!(b.kept_aside.as_deref(), Some(kept.as_path()));
    assert!(detail.files.iter().all(|f| f.verified));
    assert_eq!(
        files_under(&dest),
        [
            "Day 1/a.mov",
            "Day 1/b (changed).wav",
            "Day 1/b.wav",
            "c.txt",
            "d.mov"
        ]
        .map(PathBuf::from)
    );
    // The history leaves the kept copy out (it is not the package's) and vouches for
    // the rest, for the reference verifier and for Inbound's own.
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "ascmhl-debug verify:\n{out}");
    let summary = h.engine.verify_again(&again).await.unwrap();
    assert!(summary.is_clean(), "{summary:?}");
    assert_eq!(summary.ok, 4);

    // What the check found is kept with the download.
    let h = h.restart(|_| {}).await;
    let detail = h.engine.get(&again).unwrap();
    let b = detail.files.iter().find(|f| f.file_id == "b").unwrap();
    assert_eq!(b.kept_aside.as_deref(), Some(kept.as_path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloading_again_with_every_file_intact_fetches_nothing() {
    let (h, dest, _) = completed_once().await;
    let served_once = served(&h);
    let before = files_under(&dest);
    let identities: Vec<_> = before
        .iter()
        .map(|p| file_identity(&dest.join(p)))
        .collect();

    let again = h.engine.add(&h.link("rushes"), &dest, None).await.unwrap();
    assert_completes(&h, &again, "rushes", &dest, LONG).await;
    assert_eq!(served(&h), served_once);
    assert_eq!(files_under(&dest), before);
    let after: Vec<_> = before
        .iter()
        .map(|p| file_identity(&dest.join(p)))
        .collect();
    assert_eq!(after, identities, "no file was written again");
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "ascmhl-debug verify:\n{out}");
}

/// Asked for again while MASV is out of reach: kept as a link waiting for the network
/// (a retry of the same request is the same wait), and once MASV answers it checks the
/// earlier download's files in their folder and takes its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_again_while_masv_is_unreachable_it_waits_then_checks_the_same_folder() {
    let (h, dest, first) = completed_once().await;
    let served_once = served(&h);
    std::fs::remove_file(dest.join("c.txt")).unwrap();

    h.sim.faults().set_outage(Duration::from_secs(3600));
    let waiting = h
        .engine
        .add_or_wait(&h.link("rushes"), &dest, None)
        .await
        .unwrap();
    assert_ne!(waiting, first);
    assert_eq!(
        h.engine
            .add_or_wait(&h.link("rushes"), &dest, None)
            .await
            .unwrap(),
        waiting,
        "a retry while it waits is the same download"
    );
    assert!(
        h.engine.get(&first).is_ok(),
        "kept until the new one is listed"
    );

    h.sim.faults().set_outage(Duration::ZERO);
    h.engine.try_waiting_now();
    assert_completes(&h, &waiting, "rushes", &dest, LONG).await;
    assert!(h.engine.get(&first).is_err(), "replaced once listed");
    assert_eq!(
        served(&h) - served_once,
        200 * KIB,
        "only the deleted file was fetched"
    );
    assert_eq!(
        files_under(&dest),
        ["Day 1/a.mov", "Day 1/b.wav", "c.txt", "d.mov"].map(PathBuf::from),
        "no second copy under another name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_look_at_the_files_already_there_shows_how_far_it_is() {
    const MIB: u64 = 1024 * KIB;
    // Large enough that hashing them again spans several progress samples (MD5, the
    // slowest format to check, is what the first download recorded).
    let package = (0..3).fold(SimPackage::new("big", "Big rushes"), |p, i| {
        p.with_file(SimFile::new(
            format!("f{i}"),
            format!("take {i}.mov"),
            Content::generated(40 + i, 128 * MIB),
        ))
    });
    let h = Harness::with_config(vec![package], |c| {
        c.hash_algorithm = inbound_e2e::inbound_engine::HashAlgorithm::Md5;
    })
    .await;
    let dest = h.dest();
    let first = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &first, "big", &dest, LONG).await;

    let served_once = served_of(&h, "big");
    let mut events = h.engine.subscribe();
    let again = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(LONG, events.recv()).await.unwrap() {
            Ok(Event::Progress { downloads }) => {
                seen.extend(
                    downloads
                        .into_iter()
                        .filter(|p| p.id == again)
                        .map(|p| p.checking),
                );
            }
            Ok(Event::StateChanged { id, state, .. }) if id == again => {
                assert_ne!(state, DownloadState::Error);
                if state == DownloadState::Complete {
                    break;
                }
            }
            _ => {}
        }
    }
    let checking: Vec<_> = seen.iter().flatten().collect();
    assert!(!checking.is_empty(), "no progress while checking: {seen:?}");
    for c in &checking {
        assert_eq!((c.files, c.bytes), (3, 3 * 128 * MIB), "{c:?}");
        assert!(c.files_done <= 3 && c.bytes_done <= c.bytes, "{c:?}");
    }
    // It moves, file by file.
    let first_seen = checking.first().unwrap();
    assert!(
        checking
            .iter()
            .any(|c| c.bytes_done > first_seen.bytes_done),
        "it never moved: {checking:?}"
    );
    assert!(checking.last().unwrap().files_done >= 2, "{checking:?}");
    assert_eq!(served_of(&h, "big"), served_once, "nothing fetched again");
}

fn served_of(h: &Harness, link_id: &str) -> u64 {
    h.sim.package_bytes_served(&h.package(link_id).package_id)
}

/// "Repair" after a verification found a change: the completed download is checked
/// again in its own folder through `Engine::repair`, the edited file is kept aside,
/// only its bytes come from storage, and the folder verifies clean afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_after_a_failed_verification_fetches_only_what_differs() {
    let (h, dest, first) = completed_once().await;
    let served_once = served(&h);
    std::fs::write(dest.join("c.txt"), vec![b'x'; 200 * KIB as usize]).unwrap();
    let found = h.engine.verify_again(&first).await.unwrap();
    assert_eq!(found.changed, ["c.txt"], "{found:?}");

    let repaired = h.engine.repair(&first).await.unwrap();
    assert_ne!(repaired, first);
    assert!(
        h.engine.get(&first).is_err(),
        "it takes the earlier one's place"
    );
    let (detail, checked) = assert_completes(&h, &repaired, "rushes", &dest, LONG).await;
    assert_eq!(checked, 4);
    assert_eq!(served(&h) - served_once, 200 * KIB, "only the changed file");
    let c = detail.files.iter().find(|f| f.file_id == "c").unwrap();
    assert_eq!(
        c.kept_aside.as_deref(),
        Some(PathBuf::from("c (changed).txt").as_path())
    );
    assert!(h.engine.verify_again(&repaired).await.unwrap().is_clean());

    // Only a completed download is repaired: one under way says what to do instead.
    h.sim.faults().set_conn_rate(64 * KIB);
    let other = h
        .engine
        .add(&h.link("rushes"), h.dest().join("other"), None)
        .await
        .unwrap();
    let refused = h.engine.repair(&other).await.unwrap_err();
    assert!(
        refused.to_string().contains("resume or retry it instead"),
        "{refused}"
    );
}

/// Pasted again in the desktop (`IfDownloaded::Ask`): a link already downloaded, or
/// another link to the same package, is refused with the download it already is, and
/// nothing is fetched; asked for as a copy, it goes to a folder of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_downloaded_before_is_said_so_when_asked() {
    use inbound_e2e::inbound_engine::{Destination, EngineError, IfDownloaded, LinkOptions};
    let mut forwarded = rushes();
    forwarded.link_id = "forwarded".into();
    forwarded.secret = "forwarded-secret".into();
    let h = Harness::new(vec![rushes(), forwarded]).await;
    let into = Destination::package_folder_in(h.dest());
    let first = h
        .engine
        .add(&h.link("rushes"), into.clone(), None)
        .await
        .unwrap();
    let folder = h.dest().join("Rushes");
    assert_completes(&h, &first, "rushes", &folder, LONG).await;
    let served_once = served(&h);
    let ask = || LinkOptions {
        if_downloaded: IfDownloaded::Ask,
        ..LinkOptions::default()
    };

    for (link, elsewhere) in [
        ("rushes", h.dest()),
        ("rushes", h.dest().join("else")),
        ("forwarded", h.dest()),
    ] {
        let err = h
            .engine
            .add_link_with(
                &h.link(link),
                Destination::package_folder_in(elsewhere),
                ask(),
            )
            .await
            .unwrap_err();
        match err {
            EngineError::DownloadedBefore {
                id,
                folder: f,
                complete,
                ..
            } => {
                assert_eq!(
                    (id.as_str(), f.as_path(), complete),
                    (first.as_str(), folder.as_path(), true)
                );
            }
            other => panic!("{link}: {other}"),
        }
        assert_eq!(h.engine.list().len(), 1, "{link}: nothing added");
    }
    assert_eq!(served(&h), served_once, "nothing fetched");

    // Again as a copy: a folder of its own beside the first.
    let copy = h
        .engine
        .add_link_with(
            &h.link("rushes"),
            into,
            LinkOptions {
                if_downloaded: IfDownloaded::Copy,
                ..LinkOptions::default()
            },
        )
        .await
        .unwrap();
    assert_ne!(copy, first);
    let second = h.dest().join("Rushes (1)");
    assert_completes(&h, &copy, "rushes", &second, LONG).await;
    assert_eq!(
        h.engine.get(&first).unwrap().summary.state,
        DownloadState::Complete
    );
}
