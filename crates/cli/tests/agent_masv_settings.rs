//! The MASV Agent's documented settings and download options on a real `inbound
//! agent`, driven with curl as a facility's scripts drive the MASV Agent: the download
//! rate limit with its weekday schedule, 501 with what to use instead for what Inbound
//! does not offer, and `chunk_size` on `POST /downloads`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_sim::{Sim, catalog};
use serde_json::json;
mod common;
use common::agent::Agent;

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_download_rate_limit_route_sets_the_schedule_in_masvs_shape_and_is_kept() {
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&sim, data.path(), &[]);

    let (code, off) = agent.send("GET", "/settings/download_rate_limit", None);
    assert_eq!(code, 200, "{off}");
    assert_eq!(off["enabled"], false, "{off}");

    // At all times: in force now, as Inbound's schedule says.
    let always = json!({"enabled": true, "rate_limit_bps": 80000000, "schedule_enabled": false, "schedule": {}});
    let (code, v) = agent.send("PUT", "/settings/download_rate_limit", Some(&always));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v, always);
    let (_, schedule) = agent.send("GET", "/settings/bandwidth_schedule", None);
    assert_eq!(schedule["in_force"]["limit"], 10_000_000, "{schedule}");

    // A weekday schedule, sent with POST as well: read back as written, kept over a
    // restart.
    let weekdays = json!({"enabled": true, "rate_limit_bps": 20000000, "schedule_enabled": true,
        "schedule": {"mon": {"enabled": true, "start": "09:00", "end": "17:00"},
                     "sat": {"enabled": true, "start": "22:00", "end": "06:00"}}});
    let (code, v) = agent.send("POST", "/settings/download_rate_limit", Some(&weekdays));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v, weekdays);
    agent.kill();
    let agent = Agent::start(&sim, data.path(), &[]);
    let (_, v) = agent.send("GET", "/settings/download_rate_limit", None);
    assert_eq!(v, weekdays);
    let (_, schedule) = agent.send("GET", "/settings/bandwidth_schedule", None);
    assert_eq!(
        schedule["schedule"]["limits"].as_array().unwrap().len(),
        2,
        "{schedule}"
    );

    // Mistakes are named.
    let (code, v) = agent.send(
        "PUT",
        "/settings/download_rate_limit",
        Some(
            &json!({"enabled": true, "rate_limit_bps": 8000, "schedule_enabled": true,
            "schedule": {"tue": {"enabled": true, "start": "9am", "end": "17:00"}}}),
        ),
    );
    assert_eq!(
        (code, v["code"].as_str()),
        (400, Some("invalid_rate_limit")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("schedule.tue.start"),
        "{v}"
    );
    let (code, v) = agent.send(
        "PUT",
        "/settings/download_rate_limit",
        Some(&json!({"enabled": true, "rate_limit_bps": 8000, "sechdule": {}})),
    );
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("sechdule"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_settings_inbound_does_not_offer_answer_501_with_what_to_use() {
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    for (method, path, instead) in [
        ("GET", "/settings/upload_rate_limit", "download_rate_limit"),
        ("GET", "/settings/multiconnect", "--connections"),
        ("POST", "/settings/multiconnect", "--connections"),
        ("GET", "/settings/multiconnect/status", "--connections"),
        (
            "POST",
            "/settings/multiconnect/ifaces/eth0",
            "--connections",
        ),
        ("GET", "/settings/disk_config_default", "fifo_mode"),
        ("GET", "/settings/disk_status", "fifo_mode"),
    ] {
        let (code, v) = agent.send(method, path, Some(&json!({"enabled": true})));
        assert_eq!(
            (code, v["code"].as_str()),
            (501, Some("not_supported")),
            "{method} {path}: {v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains(instead),
            "{path}: {v}"
        );
    }
}

/// `chunk_size` is the size of each range asked of storage: an 8 MiB file over one
/// connection in 1 MiB chunks is eight requests (by default, one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_size_sets_the_size_of_each_range_asked_of_storage() {
    let sim = Sim::start(vec![catalog::large("chunky", 8 * MIB)])
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &["--connections", "1"]);
    let id = agent.post_download(&json!({
        "url": sim.packages()[0].link().replace("get.massive.app", "get.massive.io"),
        "dst_folder": root.path(), "chunk_size": MIB,
    }));
    agent.wait_state(&id, "complete", Duration::from_secs(60));
    assert_eq!(sim.storage_requests(), 8);
    assert_eq!(
        sim.package_bytes_served(&sim.packages()[0].package_id),
        8 * MIB
    );

    // Out of bounds is brought within them (at least 256 KiB), not refused.
    let tiny = agent.post_download(&json!({
        "url": sim.packages()[0].link(), "dst_folder": root.path().join("tiny"), "chunk_size": 1,
    }));
    agent.wait_state(&tiny, "complete", Duration::from_secs(60));
    assert_eq!(sim.storage_requests(), 8 + 32);
}
