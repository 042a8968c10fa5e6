//! Engine events to the window: state changes at once, progress merged and sent at
//! most ten times a second however many files move. Completion and failure also raise
//! a system notification.

use std::collections::HashMap;
use std::time::Duration;

use inbound_engine::{DownloadProgress, DownloadState, Engine, Event};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

pub const ENGINE_EVENT: &str = "engine";
/// Sent when events were dropped (the window fell behind): the UI reloads the list.
pub const RESYNC_EVENT: &str = "engine-resync";
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
const TRAY_EVERY: Duration = Duration::from_secs(1);

pub fn forward(app: AppHandle, engine: &Engine) {
    let mut rx = engine.subscribe();
    let engine = engine.clone();
    tauri::async_runtime::spawn(async move {
        let mut pending: HashMap<String, DownloadProgress> = HashMap::new();
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        // The tray's tooltip: the last rate of each download, shown once a second.
        let mut rates: HashMap<String, u64> = HashMap::new();
        let mut tray_tick = tokio::time::interval(TRAY_EVERY);
        let mut tray_text = String::new();
        // Only an event can change what the tray says: no event, no listing of every
        // download.
        let mut tray_stale = true;
        loop {
            tokio::select! {
                ev = rx.recv() => {
                    tray_stale = true;
                    match ev {
                        Ok(Event::Progress { downloads }) => {
                            for p in downloads {
                                rates.insert(p.id.clone(), p.rate);
                                merge(&mut pending, p);
                            }
                        }
                        Ok(ev) => {
                            if let Event::StateChanged { id, state, error } = &ev {
                                notify(&app, id, *state, error.as_deref());
                                if *state == DownloadState::Complete {
                                    open_when_done(&app, id);
                                }
                                crate::closing::after_state_change(&app);
                            }
                            if let Event::ExpiresSoon { id, expires_at } = &ev {
                                notify_expiring(&app, id, *expires_at);
                            }
                            // A download got through again: MASV is back, so the links
                            // kept while it was out of reach are tried now.
                            if matches!(ev, Event::Waiting { waiting: None, .. })
                                && let Some(state) = app.try_state::<AppState>()
                            {
                                state.retry_waiting_now.notify_one();
                            }
                            emit(&app, ENGINE_EVENT, &ev);
                        }
                        Err(RecvError::Lagged(_)) => emit(&app, RESYNC_EVENT, &()),
                        Err(RecvError::Closed) => break,
                    }
                }
                _ = tick.tick() => {
                    if !pending.is_empty() {
                        let downloads = pending.drain().map(|(_, p)| p).collect();
                        emit(&app, ENGINE_EVENT, &Event::Progress { downloads });
                    }
                }
                _ = tray_tick.tick(), if tray_stale => {
                    tray_stale = false;
                    let text = crate::tray::status_text(&engine.list(), &rates);
                    if text != tray_text {
                        crate::tray::set_status(&app, &text);
                        tray_text = text;
                    }
                }
            }
        }
    });
}

/// Keeps the newest totals and the newest value of every file that moved.
fn merge(pending: &mut HashMap<String, DownloadProgress>, p: DownloadProgress) {
    match pending.get_mut(&p.id) {
        None => {
            pending.insert(p.id.clone(), p);
        }
        Some(old) => {
            let mut files: HashMap<usize, _> = old.files.drain(..).map(|f| (f.index, f)).collect();
            for f in p.files {
                files.insert(f.index, f);
            }
            *old = DownloadProgress {
                files: files.into_values().collect(),
                ..p
            };
        }
    }
}

fn emit<T: serde::Serialize + Clone>(app: &AppHandle, name: &str, payload: &T) {
    if let Err(e) = app.emit(name, payload.clone()) {
        tracing::debug!(error = %e, "event not delivered");
    }
}

/// "Open the folder when a package completes", if the person asked for it.
fn open_when_done(app: &AppHandle, id: &str) {
    let st = app.state::<AppState>();
    if !st.settings().open_folder_when_done {
        return;
    }
    if let Some(Ok(d)) = st.engine_now().map(|e| e.get(id))
        && let Err(e) = crate::commands::open_path(app, &d.summary.dst_folder)
    {
        tracing::warn!(error = %e.message, "could not open a completed package's folder");
    }
}

