//! `inbound agent --listen unix:///path.sock`: the API on a Unix socket, owner-only,
//! driven with `curl --unix-socket`; a socket left by a killed agent does not block the
//! next one, and a path that is not usable says why.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// Unix sockets: the agent listens on loopback on Windows; listed in scripts/windows-skips.txt.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inbound_sim::{Sim, catalog};
use serde_json::Value;
mod common;
use common::text;

fn agent(sim: &Sim, data: &Path, listen: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_inbound"));
    c.args(["agent", "--listen", listen])
        .env("MASV_API_URL", sim.api_url())
        .env("INBOUND_DATA_DIR", data)
        .env("INBOUND_NO_KEYRING", "1")
        .stdin(Stdio::null());
    c
}

fn start(sim: &Sim, data: &Path, socket: &Path) -> Child {
    let child = agent(sim, data, &format!("unix://{}", socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "the agent did not listen on its socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// `PUT` of a JSON body over the socket.
fn put(socket: &Path, path: &str, body: &str) -> (u16, Value) {
    let url = format!("http://localhost/api/v1{path}");
    curl(
        socket,
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            &url,
            "-d",
            body,
        ],
    )
}

fn curl(socket: &Path, args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_a_unix_socket_downloads_and_survives_a_killed_agent() {
    let sim = Sim::start(vec![catalog::large("big", 1 << 20)])
        .await
        .unwrap();
    let (data, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let socket = data.path().join("agent.sock");
    let mut child = start(&sim, data.path(), &socket);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only its owner may call it");

    let body = serde_json::json!({"url": sim.packages()[0].link(), "dst_folder": root.path()});
    let (code, v) = curl(
        &socket,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "http://localhost/api/v1/downloads",
            "-d",
            &body.to_string(),
        ],
    );
    assert_eq!(code, 200, "{v}");
    let id = v["download_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, d) = curl(
            &socket,
            &[&format!("http://localhost/api/v1/downloads/{id}")],
        );
        if d["state"] == "complete" {
            break;
        }
        assert!(Instant::now() < deadline, "not complete: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Killed, it leaves its socket file behind; the next agent takes the path over.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(socket.exists());
    let mut child = start(&sim, data.path(), &socket);
    let (code, list) = curl(&socket, &["http://localhost/api/v1/downloads"]);
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // One download's own speed limit, kept with it.
    let (code, v) = put(
        &socket,
        &format!("/downloads/{id}/speed_limit"),
        r#"{"bytes_per_sec": 1048576}"#,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["speed_limit"], 1048576);
    let (code, v) = put(&socket, "/downloads/nope/speed_limit", "{}");
    assert_eq!(code, 404, "{v}");
    // Owner-only: a command to run when done may be set here.
    let (code, v) = put(
        &socket,
        "/settings/after_download",
        r#"{"run": ["/bin/true"]}"#,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["run"][0], "/bin/true");

    // A second agent on a socket in use is refused, saying so (it cannot even open the
    // data folder the first one holds, so it is given its own).
    let other = tempfile::tempdir().unwrap();
    let out = agent(&sim, other.path(), &format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("another agent is listening on it"),
        "{}",
        text(&out)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn an_unusable_socket_path_says_what_to_do() {
    let sim = Sim::start(vec![]).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = agent(&sim, data.path(), "unix://relative.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("must be absolute"), "{}", text(&out));
    let file = data.path().join("not-a-socket");
    std::fs::write(&file, "mine").unwrap();
    let out = agent(&sim, data.path(), &format!("unix://{}", file.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("not a socket"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "mine",
        "never removed"
    );
}
