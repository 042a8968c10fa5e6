//! The team inbox: what arrived for a team and its portals, downloads of listed
//! packages without a link, watched portals that download new packages by themselves
//! (each exactly once, across restarts), and the upload progress of packages still
//! being sent.

mod api;
mod automation;
mod credentials;
mod error;
mod ledger;
mod poll;
mod upload;
mod watcher;

pub use api::{TeamApi, to_download};
pub use automation::{Automation, AutomationError, AutomationKind};
pub use credentials::{CredentialStore, Credentials, KeyLocation, KeyringStatus, keyring_status};
pub use error::InboxError;
pub use upload::watch_upload;
pub use watcher::{PackageFailure, WatchedPortal, Watcher, WatcherConfig, WatcherEvent};
