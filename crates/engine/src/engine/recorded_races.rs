//! A download's state as its row records it is the state it shows, whatever calls
//! cross: the change in memory, the row and the event are one step under its status
//! lock (see `download::ledger`).

#![allow(clippy::unwrap_used)]

use inbound_sim::{Sim, catalog};

use super::races::{arrived, engine_on, hold_first_at};

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_while_a_pause_stops_the_run_leaves_the_record_as_shown() {
    let sim = Sim::start(vec![catalog::large("big", 16 * MIB)])
        .await
        .unwrap();
    sim.faults().set_conn_rate(MIB / 4);
    let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = engine_on(&sim, data.path(), 1).await;
    let id = engine
        .add(&sim.packages()[0].link(), &dest.path().join("big"), None)
        .await
        .unwrap();
    // The pause has decided and is held before it stops the run; a resume comes then
    // (a second click, the agent and the window at once) and starts it again.
    let (arrived_rx, go_tx) = hold_first_at(&engine, "pause.decided");
    let pausing = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move { engine.pause(&id).await })
    };
    arrived(arrived_rx).await;
    engine.resume(&id).unwrap();
    go_tx.send(()).unwrap();
    pausing.await.unwrap().unwrap();
    let shown = engine.find(&id).unwrap().state();
    let (row, _) = engine.shared.store.load_download(&id).unwrap().unwrap();
    assert_eq!(
        row.state, shown,
        "the record says {:?} of a download that shows {:?}",
        row.state, shown
    );
    engine.shutdown().await;
}
