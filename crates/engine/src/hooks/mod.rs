//! What happens after a package completes ("when done"): a command run with the
//! package folder and a JSON summary, and/or the summary POSTed to a local URL. A hook
//! that fails is reported, never fatal: the package stays complete.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::{DownloadDetail, FileHash, FileState, Origin};

mod run;

pub(crate) use run::run_hooks;

/// The hooks run when a package completes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AfterDownload {
    /// A program and its arguments (no shell); the package folder is added as the last
    /// argument and the JSON summary is written to its standard input. Empty: none.
    #[serde(default)]
    pub run: Vec<String>,
    /// A URL on this machine (localhost, 127.0.0.1, ::1) the JSON summary is POSTed to.
    #[serde(default)]
    pub post_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AfterError {
    #[error("the command to run is empty; name a program, like [\"/usr/local/bin/ingest\"]")]
    EmptyProgram,
    #[error("'{0}' is not a URL; give one like http://127.0.0.1:9000/done")]
    BadUrl(String),
    #[error(
        "'{0}' is not on this machine; the summary goes only to localhost, 127.0.0.1 or ::1 (it names files and senders)"
    )]
    NotLocal(String),
}

impl AfterDownload {
    pub fn is_empty(&self) -> bool {
        self.run.is_empty() && self.post_url.is_none()
    }

    pub fn validate(&self) -> Result<(), AfterError> {
        if self.run.first().is_some_and(|p| p.trim().is_empty()) {
            return Err(AfterError::EmptyProgram);
        }
        if let Some(u) = &self.post_url {
            let url = url::Url::parse(u).map_err(|_| AfterError::BadUrl(u.clone()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(AfterError::BadUrl(u.clone()));
            }
            let local = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !local {
                return Err(AfterError::NotLocal(u.clone()));
            }
        }
        Ok(())
    }
}

/// What a hook is told about the package: never its link (which holds the secret).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CompletedPackage {
    pub download_id: String,
    pub name: String,
    pub package_id: String,
    pub sender_email: String,
    pub origin: Origin,
    #[ts(type = "string")]
    pub folder: PathBuf,
    #[ts(type = "number | null")]
    pub completed_at: Option<i64>,
    #[ts(type = "string | null")]
    pub manifest: Option<PathBuf>,
    pub files: Vec<CompletedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CompletedFile {
    /// Inside `folder`.
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "number")]
    pub size: u64,
    pub hash: Option<FileHash>,
}

impl CompletedPackage {
    pub fn of(d: &DownloadDetail) -> Self {
        let s = &d.summary;
        Self {
            download_id: s.id.clone(),
            name: s.name.clone(),
            package_id: s.package_id.clone(),
            sender_email: s.sender_email.clone(),
            origin: s.origin.clone(),
            folder: s.dst_folder.clone(),
            completed_at: s.completed_at,
            manifest: s.manifest.clone(),
            files: d
                .files
                .iter()
                .filter(|f| f.state == FileState::Complete)
                .map(|f| CompletedFile {
                    path: f.path.clone(),
                    size: f.size,
                    hash: f.hash.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_urls_and_named_programs() {
        let post = |u: &str| AfterDownload {
            post_url: Some(u.into()),
            ..Default::default()
        };
        for ok in [
            "http://127.0.0.1:9000/done",
            "http://localhost/x",
            "https://[::1]:8443/",
        ] {
            assert_eq!(post(ok).validate(), Ok(()), "{ok}");
        }
        assert!(matches!(
            post("http://10.0.0.2/x").validate(),
            Err(AfterError::NotLocal(_))
        ));
        assert!(matches!(
            post("http://localhost.evil.example/").validate(),
            Err(AfterError::NotLocal(_))
        ));
        assert!(matches!(
            post("ftp://localhost/").validate(),
            Err(AfterError::BadUrl(_))
        ));
        assert!(matches!(
            post("nope").validate(),
            Err(AfterError::BadUrl(_))
        ));
        let run = AfterDownload {
            run: vec![" ".into()],
            ..Default::default()
        };
        assert_eq!(run.validate(), Err(AfterError::EmptyProgram));
    }
}
