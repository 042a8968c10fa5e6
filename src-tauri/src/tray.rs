//! The tray icon: the app keeps downloading with its window closed.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::state::AppState;

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show Inbound", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause_all", "Pause all", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume_all", "Resume all", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &pause, &resume, &quit])?;
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
