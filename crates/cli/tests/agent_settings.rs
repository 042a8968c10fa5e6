//! The agent's settings routes (`/settings/bandwidth_schedule`, on the machine's real
//! clock, and `/settings/after_download`) and the CLI flags that set the same for one run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{Local, Timelike};
use inbound_sim::{Sim, catalog};
use serde_json::{Value, json};
mod common;
use common::agent::Agent;
use common::{inbound, text};

const MIB: u64 = 1024 * 1024;

fn put(agent: &Agent, body: &str) -> (u16, Value) {
    agent.put("/settings/bandwidth_schedule", body)
}

/// Download hours that do not include now: an hour starting six hours from now.
fn hours_not_now() -> (String, String) {
    let start = (Local::now().hour() + 6) % 24;
    (
        format!("{start:02}:00"),
        format!("{:02}:00", (start + 1) % 24),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_put_through_the_api_holds_downloads_outside_its_hours_and_is_kept() {
    let sim = Sim::start(vec![catalog::large("big", 2 * MIB)])
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&sim, data.path(), &[]);
    let (from, to) = hours_not_now();
    let all_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let schedule = json!({
        "limits": [{"days": ["mon", "tue"], "from": "09:00", "to": "18:00", "bytes_per_sec": 10 * MIB}],
        "only_between": [{"days": all_days, "from": from, "to": to}],
    });
    let (code, v) = put(&agent, &schedule.to_string());
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["schedule"], schedule);
    assert_eq!(v["in_force"]["open"], false, "{v}");
    assert_eq!(v["in_force"]["next_open"], true, "{v}");
    assert!(v["in_force"]["changes_at"].is_string(), "{v}");

    let id =
        agent.post_download(&json!({"url": sim.packages()[0].link(), "dst_folder": root.path()}));
    let d = agent.download(&id);
    assert_eq!(d["state"], "transferring");
    assert_eq!(d["waiting"], "schedule", "{d}");
    assert!(
        d["waiting_reason"]
            .as_str()
            .unwrap()
            .contains("download hours"),
        "{d}"
    );
    assert_eq!(
        sim.storage_requests(),
        0,
        "nothing was fetched outside the hours"
    );

    // Kept with the downloads: a restarted agent has it.
    agent.kill();
    let agent = Agent::start(&sim, data.path(), &[]);
    let (code, v) = agent.curl(&[&format!("{}/settings/bandwidth_schedule", agent.base())]);
    assert_eq!(code, 200);
    assert_eq!(v["schedule"], schedule);
    assert_eq!(agent.download(&id)["waiting"], "schedule");

    // Cleared: the download goes on.
    let (code, v) = put(&agent, "{}");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["in_force"]["open"], true);
    agent.wait_state(&id, "complete", Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_schedule_is_refused_with_what_to_write() {
    let sim = Sim::start(vec![]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    for (body, says) in [
        (
            r#"{"only_between": [{"days": ["mon"], "from": "9:60", "to": "18:00"}]}"#,
            "HH:MM",
        ),
        (
            r#"{"only_between": [{"days": [], "from": "09:00", "to": "18:00"}]}"#,
            "at least one",
        ),
        (
            r#"{"only_between": [{"days": ["someday"], "from": "09:00", "to": "18:00"}]}"#,
            "the body must be JSON like",
        ),
        (
            r#"{"limits": [{"days": ["mon"], "from": "09:00", "to": "18:00", "bytes_per_sec": 0}]}"#,
            "download window",
        ),
        (
            r#"{"limits": [{"days": ["mon"], "from": "24:00", "to": "06:00", "bytes_per_sec": 5}]}"#,
            "cannot start at 24:00",
        ),
        ("not json", "the body must be JSON like"),
    ] {
        let (code, v) = put(&agent, body);
        assert_eq!(code, 400, "{body}: {v}");
        assert_eq!(v["code"], "invalid_schedule", "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let (_, v) = agent.curl(&[&format!("{}/settings/bandwidth_schedule", agent.base())]);
    assert_eq!(
        v["schedule"],
        json!({"limits": [], "only_between": []}),
        "nothing was saved"
    );
}

#[tokio::test]
async fn get_says_what_is_wrong_with_a_schedule_or_hook_flag() {
    let sim = Sim::start(vec![]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    for (flag, value, says, code) in [
        (
            "--only-between",
            "22:00-25:00",
            "'25:00' is not a time of day; write it as HH:MM",
            Some(2),
        ),
        ("--limit-at", "mon-fri 09:00-18:00", "has no rate", Some(2)),
        ("--then-run", "ingest \"unclosed", "unclosed quote", Some(2)),
        (
            "--then-post",
            "http://ingest.example/done",
            "not on this machine",
            Some(1),
        ),
    ] {
        let out = inbound(&sim, data.path())
            .args(["get", "https://get.massive.app/abc?secret=s", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), code, "{flag} {value}: {}", text(&out));
        assert!(text(&out).contains(says), "{flag} {value}: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_download_hooks_are_set_through_the_api_and_kept_local() {
    let sim = Sim::start(vec![]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let put = |body: &str| agent.put("/settings/after_download", body);
    let (code, v) = put(r#"{"post_url": "http://ingest.example/done"}"#);
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["code"], "invalid_after_download");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("not on this machine"),
        "{v}"
    );
    // The agent's own account, known to the kernel (Linux's socket table, Windows's TCP
    // table with its owning process), may set a command without the token; another
    // account may not (agent_accounts.rs).
    let (code, v) = put(r#"{"run": ["/usr/local/bin/ingest"]}"#);
    assert_eq!(code, 200, "{v}");
    let hooks = json!({"run": [], "post_url": "http://127.0.0.1:9000/done"});
    let (code, v) = put(&hooks.to_string());
    assert_eq!(code, 200, "{v}");
    assert_eq!(v, hooks);
    let (code, v) = agent.curl(&[&format!("{}/settings/after_download", agent.base())]);
    assert_eq!(code, 200);
    assert_eq!(v, hooks);
}
