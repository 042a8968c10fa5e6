//! The MASV-Agent-compatible API, served by the app when the setting is on; with a
//! token when the person made one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use inbound_agent::{Access, token};
use tauri::State;
use tokio::sync::oneshot;

use crate::error::CommandError;
use crate::state::AppState;

/// Where the API's token is kept, beside the download database.
fn token_path(data_dir: &Path) -> PathBuf {
    inbound_agent::token::path_in(data_dir)
}

/// Who may call the API: with `require_token`, only requests carrying the kept token;
/// without, the person's own account (as the kernel tells), others with the kept token
/// if there is one, and callers that cannot be identified into the Downloads folder
/// only. Either way, requests from web pages (any `Origin`) and non-loopback `Host`s
/// are refused by the API itself.
fn access_for(data_dir: &Path, require_token: bool) -> Result<Access, CommandError> {
    let path = token_path(data_dir);
    if !require_token {
        let kept = token::load(&path).ok().flatten();
        let downloads = inbound_engine::default_destination()
            .and_then(|d| d.parent().map(Path::to_owned))
            .into_iter()
            .collect();
        return Ok(Access::owner_or_token(kept, Vec::new(), downloads));
    }
    let kept = token::load(&path).map_err(|e| {
        CommandError::new(
            "agent_token_unreadable",
            format!("cannot read the agent API token {}: {e}", path.display()),
        )
    })?;
    match kept {
        Some(t) => Ok(Access::new(Some(t), Vec::new())),
        None => Err(CommandError::new(
            "agent_token_missing",
            "the agent API requires a token but none is kept; make a new one in Settings",
        )),
    }
}

/// Starts or stops the API to match `on`, with the token when the settings require one.
/// Fails (and stays off) if the port is taken or a required token is missing.
pub async fn apply(state: &AppState, on: bool) -> Result<(), CommandError> {
    let running = crate::lock(&state.agent_stop).take();
    if let Some(stop) = running {
        let _ = stop.send(());
    }
    if !on {
        return Ok(());
    }
    let access = access_for(&state.data_dir, state.settings().agent_api_token)?;
    let addr: SocketAddr = inbound_agent::DEFAULT_LISTEN
        .parse()
        .map_err(|e| CommandError::new("internal", format!("bad listen address: {e}")))?;
    // Bind first so a taken port is reported to the person, not just logged.
    let probe = std::net::TcpListener::bind(addr).map_err(|e| {
        CommandError::new(
            "agent_unavailable",
            format!("cannot serve the agent API on {addr}: {e}; is the MASV Agent or another Inbound running?"),
        )
    })?;
    drop(probe);
    let (tx, rx) = oneshot::channel();
    let engine = state.engine().await.clone();
    // Automations run on the team inbox's watcher while the person is logged in.
    let inbox = state.inbox.clone();
    let api_state = inbound_agent::ApiState::with_automations(engine, move || {
        crate::lock(&inbox).as_ref().map(|s| s.watcher.clone())
    });
    tauri::async_runtime::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(e) = inbound_agent::serve(
            api_state,
            &[inbound_agent::Listen::Tcp(addr)],
            access,
            stopped,
        )
        .await
        {
            tracing::error!(error = %e, "agent API stopped");
        }
    });
    *crate::lock(&state.agent_stop) = Some(tx);
    Ok(())
}

/// With `require`, makes a new token (replacing any other), keeps it readable by the
/// person only, and returns it: the one time it is shown. Without, drops the token and
/// the requirement. A running API switches at once.
#[tauri::command]
pub async fn agent_token(
    state: State<'_, AppState>,
    require: bool,
) -> Result<Option<String>, CommandError> {
    let path = token_path(&state.data_dir);
    let made = if require {
        let t = token::generate();
        token::store(&path, &t).map_err(|e| {
            CommandError::new(
                "agent_token_not_saved",
                format!("cannot keep the agent API token in {}: {e}", path.display()),
            )
        })?;
        Some(t)
    } else {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CommandError::new(
                    "agent_token_not_removed",
                    format!("cannot remove the agent API token {}: {e}", path.display()),
                ));
            }
        }
        None
    };
    let mut settings = state.settings();
    settings.agent_api_token = require;
    crate::commands::save_settings(&state, &settings)?;
    let serving = settings.agent_api;
    *crate::lock(&state.settings) = settings;
    if serving {
        apply(&state, true).await?;
    }
    tracing::info!(required = require, "agent API token changed");
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_token_must_be_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!access_for(dir.path(), false).unwrap().token_required());
        let Err(missing) = access_for(dir.path(), true) else {
            panic!("a required token that is not kept must be refused");
        };
        assert_eq!(missing.code, "agent_token_missing");
        assert!(missing.message.contains("make a new one in Settings"));
        token::store(&token_path(dir.path()), &token::generate()).unwrap();
        assert!(access_for(dir.path(), true).unwrap().token_required());
    }
}
