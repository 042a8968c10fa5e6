//! Packages in folders of their own: many packages (some of the same name) in one
//! download folder never mix files or ASC MHL histories; each folder verifies on its
//! own, again later, and goes away whole when removed with its files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{Destination, EngineError, Event, FileState, HashAlgorithm};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, catalog};
use inbound_e2e::{Harness, ascmhl_verify, assert_completes, files_under, wait_for_bytes};

const MIB: u64 = 1024 * 1024;
const LONG: Duration = Duration::from_secs(90);

/// Two deliveries named the same, with the same file names and different bytes, in
/// nested folders with names from several scripts.
fn same_name(link_id: &str, seed: u64) -> SimPackage {
    SimPackage::new(link_id, "Rushes")
        .with_file(
            SimFile::new("c1", "clip.mov", Content::generated(seed, 3 * MIB))
                .in_folder("Szene 1/Café ☕/日本語"),
        )
        .with_file(SimFile::new(
            "c2",
            "notes.txt",
            Content::bytes(format!("take {seed}")),
        ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_sharing_a_download_folder_each_get_a_folder_and_a_history_of_their_own() {
    let h = Harness::new(vec![same_name("day1", 1), same_name("day2", 2)]).await;
    let dest = h.dest();
    // Someone's own folder of that name is never written into.
    std::fs::create_dir_all(dest.join("Rushes")).unwrap();
    std::fs::write(dest.join("Rushes/mine.txt"), b"not Inbound's").unwrap();
    let into = Destination::package_folder_in(&dest);
    let (day1, day2) = (h.link("day1"), h.link("day2"));
    let (a, b) = tokio::join!(
        h.engine.add(&day1, into.clone(), None),
        h.engine.add(&day2, into.clone(), None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut folders = Vec::new();
    for (id, link) in [(&a, "day1"), (&b, "day2")] {
        let own = h.engine.get(id).unwrap().summary.dst_folder;
        assert_eq!(own.parent(), Some(dest.as_path()), "{own:?}");
        assert_completes(&h, id, link, &own, LONG).await;
        let (ok, out) = ascmhl_verify(&own);
        assert!(ok, "ascmhl-debug verify {own:?}:\n{out}");
        folders.push(own);
    }
    folders.sort();
    assert_eq!(folders, [dest.join("Rushes (1)"), dest.join("Rushes (2)")]);
    assert_eq!(
        files_under(&dest.join("Rushes")),
        [std::path::PathBuf::from("mine.txt")]
    );
    assert!(
        !dest.join("ascmhl").exists(),
        "no history in the shared folder"
    );

    // The same link into the same folder again checks the package's own folder (a
    // repair), not a third folder.
    let a_folder = h.engine.get(&a).unwrap().summary.dst_folder;
    let a = h
        .engine
        .add(&h.link("day1"), into.clone(), None)
        .await
        .unwrap();
    assert_completes(&h, &a, "day1", &a_folder, LONG).await;
    assert_eq!(h.engine.get(&a).unwrap().summary.dst_folder, a_folder);
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 3);

    // Removed with its files: the package folder goes, history and all; the other stays.
    let b_folder = h.engine.get(&b).unwrap().summary.dst_folder;
    h.engine.delete(&b, true).await.unwrap();
    assert!(!b_folder.exists(), "{:?}", files_under(&b_folder));
    let a_folder = h.engine.get(&a).unwrap().summary.dst_folder;
    let (ok, out) = ascmhl_verify(&a_folder);
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_again_finds_a_flipped_byte_and_a_deleted_file_and_records_what_it_found() {
    let h = Harness::new(vec![catalog::demo()]).await;
    let id = h
        .engine
        .add(
            &h.link("demo"),
            Destination::package_folder_in(h.dest()),
            None,
        )
        .await
        .unwrap();
    let own = h.engine.get(&id).unwrap().summary.dst_folder;
    assert_completes(&h, &id, "demo", &own, LONG).await;

    let clean = h.engine.verify_again(&id).await.unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.ok, 7);
    assert_eq!(clean.algorithms, ["xxh128"]);
    let second = clean.recorded.clone().expect("recorded as a generation");
    assert!(
        second
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("0002_"),
        "{second:?}"
    );
    let (ok, out) = ascmhl_verify(&own);
    assert!(
        ok,
        "the history with our second generation verifies:\n{out}"
    );

    let flipped = own.join("Coastline/Day 1/A001_C002.mov");
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[1234] ^= 1;
    std::fs::write(&flipped, bytes).unwrap();
    std::fs::remove_file(own.join("Coastline/Stills/still_01.jpg")).unwrap();
    let found = h.engine.verify_again(&id).await.unwrap();
    assert_eq!(found.changed, ["Coastline/Day 1/A001_C002.mov"]);
    assert_eq!(found.missing, ["Coastline/Stills/still_01.jpg"]);
    assert!(found.extra.is_empty(), "{found:?}");
    assert_eq!(found.ok, 5);
    let xml = std::fs::read_to_string(found.recorded.unwrap()).unwrap();
    assert!(xml.contains(r#"action="failed""#), "{xml}");
    let (ok, out) = ascmhl_verify(&own);
    assert!(!ok, "the reference verifier sees it too:\n{out}");
    assert!(out.contains("A001_C002.mov"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_completed_package_can_be_verified_again() {
    let h = Harness::new(vec![catalog::large("big", 24 * MIB)]).await;
    h.sim.faults().set_conn_rate(MIB);
    let id = h.engine.add(&h.link("big"), h.dest(), None).await.unwrap();
    wait_for_bytes(&h.engine, &id, MIB, LONG).await;
    let err = h.engine.verify_again(&id).await.unwrap_err();
    assert!(matches!(err, EngineError::NotVerifiable(_)), "{err}");
    assert!(err.to_string().contains("not finished"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_format_changed_mid_package_still_gives_a_manifest_in_one_format() {
    let pkg = SimPackage::new("two", "Two files")
        .with_file(SimFile::new(
            "f1",
            "first.mov",
            Content::generated(1, 2 * MIB),
        ))
        .with_file(SimFile::new(
            "f2",
            "second.mov",
            Content::generated(2, 12 * MIB),
        ));
    let h = Harness::with_config(vec![pkg], |c| c.connections_per_download = 1).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let mut events = h.engine.subscribe();
    let dest = h.dest();
    let id = h.engine.add(&h.link("two"), &dest, None).await.unwrap();
    // The first file completes in xxh128; the second is hashed in MD5 from the resume.
    loop {
        match tokio::time::timeout(LONG, events.recv()).await.unwrap() {
            Ok(Event::FileStateChanged {
                index: 0,
                state: FileState::Complete,
                ..
            }) => break,
            Ok(_) => {}
            Err(e) => panic!("events: {e}"),
        }
    }
    h.engine.pause(&id).await.unwrap();
    h.engine.set_hash_algorithm(HashAlgorithm::Md5);
    h.sim.faults().set_conn_rate(0);
    h.engine.resume(&id).unwrap();
    let (detail, _) = assert_completes(&h, &id, "two", &dest, LONG).await;
    for f in &detail.files {
        let hash = f.hash.as_ref().expect("hashed");
        assert_eq!(
            hash.algorithm, "md5",
            "{} shows what its manifest holds",
            f.package_path
        );
        assert_eq!(
            hash.value,
            inbound_mhl::hash_file(&dest.join(&f.path), HashAlgorithm::Md5).unwrap()
        );
    }
    assert_eq!(detail.summary.hash_algorithm.as_deref(), Some("md5"));
    let xml = std::fs::read_to_string(detail.summary.manifest.unwrap()).unwrap();
    assert_eq!(
        xml.matches("<md5").count(),
        2 + 1 + 1,
        "files, root content and structure: {xml}"
    );
    assert!(!xml.contains("<xxh128"), "{xml}");
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "{out}");
}

/// Removed with its files after it was verified again (a second generation in its
/// history, also Inbound's): the package folder goes whole, so the next download of
/// the package lands in its own name again, not in "Rushes (1)". A history someone
/// else added to stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_with_files_leaves_nothing_after_a_verification_or_a_repair() {
    let h = Harness::new(vec![same_name("day1", 1)]).await;
    let dest = h.dest();
    let into = Destination::package_folder_in(&dest);
    let own = dest.join("Rushes");
    let id = h
        .engine
        .add(&h.link("day1"), into.clone(), None)
        .await
        .unwrap();
    assert_completes(&h, &id, "day1", &own, LONG).await;
    assert!(h.engine.verify_again(&id).await.unwrap().is_clean());
    let id = h.engine.repair(&id).await.unwrap();
    assert_completes(&h, &id, "day1", &own, LONG).await;
    assert!(h.engine.verify_again(&id).await.unwrap().is_clean());
    h.engine.delete(&id, true).await.unwrap();
    assert!(!own.exists(), "left behind: {:?}", files_under(&own));

    let again = h.engine.add(&h.link("day1"), into, None).await.unwrap();
    assert_completes(&h, &again, "day1", &own, LONG).await;
    assert_eq!(h.engine.get(&again).unwrap().summary.dst_folder, own);

    // A generation another tool wrote makes the history someone's: it stays.
    let theirs = own.join("ascmhl/0099_Rushes_2026-12-06_120000Z.mhl");
    let ours = std::fs::read_dir(own.join("ascmhl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "mhl"))
        .unwrap();
    let xml = std::fs::read_to_string(&ours).unwrap();
    let xml = xml.replace(">Inbound</tool>", ">Silverstack</tool>");
    assert!(xml.contains(">Silverstack</tool>"), "{xml}");
    std::fs::write(&theirs, xml).unwrap();
    h.engine.delete(&again, true).await.unwrap();
    assert!(theirs.exists());
    assert!(
        !own.join("notes.txt").exists(),
        "the package's files go all the same"
    );
}

/// Removing a download under way, files kept or not, leaves none of its part files
/// (they are Inbound's, of no use to anyone), nor the package folder it made for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_download_under_way_leaves_no_part_file() {
    let h = Harness::new(vec![catalog::large("big", 16 * MIB)]).await;
    h.sim.faults().set_conn_rate(MIB);
    let dest = h.dest();
    let id = h
        .engine
        .add(&h.link("big"), Destination::package_folder_in(&dest), None)
        .await
        .unwrap();
    wait_for_bytes(&h.engine, &id, MIB, Duration::from_secs(30)).await;
    let own = h.engine.get(&id).unwrap().summary.dst_folder;
    assert!(own.join("big.bin.inbound-part").exists());
    h.engine.delete(&id, false).await.unwrap();
    assert!(!own.exists(), "left behind: {:?}", files_under(&own));
}
