//! The agent among other accounts of the same machine: its own user's scripts need no
//! token (as with the MASV Agent); another account is refused unless it sends the
//! token, whether it calls over loopback TCP or through a socket left open to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// A second account is made with setpriv (util-linux) and the caller over TCP is found in
// Linux's socket table; under Wine every process is the same Windows account.
#![cfg(target_os = "linux")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use inbound_sim::{Sim, catalog};
use serde_json::{Value, json};
mod common;
use common::agent::Agent;

const NOBODY: &str = "65534";

/// This process may act as another account (it runs as root).
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// curl run as the account `nobody`: the status code and the parsed body.
fn curl_as_nobody(args: &[&str]) -> (u16, Value) {
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "curl",
            "-s",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (code.trim().parse().unwrap_or(0), value)
}

fn show_token(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_inbound"))
        .args(["agent", "--show-token"])
        .env("INBOUND_DATA_DIR", data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_cannot_use_the_agent_without_its_token() {
    if !is_root() {
        eprintln!("skipped: acting as a second account (setpriv) needs root");
        return;
    }
    let sim = Sim::start(vec![catalog::demo()]).await.unwrap();
    let (data, victim) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let agent = Agent::start(&sim, data.path(), &[]);
    let url = format!("http://127.0.0.1:{}/api/v1", agent.port);
    let link = sim.packages()[0].link();

    // What another account could do to the agent's user (root here) without the token:
    // a download of its own link into a folder of root's choosing (~/.ssh, cron.d),
    // files given to it, a command run as root, files removed.
    let start = json!({"url": link, "dst_folder": victim.path(), "uid": 65534, "gid": 65534});
    let attempts: [(&str, &str, Option<String>); 4] = [
        ("POST", "/downloads", Some(start.to_string())),
        (
            "PUT",
            "/settings/after_download",
            Some(r#"{"run": ["/bin/true"]}"#.into()),
        ),
        ("DELETE", "/downloads?remove_files=true", None),
        ("GET", "/downloads", None),
    ];
    for (method, path, body) in &attempts {
        let target = format!("{url}{path}");
        let mut args = vec![
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            &target,
        ];
        if let Some(b) = body {
            args.extend(["-d", b]);
        }
        let (code, v) = curl_as_nobody(&args);
        assert_eq!(code, 401, "{method} {path} as another account: {v}");
        assert_eq!(v["code"], "unauthorized", "{v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains("uid 65534"), "{message}");
        assert!(message.contains("--show-token"), "{message}");
    }
    assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0);
    let (code, v) = agent.curl(&[&format!("{url}/downloads")]);
    assert_eq!((code, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    assert!(
        agent.curl(&[&format!("{url}/settings/after_download")]).1["run"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The token: made on first start, readable by the agent's user alone; with it the
    // other account is let in.
    let token = show_token(data.path());
    assert_eq!(token.len(), 64, "{token}");
    let mode = std::fs::metadata(data.path().join("agent-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let bearer = format!("Authorization: Bearer {token}");
    let (code, v) = curl_as_nobody(&["-H", &bearer, &format!("{url}/downloads")]);
    assert_eq!(code, 200, "{v}");
    let (code, _) = curl_as_nobody(&[
        "-H",
        "Authorization: Bearer wrong",
        &format!("{url}/downloads"),
    ]);
    assert_eq!(code, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_socket_the_kernel_says_who_calls_even_if_its_mode_lets_anyone_in() {
    if !is_root() {
        eprintln!("skipped: acting as a second account (setpriv) needs root");
        return;
    }
    let sim = Sim::start(vec![]).await.unwrap();
    let (data, run) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = run.path().join("inbound-agent.sock");
    let listen = format!("unix://{}", socket.display());
    // TCP as well: the user unit listens on both.
    let agent = Agent::start(&sim, data.path(), &["--listen", &listen]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no socket");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A careless chmod (or a shared runtime folder) opens the door; the lock holds.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let sock = socket.to_str().unwrap();
    let list = "http://localhost/api/v1/downloads";
    let (code, v) = curl_as_nobody(&["--unix-socket", sock, list]);
    assert_eq!(code, 401, "{v}");
    assert!(v["message"].as_str().unwrap().contains("uid 65534"), "{v}");
    let out = Command::new("curl")
        .args(["-s", "--unix-socket", sock, list])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]");
    // The same agent on TCP too.
    let (code, _) = agent.curl(&[&format!("{}/downloads", agent.base())]);
    assert_eq!(code, 200);
}
