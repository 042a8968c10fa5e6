//! Links from outside (deep links, a second launch, the command line, a copy with
//! clipboard capture on): validated, queued until the UI is ready, then added or asked
//! about.

use inbound_engine::{EngineError, MasvError, PackagePreview};
use serde::{Deserialize, Serialize};
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
    /// A web page or another program handed over this package: nothing starts until the
    /// person says so.
    Confirm {
        #[ts(type = "number")]
        token: u64,
        preview: PackagePreview,
        origin: LinkOrigin,
    },
    NeedsPassword {
        #[ts(type = "number")]
        token: u64,
        wrong: bool,
        origin: LinkOrigin,
    },
    Failed {
        message: String,
    },
}

/// Where a link the window asks about came from: the question is worded for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum LinkOrigin {
    /// Opened by a web page or another program (or a second launch).
    #[default]
    Outside,
    /// Copied by the person while clipboard capture was on.
    Clipboard,
}

/// Takes any raw argument or URL; ignores what is not a MASV link. A link from outside
/// never starts by itself unless its sender is trusted: the window shows the package
/// and asks.
pub fn handle(app: &AppHandle, raw: String) {
    let Some(url) = normalize_incoming(&raw) else {
        return;
    };
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    // The app could not open its data folder and only says so.
    if state.refused.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    show_main_window(app);
    if !state.ui_ready.load(std::sync::atomic::Ordering::SeqCst) {
        let mut early = crate::lock(&state.early_links);
        if !early.contains(&url) {
            early.push(url);
        }
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(outcome) = read_once(&app, url, LinkOrigin::Outside).await {
            tell(&app, outcome);
        }
    });
}

/// Reads what the link points to and settles it, one reading per link at a time: a
/// second launch with a `masv://` link reaches us twice (the single-instance callback
/// and the deep-link event), and a copied link may be the one just opened; the second
/// must not race the first. `None` when it is already being read, or is kept waiting
/// for MASV.
async fn read_once(app: &AppHandle, url: String, origin: LinkOrigin) -> Option<IncomingLink> {
    let state = app.state::<AppState>();
    if !crate::lock(&state.links_in_flight).insert(url.clone()) {
        return None;
    }
    let read = state.engine().await.preview(&url, None).await;
    let outcome = settle(app, url.clone(), read, origin).await;
    crate::lock(&state.links_in_flight).remove(&url);
    outcome
}

/// What becomes of a link from outside once MASV was asked about it: started (trusted
/// sender), shown for the person to confirm, parked for a password, kept until MASV can
/// be reached (`None`: the waiting list tells the window), or failed.
pub async fn settle(
    app: &AppHandle,
    url: String,
    read: Result<PackagePreview, EngineError>,
    origin: LinkOrigin,
) -> Option<IncomingLink> {
    let state = app.state::<AppState>();
    Some(match read {
        // A copy is not a request to download: only a link opened from outside starts
        // by itself, and only from a trusted sender.
        Ok(preview)
            if origin == LinkOrigin::Outside && state.settings().trusts(&preview.sender_email) =>
        {
            let dst = crate::commands::destination(&state, None);
            match state.engine().await.add_or_wait(&url, dst, None).await {
                Ok(id) => IncomingLink::Added { id },
                Err(e) => IncomingLink::Failed {
                    message: e.to_string(),
                },
            }
        }
        Ok(preview) => IncomingLink::Confirm {
            token: state.park_link(url, Some(preview.clone())),
            preview,
            origin,
        },
        Err(EngineError::Masv(MasvError::PasswordRequired)) => IncomingLink::NeedsPassword {
            token: state.park_link(url, None),
            wrong: false,
            origin,
        },
        Err(e) if crate::waiting::unreachable(&e) => {
            let link = crate::waiting::WaitingLink::unreachable(url, &e, origin);
            crate::waiting_task::keep(app, link);
            return None;
        }
        Err(e) => IncomingLink::Failed {
            message: e.to_string(),
        },
    })
}

/// A link the person copied (clipboard capture on): asked about in the window, and by
/// a notification when the window is not in front; never started by itself. A link
/// already in the list, or already being asked about, is not offered again.
pub async fn offer_copied(app: &AppHandle, url: String) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    if state.refused.load(std::sync::atomic::Ordering::SeqCst)
        || !state.ui_ready.load(std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    let engine = state.engine().await;
    if let Ok(shown) = inbound_masv::LinkRef::parse(&url).map(|l| l.redacted())
        && engine.list().iter().any(|d| d.link == shown)
    {
        return;
    }
    if crate::lock(&state.parked).values().any(|p| p.url == url) {
        return;
    }
    let Some(outcome) = read_once(app, url, LinkOrigin::Clipboard).await else {
        return;
    };
    if !window_in_front(app) {
        match &outcome {
            IncomingLink::Confirm { preview, .. } => {
                crate::events::notify_copied(app, Some(preview))
            }
            IncomingLink::NeedsPassword { .. } => crate::events::notify_copied(app, None),
            _ => {}
        }
    }
    tell(app, outcome);
}

fn window_in_front(app: &AppHandle) -> bool {
    app.get_webview_window("main").is_some_and(|w| {
        w.is_visible().unwrap_or(false)
            && !w.is_minimized().unwrap_or(false)
            && w.is_focused().unwrap_or(false)
    })
}

/// Sends the window what became of a link.
pub fn tell(app: &AppHandle, outcome: IncomingLink) {
    if let Err(e) = app.emit("incoming-link", outcome) {
        tracing::warn!(error = %e, "could not tell the window about a link");
    }
}

pub fn show_main_window(app: &AppHandle) {
    if app
        .try_state::<AppState>()
        .is_none_or(|s| s.refused.load(std::sync::atomic::Ordering::SeqCst))
    {
        // Only the "cannot start" dialog is up; the window has nothing to show.
        return;
    }
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}
