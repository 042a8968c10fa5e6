//! The MASV-Agent-compatible API, served by the app when the setting is on.

use std::net::SocketAddr;

use inbound_agent::Access;
use tokio::sync::oneshot;

use crate::error::CommandError;
use crate::state::AppState;

/// Starts or stops the API to match `on`. Fails (and stays off) if the port is taken.
pub async fn apply(state: &AppState, on: bool) -> Result<(), CommandError> {
    let running = crate::lock(&state.agent_stop).take();
    if let Some(stop) = running {
        let _ = stop.send(());
    }
    if !on {
        return Ok(());
    }
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
    let engine = state.engine.clone();
    tauri::async_runtime::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(e) = inbound_agent::serve(engine, addr, Access::default(), stopped).await {
            tracing::error!(error = %e, "agent API stopped");
        }
    });
    *crate::lock(&state.agent_stop) = Some(tx);
    Ok(())
}
