use std::path::PathBuf;

use inbound_engine::{EngineError, MasvError};

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error(transparent)]
    Masv(#[from] MasvError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Automation(#[from] crate::automation::AutomationError),
    #[error(
        "not logged in to a MASV team: run `inbound team login` (or set the API key in the app's settings)"
    )]
    NotLoggedIn,
    #[error("cannot read or write {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the inbox database {path} failed: {source}")]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("package {0} is not in the team's list (check the id with `inbound team packages`)")]
    UnknownPackage(String),
    #[error(
        "package {id} cannot be downloaded yet: it is {state} (only finalized packages are complete)"
    )]
    NotFinalized { id: String, state: String },
    #[error(
        "MASV listed package {0} without an access token; it cannot be downloaded without a link"
    )]
    NoAccessToken(String),
}
