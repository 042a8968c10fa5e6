//! The ledger's promise: what memory shows is what the row holds and what the faces
//! were told, and a change only shown is not recorded.

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use inbound_masv::LinkRef;

use super::*;
use crate::model::FileState;
use crate::store::fixtures::{file, row};

struct Recording {
    store: Store,
    events: Mutex<Vec<Event>>,
}

impl Journal for Recording {
    fn store(&self) -> &Store {
        &self.store
    }
    fn emit(&self, e: Event) {
        lock(&self.events).push(e);
    }
}

fn setup() -> (tempfile::TempDir, Recording, Download) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    store.insert_download(&row("d"), &[file(0)]).unwrap();
    let (row, files) = store.load_download("d").unwrap().unwrap();
    let source = Source::Link {
        link: LinkRef::parse(&row.link_url).unwrap(),
        password: None,
    };
    let dl = Download::from_rows(row, files, source);
    let journal = Recording {
        store,
        events: Mutex::new(Vec::new()),
    };
    (dir, journal, dl)
}

fn recorded_file(j: &Recording) -> crate::store::FileRow {
    j.store.load_download("d").unwrap().unwrap().1.remove(0)
}

#[test]
fn a_file_state_is_shown_recorded_and_told_alike() {
    let (_dir, j, dl) = setup();
    let f = &dl.files[0];
    set_file_state(&j, &dl, f, FileState::Error, Some("disk gone".into())).unwrap();
    assert_eq!(
        (f.state(), f.error().as_deref()),
        (FileState::Error, Some("disk gone"))
    );
    let row = recorded_file(&j);
    assert_eq!(
        (row.state, row.error.as_deref()),
        (FileState::Error, Some("disk gone"))
    );
    let events = lock(&j.events);
    assert!(matches!(
        events.as_slice(),
        [Event::FileStateChanged { state: FileState::Error, error: Some(e), .. }] if e == "disk gone"
    ));
}

#[test]
fn a_retried_file_is_shown_pending_but_its_row_keeps_the_failure_until_it_settles() {
    let (_dir, j, dl) = setup();
    let f = &dl.files[0];
    set_file_state(&j, &dl, f, FileState::Error, Some("refused".into())).unwrap();
    show_retrying(f);
    assert_eq!((f.state(), f.error()), (FileState::Pending, None));
    assert_eq!(recorded_file(&j).state, FileState::Error);
}

#[test]
fn bytes_written_before_the_file_started_again_are_not_recorded() {
    let (_dir, j, dl) = setup();
    let f = &dl.files[0];
    let before = f.epoch();
    assert!(record_range(&j, &dl, f, before, 0, 4).unwrap().is_some());
    reset_file(&j, &dl, f).unwrap();
    assert!(record_range(&j, &dl, f, before, 4, 8).unwrap().is_none());
    assert!(f.record().ranges.ranges().is_empty());
    assert!(recorded_file(&j).ranges.is_empty());
    assert_eq!(f.bytes_done(), 0);

    let now = record_range(&j, &dl, f, f.epoch(), 0, 10).unwrap().unwrap();
    assert!(now.whole);
    assert_eq!(recorded_file(&j).ranges, vec![(0, 10)]);
}

#[test]
fn a_download_state_is_shown_recorded_and_told_alike() {
    let (_dir, j, dl) = setup();
    {
        let mut s = dl.status();
        set_state(
            &j,
            &dl,
            &mut s,
            DownloadState::Error,
            Some("gone".into()),
            None,
        );
    }
    assert_eq!(dl.state(), DownloadState::Error);
    assert_eq!(dl.status().error(), Some("gone"));
    let (row, _) = j.store.load_download("d").unwrap().unwrap();
    assert_eq!(
        (row.state, row.error.as_deref()),
        (DownloadState::Error, Some("gone"))
    );
    assert!(matches!(
        lock(&j.events).as_slice(),
        [Event::StateChanged {
            state: DownloadState::Error,
            ..
        }]
    ));
}

#[test]
fn an_etag_is_learned_once_and_another_one_is_a_change() {
    let (_dir, j, dl) = setup();
    let f = &dl.files[0];
    let mut learned = 0;
    let first = pin_etag(&j, &dl, f, f.epoch(), "\"a\"", || learned += 1).unwrap();
    assert!(matches!(first, Pinned::Learned));
    assert!(matches!(
        pin_etag(&j, &dl, f, f.epoch(), "\"a\"", || learned += 1).unwrap(),
        Pinned::Known
    ));
    assert!(matches!(
        pin_etag(&j, &dl, f, f.epoch(), "\"b\"", || learned += 1).unwrap(),
        Pinned::Changed
    ));
    assert_eq!(learned, 1);
    assert_eq!(recorded_file(&j).etag.as_deref(), Some("\"a\""));
}

/// A journal whose database answers only when the test says so.
struct Held {
    inner: Recording,
    writing: std::sync::mpsc::SyncSender<()>,
    go_on: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Journal for Held {
    fn store(&self) -> &Store {
        let _ = self.writing.send(());
        let _ = lock(&self.go_on).recv();
        &self.inner.store
    }
    fn emit(&self, e: Event) {
        self.inner.emit(e);
    }
}

#[test]
fn a_file_is_read_while_its_row_is_being_written() {
    // A listing reads every file; it must not wait on a connection's database write
    // (seconds on a slow disk, times thousands of files).
    let (_dir, inner, dl) = setup();
    let (writing, written) = std::sync::mpsc::sync_channel(1);
    let (go_on, release) = std::sync::mpsc::sync_channel(1);
    let j = Held {
        inner,
        writing,
        go_on: Mutex::new(release),
    };
    std::thread::scope(|scope| {
        let (j, dl) = (&j, &dl);
        let recording =
            scope.spawn(move || record_range(j, dl, &dl.files[0], dl.files[0].epoch(), 0, 4));
        written.recv().unwrap();
        let (read, was_read) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = read.send(dl.files[0].record().ranges.covered());
        });
        let seen = was_read.recv_timeout(std::time::Duration::from_secs(10));
        go_on.send(()).unwrap();
        assert!(recording.join().unwrap().unwrap().is_some());
        assert_eq!(
            seen,
            Ok(4),
            "the record stayed locked through the database write"
        );
    });
}
