//! Typed client for the MASV API: links, package file lists and download URLs, the team
//! routes (team and portal packages, portals) and PubNub upload progress.
//!
//! Base URL comes from `MASV_API_URL` (default [`DEFAULT_API_URL`]); plain `http` is
//! accepted so the simulator and tests can stand in for the real service.

mod client;
mod error;
mod link;
mod model;
mod pubnub;
mod secret;
mod team;
mod team_filter;
mod team_model;

pub use client::{API_URL_ENV, DEFAULT_API_URL, MasvClient, api_url_from_env};
pub use error::{MAX_RETRY_AFTER, MasvError, describe_transport_error, retry_after};
pub use link::LinkRef;
pub use model::{DownloadUrl, FileKind, LinkInfo, PackageFile};
pub use pubnub::{
    DEFAULT_PUBNUB_ORIGIN, PUBNUB_KEY_ENV, PUBNUB_ORIGIN_ENV, PubNub, PubNubConfig, Subscription,
    UploadProgress,
};
pub use secret::Secret;
pub use team_filter::TeamFilter;
pub use team_model::{PackageLink, PackageState, Portal, ProgressChannel, Tag, TeamPackage};
