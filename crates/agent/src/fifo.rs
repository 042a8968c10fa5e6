//! `/settings/fifo_mode`: how many downloads transfer at once, in the MASV Agent's
//! words. Inbound always runs the queue oldest first (within priority); FIFO mode sets
//! how many at once.

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use inbound_engine::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The most downloads that transfer at once; FIFO mode off means this many.
pub const ALL_AT_ONCE: u32 = 32;

/// FIFO mode: at most `active_download_count` downloads at once, the oldest first (a
/// higher `priority` goes before them). The MASV Agent's `active_upload_count` is
/// accepted and ignored: Inbound does not upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FifoModeBody {
    /// Off: every download at once (up to 32).
    pub enabled: bool,
    /// Downloads transferring at once while enabled, 1 to 32.
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 32)]
    pub active_download_count: u32,
}

fn one() -> u32 {
    1
}

impl FifoModeBody {
    /// How many downloads transfer at once under this setting; `None` when enabled
    /// with a count outside 1 to 32.
    pub(crate) fn at_once(&self) -> Option<u32> {
        if !self.enabled {
            return Some(ALL_AT_ONCE);
        }
        Some(self.active_download_count).filter(|n| (1..=ALL_AT_ONCE).contains(n))
    }
}

fn view(engine: &Engine) -> FifoModeBody {
    let n = u32::try_from(engine.max_active_downloads()).unwrap_or(ALL_AT_ONCE);
    FifoModeBody {
        enabled: n < ALL_AT_ONCE,
        active_download_count: n.min(ALL_AT_ONCE),
    }
}

#[utoipa::path(get, path = "/settings/fifo_mode", tag = "settings",
    responses((status = 200, description = "How many downloads transfer at once", body = FifoModeBody)))]
pub async fn get_fifo(State(engine): State<Engine>) -> Json<FifoModeBody> {
    Json(view(&engine))
}

/// Sets how many downloads transfer at once; saved with the downloads (an `inbound
/// agent` started later on this data folder keeps it unless given `--max-active`).
/// Fewer than are running now: those running finish, and no other starts until fewer
/// run.
#[utoipa::path(put, path = "/settings/fifo_mode", tag = "settings",
    request_body = FifoModeBody,
    responses(
        (status = 200, description = "Saved", body = FifoModeBody),
        (status = 400, description = "Malformed body or a count outside 1 to 32", body = crate::error::ErrorBody),
    ))]
pub async fn put_fifo(
    State(engine): State<Engine>,
    body: Bytes,
) -> Result<Json<FifoModeBody>, ApiError> {
    const EXAMPLE: &str = r#"{"enabled": true, "active_download_count": 1}"#;
    let body: FifoModeBody = crate::error::json_body(&body, "invalid_fifo_mode", EXAMPLE)?;
    let Some(n) = body.at_once() else {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_fifo_mode",
            format!(
                "active_download_count must be 1 to {ALL_AT_ONCE}, not {}; write it like {EXAMPLE}",
                body.active_download_count
            ),
        ));
    };
    engine.keep_max_active_downloads(n as usize)?;
    Ok(Json(view(&engine)))
}
