//! The tray icon: the app keeps downloading with its window closed.

use std::collections::HashMap;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

use inbound_engine::{DownloadState, DownloadSummary, human_bytes};
use tauri::{AppHandle, Manager};

use crate::state::AppState;

/// The menu's first line, which says how the downloads go: Linux's tray (AppIndicator)
/// shows no tooltips, so the status is in the menu as well.
struct StatusLine(MenuItem<tauri::Wry>);

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(
        app,
        "status",
        "Inbound: nothing downloading",
        false,
        None::<&str>,
    )?;
    let show = MenuItem::with_id(app, "show", "Show Inbound", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause_all", "Pause all", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume_all", "Resume all", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = tauri::menu::PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &separator, &show, &pause, &resume, &quit])?;
    app.manage(StatusLine(status));
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Inbound")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => crate::incoming::show_main_window(app),
            "pause_all" => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let engine = app.state::<AppState>().engine().await.clone();
                    for d in engine.list() {
                        let _ = engine.pause(&d.id).await;
                    }
                });
            }
            "resume_all" => {
                let app = app.clone();
                // Off the menu's (the window's) thread: each resume writes the database.
                tauri::async_runtime::spawn(async move {
                    let engine = app.state::<AppState>().engine().await.clone();
                    for d in engine.list() {
                        let _ = engine.resume(&d.id);
                    }
                });
            }
            "quit" => crate::quit(app),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Shows `text` as the tray icon's tooltip (where there are tooltips) and its menu's
/// first line.
pub fn set_status(app: &AppHandle, text: &str) {
    if let Some(tray) = app.tray_by_id("main")
        && let Err(e) = tray.set_tooltip(Some(text))
    {
        tracing::debug!(error = %e, "could not set the tray's tooltip");
    }
    if let Some(line) = app.try_state::<StatusLine>()
        && let Err(e) = line.0.set_text(text)
    {
        tracing::debug!(error = %e, "could not update the tray menu's status");
    }
}

/// The tooltip: how many packages transfer, how far they are together, and how fast
/// (`rates`: the last rate of each, bytes per second).
pub fn status_text(list: &[DownloadSummary], rates: &HashMap<String, u64>) -> String {
    let running: Vec<&DownloadSummary> = list
        .iter()
        .filter(|d| d.state == DownloadState::Transferring)
        .collect();
    if running.is_empty() {
        let queued = list
            .iter()
            .filter(|d| d.state == DownloadState::Queued)
            .count();
        return match queued {
            0 => "Inbound: nothing downloading".into(),
            n => format!("Inbound: {n} waiting in the queue"),
        };
    }
    let (done, total) = running.iter().fold((0u64, 0u64), |(d, t), s| {
        (d + s.bytes_done, t + s.total_bytes)
    });
    let rate: u64 = running.iter().filter_map(|d| rates.get(&d.id)).sum();
    let percent = done
        .saturating_mul(100)
        .checked_div(total)
        .unwrap_or(0)
        .min(100);
    format!(
        "Inbound: {} downloading, {percent}% of {} at {}/s",
        running.len(),
        human_bytes(total),
        human_bytes(rate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, state: DownloadState, done: u64, total: u64) -> DownloadSummary {
        let json = serde_json::json!({
            "id": id, "name": id, "package_id": "p", "sender_email": "", "link": "",
            "origin": {"kind": "link"}, "dst_folder": "/tmp", "state": state,
            "error": null, "total_bytes": total, "bytes_done": done, "file_count": 1,
            "files_chosen": 1, "files_complete": 0, "virus_files": [], "created_at": 0,
            "priority": 0, "completed_at": null, "files_verified": 0,
            "hash_algorithm": null, "manifest": null, "waiting": null, "connections": 0,
            "after_error": null, "rate_limit": null
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_tooltip_sums_what_transfers() {
        let list = [
            summary("a", DownloadState::Transferring, 25, 100),
            summary("b", DownloadState::Transferring, 75, 100),
            summary("c", DownloadState::Complete, 10, 10),
        ];
        let rates = HashMap::from([("a".to_owned(), 1024 * 1024), ("c".to_owned(), 99)]);
        assert_eq!(
            status_text(&list, &rates),
            "Inbound: 2 downloading, 50% of 200 B at 1.0 MB/s"
        );
        assert_eq!(
            status_text(&list[2..], &rates),
            "Inbound: nothing downloading"
        );
        let queued = [summary("q", DownloadState::Queued, 0, 5)];
        assert_eq!(
            status_text(&queued, &rates),
            "Inbound: 1 waiting in the queue"
        );
    }
}
