//! Hostile names, virus files and every way a link can be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{EngineError, FileState, MasvError, Secret};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes, files_under};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_land_inside_the_destination_and_viruses_are_withheld() {
    let h = Harness::new(vec![catalog::hostile()]).await;
    let dest = h.dest();
    let id = h.engine.add(&h.link("hostile"), &dest, None).await.unwrap();
    // Every good file is byte-identical at its planned place.
    let (detail, checked) =
        assert_completes(&h, &id, "hostile", &dest, Duration::from_secs(30)).await;
    assert_eq!(checked, 10);

    // The virus file is reported and absent; the zip entry is skipped.
    assert_eq!(detail.summary.virus_files, vec!["virus.exe".to_owned()]);
    let states: Vec<_> = detail
        .files
        .iter()
        .map(|f| (f.package_path.as_str(), f.state))
        .collect();
    assert!(states.contains(&("virus.exe", FileState::VirusWithheld)));
    assert!(states.contains(&("all.zip", FileState::Skipped)));
    assert_eq!(h.sim.bytes_served("pkg-hostile", "h4"), 0);
    assert_eq!(h.sim.bytes_served("pkg-hostile", "hz"), 0);

    // Nothing was written beside the destination, and the tree is what a person expects.
    let beside: Vec<_> = std::fs::read_dir(h.root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("dest")]);
    // Written with `/` whatever the platform's separator.
    let mut on_disk: Vec<String> = files_under(&dest)
        .iter()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    on_disk.sort();
    let mut expected = vec![
        "a/b/c/good.txt",
        "a/b/c/good (1).txt",
        "ünïcödé/日本語 ファイル.txt",
        "empty.bin",
        "x",
        "etc/passwd",
        "x (1)",
        // A device name on Windows: saved under a name Windows allows.
        if cfg!(windows) { "_CON.txt" } else { "CON.txt" },
        "inner/slash.txt",
        "escape/x",
    ];
    expected.sort();
    assert_eq!(on_disk, expected);
    assert_eq!(std::fs::metadata(dest.join("empty.bin")).unwrap().len(), 0);
    // Modification times come from the listing.
    let mtime = std::fs::metadata(dest.join("x"))
        .unwrap()
        .modified()
        .unwrap();
    let expected_mtime = chrono_like_2024_03_05();
    assert_eq!(
        mtime
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        expected_mtime
    );
}

/// 2024-03-05T14:30:00Z, the simulator's default `last_modified`.
fn chrono_like_2024_03_05() -> u64 {
    1_709_649_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_links_need_the_right_password() {
    let h = Harness::new(vec![catalog::demo_with_password()]).await;
    let dest = h.dest();
    let link = h.link("demo-locked");

    let none = h.engine.add(&link, &dest, None).await.unwrap_err();
    assert!(
        matches!(none, EngineError::Masv(MasvError::PasswordRequired)),
        "{none:?}"
    );
    assert!(none.to_string().contains("password"));
    let wrong = h
        .engine
        .add(&link, &dest, Some(Secret::new("nope")))
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, EngineError::Masv(MasvError::WrongPassword)),
        "{wrong:?}"
    );
    assert!(wrong.to_string().contains("wrong password"));
    assert!(
        !dest.exists(),
        "nothing is written before the password is accepted"
    );
    assert!(h.engine.list().is_empty());

    let id = h
        .engine
        .add(&link, &dest, Some(Secret::new("letmein")))
        .await
        .unwrap();
    let (_, checked) =
        assert_completes(&h, &id, "demo-locked", &dest, Duration::from_secs(60)).await;
    assert_eq!(checked, 7);
    // The password never shows in what the engine hands out.
    let listed = format!("{:?}", h.engine.list());
    assert!(!listed.contains("letmein") && !listed.contains("demo-locked-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_unknown_and_malformed_links_fail_clearly_and_write_nothing() {
    let h = Harness::new(vec![catalog::demo_expired(), catalog::demo()]).await;
    let dest = h.dest();

    let expired = h
        .engine
        .add(&h.link("demo-expired"), &dest, None)
        .await
        .unwrap_err();
    assert!(
        matches!(expired, EngineError::Masv(MasvError::Expired)),
        "{expired:?}"
    );
    assert!(expired.to_string().contains("expired"));

    let unknown = h
        .engine
        .add("https://get.massive.app/nope?secret=whatever", &dest, None)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, EngineError::Masv(MasvError::BadLink)),
        "{unknown:?}"
    );
    assert!(!unknown.to_string().contains("whatever"));

    let wrong_secret = h
        .engine
        .add("https://get.massive.app/demo?secret=guess", &dest, None)
        .await
        .unwrap_err();
    assert!(matches!(
        wrong_secret,
        EngineError::Masv(MasvError::BadLink)
    ));

    let malformed = h
        .engine
        .add("https://example.com/demo?secret=x", &dest, None)
        .await
        .unwrap_err();
    assert!(matches!(
        malformed,
        EngineError::Masv(MasvError::InvalidLink(_))
    ));
    assert!(malformed.to_string().contains("not a MASV download link"));

    let relative = h
        .engine
        .add(&h.link("demo"), std::path::Path::new("rel/dir"), None)
        .await
        .unwrap_err();
    assert!(matches!(relative, EngineError::RelativeDestination(_)));

    assert!(!dest.exists());
    assert!(h.engine.list().is_empty());
}
