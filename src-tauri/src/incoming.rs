//! Links from outside (deep links, a second launch, the command line): validated,
//! queued until the UI is ready, then added.

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use ts_rs::TS;

use crate::links::normalize_incoming;
use crate::state::AppState;

/// Sent to the UI about a link that came from outside. Never carries the link itself.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IncomingLink {
    Added {
        id: String,
    },
    NeedsPassword {
        #[ts(type = "number")]
        token: u64,
        wrong: bool,
    },
    Failed {
        message: String,
    },
}

/// Takes any raw argument or URL; ignores what is not a MASV link.
pub fn handle(app: &AppHandle, raw: String) {
    let Some(url) = normalize_incoming(&raw) else {
        return;
    };
    show_main_window(app);
    let state = app.state::<AppState>();
    if !state.ui_ready.load(std::sync::atomic::Ordering::SeqCst) {
        let mut early = crate::lock(&state.early_links);
        if !early.contains(&url) {
            early.push(url);
        }
        return;
    }
    // A second launch with a `masv://` link reaches us twice (the single-instance
    // callback and the deep-link event); the second copy must not race the first.
    if !crate::lock(&state.links_in_flight).insert(url.clone()) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let dst = crate::commands::destination(&state, None);
        let added = state.engine.add(&url, dst, None).await;
        crate::lock(&state.links_in_flight).remove(&url);
        let outcome = match added {
            Ok(id) => IncomingLink::Added { id },
            Err(inbound_engine::EngineError::Masv(inbound_engine::MasvError::PasswordRequired)) => {
                IncomingLink::NeedsPassword {
                    token: state.park_link(url),
                    wrong: false,
                }
            }
            Err(e) => IncomingLink::Failed {
                message: e.to_string(),
            },
        };
        if let Err(e) = app.emit("incoming-link", outcome) {
            tracing::warn!(error = %e, "could not tell the window about a link");
        }
    });
}

pub fn show_main_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}
