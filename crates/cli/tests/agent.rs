//! `inbound agent` driven exactly as MASV Agent scripts drive it: with curl's lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use inbound_sim::{Sim, SimPackage, catalog};
use serde_json::Value;
mod common;
use common::agent::Agent;
use common::sha256_file;

const MIB: u64 = 1024 * 1024;

/// Every file of the package that should be downloaded is complete, at its path, with
/// the simulator's bytes (virus-flagged and zip entries are not downloaded). Returns how
/// many files were checked.
fn assert_same_bytes(package: &SimPackage, detail: &Value, dst: &Path) -> usize {
    let files = detail["files"].as_array().unwrap();
    assert_eq!(files.len(), package.files.len(), "every file is listed");
    let mut checked = 0;
    for f in files {
        let sim_file = package.files.iter().find(|s| s.id == f["id"]).unwrap();
        if sim_file.virus || sim_file.kind != "file" {
            assert_ne!(f["state"], "complete", "{f}");
            continue;
        }
        assert_eq!(f["state"], "complete", "{f}");
        assert_eq!(
            sha256_file(&dst.join(f["path"].as_str().unwrap())),
            sim_file.content.sha256_hex(),
            "{f}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no file was checked");
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_curl_command_works() {
    let sim = Sim::start(vec![
        catalog::large("big", 48 * MIB),
        catalog::demo(),
        catalog::demo_with_password(),
        catalog::hostile(),
    ])
    .await
    .unwrap();
    sim.faults().set_conn_rate(2 * MIB);
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dst = root.path().join("downloads");
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("already-here.txt"), b"not the agent's").unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let base = agent.base();
    let pkgs = sim.packages();

    // Start (the documented POST, with and without a password).
    let big = agent.start_download(&pkgs[0].link(), &dst, None);
    let locked = agent.start_download(&pkgs[2].link(), &dst.join("locked"), Some("letmein"));

    // List.
    let (code, list) = agent.curl(&["-X", "GET", &format!("{base}/downloads")]);
    assert_eq!(code, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for d in list {
        let url = d["url"].as_str().unwrap();
        assert!(url.ends_with("secret=***"), "secret redacted: {url}");
    }
    let raw = format!("{list:?}");
    assert!(!raw.contains(&pkgs[0].secret) && !raw.contains("letmein"));

    // Detail, then pause: bytes stop growing.
    let detail = agent.download(&big);
    assert_eq!(detail["files"][0]["name"], "big.bin");
    assert_eq!(detail["files"][0]["size"], 48 * MIB);
    // Under way first (on a loaded machine the first bytes can take a while).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while agent.download(&big)["bytes_downloaded"].as_u64().unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "no byte arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, paused) = agent.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        &format!("{base}/downloads/{big}/pause"),
    ]);
    assert_eq!(code, 200, "{paused}");
    assert_eq!(paused["state"], "paused");
    let at_pause = agent.download(&big)["bytes_downloaded"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        agent.download(&big)["bytes_downloaded"].as_u64().unwrap(),
        at_pause,
        "bytes stop growing"
    );
    assert!(at_pause > 0 && at_pause < 48 * MIB);

    // Resume: completes with identical bytes.
    sim.faults().set_conn_rate(0);
    let (code, resumed) = agent.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        &format!("{base}/downloads/{big}/resume"),
    ]);
    assert_eq!(code, 200, "{resumed}");
    let done = agent.wait_state(&big, "complete", Duration::from_secs(60));
    assert_eq!(done["progress"], 100.0);
    assert_same_bytes(&pkgs[0], &done, &dst);
    let locked_done = agent.wait_state(&locked, "complete", Duration::from_secs(60));
    assert_same_bytes(&pkgs[2], &locked_done, &dst.join("locked"));

    // Delete one (files stay).
    let (code, v) = agent.curl(&["-X", "DELETE", &format!("{base}/downloads/{locked}")]);
    assert_eq!(code, 200, "{v}");
    assert!(dst.join("locked/Coastline/Day 1/A001_C002.mov").exists());
    let (code, _) = agent.curl(&["-X", "GET", &format!("{base}/downloads/{locked}")]);
    assert_eq!(code, 404);

    // Delete with remove_files=true: its files go, the file that was there stays.
    let (code, v) = agent.curl(&[
        "-X",
        "DELETE",
        &format!("{base}/downloads/{big}?remove_files=true"),
    ]);
    assert_eq!(code, 200, "{v}");
    assert!(!dst.join("big.bin").exists());
    assert_eq!(
        std::fs::read(dst.join("already-here.txt")).unwrap(),
        b"not the agent's"
    );

    // Delete by state, and both states with remove_files.
    let demo = agent.start_download(&pkgs[1].link(), &dst.join("demo"), None);
    let hostile = agent.start_download(&pkgs[3].link(), &dst.join("hostile"), None);
    agent.wait_state(&demo, "complete", Duration::from_secs(60));
    agent.wait_state(&hostile, "complete", Duration::from_secs(60));
    sim.faults().set_conn_rate(MIB);
    let paused = agent.start_download(&pkgs[0].link(), &dst.join("paused"), None);
    let slow = agent.start_download(&pkgs[0].link(), &dst.join("slow"), None);
    let (code, v) = agent.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        &format!("{base}/downloads/{paused}/pause"),
    ]);
    assert_eq!((code, v["state"].as_str().unwrap()), (200, "paused"), "{v}");
    let (code, v) = agent.curl(&["-X", "DELETE", &format!("{base}/downloads?states=complete")]);
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["deleted"],
        serde_json::json!([demo, hostile]),
        "only the complete ones"
    );
    let (code, v) = agent.curl(&[
        "-X",
        "DELETE",
        &format!("{base}/downloads?states=complete,transferring&remove_files=true"),
    ]);
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["deleted"],
        serde_json::json!([slow]),
        "the paused one stays"
    );
    assert!(
        !dst.join("slow/big.bin.inbound-part").exists(),
        "the transferring one's files are gone"
    );
    assert!(
        dst.join("demo/Read me.txt").exists(),
        "deleted earlier without remove_files"
    );
    assert!(dst.join("paused/big.bin.inbound-part").exists());

    // Delete all.
    let (code, v) = agent.curl(&["-X", "DELETE", &format!("{base}/downloads")]);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["deleted"], serde_json::json!([paused]));
    let (_, list) = agent.curl(&["-X", "GET", &format!("{base}/downloads")]);
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors() {
    let sim = Sim::start(vec![catalog::demo_with_password(), catalog::demo_expired()])
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let url = format!("{}/downloads", agent.base());
    let dst = root.path().join("d");
    let post = |body: &str| {
        agent.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            &url,
            "-d",
            body,
        ])
    };
    let locked = sim.packages()[0].link();
    // An absolute folder on this platform, quoted for JSON (Windows' backslashes too).
    let dst_json = serde_json::to_string(&dst).unwrap();

    for (body, status, code) in [
        ("{not json", 400, "invalid_body"),
        (
            &format!(r#"{{"dst_folder":{dst_json}}}"#),
            400,
            "invalid_body",
        ),
        (
            &format!(r#"{{"url":"https://example.com/x?secret=y","dst_folder":{dst_json}}}"#),
            400,
            "invalid_link",
        ),
        (
            &format!(r#"{{"url":"{locked}","dst_folder":"relative/dir"}}"#),
            400,
            "invalid_dst_folder",
        ),
        (
            &format!(r#"{{"url":"{locked}","dst_folder":{dst_json}}}"#),
            401,
            "password_required",
        ),
        (
            &format!(r#"{{"url":"{locked}","dst_folder":{dst_json},"password":"nope"}}"#),
            403,
            "wrong_password",
        ),
        (
            &format!(
                r#"{{"url":"{}","dst_folder":{dst_json}}}"#,
                sim.packages()[1].link()
            ),
            410,
            "link_expired",
        ),
        (
            &format!(
                r#"{{"url":"https://get.massive.app/nope?secret=zzz","dst_folder":{dst_json}}}"#
            ),
            400,
            "link_not_found",
        ),
    ] {
        let (got, v) = post(body);
        assert_eq!(
            (got, v["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body}: {v}"
        );
        assert!(!v["message"].as_str().unwrap().is_empty());
        let text = v.to_string();
        assert!(
            !text.contains("secret=zzz") && !text.contains("nope\""),
            "{text}"
        );
    }
    assert!(!dst.exists(), "nothing written for refused links");

    let (code, v) = agent.curl(&["-X", "GET", &format!("{url}/doesnotexist")]);
    assert_eq!((code, v["code"].as_str().unwrap()), (404, "not_found"));
    let (code, _) = agent.curl(&["-X", "POST", &format!("{url}/doesnotexist/pause")]);
    assert_eq!(code, 404);
    let (code, v) = agent.curl(&["-X", "DELETE", &format!("{url}?states=finished")]);
    assert_eq!((code, v["code"].as_str().unwrap()), (400, "invalid_query"));
    let (code, v) = agent.curl(&["-X", "PUT", &url]);
    assert_eq!(
        (code, v["code"].as_str().unwrap()),
        (405, "method_not_allowed")
    );

    // The OpenAPI document is served and is the committed one.
    let (code, doc) = agent.curl(&[&format!("{}/openapi.json", agent.base())]);
    assert_eq!(code, 200);
    assert_eq!(doc["info"]["title"], "Inbound agent API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_and_cross_origin_requests_are_refused() {
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let url = format!("http://127.0.0.1:{}/api/v1/downloads", agent.port);
    let (code, v) = agent.curl_without_token(&["-H", "Host: attacker.example", &url]);
    assert_eq!(
        (code, v["code"].as_str().unwrap()),
        (403, "host_not_allowed")
    );
    let (code, v) = agent.curl_without_token(&["-H", "Origin: https://attacker.example", &url]);
    assert_eq!(
        (code, v["code"].as_str().unwrap()),
        (403, "origin_not_allowed")
    );
    let (code, _) = agent.curl_without_token(&[
        "-X",
        "POST",
        "-H",
        "Origin: https://attacker.example",
        "-H",
        "Content-Type: text/plain",
        &url,
        "-d",
        r#"{"url":"x","dst_folder":"/tmp"}"#,
    ]);
    assert_eq!(code, 403);
    // Preflight gets no CORS blessing.
    let preflight = common::curl::send(&[
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://attacker.example",
        "-H",
        "Access-Control-Request-Method: DELETE",
        &url,
    ]);
    assert!(
        !preflight
            .headers
            .contains_key("access-control-allow-origin"),
        "{:?}",
        preflight.headers
    );
    let (code, _) = agent.curl(&[&url]);
    assert_eq!(code, 200);
}

#[test]
fn a_public_address_needs_a_token_and_then_requires_it() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["agent", "--listen", "0.0.0.0:0"])
        .env("INBOUND_DATA_DIR", data.path())
        .env_remove("INBOUND_AGENT_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a token"), "{err}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Sim::start(vec![catalog::demo()])).unwrap();
    let token_file = data.path().join("token");
    std::fs::write(&token_file, "correct-horse\n").unwrap();
    let agent = Agent::start(
        &sim,
        &data.path().join("d"),
        &["--token-file", token_file.to_str().unwrap()],
    );
    let url = format!("{}/downloads", agent.base());
    let (code, v) = agent.curl(&[&url]);
    assert_eq!((code, v["code"].as_str().unwrap()), (401, "unauthorized"));
    let (code, _) = agent.curl(&["-H", "Authorization: Bearer wrong", &url]);
    assert_eq!(code, 401);
    let (code, _) = agent.curl(&["-H", "Authorization: Bearer correct-horse", &url]);
    assert_eq!(code, 200);
    // With a token, any Host is fine (the token is what proves the caller).
    let (code, _) = agent.curl(&[
        "-H",
        "Authorization: Bearer correct-horse",
        "-H",
        "Host: nas.local",
        &url,
    ]);
    assert_eq!(code, 200);
    drop(agent);
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_brings_the_download_back_and_finishes_it() {
    let size = 64 * MIB;
    let sim = Sim::start(vec![catalog::large("big", size)]).await.unwrap();
    sim.faults().set_conn_rate(2 * MIB);
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&sim, data.path(), &[]);
    let id = agent.post_download(&serde_json::json!({
        "url": sim.packages()[0].link(),
        "dst_folder": root.path(),
        "create_package_folder": true,
    }));
    let own = root.path().join("Large file");
    assert_eq!(agent.download(&id)["dst_folder"], own.to_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.package_bytes_served("pkg-big") < 4 * MIB {
        assert!(Instant::now() < deadline, "the download did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.kill(); // SIGKILL mid-download
    assert!(
        sim.package_bytes_served("pkg-big") < size,
        "the kill came before the end"
    );
    assert!(own.join("big.bin.inbound-part").exists());
    assert!(!own.join("big.bin").exists(), "killed mid-transfer");

    sim.faults().set_conn_rate(0);
    let agent = Agent::start(&sim, data.path(), &[]);
    let v = agent.download(&id);
    assert_eq!(v["download_id"], id.as_str());
    let done = agent.wait_state(&id, "complete", Duration::from_secs(60));
    assert_same_bytes(&sim.packages()[0], &done, &own);
    let file = &done["files"][0];
    assert_eq!(file["verified"], true, "{done}");
    assert_eq!(file["hash"]["algorithm"], "xxh128", "{done}");
    assert_eq!(
        file["hash"]["value"],
        inbound_mhl::hash_file(&own.join("big.bin"), inbound_mhl::HashAlgorithm::Xxh128).unwrap(),
        "the hash is of the bytes on disk"
    );
    assert_eq!(
        (
            done["files_verified"].as_u64(),
            done["hash_algorithm"].as_str()
        ),
        (Some(1), Some("xxh128"))
    );
    assert!(
        done["manifest"]
            .as_str()
            .unwrap()
            .starts_with(own.join("ascmhl").to_str().unwrap()),
        "{done}"
    );
    let (ok, report) = inbound_e2e::ascmhl_verify(&own);
    assert!(ok, "killed, restarted, verified:\n{report}");
    let served = sim.package_bytes_served("pkg-big");
    // Progress is saved about every second: a kill costs ~a second per connection.
    assert!(served <= size + 8 * 3 * MIB, "served {served}");
}

/// A script posts a link while MASV cannot be reached (no route, an outage): the agent
/// answers at once with a download waiting for the network instead of an error, keeps
/// it across a restart, and once MASV answers lists the package and finishes it under
/// the same id, in the package's own folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_posted_while_masv_is_unreachable_waits_and_then_completes() {
    let sim = Sim::start(vec![catalog::large("later", 4 * MIB)])
        .await
        .unwrap();
    sim.faults().set_outage(Duration::from_secs(3600));
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let link = sim.packages()[0].link();
    let body = serde_json::json!({
        "url": link,
        "dst_folder": root.path(),
        "create_package_folder": true,
    });
    let mut agent = Agent::start(&sim, data.path(), &[]);
    let asked = Instant::now();
    let id = agent.post_download(&body);
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "answered in {:?}",
        asked.elapsed()
    );
    let v = agent.download(&id);
    assert_eq!(v["state"], "transferring", "{v}");
    assert_eq!(v["waiting"], "network", "{v}");
    assert!(
        v["waiting_reason"]
            .as_str()
            .unwrap()
            .starts_with("MASV cannot be reached"),
        "{v}"
    );
    assert!(v["next_attempt_at"].is_string(), "{v}");
    assert_eq!(v["files"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(!v.to_string().contains(&sim.packages()[0].secret), "{v}");
    // Posted again (a script retrying): the same download.
    assert_eq!(agent.post_download(&body), id);

    agent.kill();
    let agent = Agent::start(&sim, data.path(), &[]);
    assert_eq!(agent.download(&id)["state"], "transferring");
    assert_eq!(sim.package_bytes_served("pkg-later"), 0);

    sim.faults().set_outage(Duration::ZERO);
    let done = agent.wait_state(&id, "complete", Duration::from_secs(90));
    assert_eq!(done["name"], "Large file", "{done}");
    let own = root.path().join("Large file");
    assert_eq!(done["dst_folder"], own.to_str().unwrap(), "{done}");
    assert_same_bytes(&sim.packages()[0], &done, &own);
    let (code, list) = agent.curl(&["-X", "GET", &format!("{}/downloads", agent.base())]);
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "one download: {list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_packages_with_the_same_names_posted_at_once_both_arrive_intact() {
    use inbound_sim::{Content, SimFile};
    let card = |link: &str, seed: u64| {
        SimPackage::new(link, format!("Card {link}"))
            .with_file(SimFile::new(
                "c1",
                "A001_C001.mov",
                Content::generated(seed, 4 * MIB),
            ))
            .with_file(
                SimFile::new("c2", "A001_C002.mov", Content::generated(seed + 1, 2 * MIB))
                    .in_folder("Day 1"),
            )
    };
    let sim = Sim::start(vec![card("day1", 10), card("day2", 20)])
        .await
        .unwrap();
    sim.faults().set_conn_rate(MIB);
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &["--connections", "1"]);
    let links: Vec<String> = sim.packages().iter().map(|p| p.link()).collect();
    let ids: Vec<String> = std::thread::scope(|s| {
        let posts: Vec<_> = links
            .iter()
            .map(|link| s.spawn(|| agent.start_download(link, root.path(), None)))
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert_ne!(ids[0], ids[1]);
    // Both mid-flight at once before the connections are let go.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.package_bytes_served("pkg-day1") == 0 || sim.package_bytes_served("pkg-day2") == 0 {
        assert!(Instant::now() < deadline, "both downloads start");
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.faults().set_conn_rate(0);
    for (id, package) in ids.iter().zip(sim.packages()) {
        let done = agent.wait_state(id, "complete", Duration::from_secs(60));
        assert_eq!(assert_same_bytes(package, &done, root.path()), 2);
    }
    let mut on_disk = 0;
    for dir in [
        root.path().to_owned(),
        root.path().join("Day 1"),
        root.path().join("Day 1 (1)"),
    ] {
        on_disk += std::fs::read_dir(&dir)
            .map_or(0, |d| d.flatten().filter(|e| e.path().is_file()).count());
    }
    assert_eq!(on_disk, 4, "four files, none shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_list_requests_while_three_packages_download() {
    let sim = Sim::start(vec![
        catalog::large("a", 64 * MIB),
        catalog::large("b", 64 * MIB),
        catalog::many_files("c", 2000),
    ])
    .await
    .unwrap();
    sim.faults().set_conn_rate(4 * MIB);
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    for link in ["a", "b", "c"] {
        let p = sim.packages().iter().find(|p| p.link_id == link).unwrap();
        agent.start_download(&p.link(), &root.path().join(link), None);
    }
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/api/v1/downloads", agent.port);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let resp = client.get(&url).send().await.unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (status, body.as_array().map(Vec::len), started.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        let (status, len, took) = t.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(len, Some(3));
        latencies.push(took);
    }
    latencies.sort();
    let p50 = latencies[99];
    let p99 = latencies[197];
    eprintln!(
        "200 concurrent GET /downloads: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies[199]
    );
    // Not a speed goal (that is the benchmark's): a listing that waited on transfers,
    // the database or a lock held across I/O would take seconds.
    assert!(p99 < Duration::from_secs(5), "p99 {p99:?}");
    let states: Vec<String> = agent
        .curl(&[&url])
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        states
            .iter()
            .all(|s| s == "transferring" || s == "complete"),
        "{states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_with_file_ids_downloads_exactly_those_files() {
    use inbound_sim::{Content, SimFile};
    let package = SimPackage::new("picked", "Picked")
        .with_file(SimFile::new("f1", "A001.mov", Content::generated(1, MIB)))
        .with_file(SimFile::new("f2", "A002.mov", Content::generated(2, MIB)).in_folder("Day 1"))
        .with_file(SimFile::new("f3", "A003.mov", Content::generated(3, MIB)).in_folder("Day 1"))
        .with_file(SimFile::new("f4", "notes.txt", Content::generated(4, 1000)));
    let sim = Sim::start(vec![package]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let link = sim.packages()[0].link();

    // An id the package does not have is refused before anything is written.
    let body =
        serde_json::json!({"url": link, "dst_folder": dst.path(), "file_ids": ["f1", "nope"]});
    let (code, v) = agent.post(&body);
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["code"], "invalid_file_ids", "{v}");
    assert!(v["message"].as_str().unwrap().contains("nope"), "{v}");
    assert_eq!(std::fs::read_dir(dst.path()).unwrap().count(), 0);

    let id = agent.post_download(
        &serde_json::json!({"url": link, "dst_folder": dst.path(), "file_ids": ["f1", "f3"]}),
    );
    let done = agent.wait_state(&id, "complete", Duration::from_secs(60));
    let states: Vec<(String, String)> = done["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("f1".to_owned(), "complete".to_owned()),
            ("f2".to_owned(), "excluded".to_owned()),
            ("f3".to_owned(), "complete".to_owned()),
            ("f4".to_owned(), "excluded".to_owned()),
        ]
    );
    assert_eq!(done["total_size"], 2 * MIB, "{done}");
    let package = &sim.packages()[0];
    let sha = |i: usize| package.files[i].content.sha256_hex();
    assert_eq!(sha256_file(&dst.path().join("A001.mov")), sha(0));
    assert_eq!(sha256_file(&dst.path().join("Day 1/A003.mov")), sha(2));
    assert!(!dst.path().join("Day 1/A002.mov").exists());
    assert!(!dst.path().join("notes.txt").exists());
    assert_eq!(
        sim.bytes_served("pkg-picked", "f2") + sim.bytes_served("pkg-picked", "f4"),
        0,
        "nothing of the files left out was fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_posted_second_takes_the_only_slot_first() {
    let sim = Sim::start(vec![
        catalog::large("low", 8 * MIB),
        catalog::large("high", 4 * MIB),
    ])
    .await
    .unwrap();
    // Slow enough that the first is still running when the second arrives.
    sim.faults().set_conn_rate(MIB);
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        &sim,
        data.path(),
        &["--max-active", "1", "--connections", "2"],
    );
    let link = |id: &str| {
        sim.packages()
            .iter()
            .find(|p| p.link_id == id)
            .unwrap()
            .link()
    };
    let low = agent.post_download(
        &serde_json::json!({"url": link("low"), "dst_folder": root.path().join("low"), "priority": 1}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.package_bytes_served("pkg-low") == 0 {
        assert!(Instant::now() < deadline, "the first download starts");
        std::thread::sleep(Duration::from_millis(20));
    }
    let high = agent.post_download(
        &serde_json::json!({"url": link("high"), "dst_folder": root.path().join("high"), "priority": 10}),
    );
    assert_eq!(agent.download(&high)["priority"], 10);
    let done_high = agent.wait_state(&high, "complete", Duration::from_secs(60));
    // The low one gave up its slot and waited, keeping its bytes; it is not done yet.
    let low_then = agent.download(&low);
    assert_eq!(low_then["state"], "transferring", "{low_then}");
    assert!(
        low_then["bytes_downloaded"].as_u64().unwrap() < 8 * MIB,
        "{low_then}"
    );
    sim.faults().set_conn_rate(0);
    let done_low = agent.wait_state(&low, "complete", Duration::from_secs(60));
    assert!(
        done_high["completed_at"].as_str().unwrap() <= done_low["completed_at"].as_str().unwrap()
    );
    assert_eq!(
        assert_same_bytes(&sim.packages()[1], &done_high, &root.path().join("high")),
        1
    );
    assert_eq!(
        assert_same_bytes(&sim.packages()[0], &done_low, &root.path().join("low")),
        1
    );
}

/// `bypass_package_quarantine`, as the MASV Agent takes it, on a package with a file
/// MASV's virus scan flagged: `false` refuses the package, naming the file, and writes
/// nothing; left out (true), the clean files arrive and the flagged one is withheld.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_package_is_refused_whole_when_quarantine_is_not_bypassed() {
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(&sim, data.path(), &[]);
    let link = sim.packages()[0].link();
    let refused_into = root.path().join("refused");
    let (status, body) = agent.post(&serde_json::json!({
        "url": link, "dst_folder": refused_into, "bypass_package_quarantine": false,
    }));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "package_quarantined");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invoice.pdf.exe"),
        "the flagged file is named: {body}"
    );
    assert!(
        std::fs::read_dir(&refused_into).map_or(true, |mut d| d.next().is_none()),
        "nothing written"
    );
    assert_eq!(sim.package_bytes_served(&sim.packages()[0].package_id), 0);
    let (_, listed) = agent.curl(&[&format!("{}/downloads", agent.base())]);
    assert_eq!(listed, serde_json::json!([]), "no download recorded");

    // The default: the clean files, the flagged one withheld.
    let id = agent.post_download(&serde_json::json!({
        "url": link, "dst_folder": root.path().join("taken"),
    }));
    let done = agent.wait_state(&id, "complete", Duration::from_secs(60));
    assert!(
        done["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["state"] == "virus_withheld"),
        "{done}"
    );
}
