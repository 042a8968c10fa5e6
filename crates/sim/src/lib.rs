//! A stand-in for the MASV API and its S3 storage, faithful to the public docs, with
//! switches for every fault the engine must survive. It serves the tests, the
//! benchmarks, `inbound sim` and the demo package.

mod content;
mod expiry;
mod faults;
mod outage;
mod package;
mod range;
mod server;
mod sign;
mod storage;
mod team;
mod team_v11;

pub mod catalog;

pub use content::Content;
pub use faults::{Faults, Injected};
pub use package::{SimFile, SimPackage};
pub use server::{Sim, SimError};
pub use storage::{SINGLE_PART_MAX, UPLOAD_PART, s3_etag};
pub use team::{SimPortal, SimTeam, SimTeamPackage};
