//! The bandwidth schedule, as the Settings dialog edits it and the header shows it.
//! The engine keeps it with the downloads, so the agent API sees the same one.

use inbound_engine::{Schedule, ScheduleStatus};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::CommandError;
use crate::state::AppState;

/// The schedule and what it has in force now.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScheduleView {
    pub schedule: Schedule,
    pub status: ScheduleStatus,
}

#[tauri::command]
pub async fn bandwidth_schedule(state: State<'_, AppState>) -> Result<ScheduleView, CommandError> {
    let engine = state.engine().await;
    Ok(ScheduleView {
        schedule: engine.bandwidth_schedule(),
        status: engine.schedule_status(),
    })
}

/// Saves and applies a new schedule (empty lists: none).
#[tauri::command]
pub async fn set_bandwidth_schedule(
    state: State<'_, AppState>,
    schedule: Schedule,
) -> Result<ScheduleView, CommandError> {
    let engine = state.engine().await;
    engine.set_bandwidth_schedule(schedule)?;
    Ok(ScheduleView {
        schedule: engine.bandwidth_schedule(),
        status: engine.schedule_status(),
    })
}