/// The download a notification would be about, when notifications are on.
fn to_notify_of(app: &AppHandle, id: &str) -> Option<inbound_engine::DownloadSummary> {
    let st = app.state::<AppState>();
    if !st.settings().notifications {
        return None;
    }
    st.engine_now()?.get(id).ok().map(|d| d.summary)
}

fn notify(app: &AppHandle, id: &str, state: DownloadState, error: Option<&str>) {
    let Some(s) = to_notify_of(app, id) else {
        return;
    };
    let (summary, body) = match state {
        DownloadState::Complete => {
            let mut body = format!(
                "{}: {} files, {}",
                s.name,
                s.files_complete,
                inbound_engine::human_bytes(s.total_bytes)
            );
            if !s.virus_files.is_empty() {
                body.push_str(&format!(
                    ". {} infected file(s) withheld: {}",
                    s.virus_files.len(),
                    s.virus_files.join(", ")
                ));
            }
            ("Download complete", body)
        }
        DownloadState::Error => (
            "Download failed",
            format!("{}: {}", s.name, error.unwrap_or("unknown error")),
        ),
        _ => return,
    };
    // Names come from the package: shown as text, never as markup or control codes.
    let body = inbound_engine::notification_safe(&body);
    let action = match state {
        DownloadState::Complete => (OPEN_FOLDER, "Open folder"),
        _ => (RETRY, "Retry"),
    };
    let (id, folder) = (id.to_owned(), s.dst_folder);
    show_notification(app, summary, body, action, move |app, pressed| {
        act_on(app, &id, &folder, pressed)
    });
}

/// A download that is not complete a day before its package expires: a person can
/// still make room, reconnect or resume it. Paused or failed, the button resumes it;
/// under way, it shows the window.
fn notify_expiring(app: &AppHandle, id: &str, expires_at: i64) {
    let Some(s) = to_notify_of(app, id) else {
        return;
    };
    let left = inbound_engine::expires_in(expires_at - inbound_engine::unix_now());
    let at = inbound_engine::local_moment(expires_at);
    let stopped = matches!(s.state, DownloadState::Paused | DownloadState::Error);
    let body = format!(
        "\u{201c}{}\u{201d} {left} ({at}) and {} of {} files are in.{}",
        s.name,
        s.files_complete,
        s.files_chosen,
        if stopped {
            " Resume it before then."
        } else {
            " Keep Inbound running until it completes."
        }
    );
    let body = inbound_engine::notification_safe(&body);
    let action = if stopped {
        (RESUME, "Resume")
    } else {
        (SHOW, "Show")
    };
    let id = id.to_owned();
    show_notification(
        app,
        "Package expires soon",
        body,
        action,
        move |app, pressed| match pressed {
            RESUME => {
                let st = app.state::<AppState>();
                if let Some(Err(e)) = st.engine_now().map(|e| e.resume(&id)) {
                    tracing::warn!(error = %e, "could not resume from the notification");
                }
            }
            SHOW => crate::incoming::show_main_window(app),
            _ => {}
        },
    );
}

/// Shows a notification with one button, where the notification server shows buttons
/// (elsewhere nobody could press one, and nothing would end the wait for it), and hands
/// what was pressed to `on_action`.
fn show_notification(
    app: &AppHandle,
    summary: &'static str,
    body: String,
    action: (&'static str, &'static str),
    on_action: impl FnOnce(&AppHandle, &str) + Send + 'static,
) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut note = notify_rust::Notification::new();
        note.appname("Inbound")
            .summary(summary)
            .body(&body)
            .icon("inbound-desktop");
        show_with_action(&app, note, action, on_action);
    });
}

