//! Inbound's desktop shell: a thin Tauri layer over the download engine.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod agent_api;
mod clipboard;
mod closing;
mod commands;
mod error;
mod events;
mod inbox;
mod incoming;
mod links;
mod schedule;
mod settings;
mod state;
mod tray;
mod tray_host;
mod waiting;
mod waiting_task;

use std::sync::{Mutex, MutexGuard};

use inbound_engine::{Engine, EngineConfig};
use tauri::{AppHandle, Manager, RunEvent, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::settings::Settings;
use crate::state::{AppState, Opened};

/// Per-connection cap of the demo's storage, so the demo shows progress.
const DEMO_CONN_RATE: u64 = 3 * 1024 * 1024 / 2;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn main() {
    let data_dir = inbound_engine::default_data_dir();
    let _log = inbound_engine::init_logging(
        data_dir.as_deref(),
        "desktop",
        "warn,inbound_engine=info,inbound_desktop=info",
    );
    let Some(data_dir) = data_dir else {
        tracing::error!("no data folder for Inbound; set INBOUND_DATA_DIR");
        std::process::exit(1);
    };
    let builder = tauri::Builder::default()
        // First, so a second launch hands its link over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            incoming::show_main_window(app);
            for arg in argv.into_iter().skip(1) {
                incoming::handle(app, arg);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| {
            let handle = app.handle().clone();
            let settings_path = data_dir.join("settings.json");
            let settings = Settings::load(&settings_path).sanitized();
            app.manage(AppState::new(settings, settings_path, data_dir.clone()));
            app.manage(closing::Background::default());
            // Off the window's thread, so the window paints first: reading a long
            // history takes a moment, and commands wait for it.
            tauri::async_runtime::spawn(open_engine(handle.clone()));
            tray::install(&handle)?;
            clipboard::watch(&handle);
            // `xdg-mime` is a shell script per call (a few hundred ms in all): off the
            // window's thread too.
            let h = handle.clone();
            std::thread::spawn(move || register_schemes(&h));
            let h = handle.clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    incoming::handle(&h, url.to_string());
                }
            });
            for arg in std::env::args().skip(1) {
                incoming::handle(&handle, arg);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::add_link,
            commands::list_package,
            commands::add_parked_link,
            commands::confirm_parked_link,
            commands::drop_parked_link,
            commands::start_demo,
            commands::list_downloads,
            commands::download_details,
            commands::search_files,
            commands::reorder_downloads,
            commands::set_download_limit,
            commands::choose_files,
            commands::pause,
            commands::resume,
            commands::retry,
            commands::delete_download,
            commands::open_folder,
            commands::open_file,
            commands::show_file,
            commands::verify_again,
            commands::repair_download,
            closing::keep_in_background,
            closing::quit_app,
            commands::get_settings,
            commands::clipboard_capture_status,
            commands::set_settings,
            commands::ui_ready,
            schedule::bandwidth_schedule,
            schedule::set_bandwidth_schedule,
            agent_api::agent_token,
            waiting_task::waiting_links,
            waiting_task::drop_waiting_link,
            waiting_task::retry_waiting_links,
            inbox::inbox_status,
            inbox::inbox_login,
            inbox::inbox_logout,
            inbox::inbox_packages,
            inbox::inbox_portals,
            inbox::inbox_download,
            inbox::inbox_extend,
            inbox::inbox_watch,
            inbox::inbox_failures,
        ])
        .on_window_event(|window, event| {
            // Closing the window keeps downloads running in the tray, where there is
            // one (see `closing`).
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                closing::requested(window.app_handle());
            }
        });
    let app = match builder.build(tauri::generate_context!("../tauri.conf.json")) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "Inbound could not start");
            eprintln!("Inbound could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
        {
            // The last window closing is not a reason to stop downloading.
            api.prevent_exit();
            let _ = app;
        }
    });
}

/// Opens the engine (and the demo) and starts what runs on them; if the data folder
/// cannot be opened, says why in a dialog and leaves.
async fn open_engine(app: AppHandle) {
    let state = app.state::<AppState>();
    let opened = match open(&state.data_dir, &state.settings()).await {
        Ok(opened) => opened,
        Err(e) => {
            // Held by the agent or the CLI (the single-instance plugin catches a second
            // desktop app), unreadable, or not writable.
            tracing::error!(error = %format!("{e:#}"), "data folder could not be opened");
            state
                .refused
                .store(true, std::sync::atomic::Ordering::SeqCst);
            refuse_to_start(&app, format!("{e:#}"));
            return;
        }
    };
    commands::apply_engine_settings(&opened.engine, &state.settings());
    events::forward(app.clone(), &opened.engine);
    if state.opened.set(opened).is_err() {
        return;
    }
    if state.settings().agent_api
        && let Err(e) = agent_api::apply(&state, true).await
    {
        tracing::warn!(error = %e, "agent API not started");
    }
    tauri::async_runtime::spawn(inbox::resume_saved(app.clone()));
    tauri::async_runtime::spawn(waiting_task::keep_trying(app.clone()));
}

