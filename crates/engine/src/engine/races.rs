//! Concurrent calls held at the scheduler's seam, so the one interleaving that would
//! break a rule happens every time instead of once in a million runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use inbound_sim::{Sim, catalog};

use super::Engine;
use crate::config::EngineConfig;
use crate::model::{DownloadState, Event};
use crate::sync::lock;

pub(super) type Seam = Arc<dyn Fn(&'static str) + Send + Sync>;

const MIB: u64 = 1024 * 1024;

pub(super) async fn engine_on(sim: &Sim, data: &std::path::Path, max_active: usize) -> Engine {
    let mut c = EngineConfig::new(data);
    c.api_url = sim.api_url();
    c.max_active_downloads = max_active;
    c.retry_base_delay = Duration::from_millis(50);
    Engine::open(c).await.unwrap()
}

fn hold_at(engine: &Engine, seam: impl Fn(&'static str) + Send + Sync + 'static) {
    *lock(&engine.shared.seam) = Some(Arc::new(seam));
}

/// Holds the first call that reaches `point` until told to go (or 10 s); returns the
/// receiver told when it arrived and the sender that lets it go.
pub(super) fn hold_first_at(
    engine: &Engine,
    point: &'static str,
) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (arrived_tx, arrived_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (arrived_tx, go_rx) = (Mutex::new(Some(arrived_tx)), Mutex::new(go_rx));
    hold_at(engine, move |at| {
        if at != point {
            return;
        }
        if let Some(tx) = arrived_tx.lock().unwrap().take() {
            let _ = tx.send(());
            let _ = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
    });
    (arrived_rx, go_tx)
}

/// Waits (off the runtime's threads) until the held call is at its seam.
pub(super) async fn arrived(at_seam: mpsc::Receiver<()>) {
    tokio::task::spawn_blocking(move || at_seam.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the held call reached its seam");
}

/// Polls the download until `holds` is true of it, failing after 30 s.
pub(super) async fn until(
    engine: &Engine,
    id: &str,
    what: &str,
    holds: impl Fn(&crate::model::DownloadDetail) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !holds(&engine.get(id).unwrap()) {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Resumes the download from a thread of its own (as a UI's main thread would).
fn resume_in_thread(
    engine: &Engine,
    id: &str,
) -> std::thread::JoinHandle<Result<(), crate::error::EngineError>> {
    let (engine, id) = (engine.clone(), id.to_owned());
    std::thread::spawn(move || engine.resume(&id))
}

fn running(engine: &Engine, ids: &[String]) -> usize {
    ids.iter()
        .filter(|id| engine.find(id).unwrap().status().run.is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resumes_at_once_never_start_more_than_the_limit() {
    let sim = Sim::start(vec![
        catalog::large("a", 8 * MIB),
        catalog::large("b", 8 * MIB),
    ])
    .await
    .unwrap();
    sim.faults().set_conn_rate(MIB / 4);
    let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = engine_on(&sim, data.path(), 1).await;
    let mut ids = Vec::new();
    for link in ["a", "b"] {
        let id = engine
            .add(
                &sim.packages()[ids.len()].link(),
                &dest.path().join(link),
                None,
            )
            .await
            .unwrap();
        engine.pause(&id).await.unwrap();
        ids.push(id);
    }
    assert_eq!(running(&engine, &ids), 0);
    // The first two schedulers to count wait for each other (up to a while) before
    // starting anything: without mutual exclusion both see 0 running.
    let meeting = Arc::new((Mutex::new(0u32), Condvar::new()));
    let m = meeting.clone();
    hold_at(&engine, move |point| {
        if point != "schedule.counted" {
            return;
        }
        let (arrived, all_here) = &*m;
        let mut n = arrived.lock().unwrap();
        *n += 1;
        all_here.notify_all();
        let _ = all_here
            .wait_timeout_while(n, Duration::from_millis(500), |n| *n < 2)
            .unwrap();
    });
    let threads: Vec<_> = ids
        .iter()
        .map(|id| {
            let (engine, id) = (engine.clone(), id.clone());
            std::thread::spawn(move || engine.resume(&id))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(running(&engine, &ids), 1, "limit 1, two resumed at once");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_while_the_scheduler_looks_is_never_undone() {
    let sim = Sim::start(vec![catalog::large("big", 16 * MIB)])
        .await
        .unwrap();
    sim.faults().set_conn_rate(MIB / 4);
    let (data, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dest = root.path().join("dest");
    let engine = engine_on(&sim, data.path(), 3).await;
    let id = engine
        .add(&sim.packages()[0].link(), &dest, None)
        .await
        .unwrap();
    engine.pause(&id).await.unwrap();
    let dl = engine.find(&id).unwrap();
    // The resume's scheduler has its list (with this download in it) when the delete
    // runs; it carries on only once the delete has taken the download away.
    let (arrived_rx, go_tx) = hold_first_at(&engine, "schedule.counted");
    let resumer = resume_in_thread(&engine, &id);
    arrived(arrived_rx).await;
    let mut events = engine.subscribe();
    let deleter = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move { engine.delete(&id, true).await })
    };
    loop {
        if let Event::Removed { id: gone } = events.recv().await.unwrap()
            && gone == id
        {
            break;
        }
    }
    go_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || resumer.join().unwrap())
        .await
        .unwrap()
        .unwrap();
    deleter.await.unwrap().unwrap();
    assert!(
        dl.status().run.is_none(),
        "a deleted download was started again"
    );
    assert!(engine.get(&id).is_err());
    engine.shutdown().await;
    let left: Vec<_> = walk(root.path());
    assert!(left.is_empty(), "a deleted download left files: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_being_given_up_is_not_taken_from_a_second_download() {
    let sim = Sim::start(vec![
        catalog::large("a", 4 * MIB),
        catalog::large("b", 4 * MIB),
        catalog::large("urgent", MIB),
    ])
    .await
    .unwrap();
    sim.faults().set_conn_rate(MIB / 4);
    let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = engine_on(&sim, data.path(), 2).await;
    let link = |i: usize| sim.packages()[i].link();
    let a = engine
        .add(&link(0), &dest.path().join("a"), None)
        .await
        .unwrap();
    let b = engine
        .add(&link(1), &dest.path().join("b"), None)
        .await
        .unwrap();
    assert_eq!(running(&engine, &[a.clone(), b.clone()]), 2);
    // The run that gives up its slot is held before it has ended.
    let (arrived_rx, go_tx) = hold_first_at(&engine, "finish_run");
    let options = crate::engine::LinkOptions {
        priority: 10,
        ..Default::default()
    };
    let urgent = engine
        .add_link_with(&link(2), dest.path().join("urgent"), options)
        .await
        .unwrap();
    arrived(arrived_rx).await;
    // b (the later of two equals) is giving up its slot; the scheduler is asked again
    // meanwhile, and a must keep running.
    engine.set_priority(&urgent, 10).unwrap();
    engine.schedule();
    let a_state = engine.find(&a).unwrap().status().state();
    let b_state = engine.find(&b).unwrap().status().state();
    assert_eq!(
        (a_state, b_state),
        (
            crate::model::DownloadState::Transferring,
            crate::model::DownloadState::Queued
        ),
        "only one download makes room"
    );
    go_tx.send(()).unwrap();
    sim.faults().set_conn_rate(0);
    // The slot given up goes to the download that asked for it.
    let mut events = engine.subscribe();
    while engine.find(&urgent).unwrap().status().state() != crate::model::DownloadState::Complete {
        let _ = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("progress within 30 s");
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_fails_before_the_scheduler_records_its_start_stays_failed() {
    let sim = Sim::start(vec![catalog::large("big", 4 * MIB)])
        .await
        .unwrap();
    let (data, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dest = root.path().join("dest");
    let engine = engine_on(&sim, data.path(), 1).await;
    let id = engine
        .add(&sim.packages()[0].link(), &dest, None)
        .await
        .unwrap();
    engine.pause(&id).await.unwrap();
    // Its run will fail at once: a file now stands where its folder was.
    std::fs::remove_dir_all(&dest).unwrap();
    std::fs::write(&dest, b"not a folder").unwrap();
    let mut events = engine.subscribe();
    // The resume's scheduler has started the run; the run fails before it goes on.
    let (arrived_rx, go_tx) = hold_first_at(&engine, "schedule.started");
    let resumer = resume_in_thread(&engine, &id);
    arrived(arrived_rx).await;
    until(&engine, &id, "the run failed", |d| {
        d.summary.state == DownloadState::Error
    })
    .await;
    go_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || resumer.join().unwrap().unwrap())
        .await
        .unwrap();
    engine.shutdown().await;
    let mut last = None;
    while let Ok(event) = events.try_recv() {
        if let Event::StateChanged { id: of, state, .. } = event
            && of == id
        {
            last = Some(state);
        }
    }
    assert_eq!(last, Some(DownloadState::Error), "the last state said");
    let stored = crate::store::Store::open(&data.path().join("inbound.sqlite"))
        .unwrap()
        .load_download(&id)
        .unwrap()
        .unwrap()
        .0
        .state;
    assert_eq!(stored, DownloadState::Error, "the state kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_while_the_manifest_is_written_leaves_one_generation() {
    let sim = Sim::start(vec![catalog::large("big", MIB)]).await.unwrap();
    let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = engine_on(&sim, data.path(), 1).await;
    let (arrived_rx, go_tx) = hold_first_at(&engine, "sealing");
    let id = engine
        .add(&sim.packages()[0].link(), dest.path(), None)
        .await
        .unwrap();
    arrived(arrived_rx).await;
    // Every byte is in and the manifest is being written when the pause comes.
    let pausing = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move { engine.pause(&id).await })
    };
    until(&engine, &id, "paused", |d| {
        d.summary.state == DownloadState::Paused
    })
    .await;
    go_tx.send(()).unwrap();
    let _ = pausing.await.unwrap();
    if engine.get(&id).unwrap().summary.state == DownloadState::Paused {
        engine.resume(&id).unwrap();
    }
    until(&engine, &id, "complete", |d| {
        d.summary.state == DownloadState::Complete
    })
    .await;
    let generations = std::fs::read_dir(dest.path().join("ascmhl"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".mhl")
        })
        .count();
    assert_eq!(generations, 1, "one transfer, one generation");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_completes_while_it_is_left_out_stays_delivered() {
    use inbound_sim::{Content, SimFile, SimPackage};
    let package = SimPackage::new("two", "Two")
        .with_file(SimFile::new("a", "a.mov", Content::generated(1, 2 * MIB)))
        .with_file(SimFile::new("b", "b.mov", Content::generated(2, 8 * MIB)));
    let sim = Sim::start(vec![package]).await.unwrap();
    sim.faults().set_conn_rate(MIB / 4);
    let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = engine_on(&sim, data.path(), 1).await;
    let id = engine
        .add(&sim.packages()[0].link(), dest.path(), None)
        .await
        .unwrap();
    until(&engine, &id, "a.mov under way", |d| {
        d.files[0].bytes_done >= MIB / 4
    })
    .await;
    // a.mov is left out while under way; it completes before its run is stopped.
    let (arrived_rx, go_tx) = hold_first_at(&engine, "choose.stopping");
    let choosing = {
        let (engine, id) = (engine.clone(), id.clone());
        let only_b = crate::model::selection::Selection::Files {
            ids: ["b".to_owned()].into(),
        };
        tokio::spawn(async move { engine.choose_files(&id, only_b).await })
    };
    arrived(arrived_rx).await;
    sim.faults().set_conn_rate(0);
    until(&engine, &id, "a.mov complete", |d| {
        d.files[0].state == crate::model::FileState::Complete
    })
    .await;
    go_tx.send(()).unwrap();
    choosing.await.unwrap().unwrap();
    let a = engine.get(&id).unwrap().files[0].clone();
    assert_eq!(
        a.state,
        crate::model::FileState::Complete,
        "delivered, not left out"
    );
    assert!(dest.path().join("a.mov").exists());
    engine.shutdown().await;
}
