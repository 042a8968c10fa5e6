//! `/settings/after_download`: what runs after each package completes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use inbound_engine::{AfterDownload, Engine};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::server::ApiState;

/// The hooks, as the API reads and writes them (`{}`: none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AfterDownloadBody {
    /// A program and its arguments (no shell), e.g. `["/usr/local/bin/ingest", "--fast"]`.
    /// The package folder is added as the last argument (and in
    /// `INBOUND_PACKAGE_FOLDER`); a JSON summary of the package (name, sender, files
    /// with their hashes, manifest; never the link) is written to its standard input.
    /// Stopped after 10 minutes.
    #[serde(default)]
    pub run: Vec<String>,
    /// A URL on this machine the same JSON summary is POSTed to.
    #[serde(default)]
    pub post_url: Option<String>,
}

impl From<AfterDownload> for AfterDownloadBody {
    fn from(a: AfterDownload) -> Self {
        Self {
            run: a.run,
            post_url: a.post_url,
        }
    }
}

/// What runs after each package completes. A hook that fails shows in the download's
/// `after_error`; the package stays complete.
#[utoipa::path(get, path = "/settings/after_download", tag = "settings",
    responses((status = 200, description = "The hooks (empty: none)", body = AfterDownloadBody)))]
pub async fn get_after(State(engine): State<Engine>) -> Json<AfterDownloadBody> {
    Json(engine.after_download().into())
}

/// Replaces what runs after each package completes; saved with the downloads. A
/// command (`run`) can be set only when the API requires a token or listens on a Unix
/// socket: on loopback TCP any user of the machine could set what runs as yours.
#[utoipa::path(put, path = "/settings/after_download", tag = "settings",
    request_body = AfterDownloadBody,
    responses(
        (status = 200, description = "Saved", body = AfterDownloadBody),
        (status = 400, description = "Malformed body, an empty program, or a URL not on this machine", body = crate::error::ErrorBody),
        (status = 403, description = "A command, while the API is open to every user of this machine", body = crate::error::ErrorBody),
    ))]
pub async fn put_after(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<AfterDownloadBody>, ApiError> {
    let engine = &state.engine;
    let body: AfterDownloadBody = crate::error::json_body(
        &body,
        "invalid_after_download",
        r#"{"run": ["/usr/local/bin/ingest"], "post_url": "http://127.0.0.1:9000/done"}"#,
    )?;
    if !body.run.is_empty() && !state.owner_only {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "command_needs_token",
            "a command can be set through the API only when it requires a token (--token-file) or listens on a Unix socket (--listen unix:///path.sock): on 127.0.0.1 any user of this machine could set what runs as you. Or give it to inbound agent with --then-run",
        ));
    }
    engine.set_after_download(AfterDownload {
        run: body.run,
        post_url: body.post_url.filter(|u| !u.trim().is_empty()),
    })?;
    Ok(Json(engine.after_download().into()))
}
