//! What a file is beyond its name. A name can be reused (the person moves a file away
//! and puts another there, a drive is swapped); the engine only trusts, writes into or
//! deletes the file it created itself, recognised by these marks.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file's identity on its file system: device and inode on Unix, volume serial
/// number and file index on Windows (what `GetFileInformationByHandle` reports, the
/// pair Windows itself uses to tell files apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// What stands at a name: a symlink (or any reparse point) there is not followed and
/// counts as a file other than any regular file.
const NOT_A_FILE: FileId = FileId {
    dev: u64::MAX,
    ino: u64::MAX,
};

impl FileId {
    /// The identity of an open file.
    pub fn of(file: &File) -> io::Result<Self> {
        Self::of_open(file, &file.metadata()?)
    }

    /// The identity of an open file whose metadata the caller already has (Unix reads
    /// it from there; Windows asks the handle).
    pub fn of_open(file: &File, meta: &Metadata) -> io::Result<Self> {
        platform::id_of_open(file, meta)
    }

    /// The identity of the regular file at `path` (a symlink there is not followed
    /// and counts as a different file).
    pub fn at(path: &Path) -> io::Result<Option<Self>> {
        match platform::stat_nofollow(path) {
            Ok((m, id)) if m.is_file() => Ok(Some(id)),
            Ok(_) => Ok(Some(NOT_A_FILE)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The device (volume) a folder is on, following links (a download folder may be
    /// a link to a drive), to notice a drive swapped or unplugged under a path.
    pub fn device_of(dir: &Path) -> Option<u64> {
        Self::folder_id(dir).ok().map(|(_, id)| id.dev)
    }

    /// What is at `dir`, following links, and its identity.
    pub fn folder_id(dir: &Path) -> io::Result<(Metadata, Self)> {
        platform::stat_following(dir)
    }

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

/// A time as the database keeps file times: nanoseconds since the Unix epoch (0 for
/// one before it, the largest for one past 2262).
pub(crate) fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The time [`unix_nanos`] gave.
pub(crate) fn from_unix_nanos(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

impl Written {
    fn of(meta: &Metadata, id: FileId) -> Self {
        let mtime_ns = meta.modified().map_or(0, unix_nanos);
        Self {
            id,
            size: meta.len(),
            mtime_ns,
        }
    }

    pub fn at(path: &Path) -> io::Result<Self> {
        platform::stat_nofollow(path).map(|(m, id)| Self::of(&m, id))
    }

    /// Whether the file at `path` is still exactly this one.
    pub fn still_at(&self, path: &Path) -> bool {
        platform::stat_nofollow(path).is_ok_and(|(m, id)| m.is_file() && Self::of(&m, id) == *self)
    }
}

#[cfg(unix)]
mod platform {
    use std::fs::{File, Metadata};
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use super::FileId;

    fn id(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    pub fn id_of_open(_file: &File, meta: &Metadata) -> io::Result<FileId> {
        Ok(id(meta))
    }

    pub fn stat_nofollow(path: &Path) -> io::Result<(Metadata, FileId)> {
        let meta = std::fs::symlink_metadata(path)?;
        let id = id(&meta);
        Ok((meta, id))
    }

    pub fn stat_following(path: &Path) -> io::Result<(Metadata, FileId)> {
        let meta = std::fs::metadata(path)?;
        let id = id(&meta);
        Ok((meta, id))
    }
}

#[cfg(windows)]
mod platform {
    use std::fs::{File, Metadata, OpenOptions};
    use std::io;
    use std::os::windows::fs::OpenOptionsExt;
    use std::path::Path;

    use super::FileId;

    /// Opens the name itself, not what a link there points to, and folders too.
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    /// Others may go on reading, writing and deleting while we look (an editor that
    /// has the clip open must not be disturbed, nor disturb us).
    const SHARE_ALL: u32 = 0x1 | 0x2 | 0x4;

    pub fn id_of_open(file: &File, _meta: &Metadata) -> io::Result<FileId> {
        let info = winapi_util::file::information(file)?;
        Ok(FileId {
            dev: info.volume_serial_number(),
            ino: info.file_index(),
        })
    }

    pub fn stat_nofollow(path: &Path) -> io::Result<(Metadata, FileId)> {
        stat(path, FILE_FLAG_OPEN_REPARSE_POINT)
    }

    pub fn stat_following(path: &Path) -> io::Result<(Metadata, FileId)> {
        stat(path, 0)
    }

    fn stat(path: &Path, flags: u32) -> io::Result<(Metadata, FileId)> {
        // Attributes only (no read or write access): works on a file another program
        // holds open, as std's own symlink_metadata does.
        let file = OpenOptions::new()
            .access_mode(0)
            .share_mode(SHARE_ALL)
            .custom_flags(flags | FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)?;
        let meta = file.metadata()?;
        let id = id_of_open(&file, &meta)?;
        Ok((meta, id))
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

    #[test]
    fn two_files_differ_and_two_names_of_one_file_agree() {
        // Off Unix this once compared (0, 0) with (0, 0): every file was "the same".
        let dir = tempfile::tempdir().unwrap();
        let (a, b, link) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("a2"),
        );
        std::fs::write(&a, b"same bytes").unwrap();
        std::fs::write(&b, b"same bytes").unwrap();
        std::fs::hard_link(&a, &link).unwrap();
        let id_a = FileId::at(&a).unwrap().unwrap();
        assert_ne!(
            Some(id_a),
            FileId::at(&b).unwrap(),
            "two files, two identities"
        );
        assert_eq!(
            Some(id_a),
            FileId::at(&link).unwrap(),
            "a second name of the same file"
        );
        let open = File::open(&a).unwrap();
        assert_eq!(FileId::of(&open).unwrap(), id_a, "open and by name agree");
        assert_eq!(
            FileId::device_of(dir.path()),
            Some(id_a.dev),
            "a folder's device is its files'"
        );
    }
}
