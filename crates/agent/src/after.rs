//! `/settings/after_download`: what runs after each package completes.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use inbound_engine::{AfterDownload, Engine};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::error::ApiError;

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

/// Replaces what runs after each package completes; saved with the downloads. Only a
/// trusted caller (the agent's own account, or one sending the token) may: a command
/// would run as the agent's user, and the summary posted tells where files are.
#[utoipa::path(put, path = "/settings/after_download", tag = "settings",
    request_body = AfterDownloadBody,
    responses(
        (status = 200, description = "Saved", body = AfterDownloadBody),
        (status = 400, description = "Malformed body, an empty program, or a URL not on this machine", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
    ))]
pub async fn put_after(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<AfterDownloadBody>, ApiError> {
    caller.require_trusted("Setting what runs after a download (run, post_url)")?;
    let engine = &engine;
    let body: AfterDownloadBody = crate::error::json_body(
        &body,
        "invalid_after_download",
        r#"{"run": ["/usr/local/bin/ingest"], "post_url": "http://127.0.0.1:9000/done"}"#,
    )?;
    engine.set_after_download(AfterDownload {
        run: body.run,
        post_url: body.post_url.filter(|u| !u.trim().is_empty()),
    })?;
    Ok(Json(engine.after_download().into()))
}
