//! `/settings/fifo_mode`: how many downloads transfer at once, set through the API,
//! kept for the next agent on the data folder unless `--max-active` says otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use inbound_sim::{Sim, catalog};
use serde_json::json;
mod common;
use common::agent::Agent;

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_mode_runs_one_at_a_time_oldest_first_and_is_kept() {
    let sim = Sim::start(vec![
        catalog::large("first", 4 * MIB),
        catalog::large("second", 4 * MIB),
    ])
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&sim, data.path(), &[]);
    let fifo = |agent: &Agent| {
        let (code, v) = agent.curl(&["-X", "GET", &format!("{}/settings/fifo_mode", agent.base())]);
        assert_eq!(code, 200, "{v}");
        v
    };
    assert_eq!(
        fifo(&agent),
        json!({"enabled": true, "active_download_count": 3})
    );
    let (code, v) = agent.put(
        "/settings/fifo_mode",
        r#"{"enabled": true, "active_download_count": 1, "active_upload_count": 1}"#,
    );
    assert_eq!(
        (code, v["active_download_count"].as_u64()),
        (200, Some(1)),
        "{v}"
    );

    // Slow enough that the first is still running when the second is posted.
    sim.faults().set_conn_rate(MIB);
    let post = |id: &str| {
        let link = sim
            .packages()
            .iter()
            .find(|p| p.link_id == id)
            .unwrap()
            .link();
        agent.post_download(&json!({"url": link, "dst_folder": root.path().join(id)}))
    };
    let first = post("first");
    let second = post("second");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.package_bytes_served("pkg-first") < 2 * MIB {
        assert!(Instant::now() < deadline, "the first download runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        sim.package_bytes_served("pkg-second"),
        0,
        "the second waits for the only slot"
    );
    assert_eq!(agent.download(&second)["state"], "transferring");
    sim.faults().set_conn_rate(0);
    let done_first = agent.wait_state(&first, "complete", Duration::from_secs(60));
    let done_second = agent.wait_state(&second, "complete", Duration::from_secs(60));
    assert!(
        done_first["completed_at"].as_str().unwrap()
            <= done_second["completed_at"].as_str().unwrap()
    );

    // Kept for the next agent on this data folder, unless it is told otherwise.
    agent.kill();
    let mut agent = Agent::start(&sim, data.path(), &[]);
    assert_eq!(fifo(&agent)["active_download_count"], 1);
    agent.kill();
    let agent = Agent::start(&sim, data.path(), &["--max-active", "2"]);
    assert_eq!(fifo(&agent)["active_download_count"], 2);

    let (code, v) = agent.put("/settings/fifo_mode", r#"{"enabled": false}"#);
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        fifo(&agent),
        json!({"enabled": false, "active_download_count": 32})
    );
    for body in [
        r#"{"enabled": true, "active_download_count": 0}"#,
        r#"{"enabled": true, "active_download_count": 33}"#,
        r#"{"active_download_count": 2}"#,
    ] {
        let (code, v) = agent.put("/settings/fifo_mode", body);
        assert_eq!(
            (code, v["code"].as_str()),
            (400, Some("invalid_fifo_mode")),
            "{body}: {v}"
        );
    }
}
