use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use inbound_engine::{EngineError, MasvError};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error answer: a stable machine code and a sentence for a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable identifier, e.g. `not_found`, `invalid_link`, `password_required`.
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

/// Reads a JSON body; a malformed one is a 400 with `code`, showing what to send
/// (`like`) and what was wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    code: &'static str,
    like: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(code, format!("the body must be JSON like {like}: {e}")))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        let (status, code) = match &e {
            EngineError::UnknownDownload(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::RelativeDestination(_) => (StatusCode::BAD_REQUEST, "invalid_dst_folder"),
            EngineError::Destination { .. } => (StatusCode::BAD_REQUEST, "invalid_dst_folder"),
            EngineError::Masv(m) => match m {
                MasvError::InvalidLink(_) => (StatusCode::BAD_REQUEST, "invalid_link"),
                MasvError::BadLink => (StatusCode::BAD_REQUEST, "link_not_found"),
                MasvError::Expired => (StatusCode::GONE, "link_expired"),
                MasvError::PasswordRequired => (StatusCode::UNAUTHORIZED, "password_required"),
                MasvError::WrongPassword => (StatusCode::FORBIDDEN, "wrong_password"),
                MasvError::RateLimited { .. }
                | MasvError::Transient(_)
                | MasvError::Unavailable(_) => (StatusCode::BAD_GATEWAY, "masv_unavailable"),
                MasvError::TokenExpired
                | MasvError::Virus
                | MasvError::FileRefused
                | MasvError::ApiKeyRejected
                | MasvError::TeamNotFound
                | MasvError::InvalidId(_)
                | MasvError::Other(_) => (StatusCode::BAD_GATEWAY, "masv_error"),
            },
            EngineError::UnknownSize { .. } => (StatusCode::BAD_GATEWAY, "masv_error"),
            EngineError::Selection(_) => (StatusCode::BAD_REQUEST, "invalid_file_ids"),
            EngineError::Schedule(_) => (StatusCode::BAD_REQUEST, "invalid_schedule"),
            EngineError::Ownership(_) => (StatusCode::FORBIDDEN, "cannot_chown"),
            EngineError::After(_) => (StatusCode::BAD_REQUEST, "invalid_after_download"),
            EngineError::NotVerifiable(_) => (StatusCode::CONFLICT, "not_verifiable"),
            EngineError::CannotChooseFiles(_) => (StatusCode::CONFLICT, "not_listed_yet"),
            // The agent adds with `IfDownloaded::Reuse` and does not repair: not
            // reached, but a conflict if it ever is.
            EngineError::DownloadedBefore { .. } => (StatusCode::CONFLICT, "downloaded_before"),
            EngineError::NotRepairable(_) => (StatusCode::CONFLICT, "not_repairable"),
            EngineError::Quarantined(_) => (StatusCode::CONFLICT, "package_quarantined"),
            EngineError::AlreadyRunning { .. }
            | EngineError::Database { .. }
            | EngineError::DataDir { .. }
            | EngineError::StorageClient(_)
            | EngineError::RemoveFiles(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() {
            tracing::error!(%message, "request failed");
        }
        Self::new(status, code, message)
    }
}