/// The freedesktop notification server says whether it shows buttons; a pressed one
/// comes back over D-Bus.
#[cfg(all(unix, not(target_os = "macos")))]
fn show_with_action(
    app: &AppHandle,
    mut note: notify_rust::Notification,
    action: (&'static str, &'static str),
    on_action: impl FnOnce(&AppHandle, &str),
) {
    let with_action =
        notify_rust::get_capabilities().is_ok_and(|caps| caps.iter().any(|c| c == "actions"));
    if with_action {
        note.action(action.0, action.1);
    }
    match note.show() {
        Ok(shown) if with_action => shown.wait_for_action(|pressed| on_action(app, pressed)),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not show a notification"),
    }
}

/// Windows' toasts and macOS's notifications are shown without the button: notify-rust
/// reports no press back there. The window's card carries the same action.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show_with_action(
    _app: &AppHandle,
    note: notify_rust::Notification,
    _action: (&'static str, &'static str),
    _on_action: impl FnOnce(&AppHandle, &str),
) {
    if let Err(e) = note.show() {
        tracing::warn!(error = %e, "could not show a notification");
    }
}

/// A MASV link was copied while the window was not in front: the question waits in the
/// window, and the notification says so (`None`: the package needs a password first).
pub fn notify_copied(app: &AppHandle, preview: Option<&inbound_engine::PackagePreview>) {
    if !app.state::<AppState>().settings().notifications {
        return;
    }
    let body = match preview {
        Some(p) if !p.sender_email.is_empty() => format!(
            "Download \u{201c}{}\u{201d} from {} ({})?",
            p.name,
            p.sender_email,
            inbound_engine::human_bytes(p.total_bytes)
        ),
        Some(p) => format!(
            "Download \u{201c}{}\u{201d} ({})?",
            p.name,
            inbound_engine::human_bytes(p.total_bytes)
        ),
        None => "The MASV link you copied needs its password.".to_owned(),
    };
    let body = inbound_engine::notification_safe(&body);
    show_notification(
        app,
        "MASV link copied",
        body,
        (SHOW, "Show"),
        |app, pressed| {
            if pressed == SHOW {
                crate::incoming::show_main_window(app);
            }
        },
    );
}

const OPEN_FOLDER: &str = "open-folder";
const RETRY: &str = "retry";
const SHOW: &str = "show";
const RESUME: &str = "resume";

/// A notification's button was pressed.
fn act_on(app: &AppHandle, id: &str, folder: &std::path::Path, pressed: &str) {
    match pressed {
        OPEN_FOLDER => {
            if let Err(e) = crate::commands::open_path(app, folder) {
                tracing::warn!(error = %e.message, "could not open the package's folder");
            }
        }
        RETRY => {
            let st = app.state::<AppState>();
            if let Some(Err(e)) = st.engine_now().map(|e| e.retry(id)) {
                tracing::warn!(error = %e, "could not retry from the notification");
            }
        }
        // Closed, or clicked elsewhere.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inbound_engine::FileProgress;

    fn progress(id: &str, done: u64, files: &[(usize, u64)]) -> DownloadProgress {
        DownloadProgress {
            id: id.into(),
            bytes_done: done,
            total_bytes: 100,
            rate: 1,
            eta_secs: None,
            files: files
                .iter()
                .map(|&(index, bytes_done)| FileProgress {
                    index,
                    bytes_done,
                    rate: 0,
                })
                .collect(),
            connections: 0,
            held_back: None,
            checking: None,
        }
    }

    #[test]
    fn merging_keeps_the_newest_totals_and_every_file_that_moved() {
        let mut pending = HashMap::new();
        merge(&mut pending, progress("a", 10, &[(0, 5), (1, 5)]));
        merge(&mut pending, progress("a", 20, &[(1, 15)]));
        merge(&mut pending, progress("b", 1, &[]));
        let a = &pending["a"];
        assert_eq!(a.bytes_done, 20);
        let mut files: Vec<_> = a.files.iter().map(|f| (f.index, f.bytes_done)).collect();
        files.sort();
        assert_eq!(files, vec![(0, 5), (1, 15)]);
        assert_eq!(pending.len(), 2);
    }
}
