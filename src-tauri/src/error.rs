use inbound_engine::{EngineError, MasvError};
use serde::Serialize;
use ts_rs::TS;

/// What a failed command tells the UI: a code to branch on (the password prompt, for
/// one) and a sentence to show.
#[derive(Debug, Serialize, TS, thiserror::Error)]
#[ts(export)]
#[error("{message}")]
pub struct CommandError {
    pub code: String,
    pub message: String,
    /// The download the error is about (`downloaded_before`: the one the package
    /// already is), for the UI to offer what can be done with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub download_id: Option<String>,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            download_id: None,
        }
    }
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::Masv(MasvError::PasswordRequired) => "password_required",
            EngineError::Masv(MasvError::WrongPassword) => "wrong_password",
            EngineError::Masv(MasvError::InvalidLink(_)) => "invalid_link",
            EngineError::Masv(MasvError::BadLink) => "link_not_found",
            EngineError::Masv(MasvError::Expired) => "link_expired",
            EngineError::Masv(_) => "network",
            EngineError::RelativeDestination(_) | EngineError::Destination { .. } => {
                "invalid_destination"
            }
            EngineError::UnknownDownload(_) => "unknown_download",
            EngineError::NotVerifiable(_) => "not_verifiable",
            EngineError::NotRepairable(_) => "not_repairable",
            EngineError::DownloadedBefore { id, .. } => {
                return Self {
                    download_id: Some(id.clone()),
                    ..Self::new("downloaded_before", e.to_string())
                };
            }
            EngineError::Schedule(_) => "invalid_schedule",
            EngineError::After(_) => "invalid_after_download",
            _ => "internal",
        };
        Self::new(code, e.to_string())
    }
}
