//! Files taken into or left out of a download after it was added: while it runs (the
//! run starts again with the new files, the others keeping their bytes) and after it
//! completed (it fetches the files taken in, and nothing it has again).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use inbound_e2e::inbound_engine::{
    DownloadState, EngineError, FileState, LinkOptions, Selection, SelectionError,
};
use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage};
use inbound_e2e::{Harness, ascmhl_verify, assert_completes, files_under};

const MIB: u64 = 1024 * 1024;
const LONG: Duration = Duration::from_secs(60);

fn reel() -> SimPackage {
    let file = |id: &str, name: &str, seed: u64, size: u64| {
        SimFile::new(id, name, Content::generated(seed, size))
    };
    SimPackage::new("reel", "Reel")
        // One request's worth (the tests' chunk is 1 MiB): one connection on it, the
        // others on the large file, so both are under way when the choice changes.
        .with_file(file("keep", "keep.wav", 2, MIB))
        .with_file(file("big", "big.mov", 1, 64 * MIB))
        .with_file(file("later", "later.txt", 3, 100_000))
}

/// The package added with only these files chosen: the harness, its folder, its id.
async fn added(ids: &[&str]) -> (Harness, PathBuf, String) {
    let h = Harness::new(vec![reel()]).await;
    let dest = h.dest();
    let id = h
        .engine
        .add_link_with(&h.link("reel"), &dest, only(ids))
        .await
        .unwrap();
    (h, dest, id)
}

fn only(ids: &[&str]) -> LinkOptions {
    LinkOptions {
        selection: Selection::files(ids.iter().copied()),
        ..LinkOptions::default()
    }
}

fn served(h: &Harness, file: &str) -> u64 {
    h.sim.bytes_served(&h.package("reel").package_id, file)
}

fn state_of(h: &Harness, id: &str, file: &str) -> FileState {
    let detail = h.engine.get(id).unwrap();
    detail
        .files
        .iter()
        .find(|f| f.file_id == file)
        .unwrap()
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_download_drops_a_file_and_takes_another_keeping_the_bytes_of_the_rest() {
    let (h, dest, id) = added(&["big", "keep"]).await;
    h.engine.set_download_limit(&id, Some(2 * MIB)).unwrap();
    assert_eq!(state_of(&h, &id, "later"), FileState::Excluded);

    let keep_done = || {
        let detail = h.engine.get(&id).unwrap();
        detail
            .files
            .iter()
            .find(|f| f.file_id == "keep")
            .unwrap()
            .bytes_done
    };
    // Both under way (which starts first is the scheduler's business: under Wine the
    // large file once had 2 MiB before the small one had any).
    inbound_e2e::until(LONG, "both files under way", || {
        keep_done() > 0
            && files_under(&dest)
                .iter()
                .any(|p| p.to_string_lossy().starts_with("big.mov"))
    })
    .await;
    let before = keep_done();
    let changed = h
        .engine
        .choose_files(&id, Selection::files(["keep", "later"]))
        .await
        .unwrap();
    assert_eq!((changed.taken_in, changed.left_out), (1, 1));
    assert_eq!(state_of(&h, &id, "big"), FileState::Excluded);
    // The file still chosen kept what it had received over the restart of the run.
    assert!(
        before > 0 && keep_done() >= before,
        "{before} then {}",
        keep_done()
    );
    h.engine.set_download_limit(&id, None).unwrap();
    let (detail, _) = assert_completes(&h, &id, "reel", &dest, LONG).await;
    assert_eq!(detail.summary.total_bytes, MIB + 100_000);

    // What was left out is gone, part file and all; what was taken in arrived.
    assert_eq!(
        files_under(&dest),
        ["keep.wav", "later.txt"].map(PathBuf::from)
    );
    assert!(served(&h, "big") < 64 * MIB, "the left-out file stopped");
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "{out}");

    let h = h.restart(|_| {}).await;
    assert_eq!(state_of(&h, &id, "big"), FileState::Excluded);
    assert_eq!(
        h.engine.get(&id).unwrap().summary.state,
        DownloadState::Complete
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_download_fetches_the_files_taken_in_and_nothing_it_has() {
    let (h, dest, id) = added(&["later"]).await;
    assert_completes(&h, &id, "reel", &dest, LONG).await;
    assert_eq!(served(&h, "later"), 100_000);

    h.engine.choose_files(&id, Selection::All).await.unwrap();
    assert_completes(&h, &id, "reel", &dest, LONG).await;
    assert_eq!(
        served(&h, "later"),
        100_000,
        "the file it had is not fetched again"
    );
    // The file taken in arrived: at least once, as a slow connection's rest taken over
    // by an idle one may be served twice in part (Wine's scheduling makes that happen).
    assert!(served(&h, "keep") >= MIB);
    assert_eq!(
        files_under(&dest),
        ["big.mov", "keep.wav", "later.txt"].map(PathBuf::from)
    );
    let (ok, out) = ascmhl_verify(&dest);
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_file_or_an_empty_choice_is_refused_and_changes_nothing() {
    let (h, dest, id) = added(&["later"]).await;
    let err = h
        .engine
        .choose_files(&id, Selection::files(["nope"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Selection(SelectionError::UnknownFiles(ids)) if ids == &["nope"]),
        "{err}"
    );
    let err = h
        .engine
        .choose_files(&id, Selection::files(Vec::<String>::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Selection(SelectionError::NothingSelected(_))
        ),
        "{err}"
    );
    assert_completes(&h, &id, "reel", &dest, LONG).await;
    assert_eq!(files_under(&dest), [PathBuf::from("later.txt")]);
    // The history's search finds it by any of its files, chosen or not, in any case.
    assert_eq!(h.engine.downloads_with_file(" BIG.mov "), [id]);
    assert!(h.engine.downloads_with_file("nothing.mov").is_empty());
}
