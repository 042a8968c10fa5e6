//! The shell's side of links waiting for MASV: a loop that tries them every
//! [`RETRY_EVERY`] (or at once on "Try now"), hands on what MASV answered for, and keeps
//! the window's list current.

use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::CommandError;
use crate::incoming::{settle, tell};
use crate::state::AppState;
use crate::waiting::{Outcome, RETRY_EVERY, WaitingLink, WaitingLinkView};

/// Runs as long as the app.
pub async fn keep_trying(app: AppHandle) {
    let state = app.state::<AppState>();
    // Links kept by an earlier run are tried at once.
    if !state.waiting.is_empty() {
        state.retry_waiting_now.notify_one();
    }
    loop {
        state
            .waiting
            .set_next_try(inbound_engine::unix_now() + RETRY_EVERY.as_secs() as i64);
        publish(&app);
        tokio::select! {
            () = tokio::time::sleep(RETRY_EVERY) => {}
            () = state.retry_waiting_now.notified() => {}
        }
        if state.waiting.is_empty() {
            continue;
        }
        for (_, link, outcome) in state.waiting.try_all(state.engine().await).await {
            // What any link from outside gets once MASV answers: the question, the
            // password prompt, or the failure.
            let told = match outcome {
                Outcome::StillWaiting(_) => None,
                Outcome::Preview(preview) => settle(&app, link.url, Ok(preview), link.origin).await,
                Outcome::Failed(e) => settle(&app, link.url, Err(e), link.origin).await,
            };
            if let Some(told) = told {
                tell(&app, told);
            }
        }
    }
}

/// Keeps a link until MASV answers and shows it in the window's waiting list.
pub fn keep(app: &AppHandle, link: WaitingLink) {
    let state = app.state::<AppState>();
    state.waiting.keep(|| state.new_token(), link);
    publish(app);
}

/// Sends the window the list of links waiting for MASV.
pub fn publish(app: &AppHandle) {
    let views = app.state::<AppState>().waiting.views();
    if let Err(e) = app.emit("waiting-links", views) {
        tracing::warn!(error = %e, "could not tell the window about waiting links");
    }
}

#[tauri::command]
pub async fn waiting_links(
    state: State<'_, AppState>,
) -> Result<Vec<WaitingLinkView>, CommandError> {
    Ok(state.waiting.views())
}

/// The person gave up on a waiting link: it (and its secret) is forgotten.
#[tauri::command]
pub async fn drop_waiting_link(app: AppHandle, token: u64) -> Result<(), CommandError> {
    app.state::<AppState>().waiting.drop_link(token);
    publish(&app);
    Ok(())
}

/// "Try now": the links and downloads waiting for MASV are tried at once instead of at
/// the next round.
#[tauri::command]
pub async fn retry_waiting_links(state: State<'_, AppState>) -> Result<(), CommandError> {
    state.retry_waiting_now.notify_one();
    state.engine().await.try_waiting_now();
    Ok(())
}
