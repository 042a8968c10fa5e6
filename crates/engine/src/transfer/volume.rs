//! Which drive a download's folder is on, told apart in a way that survives unplugging
//! it and plugging it in again. The device number alone does not: a USB drive comes
//! back as another device, an NFS, SMB or FUSE share remounted gets a new one, and each
//! btrfs subvolume has its own. What stays is the file system's own id (`f_fsid`: from
//! its UUID on ext4, XFS and btrfs, from the server on NFS) and the folder's inode.

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// The drive of a download's folder, as seen when the download was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Volume {
    /// The device number (on Windows, the volume's serial number, which a drive keeps).
    pub dev: u64,
    /// The file system's own id, where it has one that survives a remount.
    pub fsid: Option<u64>,
    /// The folder's inode (file index on Windows) on that file system.
    pub folder: Option<u64>,
}

/// The drive at a folder now, compared with the one a download started on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compared {
    /// The same device: nothing happened, or nothing can be told.
    Same,
    /// Another device number, but the same file system and the same folder on it: the
    /// drive was mounted again.
    Remounted,
    /// The file system's id and the folder agree, or cannot be read: whether this is
    /// the drive is for what is on it to say (see `destination`).
    Unproven,
    /// Another drive (or the empty folder a drive is mounted on when it is not).
    Other,
}

impl Volume {
    /// What is at `dir` (following links: a download folder may be a link to a
    /// drive) and the drive it is on.
    pub fn of(dir: &Path) -> io::Result<(Metadata, Self)> {
        let (meta, id) = crate::transfer::identity::FileId::folder_id(dir)?;
        let volume = Self {
            dev: id.dev,
            fsid: platform::fsid(dir),
            folder: Some(id.ino),
        };
        Ok((meta, volume))
    }

    /// A volume as stored: nothing without its device.
    pub fn from_columns(dev: Option<i64>, fsid: Option<i64>, folder: Option<i64>) -> Option<Self> {
        Some(Self {
            dev: dev? as u64,
            fsid: fsid.map(|v| v as u64),
            folder: folder.map(|v| v as u64),
        })
    }

    pub fn columns(&self) -> (i64, Option<i64>, Option<i64>) {
        (
            self.dev as i64,
            self.fsid.map(|v| v as i64),
            self.folder.map(|v| v as i64),
        )
    }

    /// How `now` (the drive at the same path now) relates to this one.
    pub fn compare(&self, now: &Self) -> Compared {
        if self.dev == now.dev {
            return Compared::Same;
        }
        match (self.folder, now.folder) {
            (Some(a), Some(b)) if a != b => return Compared::Other,
            _ => {}
        }
        match (self.fsid, now.fsid) {
            (Some(a), Some(b)) if a == b && self.folder.is_some() => Compared::Remounted,
            (Some(a), Some(b)) if a != b => Compared::Other,
            _ => Compared::Unproven,
        }
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use std::path::Path;

    /// `f_fsid`, unless the file system leaves it zero (some FUSE file systems do).
    pub fn fsid(dir: &Path) -> Option<u64> {
        rustix::fs::statvfs(dir)
            .ok()
            .map(|s| s.f_fsid)
            .filter(|&id| id != 0)
    }
}

/// macOS's `f_fsid` is made from the device number (it changes with it), and Windows's
/// volume serial number already survives a remount: neither has more to say.
#[cfg(not(target_os = "linux"))]
mod platform {
    use std::path::Path;

    pub fn fsid(_dir: &Path) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(dev: u64, fsid: Option<u64>, folder: Option<u64>) -> Volume {
        Volume { dev, fsid, folder }
    }

    #[test]
    fn a_remount_is_told_from_another_drive() {
        let was = v(1792, Some(0xABC), Some(12));
        assert_eq!(was.compare(&v(1792, Some(0xABC), Some(12))), Compared::Same);
        assert_eq!(
            was.compare(&v(1793, Some(0xABC), Some(12))),
            Compared::Remounted
        );
        // The empty folder left where the drive was mounted.
        assert_eq!(
            was.compare(&v(2049, Some(0xDEF), Some(12))),
            Compared::Other
        );
        assert_eq!(
            was.compare(&v(1793, Some(0xABC), Some(13))),
            Compared::Other
        );
        // No file system id (FUSE, macOS) or an older record: not decided here.
        assert_eq!(was.compare(&v(1793, None, Some(12))), Compared::Unproven);
        assert_eq!(
            v(1792, None, None).compare(&v(1793, Some(0xABC), Some(12))),
            Compared::Unproven
        );
    }

    #[test]
    fn a_folder_is_on_the_drive_of_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, volume) = Volume::of(dir.path()).unwrap();
        assert!(meta.is_dir());
        assert_eq!(
            Some(volume.dev),
            crate::transfer::identity::FileId::device_of(dir.path())
        );
        assert_eq!(
            volume.compare(&Volume::of(dir.path()).unwrap().1),
            Compared::Same
        );
        let stored = volume.columns();
        assert_eq!(
            Volume::from_columns(Some(stored.0), stored.1, stored.2),
            Some(volume)
        );
    }
}
