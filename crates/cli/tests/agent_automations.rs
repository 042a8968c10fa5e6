//! `/automations` on a real `inbound agent` with a team login, driven with curl: a
//! portal automation fetches what arrived since its effective time, each package once,
//! into `{portal}/{package}`; once deleted, nothing more arrives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use inbound_sim::{Content, Sim, SimFile, SimPackage, SimTeam, SimTeamPackage};
use serde_json::{Value, json};
mod common;
use common::agent::Agent;
use common::sha256_file;

const TEAM: &str = "team-auto";
const KEY: &str = "auto-key-1234";

fn package(id: &str, seed: u64) -> SimPackage {
    SimPackage::new(id, format!("Package {id}")).with_file(SimFile::new(
        format!("{id}-f"),
        "clip.mov",
        Content::generated(seed, 256 * 1024),
    ))
}

fn ago(d: chrono::Duration) -> String {
    (Utc::now() - d).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn sim() -> Sim {
    let team = SimTeam::new(TEAM, KEY)
        .with_portal("portal-edit", "Editorial")
        .with_portal("portal-vfx", "VFX")
        .with_package(
            SimTeamPackage::new("old", "finalized")
                .in_portal("portal-edit")
                .created_at(ago(chrono::Duration::days(2))),
        )
        .with_package(
            SimTeamPackage::new("fresh", "finalized")
                .in_portal("portal-edit")
                .created_at(ago(chrono::Duration::hours(1))),
        )
        .with_package(
            SimTeamPackage::new("other-portal", "finalized")
                .in_portal("portal-vfx")
                .created_at(ago(chrono::Duration::hours(1))),
        )
        // Finalized a while after the start: by then the automation is gone.
        .with_package(
            SimTeamPackage::new("later", "new")
                .in_portal("portal-edit")
                .created_at(ago(chrono::Duration::minutes(1)))
                .uploading_for(Duration::from_secs(8)),
        );
    let packages = ["old", "fresh", "other-portal", "later"]
        .iter()
        .zip(1..)
        .map(|(id, seed)| package(id, seed))
        .collect();
    Sim::start_full(([127, 0, 0, 1], 0).into(), packages, None, Some(team))
        .await
        .unwrap()
}

fn login(sim: &Sim, data: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["team", "login", "--team-id", TEAM])
        .env("MASV_API_URL", sim.api_url())
        .env("INBOUND_DATA_DIR", data)
        .env("INBOUND_NO_KEYRING", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{KEY}").unwrap();
    assert!(child.wait().unwrap().success(), "team login");
}

/// The simulator, an agent logged in to its team polling every second, its data folder
/// and a folder for the packages (dropped in the reverse order: the agent first).
async fn logged_in_agent() -> (Sim, tempfile::TempDir, tempfile::TempDir, Agent) {
    let sim = sim().await;
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    login(&sim, data.path());
    let agent = Agent::start_with_env(
        &sim,
        data.path(),
        &["--poll-secs", "1"],
        &[("MASV_PUBNUB_ORIGIN", &sim.pubnub_origin())],
    );
    (sim, data, root, agent)
}

fn downloads(agent: &Agent) -> Vec<Value> {
    let (code, v) = agent.send("GET", "/downloads", None);
    assert_eq!(code, 200, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_automation_fetches_what_came_since_its_time_once_and_stops_when_deleted() {
    let (sim, _data, root, agent) = logged_in_agent().await;

    let (code, created) = agent.send("POST",
        "/automations",
        Some(&json!({
            "kind": "portal_download", "name": "Editorial in", "subdomain": "portal-edit",
            "destination": root.path(), "create_package_folder": true, "create_portal_subfolder": true,
            "effective_time": ago(chrono::Duration::days(1)), "priority": 5, "enable": true,
        })),
    );
    assert_eq!(code, 200, "{created}");
    let id = created["automation_id"].as_str().unwrap().to_owned();
    assert_eq!(created["subdomain"], "portal-edit");

    // The package sent an hour ago arrives, into {portal}/{package}, at its priority.
    let deadline = Instant::now() + Duration::from_secs(60);
    let fresh = loop {
        if let Some(d) = downloads(&agent)
            .into_iter()
            .find(|d| d["state"] == "complete")
        {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the fresh package did not arrive: {:?}",
            downloads(&agent)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(fresh["name"], "Package fresh");
    assert_eq!(fresh["priority"], 5);
    let file = root.path().join("Editorial/Package fresh/clip.mov");
    let expected = sim
        .packages()
        .iter()
        .find(|p| p.link_id == "fresh")
        .unwrap();
    assert_eq!(sha256_file(&file), expected.files[0].content.sha256_hex());

    // More polls come and go: still that one download. The older package, and the
    // other portal's, were never asked for.
    let requests = sim.team_requests();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.team_requests() < requests + 6 {
        assert!(Instant::now() < deadline, "the agent stopped polling");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(downloads(&agent).len(), 1, "{:?}", downloads(&agent));
    assert_eq!(sim.package_bytes_served("pkg-old"), 0);
    assert_eq!(sim.package_bytes_served("pkg-other-portal"), 0);

    let (code, listed) = agent.send("GET", "/automations", None);
    assert_eq!(code, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (code, gone) = agent.send("DELETE", &format!("/automations/{id}"), None);
    assert_eq!(code, 200, "{gone}");
    let (code, v) = agent.send("GET", &format!("/automations/{id}"), None);
    assert_eq!(code, 404, "{v}");

    // The package still arriving finalizes after the deletion: it is not fetched.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.team_package_state("later") != Some("finalized") {
        assert!(Instant::now() < deadline, "the upload did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    // An absence is only seen over time: three poll intervals.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(downloads(&agent).len(), 1, "{:?}", downloads(&agent));
    assert_eq!(sim.package_bytes_served("pkg-later"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automations_without_a_team_login_or_with_bad_fields_say_what_to_do() {
    // An absolute folder on this platform (only the other fields are wrong).
    let inbox = if cfg!(windows) {
        r"C:\Ingest\in"
    } else {
        "/tmp/in"
    };
    let sim = sim().await;
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let body = json!({"kind": "portal_download", "subdomain": "portal-edit", "destination": inbox});
    let (code, v) = agent.send("POST", "/automations", Some(&body));
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["code"], "not_logged_in");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("inbound team login"),
        "{v}"
    );
    drop(agent);

    login(&sim, data.path());
    let agent = Agent::start(&sim, data.path(), &[]);
    for (body, says) in [
        (
            json!({"kind": "portal_download", "destination": inbox}),
            "names its portal",
        ),
        (
            json!({"subdomain": "portal-edit", "destination": "in"}),
            "absolute",
        ),
        (
            json!({"subdomain": "portal-edit", "destination": inbox, "folder_template": "{portal}/{client}"}),
            "{client}",
        ),
        (
            json!({"subdomain": "portal-edit", "destination": inbox, "effective_time": "yesterday"}),
            "is not a time",
        ),
        (
            json!({"kind": "all_portals_download", "team_id": "someone-else", "destination": inbox}),
            "not the team",
        ),
        (
            json!({"subdomain": "portal-edit"}),
            "the body must be JSON like",
        ),
    ] {
        let (code, v) = agent.send("POST", "/automations", Some(&body));
        assert_eq!(code, 400, "{body}: {v}");
        assert_eq!(v["code"], "invalid_automation", "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let (code, v) = agent.send("DELETE", "/automations/auto-none", None);
    assert_eq!(code, 404, "{v}");
    // Nothing was saved, and the key never shows.
    let (_, listed) = agent.send("GET", "/automations", None);
    assert_eq!(listed, json!([]));
    assert!(!listed.to_string().contains(KEY));
}

/// The curl lines of MASV's documentation ("transfer-agent/automations"), as a
/// facility's script sends them to the MASV Agent, against `inbound agent`: a portal
/// automation fetches what came since its `effective_time` into the documented layout
/// (straight into a package folder in `dst_folder`), the list shows it in MASV's words,
/// `PUT` changes it, an all-portals one is keyed by `team_id`, unknown fields are named,
/// and `DELETE` removes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_masv_agents_documented_automation_routes_work_unchanged() {
    let (sim, _data, root, agent) = logged_in_agent().await;
    // `YYYY-MM-DD HH:MM:SS` in local time, as the documentation writes it.
    let since = (chrono::Local::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();

    let (code, created) = agent.send(
        "POST",
        "/automations/portal_download",
        Some(&json!({
            "name": "Editorial in", "portal_subdomain": "portal-edit", "dst_folder": root.path(),
            "create_package_folder": true, "effective_time": since, "enabled": true,
            "download_priority": 1,
        })),
    );
    assert_eq!(code, 200, "{created}");
    let portal_id = created["automation_id"].as_str().unwrap().to_owned();
    let file = root.path().join("Package fresh/clip.mov");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !downloads(&agent).iter().any(|d| d["state"] == "complete") {
        assert!(Instant::now() < deadline, "{:?}", downloads(&agent));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(file.exists(), "{}", file.display());
    assert_eq!(
        sim.package_bytes_served("pkg-old"),
        0,
        "before effective_time"
    );

    let (code, listed) = agent.send("GET", "/automations", None);
    assert_eq!(code, 200);
    let one = &listed.as_array().unwrap()[0];
    assert_eq!(one["portal_subdomain"], "portal-edit");
    assert_eq!(one["dst_folder"], root.path().to_str().unwrap());
    assert_eq!(
        (one["enabled"].clone(), one["download_priority"].clone()),
        (json!(true), json!(1))
    );

    let (code, changed) = agent.send("PUT",
        &format!("/automations/portal_download/{portal_id}"),
        Some(&json!({
            "name": "Editorial (paused)", "portal_subdomain": "portal-edit", "dst_folder": root.path(),
            "create_package_folder": true, "effective_time": since, "enabled": false,
            "download_priority": 1,
        })),
    );
    assert_eq!(code, 200, "{changed}");
    assert_eq!(changed["enabled"], false);

    let (code, all) = agent.send(
        "POST",
        "/automations/all_portals_download",
        Some(&json!({
            "name": "Every portal", "team_id": TEAM, "dst_folder": root.path().join("all"),
            "create_package_folder": true, "create_portal_subfolder": true, "enabled": false,
            "download_priority": 0,
        })),
    );
    assert_eq!(code, 200, "{all}");
    assert_eq!(all["kind"], "all_portals_download");
    let all_id = all["automation_id"].as_str().unwrap().to_owned();
    // A portal automation is not one of all portals: each route keeps to its kind.
    let (code, v) = agent.send(
        "DELETE",
        &format!("/automations/all_portals_download/{portal_id}"),
        None,
    );
    assert_eq!(code, 404, "{v}");
    // A misspelled field is named, not ignored.
    let (code, v) = agent.send("POST",
        "/automations/portal_download",
        Some(
            &json!({ "portal_subdomain": "portal-edit", "dst_folder": root.path(), "enable": true }),
        ),
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `enable`"),
        "{v}"
    );

    for (kind, id) in [
        ("portal_download", &portal_id),
        ("all_portals_download", &all_id),
    ] {
        let (code, v) = agent.send("DELETE", &format!("/automations/{kind}/{id}"), None);
        assert_eq!(code, 200, "{v}");
    }
    let (code, listed) = agent.send("GET", "/automations", None);
    assert_eq!((code, listed), (200, json!([])));
}

/// A facility's MASV Agent provisioning file, in MASV's documented shape: the agent
/// started with it (no `inbound team login`) has its download rate limit schedule, its
/// FIFO mode and its automation in force, and the package sent since the automation's
/// time arrives. Started again with the same file, nothing is doubled and nothing is
/// fetched twice. A mistake in the file stops the start with its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_file_puts_its_schedule_and_automation_in_force() {
    let sim = sim().await;
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"auth:
  api_key: {KEY}
  team_id: {TEAM}

settings:
  download_rate_limit:
    enabled: true
    rate_limit_bps: 800000000
    schedule_enabled: true
    schedule:
      mon:
        enabled: true
        start: "09:00"
        end: "17:00"
  fifo_mode:
    enabled: true
    active_download_count: 2
    active_upload_count: 1

portal_download_automations:
  - name: portal-download-auto
    portal_subdomain: portal-edit
    destination_folder: {}
    create_package_folder: true
    effective_time: {}
    enabled: true
    priority: 0

portal_upload_automations:
  - name: portal-upload-auto
    path: /data/watch
"#,
        root.path().display(),
        ago(chrono::Duration::days(1)),
    );
    // Where it is looked for by default: $XDG_CONFIG_HOME/inbound/agent.yaml (the
    // harness points XDG_CONFIG_HOME at the data folder). Windows has its own
    // configuration folder, so there the file is named.
    let file = data.path().join("inbound").join("agent.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &yaml).unwrap();
    let file_arg = file.to_str().unwrap().to_owned();
    let named = ["--poll-secs", "1", "--config", file_arg.as_str()];
    let start = |args: &[&str]| {
        Agent::start_with_env(
            &sim,
            data.path(),
            args,
            &[("MASV_PUBNUB_ORIGIN", &sim.pubnub_origin())],
        )
    };
    let mut agent = start(if cfg!(windows) { &named } else { &named[..2] });

    let arrived = root.path().join("Package fresh/clip.mov");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !downloads(&agent).iter().any(|d| d["state"] == "complete") {
        assert!(Instant::now() < deadline, "{:?}", downloads(&agent));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::metadata(&arrived).unwrap().len(), 256 * 1024);
    assert_eq!(
        sim.package_bytes_served("pkg-old"),
        0,
        "before effective_time"
    );
    let (code, limit) = agent.send("GET", "/settings/download_rate_limit", None);
    assert_eq!(code, 200, "{limit}");
    assert_eq!(
        limit,
        json!({"enabled": true, "rate_limit_bps": 800000000, "schedule_enabled": true,
               "schedule": {"mon": {"enabled": true, "start": "09:00", "end": "17:00"}}})
    );
    let (_, fifo) = agent.send("GET", "/settings/fifo_mode", None);
    assert_eq!(fifo["active_download_count"], 2, "{fifo}");
    let (_, listed) = agent.send("GET", "/automations", None);
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "portal-download-auto");
    assert_eq!(listed[0]["portal_subdomain"], "portal-edit");

    // Again, with the file named: the same automation, the package not fetched again.
    agent.kill();
    let served = sim.package_bytes_served("pkg-fresh");
    let agent = start(&named);
    let (_, listed) = agent.send("GET", "/automations", None);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Two looks at the portal later, the package is still the one download.
    let looks = sim.team_requests();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.team_requests() < looks + 4 {
        assert!(Instant::now() < deadline, "the automation does not look");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sim.package_bytes_served("pkg-fresh"), served);
    drop(agent);

    // A misspelt key stops the start, naming its line; the key is not echoed.
    std::fs::write(
        &file,
        yaml.replace("    start: \"09:00\"", "    estart: \"09:00\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["agent", "--listen", "127.0.0.1:0", "--config", &file_arg])
        .env("INBOUND_DATA_DIR", data.path())
        .env("INBOUND_NO_KEYRING", "1")
        .env("MASV_API_URL", sim.api_url())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("line 13") && said.contains("estart"),
        "{said}"
    );
    assert!(!said.contains(KEY), "{said}");
}
