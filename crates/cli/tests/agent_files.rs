//! `PUT /downloads/{id}/files`: the files of a download chosen again after it started.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_sim::{Content, Sim, SimFile, SimPackage};
use serde_json::json;
mod common;
use common::agent::Agent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_taken_into_a_completed_download_arrive_and_bad_choices_say_why() {
    let package = SimPackage::new("cut", "Cut")
        .with_file(SimFile::new("a", "edit.xml", Content::generated(1, 30_000)))
        .with_file(SimFile::new("b", "clip.mov", Content::generated(2, 70_000)));
    let sim = Sim::start(vec![package]).await.unwrap();
    let package_id = sim.packages()[0].package_id.clone();
    let (data, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let agent = Agent::start(&sim, data.path(), &[]);
    let id = agent.post_download(&json!({
        "url": sim.packages()[0].link(), "dst_folder": dst.path(), "file_ids": ["a"],
    }));
    agent.wait_state(&id, "complete", Duration::from_secs(60));
    assert!(!dst.path().join("clip.mov").exists());

    let path = format!("/downloads/{id}/files");
    let (code, v) = agent.put(&path, r#"{"file_ids": ["a", "b"]}"#);
    assert_eq!(code, 200, "{v}");
    agent.wait_state(&id, "complete", Duration::from_secs(60));
    assert_eq!(
        std::fs::read(dst.path().join("clip.mov")).unwrap().len(),
        70_000
    );
    assert_eq!(
        sim.bytes_served(&package_id, "a"),
        30_000,
        "not fetched again"
    );

    for (body, code, error) in [
        (r#"{"file_ids": ["nope"]}"#, 400, "invalid_file_ids"),
        (r#"{"file_ids": []}"#, 400, "invalid_file_ids"),
        (r#"{"file_ids": "a"}"#, 400, "invalid_body"),
    ] {
        let (got, v) = agent.put(&path, body);
        assert_eq!(
            (got, v["code"].as_str()),
            (code, Some(error)),
            "{body}: {v}"
        );
    }
    let (got, v) = agent.put("/downloads/nope/files", r#"{"file_ids": ["a"]}"#);
    assert_eq!(got, 404, "{v}");
}
