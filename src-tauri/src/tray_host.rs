//! Whether this desktop shows tray icons, so that a window closed to the tray can be
//! brought back. Windows' notification area and macOS's menu bar always do. On Linux
//! it depends on the session: a panel that hosts StatusNotifier items (KDE, XFCE,
//! GNOME with the AppIndicator extension) or an XEmbed system tray (older X11
//! panels, which the tray library falls back to); plain GNOME and many Wayland
//! sessions have neither, and an icon there is never seen.

/// Whether a tray icon would be seen now (asked each time: a panel may have started
/// or stopped since the app did). Blocking: a D-Bus round trip and an X11 one.
#[cfg(target_os = "linux")]
pub fn present() -> bool {
    status_notifier_host() || xembed_tray()
}

#[cfg(not(target_os = "linux"))]
pub fn present() -> bool {
    true
}

/// A StatusNotifierWatcher on the session bus with a host (a panel) registered.
#[cfg(target_os = "linux")]
fn status_notifier_host() -> bool {
    let asked = || -> zbus::Result<bool> {
        let bus = zbus::blocking::Connection::session()?;
        let watcher = zbus::blocking::Proxy::new(
            &bus,
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
        )?;
        watcher.get_property::<bool>("IsStatusNotifierHostRegistered")
    };
    asked().unwrap_or_else(|e| {
        tracing::debug!(error = %e, "no StatusNotifier host");
        false
    })
}

/// An X11 system tray: the owner of the screen's `_NET_SYSTEM_TRAY_Sn` selection.
#[cfg(target_os = "linux")]
fn xembed_tray() -> bool {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::ConnectionExt as _;
    let asked = || -> Result<bool, Box<dyn std::error::Error>> {
        let (conn, screen) = x11rb::connect(None)?;
        let name = format!("_NET_SYSTEM_TRAY_S{screen}");
        let atom = conn.intern_atom(false, name.as_bytes())?.reply()?.atom;
        let owner = conn.get_selection_owner(atom)?.reply()?.owner;
        conn.flush()?;
        Ok(owner != x11rb::NONE)
    };
    asked().unwrap_or_else(|e| {
        tracing::debug!(error = %e, "no X11 system tray");
        false
    })
}
