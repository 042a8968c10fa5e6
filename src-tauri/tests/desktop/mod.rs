//! What the desktop end-to-end tests share: the display, the private bus with the
//! test's desktop services, the app started through tauri-driver, screenshots, and
//! what the tests wait for. Each test binary uses a part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inbound_sim::Sim;
use sha2::{Digest, Sha256};

use crate::webdriver::Driver;

pub const MIB: u64 = 1024 * 1024;

/// Kills the process when the test ends, however it ends.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tool(name: &str) -> PathBuf {
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .chain(home_bin)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is needed for the desktop end-to-end test; .ci/run installs it")
        })
}

pub const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A private session bus with the test's notification daemon on it.
pub struct Bus {
    pub address: String,
    pub log: PathBuf,
    pub _daemon: Guard,
    pub _notifications: Guard,
}

pub fn start_bus(dir: &Path) -> Bus {
    start_bus_with(dir, true)
}

/// A private session bus with the test's notification daemon and logind on it, and,
/// with `tray`, a StatusNotifierWatcher with a host (a panel that shows tray icons).
pub fn start_bus_with(dir: &Path, tray: bool) -> Bus {
    // A bus of its own with no service activation: nothing but the app, the test's
    // notification daemon and WebKit talk on it.
    let config = dir.join("bus.conf");
    std::fs::write(&config, BUS_CONFIG).unwrap();
    let mut daemon = Command::new(tool("dbus-daemon"))
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("dbus-daemon starts");
    let mut address = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let daemon = Guard(daemon);
    let address = address.trim().to_owned();
    assert!(!address.is_empty(), "dbus-daemon printed no address");
    let log = dir.join("notifications.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bus_services.py");
    let mut server = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&log)
        .args((!tray).then_some("--no-tray"))
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the notification server starts (python3-dbus)");
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready", "notification server did not start");
    Bus {
        address,
        log,
        _daemon: daemon,
        _notifications: Guard(server),
    }
}

/// Starts Xvfb on a display it chooses itself (`-displayfd`): two tests picking a number
/// each could pick the same one, and the loser's app would then live on the winner's
/// display and die with it.
pub fn start_xvfb() -> (String, Guard) {
    let mut child = Command::new(tool("Xvfb"))
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x860x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let stdout = child.stdout.take().expect("Xvfb's stdout is piped");
    let guard = Guard(child);
    // Xvfb writes the display number once it accepts connections.
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("Xvfb says which display it took");
    let n: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb did not start (it said {line:?})"));
    (format!(":{n}"), guard)
}

