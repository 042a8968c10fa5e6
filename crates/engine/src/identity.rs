//! What a file is beyond its name. A name can be reused (the person moves a file away
//! and puts another there, a drive is swapped); the engine only trusts, writes into or
//! deletes the file it created itself, recognised by these marks.

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// The file's identity on its file system: device and inode. On platforms where std
/// exposes neither, both are 0 and only the size and time marks of [`Written`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Self {
                dev: meta.dev(),
                ino: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Self { dev: 0, ino: 0 }
        }
    }

    /// The identity of the regular file at `path` (a symlink there is not followed
    /// and counts as a different file).
    pub fn at(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(Self::of(&m))),
            Ok(_) => Ok(Some(Self {
                dev: u64::MAX,
                ino: u64::MAX,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl FileId {
    /// Whether the file at `path` is this one (a missing or unreadable one is not).
    pub fn is_at(&self, path: &Path) -> bool {
        Self::at(path).ok().flatten() == Some(*self)
    }
}

/// A completed file as the engine left it: identity, size and modification time. A
/// file that still carries all three is the one the engine wrote; one edited in place
/// or put there by someone else is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    pub id: FileId,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl Written {
    pub fn of(meta: &Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Self {
            id: FileId::of(meta),
            size: meta.len(),
            mtime_ns,
        }
    }

    pub fn at(path: &Path) -> io::Result<Self> {
        std::fs::symlink_metadata(path).map(|m| Self::of(&m))
    }

    /// Whether the file at `path` is still exactly this one.
    pub fn still_at(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && Self::of(&m) == *self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_recognised_until_it_is_replaced_or_edited() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"one").unwrap();
        let w = Written::at(&p).unwrap();
        assert!(w.still_at(&p));
        std::fs::remove_file(&p).unwrap();
        assert!(!w.still_at(&p));
        // Same size, new file.
        std::fs::write(&p, b"two").unwrap();
        assert!(!w.still_at(&p));
        let id = FileId::at(&p).unwrap();
        assert!(id.is_some_and(|id| id.is_at(&p)));
        assert_eq!(FileId::at(&dir.path().join("none")).unwrap(), None);
    }
}
