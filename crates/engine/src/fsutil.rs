//! File-system operations with the engine's safety rules: nothing outside the
//! destination, no symlink followed out of it, no existing file overwritten.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::EngineError;

/// Holds the data folder for this process; a second engine on the same folder fails.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(dir: &Path) -> Result<Self, EngineError> {
        let data_err = |source| EngineError::DataDir {
            path: dir.to_owned(),
            source,
        };
        create_private_dir(dir).map_err(data_err)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("inbound.lock"))
            .map_err(data_err)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::AlreadyRunning {
                dir: dir.to_owned(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(data_err(e)),
        }
    }
}

/// Creates a folder (and parents) that only the user can read.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict_to_user(dir, 0o700)
}

pub(crate) fn restrict_to_user(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Creates the folders of `rel` under `root` one by one, refusing to pass through a
/// symlink or a non-folder. Returns the folders it created (relative to `root`).
pub(crate) fn create_dirs_inside(root: &Path, rel: &Path) -> io::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let mut cur_rel = PathBuf::new();
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing path component {comp:?}"),
            ));
        };
        cur_rel.push(name);
        let abs = root.join(&cur_rel);
        match std::fs::symlink_metadata(&abs) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is a symbolic link; Inbound does not write through links",
                        abs.display()
                    ),
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", abs.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&abs) {
                Ok(()) => created.push(cur_rel.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

/// Opens (creating if needed) a part file without following a symlink at its name.
pub(crate) fn open_part_file(path: &Path, size: u64) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts.open(path)?;
    if file.metadata()?.len() != size {
        file.set_len(size)?;
    }
    Ok(file)
}

/// Writes `buf` at `offset` without moving a shared cursor, so many connections can
/// fill one file at once.
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            let n = file.seek_write(buf, offset)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

/// Moves a finished part file to its final name without replacing anything that
/// appeared there meanwhile, then sets its modification time.
pub(crate) fn finish_part(part: &Path, final_path: &Path, mtime: Option<i64>) -> io::Result<()> {
    match std::fs::hard_link(part, final_path) {
        Ok(()) => std::fs::remove_file(part)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} appeared while downloading; Inbound will not overwrite it",
                    final_path.display()
                ),
            ));
        }
        // File systems without hard links (FAT, some network shares).
        Err(_) if !final_path.exists() => std::fs::rename(part, final_path)?,
        Err(e) => return Err(e),
    }
    if let Some(secs) = mtime {
        filetime::set_file_mtime(final_path, filetime::FileTime::from_unix_time(secs, 0))?;
    }
    Ok(())
}

/// Bytes free for the user on the file system holding `dir`.
pub(crate) fn available_space(dir: &Path) -> io::Result<u64> {
    fs4::available_space(dir)
}

/// A person-readable explanation of a local file error, with what to do.
pub(crate) fn describe_io_error(action: &str, path: &Path, e: &io::Error) -> String {
    let hint = match e.kind() {
        io::ErrorKind::StorageFull => "the disk is full; free some space, then retry",
        io::ErrorKind::PermissionDenied => {
            "permission denied; choose a folder you can write to, then retry"
        }
        io::ErrorKind::ReadOnlyFilesystem => "the disk is read-only; choose another folder",
        _ => "check the destination folder, then retry",
    };
    format!("could not {action} {}: {e}; {hint}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(second, EngineError::AlreadyRunning { .. }));
        assert!(second.to_string().contains("already running"));
    }

    #[cfg(unix)]
    #[test]
    fn folders_are_not_created_through_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let err = create_dirs_inside(root.path(), Path::new("link/sub")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(!outside.path().join("sub").exists());
        let created = create_dirs_inside(root.path(), Path::new("a/b")).unwrap();
        assert_eq!(created, vec![PathBuf::from("a"), PathBuf::from("a/b")]);
        assert!(
            create_dirs_inside(root.path(), Path::new("a/b"))
                .unwrap()
                .is_empty()
        );
        assert!(create_dirs_inside(root.path(), Path::new("../x")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn part_files_do_not_follow_symlinks_and_finishing_never_overwrites() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        std::os::unix::fs::symlink(&target, root.path().join("evil.inbound-part")).unwrap();
        assert!(open_part_file(&root.path().join("evil.inbound-part"), 4).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");

        let part = root.path().join("f.inbound-part");
        let f = open_part_file(&part, 4).unwrap();
        write_all_at(&f, b"cd", 2).unwrap();
        write_all_at(&f, b"ab", 0).unwrap();
        drop(f);
        let err = finish_part(&part, &target, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let dest = root.path().join("f");
        finish_part(&part, &dest, Some(1_700_000_000)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abcd");
        assert!(!part.exists());
        let mtime = std::fs::metadata(&dest).unwrap().modified().unwrap();
        assert_eq!(
            mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_700_000_000
        );
    }
}
