//! `POST /downloads` with a link whose download into that folder is complete starts a
//! new download in its place, as the MASV Agent does: it checks the files already
//! there and fetches only what changed, keeping the changed copy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_sim::{Content, Sim, SimFile, SimPackage};
use serde_json::json;
mod common;
use common::agent::Agent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_a_completed_link_again_fetches_only_the_changed_file_and_keeps_the_copy() {
    let package = SimPackage::new("cut", "Cut")
        .with_file(SimFile::new(
            "a",
            "edit.xml",
            Content::generated(1, 300_000),
        ))
        .with_file(SimFile::new(
            "b",
            "clip.mov",
            Content::generated(2, 700_000),
        ));
    let sim = Sim::start(vec![package]).await.unwrap();
    let package_id = sim.packages()[0].package_id.clone();
    let (data, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let agent = Agent::start(&sim, data.path(), &[]);
    let body = json!({"url": sim.packages()[0].link(), "dst_folder": dst.path()});
    let first = agent.post_download(&body);
    agent.wait_state(&first, "complete", Duration::from_secs(60));
    // Someone edits the XML in place.
    let edit = vec![b'x'; 300_000];
    std::fs::write(dst.path().join("edit.xml"), &edit).unwrap();

    let again = agent.post_download(&body);
    assert_ne!(again, first);
    let done = agent.wait_state(&again, "complete", Duration::from_secs(60));
    let (code, _) = agent.curl(&["-X", "GET", &format!("{}/downloads/{first}", agent.base())]);
    assert_eq!(code, 404, "the earlier download was replaced");
    let file = |id: &str| {
        done["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(file("a")["kept_aside"], "edit (changed).xml", "{done}");
    assert!(file("b").get("kept_aside").is_none(), "{done}");
    assert_eq!(
        std::fs::read(dst.path().join("edit (changed).xml")).unwrap(),
        edit
    );
    assert_eq!(sim.bytes_served(&package_id, "a"), 2 * 300_000);
    assert_eq!(sim.bytes_served(&package_id, "b"), 700_000);
}
