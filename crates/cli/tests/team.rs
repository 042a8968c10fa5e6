//! `inbound team ...` as a person runs it against the simulator's team: login, listings,
//! a download without a link, and the API key kept out of every output and log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use inbound_sim::{Sim, catalog};
mod common;
use common::{sha256_file, text};

fn inbound(sim: &Sim, data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    inbound_with(sim, data, args, stdin, Keyring::Off)
}

#[derive(PartialEq)]
enum Keyring {
    Off,
    /// The OS keyring where one answers, as a person's machine has.
    AsInstalled,
}

fn inbound_with(
    sim: &Sim,
    data: &Path,
    args: &[&str],
    stdin: Option<&str>,
    keyring: Keyring,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_inbound"));
    if keyring == Keyring::Off {
        command.env("INBOUND_NO_KEYRING", "1");
    } else {
        command.env_remove("INBOUND_NO_KEYRING");
    }
    let mut child = command
        .args(args)
        .env("MASV_API_URL", sim.api_url())
        .env("INBOUND_DATA_DIR", data)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            writeln!(input, "{s}").unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_list_and_download_without_the_key_ever_showing() {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut everything = String::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let out = inbound(&sim, data.path(), args, stdin);
        everything.push_str(&text(&out));
        out
    };

    // Before login: a clear message.
    let out = run(&["team", "packages"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("inbound team login"), "{}", text(&out));

    // A wrong key is refused and nothing is saved.
    let out = run(
        &["team", "login", "--team-id", catalog::DEMO_TEAM_ID],
        Some("wrong-key-777"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("refused the API key"), "{}", text(&out));
    assert!(!data.path().join("team.json").exists());

    let out = run(
        &["team", "login", "--team-id", catalog::DEMO_TEAM_ID],
        Some(catalog::DEMO_API_KEY),
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = run(&["team", "packages", "--state", "finalized"], None);
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listing.contains("pkg-tfinal1") && listing.contains("pkg-tfinal2"),
        "{listing}"
    );
    assert!(
        !listing.contains("pkg-tupload") && !listing.contains("pkg-texpired"),
        "{listing}"
    );

    let out = run(&["team", "portal-packages", "portal-edit", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pkg-tfinal1", "pkg-tupload"]);
    assert!(
        json[0].get("access_token").is_none(),
        "tokens are not printed"
    );

    let out = run(&["team", "portals"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("VFX returns"),
        "{}",
        text(&out)
    );

    let out = run(
        &[
            "team",
            "download",
            "pkg-tfinal1",
            "--dest",
            dest.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let package = sim
        .packages()
        .iter()
        .find(|p| p.link_id == "tfinal1")
        .unwrap();
    for f in &package.files {
        assert_eq!(
            sha256_file(&dest.path().join(&package.name).join(&f.name)),
            f.content.sha256_hex(),
            "{}",
            f.name
        );
    }

    // Still uploading: refused with the reason.
    let out = run(
        &[
            "team",
            "download",
            "pkg-tupload",
            "--dest",
            dest.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("finalized"), "{}", text(&out));

    for entry in std::fs::read_dir(data.path().join("logs")).unwrap() {
        everything.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(everything.contains("download added"), "the log was written");
    for secret in [catalog::DEMO_API_KEY, "wrong-key-777", "v1.pkg-"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("team.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the saved key is readable by the user only"
        );
    }
    let out = inbound(&sim, data.path(), &["team", "logout"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!data.path().join("team.json").exists());
}

/// The key is kept where the next command finds it: in the OS keyring where one answers
/// (the Credential Manager on Windows, under Wine too; the Keychain on macOS), else in
/// the user-only file. A keyring that kept it only in memory once made every later
/// command "not logged in".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_there_for_the_next_command() {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        inbound_with(&sim, data.path(), args, stdin, Keyring::AsInstalled)
    };
    let out = run(
        &["team", "login", "--team-id", catalog::DEMO_TEAM_ID],
        Some(catalog::DEMO_API_KEY),
    );
    assert!(out.status.success(), "{}", text(&out));
    let saved = std::fs::read_to_string(data.path().join("team.json")).unwrap();
    if cfg!(windows) {
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("in your keyring")
                && !saved.contains(catalog::DEMO_API_KEY),
            "Windows has a credential store: the key goes there\n{}\n{saved}",
            text(&out)
        );
    }
    let out = run(&["team", "packages", "--state", "finalized"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pkg-tfinal1"),
        "{}",
        text(&out)
    );
    let out = run(&["team", "logout"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["team", "packages"], None);
    assert!(
        !out.status.success() && text(&out).contains("inbound team login"),
        "logged out everywhere: {}",
        text(&out)
    );
}