/// Everything the app (started by WebKitWebDriver, a child of tauri-driver) and a second
/// launch need to see: the display, the bus, the simulator, private folders.
pub fn app_env(display: &str, bus: &Bus, sim: &Sim, root: &Path) -> Vec<(String, String)> {
    let home = root.join("home");
    let runtime = root.join("run");
    for d in [&home, &runtime] {
        std::fs::create_dir_all(d).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let p = |p: PathBuf| p.to_string_lossy().into_owned();
    vec![
        ("DISPLAY".into(), display.into()),
        ("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()),
        // The test's logind lives on the same private bus.
        ("DBUS_SYSTEM_BUS_ADDRESS".into(), bus.address.clone()),
        ("MASV_API_URL".into(), sim.api_url()),
        ("INBOUND_DATA_DIR".into(), p(root.join("data"))),
        ("HOME".into(), p(home.clone())),
        ("XDG_DATA_HOME".into(), p(home.join(".local/share"))),
        ("XDG_CONFIG_HOME".into(), p(home.join(".config"))),
        ("XDG_CACHE_HOME".into(), p(home.join(".cache"))),
        ("XDG_RUNTIME_DIR".into(), p(runtime)),
        ("WEBKIT_DISABLE_DMABUF_RENDERER".into(), "1".into()),
        ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into()),
        ("NO_AT_BRIDGE".into(), "1".into()),
        (
            "RUST_LOG".into(),
            "warn,inbound_desktop=info,inbound_engine=info".into(),
        ),
    ]
}

pub fn start_driver(env: &[(String, String)]) -> (u16, Guard) {
    let port = free_port();
    let native_port = free_port();
    let child = Command::new(tool("tauri-driver"))
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
            "--native-driver",
        ])
        .arg(tool("WebKitWebDriver"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .expect("tauri-driver starts");
    let guard = Guard(child);
    // tauri-driver listens before the WebKitWebDriver it starts does, and a session
    // asked for in between fails: wait for both.
    let deadline = Instant::now() + Duration::from_secs(20);
    for p in [port, native_port] {
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {p}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    (port, guard)
}

pub async fn connect(port: u16) -> Driver {
    let caps = serde_json::json!({
        "browserName": "wry",
        "tauri:options": { "application": env!("CARGO_BIN_EXE_inbound-desktop") },
    });
    Driver::start(port, caps)
        .await
        .expect("a WebDriver session")
}

pub fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The X display as a person would see it (WebKitWebDriver's own screenshot stalls
/// under Xvfb without compositing).
pub async fn screenshot(display: &str, name: &str) {
    let path = shots_dir().join(format!("{name}.png"));
    let status = Command::new(tool("import"))
        .args(["-display", display, "-window", "root"])
        .arg(&path)
        .status()
        .expect("ImageMagick's import runs");
    assert!(status.success(), "screenshot {name} failed");
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
}

/// Types `link` into the link field and presses Download, as a person pasting it does.
pub async fn paste_link(c: &Driver, link: &str) {
    let input = c.find("//input[@aria-label='MASV link']").await.unwrap();
    c.type_text(&input, link).await.unwrap();
    let download = c
        .find("//button[normalize-space()='Download']")
        .await
        .unwrap();
    c.click(&download).await.unwrap();
}

pub fn card(name: &str) -> String {
    format!("//article[@aria-label='{name}']")
}

pub async fn wait_state(c: &Driver, name: &str, state: &str, within: Duration) {
    c.wait_for(
        &format!("//article[@aria-label='{name}' and @data-state='{state}']"),
        within,
    )
    .await
    .unwrap_or_else(|e| panic!("{name} never reached {state}: {e}"));
}

pub async fn click_action(c: &Driver, name: &str, label: &str) {
    let button = c
        .find(&format!(
            "{}//button[normalize-space()='{label}']",
            card(name)
        ))
        .await
        .unwrap_or_else(|e| panic!("no {label} button on {name}: {e}"));
    c.click(&button).await.unwrap();
}

pub async fn wait_for_notification(log: &Path, package: &str) -> serde_json::Value {
    wait_for_notification_of(log, "", package).await
}

/// As [`wait_for_notification`], only a notification whose summary starts with
/// `summary`.
pub async fn wait_for_notification_of(
    log: &Path,
    summary: &str,
    package: &str,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(found) = lines
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|n| {
                n["body"].as_str().is_some_and(|b| b.contains(package))
                    && n["summary"]
                        .as_str()
                        .is_some_and(|s| s.starts_with(summary))
            })
        {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "no notification about {package}; seen: {lines}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the test's logind says a sleep lock is held (`held`) or none is, and
/// returns how many were taken so far. Each must be a blocking sleep lock for Inbound.
pub async fn wait_for_sleep_lock(log: &Path, held: bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = std::fs::read_to_string(log).unwrap_or_default();
        let events: Vec<serde_json::Value> = lines
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let taken: Vec<_> = events.iter().filter_map(|e| e.get("inhibit")).collect();
        for lock in &taken {
            assert_eq!(lock["what"], "sleep", "{lock}");
            assert_eq!(lock["mode"], "block", "{lock}");
            assert_eq!(lock["who"], "Inbound", "{lock}");
        }
        let released = events
            .iter()
            .filter(|e| e.get("released").is_some())
            .count();
        if (taken.len() > released) == held {
            return taken.len();
        }
        assert!(
            Instant::now() < deadline,
            "sleep lock {} in time; logind saw: {lines}",
            if held { "not taken" } else { "not released" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first line of the app's tray menu (its status), as the desktop's panel reads it
/// over D-Bus, once it satisfies `wanted`.
pub async fn wait_for_tray(bus: &Bus, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tray_menu.py");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        let log = std::fs::read_to_string(&bus.log).unwrap_or_default();
        let item = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|e| e.get("tray_item").cloned());
        if let Some(item) = item {
            let out = Command::new("/usr/bin/python3")
                .arg(&script)
                .args([
                    &bus.address,
                    item["name"].as_str().unwrap(),
                    item["path"].as_str().unwrap(),
                ])
                .output()
                .unwrap();
            seen = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Ok(labels) = serde_json::from_str::<Vec<String>>(&seen)
                && let Some(first) = labels.first()
                && wanted(first)
            {
                return first.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the tray never said {what}; its menu: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:x}", Sha256::digest(bytes))
}

/// The app on a display and a bus of its own, pointed at the simulator, with these
/// settings (and a private destination), showing its first window. The session goes
/// first, then the driver (and the app), the display, the bus.
pub struct Desktop {
    pub c: Driver,
    pub driver: Guard,
    pub xvfb: Guard,
    pub bus: Bus,
    pub display: String,
    pub env: Vec<(String, String)>,
    pub data: PathBuf,
    pub dest: PathBuf,
}

pub async fn open_app(root: &Path, sim: &Sim, settings: serde_json::Value) -> Desktop {
    open_app_with(root, sim, settings, true).await
}

/// `open_app` on a desktop with a tray (`tray`) or without one.
pub async fn open_app_with(
    root: &Path,
    sim: &Sim,
    mut settings: serde_json::Value,
    tray: bool,
) -> Desktop {
    let bus = start_bus_with(root, tray);
    let (display, xvfb) = start_xvfb();
    let env = app_env(&display, &bus, sim, root);
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dest = root.join("home/Downloads/MASV");
    settings["destination"] = serde_json::json!(dest);
    std::fs::write(data.join("settings.json"), settings.to_string()).unwrap();
    let (port, driver) = start_driver(&env);
    let c = connect(port).await;
    c.wait_for(
        "//h2[normalize-space()='No downloads yet']",
        Duration::from_secs(30),
    )
    .await
    .expect("the empty state shows");
    Desktop {
        c,
        driver,
        xvfb,
        bus,
        display,
        env,
        data,
        dest,
    }
}

/// The names of the top-level windows on the display (`xwininfo`, no window manager
/// needed).
pub fn window_names(display: &str) -> String {
    let out = Command::new(tool("xwininfo"))
        .args(["-display", display, "-root", "-children"])
        .output()
        .expect("xwininfo runs (x11-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A connection to the test's X server. Xvfb on a loaded machine has been seen to reset
/// a connection as it is made; a moment later it takes it.
pub fn x11_connect(display: &str) -> (x11rb::rust_connection::RustConnection, usize) {
    let mut tries = 0;
    loop {
        match x11rb::connect(Some(display)) {
            Ok(c) => return c,
            Err(e) if tries < 20 => {
                tries += 1;
                eprintln!("X connection to {display} failed ({e}); trying again");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot connect to the test's X server {display}: {e}"),
        }
    }
}

/// The app's main window on `display` (a top-level window named "Inbound", shown or
/// not) and the process it belongs to (`_NET_WM_PID`).
pub fn app_window(display: &str) -> Option<(u32, u32)> {
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt};
    let (conn, screen) = x11_connect(display);
    let root = x11rb::connection::Connection::setup(&conn).roots[screen].root;
    let pid_atom = conn
        .intern_atom(false, b"_NET_WM_PID")
        .unwrap()
        .reply()
        .unwrap()
        .atom;
    for w in conn.query_tree(root).unwrap().reply().unwrap().children {
        let name = conn
            .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
            .unwrap()
            .reply()
            .unwrap();
        if name.value != b"Inbound" {
            continue;
        }
        let pid = conn
            .get_property(false, w, pid_atom, AtomEnum::CARDINAL, 0, 1)
            .unwrap()
            .reply()
            .unwrap()
            .value32()
            .and_then(|mut v| v.next());
        if let Some(pid) = pid {
            return Some((w, pid));
        }
    }
    None
}

/// Presses the window's close button, as far as the app can tell: the
/// `WM_DELETE_WINDOW` message a window manager sends for it.
pub fn close_window(display: &str, window: u32) {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
    let (conn, _) = x11_connect(display);
    let atom = |name: &[u8]| conn.intern_atom(false, name).unwrap().reply().unwrap().atom;
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    let message = ClientMessageEvent::new(
        32,
        window,
        protocols,
        [delete, x11rb::CURRENT_TIME, 0, 0, 0],
    );
    conn.send_event(false, window, EventMask::NO_EVENT, message)
        .unwrap()
        .check()
        .unwrap();
}

/// Whether `window` is on screen.
pub fn window_shown(display: &str, window: u32) -> bool {
    use x11rb::protocol::xproto::{ConnectionExt, MapState};
    let (conn, _) = x11_connect(display);
    conn.get_window_attributes(window)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|a| a.map_state == MapState::VIEWABLE)
}

/// Whether process `pid` has ended (gone, or every thread of it a zombie its parent has
/// not reaped).
pub fn process_ended(pid: u32) -> bool {
    // Every thread, not the first alone: the first shows as a zombie as soon as it is
    // done, while the others may still be closing the process's files (and releasing
    // its locks).
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    threads.flatten().all(|thread| {
        std::fs::read_to_string(thread.path().join("stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    })
}

/// Waits until `done` holds, saying `what` did not happen otherwise.
pub async fn until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
