//! `inbound get` as a person at a terminal sees it: a protected link asks for its
//! password (not shown as it is typed), and a slow MASV is said within a second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::time::Duration;

use inbound_sim::{Sim, catalog};
mod common;
use common::inbound;

/// On a pseudo-terminal made by util-linux's `script` (Linux: macOS's `script` takes
/// other arguments, and Windows has none; the prompt's code is the same there).
#[cfg(target_os = "linux")]
mod at_a_terminal {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use inbound_sim::{Sim, catalog};

    /// Waits until what the terminal showed contains `text`.
    fn until_shown(screen: &Mutex<String>, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !screen.lock().unwrap().contains(text) {
            assert!(
                Instant::now() < deadline,
                "never shown: {text:?}; the terminal showed:\n{}",
                screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_protected_link_asks_for_its_password_at_a_terminal() {
        let sim = Sim::start(vec![catalog::demo_with_password()])
            .await
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let command = format!(
            "{} get {} --dest {}",
            quote(env!("CARGO_BIN_EXE_inbound")),
            quote(&sim.packages()[0].link()),
            quote(dest.path().to_str().unwrap())
        );
        let mut terminal = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("MASV_API_URL", sim.api_url())
            .env("INBOUND_DATA_DIR", data.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux's script runs");
        let screen = Arc::new(Mutex::new(String::new()));
        let mut out = terminal.stdout.take().unwrap();
        let shown = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut keys = terminal.stdin.take().unwrap();

        until_shown(&screen, "Password for this link (not shown as you type): ");
        keys.write_all(b"nope\n").unwrap();
        until_shown(
            &screen,
            "Wrong password for this link; check it with the sender.",
        );
        let asked_twice = || {
            screen
                .lock()
                .unwrap()
                .matches("Password for this link")
                .count()
                == 2
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !asked_twice() {
            assert!(Instant::now() < deadline, "{}", screen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
        keys.write_all(b"letmein\n").unwrap();
        let status = terminal.wait().unwrap();
        reader.join().unwrap();
        let screen = screen.lock().unwrap().clone();
        assert!(screen.contains("Downloaded \""), "{screen}");
        // Complete but for the infected file (exit 3, as without a terminal).
        assert_eq!(status.code(), Some(3), "{screen}");
        assert!(
            !screen.contains("nope") && !screen.contains("letmein"),
            "a typed password is not shown: {screen}"
        );
        assert!(
            dest.path()
                .join("Inbound demo (password protected)/Coastline/Day 1/A001_C002.mov")
                .exists()
        );
    }
}

/// MASV slow to answer (2 s a request): within a second `inbound get` says what it
/// waits for, before anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_masv_is_said_before_anything_else() {
    let sim = Sim::start(vec![catalog::large("slow", 64 * 1024)])
        .await
        .unwrap();
    sim.faults().set_latency(Duration::from_secs(2));
    let data = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut child = inbound(&sim, data.path())
        .args(["get", &sim.packages()[0].link(), "--dest"])
        .arg(dest.path())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(
        first.trim_end(),
        "asking MASV for the package… (Ctrl-C to stop)"
    );
    assert!(child.wait().unwrap().success());
}
