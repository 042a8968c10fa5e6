//! Closing the window, end to end, on a desktop without a tray (GNOME without the
//! AppIndicator extension, many Wayland sessions; here a private bus with no
//! StatusNotifierWatcher and an X display with no system tray). The app never becomes
//! invisible while holding the data folder: closed while a package transfers it asks,
//! keeps downloading out of sight with a notification that says how to get the window
//! back, and quits by itself when the package is done; closed with nothing to do it
//! quits at once. (With a tray, closing hides the window: see desktop_e2e.rs.)
//!
//! Needs what desktop_e2e.rs needs; `.ci/run` installs it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod desktop;
mod webdriver;

use std::process::{Command, Stdio};
use std::time::Duration;

use desktop::*;
use inbound_sim::{Content, Sim, SimFile, SimPackage};

fn night_shoot() -> SimPackage {
    SimPackage::new("e2eclose", "Night shoot").with_file(SimFile::new(
        "n1",
        "B001.mov",
        Content::generated(41, 16 * MIB),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tray_closing_asks_keeps_downloading_out_of_sight_then_quits() {
    let root = tempfile::tempdir().unwrap();
    let sim = Sim::start(vec![night_shoot()]).await.unwrap();
    // 2 connections at 512 KiB/s: the 16 MiB clip takes about 16 s.
    sim.faults().set_conn_rate(MIB / 2);
    let Desktop {
        bus,
        xvfb: _xvfb,
        display,
        env,
        data,
        dest,
        driver: _driver,
        c,
    } = open_app_with(
        root.path(),
        &sim,
        serde_json::json!({ "connections_per_download": 2, "adaptive_connections": false }),
        false,
    )
    .await;
    let pkg = &sim.packages()[0];
    paste_link(&c, &pkg.link()).await;
    wait_state(&c, &pkg.name, "transferring", Duration::from_secs(30)).await;

    // Closed while it transfers: asked, not hidden with no way back.
    let (window, pid) = app_window(&display).expect("the app's window");
    close_window(&display, window);
    c.wait_for(
        "//h2[normalize-space()='1 download is running']",
        Duration::from_secs(20),
    )
    .await
    .expect("closing with a download running and no tray asks");
    assert!(
        window_shown(&display, window),
        "the window stays while it asks"
    );
    screenshot(&display, "8-close-without-tray").await;
    let keep = c
        .find("//button[normalize-space()='Keep it running in the background']")
        .await
        .unwrap();
    // The window goes as the click is handled, and WebKitWebDriver answers such a click
    // only much later (waiting for a hidden page to paint): what follows checks what
    // happened instead of its answer.
    let _ = tokio::time::timeout(Duration::from_secs(1), c.click(&keep)).await;
    until(Duration::from_secs(10), "the window went", || {
        !window_shown(&display, window)
    })
    .await;
    // A notification says it goes on, and how to get the window back.
    until(
        Duration::from_secs(10),
        "no notification that it goes on",
        || {
            std::fs::read_to_string(&bus.log)
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    l.contains("Inbound keeps downloading")
                        && l.contains("Open Inbound again from your applications")
                })
        },
    )
    .await;
    assert!(!process_ended(pid), "it keeps downloading");

    // The package arrives, and then the app quits by itself: the data folder is free
    // for `inbound get`.
    until(
        Duration::from_secs(90),
        "the app did not quit once done",
        || process_ended(pid),
    )
    .await;
    assert_eq!(
        sim.package_bytes_served(&pkg.package_id),
        16 * MIB,
        "it quit after the package, not before"
    );
    let clip = dest.join(&pkg.name).join("B001.mov");
    assert_eq!(
        std::fs::metadata(&clip).map(|m| m.len()).ok(),
        Some(16 * MIB),
        "{}",
        clip.display()
    );
    std::fs::File::open(data.join("inbound.lock"))
        .unwrap()
        .try_lock()
        .expect("the data folder is free once the app quit");
    drop(c);

    // Started again with nothing to download, and closed: it quits at once.
    let app = Command::new(env!("CARGO_BIN_EXE_inbound-desktop"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut app = Guard(app);
    let mut shown = None;
    until(
        Duration::from_secs(60),
        "the app's window never showed",
        || {
            shown = app_window(&display).filter(|(w, _)| window_shown(&display, *w));
            shown.is_some()
        },
    )
    .await;
    let (window, _) = shown.unwrap();
    close_window(&display, window);
    until(
        Duration::from_secs(20),
        "closing with nothing to do did not quit",
        || app.0.try_wait().unwrap().is_some(),
    )
    .await;
}
