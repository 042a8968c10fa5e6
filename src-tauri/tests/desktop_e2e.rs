//! The real desktop app, end to end: started by tauri-driver (WebKitWebDriver) under
//! Xvfb with a private D-Bus session, pointed at the simulator. A link is pasted, the
//! files appear, pause stops the bytes, resume finishes the package, a completion
//! notification reaches the (test's) notification daemon, and a second launch with a
//! `masv://` link hands its package to the running window, the tray's status line (read
//! over D-Bus as a panel does) follows the transfer; with clipboard capture on, a
//! link put on the X clipboard is offered (and with it off, not even read). Screenshots
//! of each state go to `target/e2e-screenshots/`.
//!
//! Needs Xvfb, dbus-daemon, WebKitWebDriver (webkit2gtk-driver), python3-dbus, ImageMagick,
//! xclip and tauri-driver; `.ci/run` installs them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod desktop;
mod webdriver;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use desktop::*;
use inbound_sim::{Content, Sim, SimFile, SimPackage};

/// Expires in under a day: a notification says so, and its card marks it.
fn delivery() -> SimPackage {
    SimPackage::new("e2edelivery", "Harbour rushes")
        .expiring_in(chrono::Duration::hours(5))
        .with_file(
            SimFile::new("f1", "A001.mov", Content::generated(11, 20 * MIB)).in_folder("Day 1"),
        )
        .with_file(
            SimFile::new("f2", "A002.mov", Content::generated(12, 12 * MIB)).in_folder("Day 1"),
        )
        .with_file(SimFile::new(
            "f3",
            "notes.txt",
            Content::bytes(b"call sheet\n".to_vec()),
        ))
}

