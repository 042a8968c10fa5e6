//! Files handed to another owner (the MASV Agent's `uid`/`gid`, for NAS targets): the
//! right to do so is checked when the download is added, and the package's files and
//! folders are given away when it completes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who the written files and folders belong to; a part left out stays as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Owner {
    pub fn is_empty(&self) -> bool {
        self.uid.is_none() && self.gid.is_none()
    }

    fn describe(&self) -> String {
        match (self.uid, self.gid) {
            (Some(u), Some(g)) => format!("uid {u} and gid {g}"),
            (Some(u), None) => format!("uid {u}"),
            (None, Some(g)) => format!("gid {g}"),
            (None, None) => "their owner".into(),
        }
    }

    /// Tries it on a scratch file where the package will go (its nearest existing
    /// folder), so a missing right is said at once, not when the package is done.
    pub(crate) fn check_allowed(&self, dst: &Path) -> Result<(), String> {
        let mut dir = dst;
        while !dir.is_dir() {
            match dir.parent() {
                Some(p) => dir = p,
                None => return Ok(()),
            }
        }
        let probe = dir.join(format!(".inbound-owner-check-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| self.refused(&e.to_string()))?;
        let result = self.give(&probe);
        let _ = std::fs::remove_file(&probe);
        result.map_err(|e| self.refused(&e))
    }

    fn refused(&self, why: &str) -> String {
        format!(
            "cannot give the files to {}: {why}. Run Inbound as root (or with the CAP_CHOWN capability), or leave uid and gid out",
            self.describe()
        )
    }

    #[cfg(unix)]
    fn give(&self, path: &Path) -> Result<(), String> {
        std::os::unix::fs::lchown(path, self.uid, self.gid)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    #[cfg(not(unix))]
    fn give(&self, _path: &Path) -> Result<(), String> {
        Err("file owners can only be set on Linux and macOS".into())
    }

    /// Gives every path to the owner; the first failure, said for a person.
    pub(crate) fn give_all(&self, paths: impl IntoIterator<Item = PathBuf>) -> Result<(), String> {
        for p in paths {
            if p.exists() {
                self.give(&p).map_err(|e| {
                    format!(
                        "the package is complete, but it could not be given to {}: {e}",
                        self.describe()
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// What a completed download wrote: its own folder (if it made one), the folders it
/// created, its files, and its ASC MHL generation (the whole history in its own folder;
/// in a shared folder only this package's generation).
pub(crate) fn written_paths(
    shared: &crate::engine::Shared,
    dl: &crate::download::Download,
) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if dl.package_folder {
        paths.push(dl.dst.clone());
    }
    for rel in shared.store.created_dirs(&dl.id).unwrap_or_default() {
        paths.push(dl.dst.join(rel));
    }
    for f in &dl.files {
        if f.state() == crate::model::FileState::Complete {
            paths.push(f.final_path(&dl.dst));
        }
    }
    let history = dl.dst.join(inbound_mhl::FOLDER);
    if dl.package_folder {
        paths.push(history.clone());
        if let Ok(entries) = std::fs::read_dir(&history) {
            paths.extend(entries.flatten().map(|e| e.path()));
        }
    } else if let Some(manifest) = dl.status().manifest.clone() {
        paths.push(manifest);
    }
    paths
}
