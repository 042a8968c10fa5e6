//! Typed client for the MASV download API: links, package file lists and download URLs.
//!
//! Base URL comes from `MASV_API_URL` (default [`DEFAULT_API_URL`]); plain `http` is
//! accepted so the simulator and tests can stand in for the real service.

mod client;
mod error;
mod link;
mod model;
mod secret;

pub use client::{API_URL_ENV, DEFAULT_API_URL, MasvClient, api_url_from_env};
pub use error::{MasvError, parse_retry_after};
pub use link::LinkRef;
pub use model::{DownloadUrl, FileKind, LinkInfo, PackageFile};
pub use secret::Secret;