async fn open(data_dir: &std::path::Path, settings: &Settings) -> anyhow::Result<Opened> {
    let demo = inbound_sim::Sim::start(vec![inbound_sim::catalog::demo()]).await?;
    demo.faults().set_conn_rate(DEMO_CONN_RATE);
    let mut config = EngineConfig::new(data_dir);
    config.link_routes = vec![(demo.packages()[0].link_id.clone(), demo.api_url())];
    config.max_active_downloads = settings.max_active_downloads as usize;
    config.connections_per_download = settings.connections_per_download as usize;
    config.adaptive_connections = settings.adaptive_connections;
    config.bandwidth_limit = settings.bandwidth_limit;
    config.keep_awake = settings.keep_awake;
    let engine = Engine::open(config).await?;
    Ok(Opened { engine, demo })
}

/// Another Inbound holds the data folder: say so in a dialog (a person who started the
/// app from a menu sees no terminal) and leave once it is dismissed.
fn refuse_to_start(app: &AppHandle, message: String) {
    use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.hide();
    }
    let app_handle = app.clone();
    app.dialog()
        .message(message)
        .title("Inbound cannot start")
        .kind(MessageDialogKind::Error)
        .buttons(MessageDialogButtons::Ok)
        .show(move |_| app_handle.exit(1));
}

/// Registers `masv://` and `inbound://` with the desktop, without taking `masv` from an
/// application that already handles it (the MASV desktop app, for one). On macOS the
/// app bundle's Info.plist declares them (Launch Services reads it when the app is
/// installed); nothing is registered at run time there.
fn register_schemes(app: &AppHandle) {
    #[cfg(any(windows, target_os = "linux"))]
    {
        for scheme in ["masv", "inbound"] {
            let owner = inbound_engine::scheme_handler(scheme);
            if scheme == "masv"
                && matches!(owner, inbound_engine::SchemeHandler::Registered(_))
                && !owner.is_inbound()
            {
                tracing::info!(%owner, "masv:// already has a handler; leaving it");
                continue;
            }
            if let Err(e) = app.deep_link().register(scheme) {
                tracing::warn!(scheme, error = %e, "could not register the link scheme");
            }
        }
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    let _ = app;
}

/// Saves progress and leaves.
pub(crate) fn quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let _ = agent_api::apply(&state, false).await;
        if let Some(engine) = state.engine_now() {
            engine.shutdown().await;
        }
        app.exit(0);
    });
}

#[cfg(test)]
mod access {
    include!("../app_commands.rs");

    /// Every command the UI calls is listed for the build script and allowed in the
    /// window's capability, so no button fails with "not allowed" at run time.
    #[test]
    fn the_window_may_call_exactly_the_commands_the_ui_uses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let api = std::fs::read_to_string(root.join("../ui/src/lib/api.ts")).unwrap();
        let capability: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("capabilities/default.json")).unwrap(),
        )
        .unwrap();
        let granted: Vec<&str> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        assert!(!granted.contains(&"core:default"), "no blanket core grant");
        let mut used = Vec::new();
        // Calls look like `invoke<T>('name', …)` or `invoke('name')`.
        for piece in api.split("invoke").skip(1) {
            if !(piece.starts_with('<') || piece.starts_with('(')) {
                continue;
            }
            if let Some(name) = piece
                .split_once("('")
                .and_then(|(_, rest)| rest.split_once('\''))
                .map(|(name, _)| name)
            {
                used.push(name.to_owned());
            }
        }
        assert!(used.len() > 10, "read the UI's commands: {used:?}");
        for name in &used {
            assert!(APP_COMMANDS.contains(&name.as_str()), "{name} not listed");
        }
        for name in APP_COMMANDS {
            assert!(
                used.iter().any(|u| u == name),
                "{name} is listed but unused"
            );
            let permission = format!("allow-{}", name.replace('_', "-"));
            assert!(granted.contains(&permission.as_str()), "{permission}");
        }
    }
}
