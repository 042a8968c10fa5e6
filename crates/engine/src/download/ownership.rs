//! Files handed to another owner (the MASV Agent's `uid`/`gid`, for NAS targets): the
//! right to do so is checked when the download is added, and the package's files and
//! folders are given away when it completes.

use std::path::{Path, PathBuf};

use crate::model::Owner;
use crate::transfer::beneath::Beneath;

impl Owner {
    /// Tries it on a scratch file where the package will go (its nearest existing
    /// folder), so a missing right is said at once, not when the package is done. The
    /// scratch file has an unguessable name, is created new (never through a link
    /// someone put in the way) and is given away by its open handle.
    pub(crate) fn check_allowed(&self, dst: &Path) -> Result<(), String> {
        let mut dir = dst;
        while !dir.is_dir() {
            match dir.parent() {
                Some(p) => dir = p,
                None => return Ok(()),
            }
        }
        let name = format!(".inbound-owner-check-{:032x}", rand::random::<u128>());
        let folder = Beneath::open(dir).map_err(|e| self.refused(&e.to_string()))?;
        let probe = folder
            .create_new(Path::new(&name))
            .map_err(|e| self.refused(&e.to_string()))?;
        let result = self.give_open(&probe);
        drop(probe);
        let _ = folder.remove_file(Path::new(&name));
        result.map_err(|e| self.refused(&e))
    }

    fn refused(&self, why: &str) -> String {
        format!(
            "cannot give the files to {}: {why}. Run Inbound as root (or with the CAP_CHOWN capability), or leave uid and gid out",
            self.describe()
        )
    }

    #[cfg(unix)]
    fn give_open(&self, file: &std::fs::File) -> Result<(), String> {
        rustix::fs::fchown(
            file,
            self.uid.map(rustix::fs::Uid::from_raw),
            self.gid.map(rustix::fs::Gid::from_raw),
        )
        .map_err(|e| std::io::Error::from(e).to_string())
    }

    #[cfg(not(unix))]
    fn give_open(&self, _file: &std::fs::File) -> Result<(), String> {
        Err("file owners can only be set on Linux and macOS".into())
    }

    /// Gives every path (relative to `folder`; empty: the folder itself) to the
    /// owner, deepest first, each reached from the folder without following a link and
    /// given away as itself, never what a link points to; the first failure, said
    /// for a person.
    pub(crate) fn give_all(&self, folder: &Beneath, paths: Vec<PathBuf>) -> Result<(), String> {
        let mut paths = paths;
        // Children before their folders: once a folder is someone else's, what is in
        // it can be swapped by them.
        paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        paths.dedup();
        for rel in paths {
            self.give(folder, &rel)
                .map_err(|e| self.not_given(&folder.root().join(&rel), &e))?;
        }
        Ok(())
    }

    /// "The package is complete, but it could not be given to uid 1001: PATH: why".
    fn not_given(&self, path: &Path, e: &std::io::Error) -> String {
        format!(
            "the package is complete, but it could not be given to {}: {}: {e}",
            self.describe(),
            path.display()
        )
    }

    #[cfg(unix)]
    fn give(&self, folder: &Beneath, rel: &Path) -> std::io::Result<()> {
        match folder.chown(rel, self.uid, self.gid) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    #[cfg(not(unix))]
    fn give(&self, _folder: &Beneath, _rel: &Path) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "file owners can only be set on Linux and macOS",
        ))
    }
}

/// What a completed download wrote, relative to its folder: the folder itself (if it
/// made it), the folders it created, its files, and its ASC MHL generation (the whole
/// history in its own folder; in a shared folder only this package's generation).
pub(crate) fn written_paths(
    store: &crate::store::Store,
    dl: &crate::download::Download,
) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if dl.package_folder {
        paths.push(PathBuf::new());
    }
    paths.extend(store.created_dirs(&dl.id).unwrap_or_default());
    for f in &dl.files {
        if f.state() == crate::model::FileState::Complete {
            paths.push(f.meta.rel_path.clone());
        }
    }
    let history = PathBuf::from(inbound_mhl::FOLDER);
    if dl.package_folder {
        if let Ok(entries) = std::fs::read_dir(dl.dst.join(&history)) {
            paths.extend(entries.flatten().map(|e| history.join(e.file_name())));
        }
        paths.push(history);
    } else if let Some(manifest) = dl.status().manifest().map(Path::to_path_buf)
        && let Ok(rel) = manifest.strip_prefix(&dl.dst)
    {
        paths.push(rel.to_owned());
    }
    paths
}

/// Gives what a completed download wrote to `owner`, from its folder.
pub(crate) fn give_written(
    store: &crate::store::Store,
    dl: &crate::download::Download,
    owner: Owner,
) -> Result<(), String> {
    let folder = dl.folder().map_err(|e| owner.not_given(&dl.dst, &e))?;
    owner.give_all(&folder, written_paths(store, dl))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn me() -> (u32, u32) {
        let m = std::fs::metadata("/proc/self")
            .or_else(|_| std::fs::metadata("."))
            .unwrap();
        (m.uid(), m.gid())
    }

    #[test]
    fn the_permission_probe_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("passwd");
        std::fs::write(&victim, b"root:x:0:0").unwrap();
        // Whoever may write into the folder lays links where a probe might go.
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".inbound-owner-check-{}", std::process::id())),
        )
        .unwrap();
        let (uid, gid) = me();
        let owner = Owner {
            uid: Some(uid),
            gid: Some(gid),
        };
        owner.check_allowed(dir.path()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"root:x:0:0");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "the probe is removed: {left:?}");
    }

    #[test]
    fn giving_away_never_follows_a_folder_swapped_for_a_link() {
        if me().0 != 0 {
            eprintln!("skipped: giving files to another uid needs root");
            return;
        }
        let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir(dir.path().join("Clips")).unwrap();
        std::fs::write(dir.path().join("Clips/a.mov"), b"frames").unwrap();
        std::fs::write(elsewhere.path().join("a.mov"), b"someone else's").unwrap();
        let folder = Beneath::open(dir.path()).unwrap();
        // Swapped between the download and the chown.
        std::fs::rename(dir.path().join("Clips"), dir.path().join("Clips.old")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("Clips")).unwrap();
        let owner = Owner {
            uid: Some(4242),
            gid: Some(4343),
        };
        let paths = vec![PathBuf::new(), "Clips".into(), "Clips/a.mov".into()];
        let e = owner.give_all(&folder, paths).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        for p in [elsewhere.path().to_owned(), elsewhere.path().join("a.mov")] {
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), 0, "{}", p.display());
        }
        // The files (children first) are given away; the folder swapped is not entered.
        let ok = vec![PathBuf::new(), "Clips.old".into(), "Clips.old/a.mov".into()];
        owner.give_all(&folder, ok).unwrap();
        let m = std::fs::metadata(dir.path().join("Clips.old/a.mov")).unwrap();
        assert_eq!((m.uid(), m.gid()), (4242, 4343));
        assert_eq!(std::fs::metadata(dir.path()).unwrap().uid(), 4242);
    }
}
