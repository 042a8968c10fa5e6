//! Clipboard capture: while the app runs and the person has turned it on, a MASV link
//! copied anywhere is offered for download (the window asks; nothing starts by itself).
//!
//! The X server says when the clipboard changes hands (XFixes), so what is copied is
//! read once per copy and never polled. Only a MASV link is taken out of it; the rest is
//! dropped at once, and of the links only a fingerprint of the last one offered is kept
//! (so copying the same link twice asks once).

#[cfg(target_os = "linux")]
use std::hash::{DefaultHasher, Hash, Hasher};

use tauri::{AppHandle, Manager};
use tokio::sync::mpsc;

use crate::state::AppState;

/// Decides which copies are offered. (Copies are watched on Linux's X only so far:
/// Windows and macOS say so in Settings.)
#[cfg(target_os = "linux")]
#[derive(Default)]
pub struct CopiedLinks {
    last: Option<u64>,
}

#[cfg(target_os = "linux")]
impl CopiedLinks {
    /// The link to offer for this copy: the MASV link in it, unless it is the one
    /// offered last.
    pub fn offer(&mut self, copied: &str) -> Option<String> {
        let link = crate::links::find_in_text(copied)?;
        let print = fingerprint(&link);
        if self.last == Some(print) {
            return None;
        }
        self.last = Some(print);
        Some(link)
    }
}

#[cfg(target_os = "linux")]
fn fingerprint(link: &str) -> u64 {
    let mut h = DefaultHasher::new();
    link.hash(&mut h);
    h.finish()
}

/// Starts watching the clipboard for as long as the app runs. Copies are seen whatever
/// the setting; they are read only while it is on. Where the clipboard cannot be
/// watched, the reason is kept for Settings to show.
pub fn watch(app: &AppHandle) {
    let (offers, mut offered) = mpsc::unbounded_channel::<String>();
    let handle = app.clone();
    // One at a time, in the order copied: a later copy's question comes after an
    // earlier one's.
    tauri::async_runtime::spawn(async move {
        while let Some(link) = offered.recv().await {
            crate::incoming::offer_copied(&handle, link).await;
        }
    });
    let app = app.clone();
    let started = std::thread::Builder::new()
        .name("clipboard".into())
        .spawn(move || {
            let why = watch_copies(&app, &offers);
            tracing::warn!(%why, "clipboard capture is not available");
            *crate::lock(&app.state::<AppState>().clipboard_unavailable) = Some(why);
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "could not start watching the clipboard");
    }
}

/// Runs until the clipboard can no longer be watched, and says why.
#[cfg(target_os = "linux")]
fn watch_copies(app: &AppHandle, offers: &mpsc::UnboundedSender<String>) -> String {
    let changes = match x11::Changes::subscribe() {
        Ok(c) => c,
        Err(why) => return why,
    };
    let mut reader: Option<arboard::Clipboard> = None;
    let mut copied = CopiedLinks::default();
    loop {
        if let Err(why) = changes.next() {
            return why;
        }
        if !app.state::<AppState>().settings().clipboard_capture {
            continue;
        }
        let clipboard = match reader {
            Some(ref mut c) => c,
            None => match arboard::Clipboard::new() {
                Ok(c) => reader.insert(c),
                Err(e) => return format!("the clipboard cannot be read ({e})"),
            },
        };
        // Not text (an image, files): nothing to look at.
        let Ok(text) = clipboard.get_text() else {
            continue;
        };
        if let Some(link) = copied.offer(&text)
            && offers.send(link).is_err()
        {
            return "the app is closing".into();
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn watch_copies(_app: &AppHandle, _offers: &mpsc::UnboundedSender<String>) -> String {
    "clipboard capture is available on Linux only for now".into()
}

#[cfg(target_os = "linux")]
mod x11 {
    use x11rb::connection::Connection;
    use x11rb::protocol::Event;
    use x11rb::protocol::xfixes::{ConnectionExt as _, SelectionEvent, SelectionEventMask};
    use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};
    use x11rb::rust_connection::RustConnection;

    /// A connection to the X server that is told each time something is copied.
    pub struct Changes {
        conn: RustConnection,
    }

    impl Changes {
        pub fn subscribe() -> Result<Self, String> {
            let (conn, screen) = x11rb::connect(None).map_err(|e| {
                format!("there is no X11 display to watch ({e}); on Wayland, XWayland is needed")
            })?;
            let failed =
                |e: &dyn std::fmt::Display| format!("the X server refused to report copies ({e})");
            let root = conn
                .setup()
                .roots
                .get(screen)
                .ok_or_else(|| failed(&"no screen"))?
                .root;
            let window = conn.generate_id().map_err(|e| failed(&e))?;
            conn.create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                window,
                root,
                0,
                0,
                1,
                1,
                0,
                WindowClass::INPUT_ONLY,
                x11rb::COPY_FROM_PARENT,
                &CreateWindowAux::new(),
            )
            .map_err(|e| failed(&e))?;
            conn.xfixes_query_version(5, 0)
                .map_err(|e| failed(&e))?
                .reply()
                .map_err(|e| failed(&e))?;
            let clipboard = conn
                .intern_atom(false, b"CLIPBOARD")
                .map_err(|e| failed(&e))?
                .reply()
                .map_err(|e| failed(&e))?
                .atom;
            conn.xfixes_select_selection_input(
                window,
                clipboard,
                SelectionEventMask::SET_SELECTION_OWNER,
            )
            .map_err(|e| failed(&e))?;
            conn.flush().map_err(|e| failed(&e))?;
            Ok(Self { conn })
        }

        /// Waits for the next copy.
        pub fn next(&self) -> Result<(), String> {
            loop {
                match self.conn.wait_for_event() {
                    Ok(Event::XfixesSelectionNotify(e))
                        if e.subtype == SelectionEvent::SET_SELECTION_OWNER =>
                    {
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("the X server went away ({e})")),
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_copied_link_is_offered_once_and_nothing_else_is() {
        let mut copied = CopiedLinks::default();
        assert_eq!(copied.offer("lunch at noon?"), None);
        let link = "https://get.massive.app/ABC?secret=S";
        assert_eq!(
            copied.offer(&format!("rushes: {link}")).as_deref(),
            Some(link)
        );
        // Copied again (or the same mail copied whole): asked once.
        assert_eq!(copied.offer(link), None);
        // Something else in between does not make the same link new again...
        assert_eq!(copied.offer("lunch at noon?"), None);
        assert_eq!(copied.offer(link), None);
        // ...but another link is, and then the first one is new again.
        let other = "https://get.massive.app/XYZ?secret=T";
        assert_eq!(copied.offer(other).as_deref(), Some(other));
        assert_eq!(copied.offer(link).as_deref(), Some(link));
    }
}