fn second() -> SimPackage {
    let mut package = SimPackage::new("e2esecond", "Second launch delivery").with_file(
        SimFile::new("s1", "grade.cube", Content::generated(21, 2 * MIB)),
    );
    package.sender_email = "colorist@grade.example".into();
    package
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_pause_resume_complete_notify_and_second_launch() {
    let root = tempfile::tempdir().unwrap();
    let sim = Sim::start(vec![delivery(), second()]).await.unwrap();
    // 4 connections x 1 MiB/s: the 32 MiB package takes ~8 s, time to pause it.
    sim.faults().set_conn_rate(MIB);
    // Bound in the reverse of the order they go in (the session first, the bus last).
    let Desktop {
        bus,
        xvfb: _xvfb,
        display,
        env,
        dest,
        driver: _driver,
        c,
        ..
    } = open_app(
        root.path(),
        &sim,
        serde_json::json!({ "connections_per_download": 4 }),
    )
    .await;
    // A new user's first look.
    screenshot(&display, "1-empty").await;

    // Paste a link and press Download, while MASV cannot be reached: the download is
    // added all the same (not lost, not to be pasted again), waiting for the network,
    // and becomes the package as soon as MASV answers.
    let pkg = &sim.packages()[0];
    sim.faults().set_outage(Duration::from_secs(3600));
    paste_link(&c, &pkg.link()).await;
    let waiting = card(&format!("Link {}", pkg.link_id));
    c.wait_for(
        &format!("{waiting}//*[contains(normalize-space(), 'Waiting for network')]"),
        Duration::from_secs(30),
    )
    .await
    .expect("the link waits for MASV as a download, saying so");
    screenshot(&display, "2a-waiting-for-masv").await;
    sim.faults().set_outage(Duration::ZERO);
    // Its next try comes at most the backoff's cap (30 s) later.
    wait_state(&c, &pkg.name, "transferring", Duration::from_secs(45)).await;
    let expander = c
        .find(&format!("{}//button[@aria-expanded]", card(&pkg.name)))
        .await
        .unwrap();
    c.click(&expander).await.unwrap();
    for file in ["A001.mov", "A002.mov", "notes.txt"] {
        c.wait_for(
            &format!(
                "{}//*[contains(normalize-space(), '{file}')]",
                card(&pkg.name)
            ),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{file} not listed: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.package_bytes_served(&pkg.package_id) < 2 * MIB {
        assert!(Instant::now() < deadline, "no bytes arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&display, "2-downloading").await;
    // It expires in under a day: said once, by a notification whose button brings the
    // window, and marked on its card.
    let soon = wait_for_notification_of(&bus.log, "Package expires soon", &pkg.name).await;
    let body = soon["body"].as_str().unwrap();
    assert!(
        body.contains("expires in 4 h") && body.contains("Keep Inbound running"),
        "{soon}"
    );
    assert_eq!(soon["actions"], serde_json::json!(["show", "Show"]));
    c.wait_for(
        &format!(
            "{}//*[contains(@class, 'expiry') and contains(@class, 'soon') and contains(normalize-space(), 'expires in 4 h')]",
            card(&pkg.name)
        ),
        Duration::from_secs(10),
    )
    .await
    .expect("the card marks the package's last day");
    // The tray says so too, as the panel shows it: count, share and rate.
    wait_for_tray(&bus, "1 downloading", |l| {
        l.starts_with("Inbound: 1 downloading, ") && l.contains("% of ") && l.contains(" at ")
    })
    .await;
    // While it transfers the machine does not go to sleep.
    assert_eq!(wait_for_sleep_lock(&bus.log, true).await, 1);

    // Pause: the bytes stop, and the machine may sleep again.
    click_action(&c, &pkg.name, "Pause").await;
    wait_state(&c, &pkg.name, "paused", Duration::from_secs(10)).await;
    wait_for_sleep_lock(&bus.log, false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_pause = sim.package_bytes_served(&pkg.package_id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = sim.package_bytes_served(&pkg.package_id);
    assert_eq!(at_pause, later, "bytes kept flowing while paused");
    assert!(
        at_pause < pkg.size(),
        "the package finished before it could be paused"
    );
    screenshot(&display, "3-paused").await;

    // Resume: it completes, and the desktop is told.
    click_action(&c, &pkg.name, "Resume").await;
    wait_state(&c, &pkg.name, "complete", Duration::from_secs(60)).await;
    // Proven: the card says so, the package's own folder carries an ASC MHL history
    // the ASC's tool accepts, and "Verify again" hashes the files once more.
    c.wait_for(
        &format!(
            "{}//*[contains(normalize-space(), '3 files · xxh128 · ASC MHL manifest')]",
            card(&pkg.name)
        ),
        Duration::from_secs(10),
    )
    .await
    .expect("the card shows the package as verified");
    screenshot(&display, "4-complete").await;
    wait_for_tray(&bus, "nothing downloading", |l| {
        l == "Inbound: nothing downloading"
    })
    .await;
    let own = dest.join(&pkg.name);
    for f in &pkg.files {
        let path = own.join(f.path.as_deref().unwrap_or("")).join(&f.name);
        assert_eq!(sha256(&path), f.content.sha256_hex(), "{}", f.name);
    }
    let ascmhl = Command::new("ascmhl-debug")
        .arg("verify")
        .arg(&own)
        .output()
        .expect("ascmhl-debug is installed (.ci/run does)");
    assert!(
        ascmhl.status.success(),
        "ascmhl-debug verify: {}{}",
        String::from_utf8_lossy(&ascmhl.stdout),
        String::from_utf8_lossy(&ascmhl.stderr)
    );
    click_action(&c, &pkg.name, "Verify again").await;
    c.wait_for(
        &format!(
            "{}//*[normalize-space()='Verified again: all 3 files match.']",
            card(&pkg.name)
        ),
        Duration::from_secs(20),
    )
    .await
    .expect("verifying again finds every file as it was");
    let served = sim.package_bytes_served(&pkg.package_id);
    assert!(
        served <= pkg.size() + 4 * 8 * MIB,
        "resume refetched too much: {served} bytes for {}",
        pkg.size()
    );
    let note = wait_for_notification_of(&bus.log, "Download complete", &pkg.name).await;
    // Resumed, it held the machine awake again, and let go when it completed.
    assert_eq!(wait_for_sleep_lock(&bus.log, false).await, 2);
    assert_eq!(note["summary"], "Download complete");
    assert_eq!(note["app"], "Inbound");
    assert!(note["body"].as_str().unwrap().contains("3 files"), "{note}");
    // With a button that opens the package's folder (key, then label).
    assert_eq!(
        note["actions"],
        serde_json::json!(["open-folder", "Open folder"])
    );

    // A second launch with a masv:// link (as a web page opens one) hands it to this
    // window and leaves; the window shows the package and nothing starts until the
    // person says yes.
    let other = &sim.packages()[1];
    let deep_link = format!(
        "masv://get.massive.app/{}?secret={}",
        other.link_id, other.secret
    );
    let mut launch = Command::new(env!("CARGO_BIN_EXE_inbound-desktop"))
        .arg(&deep_link)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = launch.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = launch.kill();
            panic!("the second launch did not hand over its link and exit");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "second launch exited with {status}");
    c.wait_for(
        "//h2[normalize-space()='Download this package?']",
        Duration::from_secs(20),
    )
    .await
    .expect("a link from outside asks first");
    for shown in [
        "Second launch delivery",
        "colorist@grade.example",
        "2.0 MB in 1 file",
    ] {
        c.find(&format!(
            "//div[@role='dialog']//*[normalize-space()='{shown}']"
        ))
        .await
        .unwrap_or_else(|e| panic!("the question does not show {shown}: {e}"));
    }
    screenshot(&display, "5-confirm-link").await;
    // Asked, not started: no bytes, no card, until the person answers.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.package_bytes_served(&other.package_id), 0);
    assert_eq!(
        c.find_all("//article[contains(@class, 'card')]")
            .await
            .unwrap()
            .len(),
        1
    );
    let accept = c
        .find("//div[@role='dialog']//button[normalize-space()='Download']")
        .await
        .unwrap();
    c.click(&accept).await.unwrap();
    wait_state(&c, &other.name, "complete", Duration::from_secs(60)).await;
    let cards = c
        .find_all("//article[contains(@class, 'card')]")
        .await
        .unwrap();
    assert_eq!(cards.len(), 2, "the second package was added once");
    assert_eq!(
        sha256(&dest.join(&other.name).join("grade.cube")),
        other.files[0].content.sha256_hex()
    );
    wait_for_notification(&bus.log, &other.name).await;
    screenshot(&display, "6-second-launch").await;

    // Secrets never reach the page.
    let source = c.source().await.unwrap();
    for secret in [&pkg.secret, &other.secret] {
        assert!(
            !source.contains(secret.as_str()),
            "a link secret is in the DOM"
        );
    }

    // Closed on a desktop with a tray: out of sight, still running (the tray brings it
    // back); see closing_e2e.rs for a desktop without one.
    let (window, pid) = app_window(&display).expect("the app's window");
    close_window(&display, window);
    until(
        Duration::from_secs(10),
        "the window went to the tray",
        || !window_shown(&display, window),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !process_ended(pid),
        "with a tray, closing the window does not quit"
    );
    c.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_held_by_the_agent_is_explained_in_a_dialog() {
    let root = tempfile::tempdir().unwrap();
    let sim = Sim::start(vec![]).await.unwrap();
    let bus = start_bus(root.path());
    let (display, _xvfb) = start_xvfb();
    let env = app_env(&display, &bus, &sim, root.path());
    // `inbound agent` holds the data folder (as its lock says).
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let lock = std::fs::File::create(data.join("inbound.lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(data.join("inbound.lock"), "4242\ninbound agent\n").unwrap();

    // What the app logs is kept, so a failure here says what the app saw.
    let app_log = root.path().join("app.log");
    let app = Command::new(env!("CARGO_BIN_EXE_inbound-desktop"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&app_log).unwrap())
        .spawn()
        .unwrap();
    let mut app = Guard(app);
    let said = || std::fs::read_to_string(&app_log).unwrap_or_default();
    // A long limit: on a loaded machine WebKit's first start is slow, and the wait ends
    // as soon as the dialog is there.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!(
                "the app left without a dialog ({status}); it said:\n{}",
                said()
            );
        }
        if window_names(&display).contains("\"Inbound cannot start\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dialog; windows: {}\nthe app said:\n{}",
            window_names(&display),
            said()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The dialog's text (which program, which process, what to do) is in the
    // screenshot; the engine's message is tested with the CLI.
    screenshot(&display, "7-data-folder-in-use").await;
    drop(lock);
}

/// Puts text on the X clipboard as a program on the desktop would (xclip stays behind
/// to serve it until something else is copied or the display goes).
fn copy_to_clipboard(display: &str, text: &str) {
    use std::io::Write;
    let mut xclip = Command::new(tool("xclip"))
        .args(["-display", display, "-selection", "clipboard", "-in"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xclip runs (.ci/run installs it)");
    xclip
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    // It forks to serve the copy and leaves once it owns the clipboard.
    assert!(xclip.wait().unwrap().success(), "xclip could not copy");
}

/// Takes the keyboard focus from the app's window, as switching to another program does.
fn focus_elsewhere(display: &str) {
    use x11rb::protocol::xproto::{ConnectionExt, InputFocus};
    let (conn, _) = x11_connect(display);
    conn.set_input_focus(InputFocus::NONE, x11rb::NONE, x11rb::CURRENT_TIME)
        .unwrap()
        .check()
        .unwrap();
}

fn copied(link_id: &str, name: &str, sender: &str) -> SimPackage {
    let mut package = SimPackage::new(link_id, name).with_file(SimFile::new(
        format!("{link_id}-1"),
        "cut.edl",
        Content::generated(31, 64 * 1024),
    ));
    package.sender_email = sender.into();
    package
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_link_is_offered_with_clipboard_capture_on_and_ignored_with_it_off() {
    let root = tempfile::tempdir().unwrap();
    let ignored = copied("e2ecopyoff", "Copied while off", "dit@set.example");
    let offered = copied("e2ecopyon", "Copied while on", "ae@cutting.example");
    let sim = Sim::start(vec![ignored, offered]).await.unwrap();
    let (ignored, offered) = (&sim.packages()[0], &sim.packages()[1]);
    let Desktop {
        bus,
        xvfb: _xvfb,
        display,
        data,
        dest,
        driver: _driver,
        c,
        ..
    } = open_app(root.path(), &sim, serde_json::json!({})).await;

    // Off (as it is until the person turns it on): a copied link is not even read.
    copy_to_clipboard(
        &display,
        &format!("The first cut: {} (from the set)", ignored.link()),
    );
    // Turned on in Settings.
    let settings = c
        .find("//button[normalize-space()='Settings']")
        .await
        .unwrap();
    c.click(&settings).await.unwrap();
    let capture = c
        .wait_for(
            "//label[contains(normalize-space(), 'Offer MASV links I copy anywhere')]/input",
            Duration::from_secs(10),
        )
        .await
        .expect("Settings offers clipboard capture");
    c.click(&capture).await.unwrap();
    let save = c.find("//button[normalize-space()='Save']").await.unwrap();
    c.click(&save).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(data.join("settings.json"))
        .unwrap_or_default()
        .contains("\"clipboard_capture\": true")
    {
        assert!(Instant::now() < deadline, "the setting was not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // On: a mail copied whole, while the person works in another program, brings up the
    // question about its package, and a notification says it is waiting.
    focus_elsewhere(&display);
    copy_to_clipboard(
        &display,
        &format!("Hi,\nthe conform EDL is here: {}\nThanks!", offered.link()),
    );
    c.wait_for(
        "//div[@role='dialog']//*[normalize-space()='You copied a MASV link. It points to:']",
        Duration::from_secs(30),
    )
    .await
    .expect("a copied link is offered while clipboard capture is on");
    for shown in [offered.name.as_str(), "ae@cutting.example"] {
        c.find(&format!(
            "//div[@role='dialog']//*[normalize-space()='{shown}']"
        ))
        .await
        .unwrap_or_else(|e| panic!("the question does not show {shown}: {e}"));
    }
    screenshot(&display, "8-copied-link").await;
    let note = wait_for_notification(&bus.log, &offered.name).await;
    assert_eq!(note["summary"], "MASV link copied");
    assert!(
        note["body"]
            .as_str()
            .unwrap()
            .contains("from ae@cutting.example"),
        "{note}"
    );
    assert_eq!(note["actions"], serde_json::json!(["show", "Show"]));
    // Copies are taken in order, one at a time: had the first been read, MASV would have
    // been asked about it before this one.
    assert_eq!(
        sim.link_requests_for(&ignored.link_id),
        0,
        "a link copied with clipboard capture off was read"
    );
    assert_eq!(
        sim.package_bytes_served(&offered.package_id),
        0,
        "asked, not started"
    );
    let accept = c
        .find("//div[@role='dialog']//button[normalize-space()='Download']")
        .await
        .unwrap();
    c.click(&accept).await.unwrap();
    wait_state(&c, &offered.name, "complete", Duration::from_secs(60)).await;
    assert_eq!(
        sha256(&dest.join(&offered.name).join("cut.edl")),
        offered.files[0].content.sha256_hex()
    );

    // What was copied is in no log: neither link's secret, nor the mail around them.
    for entry in std::fs::read_dir(data.join("logs")).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for secret in [&ignored.secret, &offered.secret] {
            assert!(
                !log.contains(secret.as_str()),
                "a copied secret is in the log"
            );
        }
        assert!(!log.contains("The first cut"), "copied text is in the log");
    }
    c.quit().await.unwrap();
}
