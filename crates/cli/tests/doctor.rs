//! `inbound doctor` says what a support request needs and never a secret; `inbound man`
//! and `inbound completions` give what packages install.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use inbound_sim::{Sim, catalog};
mod common;
use common::agent::Agent;
use common::{inbound, text};

const API_KEY: &str = "sk-live-very-secret-4242";

fn doctor(sim: &Sim, data: &std::path::Path, api: Option<&str>) -> String {
    let mut c = inbound(sim, data);
    c.arg("doctor").env("INBOUND_NO_KEYRING", "1");
    if let Some(api) = api {
        c.env("MASV_API_URL", api);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn line<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_the_setup_without_a_secret() {
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("team.json"),
        format!(r#"{{"team_id": "team-demo", "api_key": "{API_KEY}"}}"#),
    )
    .unwrap();
    std::fs::write(data.path().join("agent-token"), "tok-also-secret-777").unwrap();

    let report = doctor(&sim, data.path(), None);
    assert!(
        line(&report, "Data folder").contains(&data.path().display().to_string()),
        "{report}"
    );
    assert!(line(&report, "In use").ends_with("no"), "{report}");
    assert!(
        line(&report, "MASV API").contains(": answers ("),
        "{report}"
    );
    assert!(
        line(&report, "Keyring").contains("INBOUND_NO_KEYRING"),
        "{report}"
    );
    assert!(
        line(&report, "Team login").contains("team team-demo, key in"),
        "{report}"
    );
    assert!(
        line(&report, "Agent API token").contains("kept in the data folder"),
        "{report}"
    );
    line(&report, "masv:// links");
    line(&report, "Inbound");
    for secret in [API_KEY, "tok-also-secret-777", "demo-secret"] {
        assert!(
            !report.contains(secret),
            "a secret in the report:\n{report}"
        );
    }

    // Held by a running agent: which process, and what it is.
    let agent = Agent::start(&sim, data.path(), &[]);
    let report = doctor(&sim, data.path(), None);
    assert!(
        line(&report, "In use").contains("inbound agent"),
        "{report}"
    );
    drop(agent);

    // Nothing listens where MASV should be: said plainly, and soon.
    let started = std::time::Instant::now();
    let report = doctor(&sim, data.path(), Some("http://127.0.0.1:9"));
    assert!(
        line(&report, "MASV API").contains("NOT reachable"),
        "{report}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn the_manual_page_and_completions_are_well_formed() {
    let man = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .arg("man")
        .output()
        .unwrap();
    assert!(man.status.success(), "{}", text(&man));
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(
        page.contains(".TH inbound 1") && page.contains(".SH NAME"),
        "{page}"
    );
    for sub in ["get", "agent", "verify", "doctor"] {
        assert!(page.contains(sub), "the page names `inbound {sub}`");
    }
    let bash = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(bash.status.success(), "{}", text(&bash));
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &bash.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "bash -n: {}", text(&check));
    assert!(String::from_utf8_lossy(&bash.stdout).contains("_inbound()"));
    for shell in ["zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_inbound"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{shell}: {}",
            text(&out)
        );
    }
}
