//! Closing the window. With a tray to come back from, the app keeps downloading out of
//! sight. Without one a hidden window would leave no trace while holding the data
//! folder (`inbound get` would refuse), so the app quits when nothing transfers and
//! otherwise asks: keep downloading in the background (a notification says how to
//! get the window back, and the app quits by itself once the downloads are done), or
//! quit and resume later.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use inbound_engine::DownloadState;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use ts_rs::TS;

use crate::state::AppState;

/// Asks the window what to do: `running` downloads transfer and there is no tray.
pub const CLOSE_ASKED: &str = "close-asked";

/// What the window is asked when it is closed with downloads running and no tray.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CloseAsked {
    pub running: u32,
}

/// Kept running after the window closed with no tray: quits once nothing transfers.
#[derive(Default)]
pub struct Background(AtomicBool);

/// The window's close button was pressed (its closing is already prevented).
pub fn requested(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let tray = tauri::async_runtime::spawn_blocking(crate::tray_host::present)
            .await
            .unwrap_or(true);
        if tray {
            hide(&app);
            return;
        }
        let running = running(&app);
        tracing::info!(running, "window closed on a desktop without a tray");
        if running == 0 {
            crate::quit(&app);
        } else if let Err(e) = app.emit(CLOSE_ASKED, CloseAsked { running }) {
            tracing::warn!(error = %e, "could not ask the window; keeping it open");
        }
    });
}

/// Downloads transferring or waiting their turn.
fn running(app: &AppHandle) -> u32 {
    app.state::<AppState>().engine_now().map_or(0, |e| {
        e.list()
            .iter()
            .filter(|d| matches!(d.state, DownloadState::Transferring | DownloadState::Queued))
            .count() as u32
    })
}

fn hide(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.hide();
    }
}

/// "Keep them running in the background": the window goes, a notification says how to
/// get it back, and the app quits by itself once the downloads are done.
#[tauri::command]
pub fn keep_in_background(app: AppHandle) {
    app.state::<Background>().0.store(true, SeqCst);
    hide(&app);
    let n = running(&app);
    let body = format!(
        "{n} download{} go on in the background. Open Inbound again from your applications to see {}; it quits by itself when they are done.",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" }
    );
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = notify_rust::Notification::new()
            .appname("Inbound")
            .summary("Inbound keeps downloading")
            .body(&body)
            .show()
        {
            tracing::warn!(error = %e, "could not say that Inbound keeps downloading");
        }
    });
}

/// "Quit and resume later": the downloads stop where they are and go on at the next
/// start.
#[tauri::command]
pub fn quit_app(app: AppHandle) {
    crate::quit(&app);
}

/// After a download changed state: kept running only for the downloads, and none is
/// left, the app quits.
pub fn after_state_change(app: &AppHandle) {
    let window_shown = app
        .get_webview_window("main")
        .is_some_and(|w| w.is_visible().unwrap_or(false));
    if app.state::<Background>().0.load(SeqCst) && !window_shown && running(app) == 0 {
        tracing::info!("downloads done with the window closed and no tray: quitting");
        crate::quit(app);
    }
}
