//! File-system operations with the engine's safety rules: nothing outside the
//! destination, no symlink followed out of it, no existing file overwritten.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Creates a folder (and parents) that only the user can read.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict_to_user(dir, 0o700)
}

/// Replaces `path` with `contents`, readable and writable by the user only: written to a
/// fresh temporary file created with that mode (never readable by others, not even for
/// a moment, and never an old file or a link left in its place), synced, then renamed
/// over `path`.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
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

/// Deletes a part file this download created and frees its name at once, even while
/// connections still finishing a write hold it open. Windows frees the name of a file
/// deleted while open only when the last handle closes, unless the volume gives POSIX
/// semantics (NTFS on Windows 10 1903 and later; not exFAT, FAT, network shares or
/// older systems): there the part is first renamed to a name of its own beside it, so a
/// new part file can be created at once.
pub(crate) fn remove_part_file(path: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        static RETIRED: AtomicU64 = AtomicU64::new(0);
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(
            ".gone-{}-{}",
            std::process::id(),
            RETIRED.fetch_add(1, Relaxed)
        ));
        let aside = PathBuf::from(aside);
        if std::fs::rename(path, &aside).is_ok() {
            return std::fs::remove_file(&aside);
        }
    }
    std::fs::remove_file(path)
}

/// Writes `buf` at `offset` without moving a shared cursor, so many connections can
/// fill one file at once. (Downloads write vectored batches: `write_batch`.)
#[cfg(any(test, not(unix)))]
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

/// Reads at `offset` without moving the file's cursor (so concurrent readers and
/// writers of one handle do not disturb each other).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(file, buf, offset);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_read(file, buf, offset);
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Renames without ever replacing what is at `to` (the check and the move are one
/// step in the kernel, so nothing can slip in between).
pub(crate) fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            from,
            rustix::fs::CWD,
            to,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(io::Error::from)
    }
    #[cfg(windows)]
    {
        // MoveFileExW without MOVEFILE_REPLACE_EXISTING (std's rename replaces). It is
        // called directly, so long paths need the prefix std would have added.
        renamore::rename_exclusive(long_path(from)?, long_path(to)?)
    }
    #[cfg(not(any(
        windows,
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple"
    )))]
    {
        // No safe no-replace rename here: refuse rather than risk replacing a file.
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        std::fs::rename(from, to)
    }
}

/// `path` as Windows takes a path of any length (`\\?\C:\…`, `\\?\UNC\server\…`): what
/// std does for its own calls, needed where a crate calls Windows directly.
#[cfg(windows)]
fn long_path(path: &Path) -> io::Result<PathBuf> {
    use std::ffi::OsString;
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    let abs = std::path::absolute(path)?;
    let wide: Vec<u16> = abs.as_os_str().encode_wide().collect();
    let text = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    if wide.starts_with(&text(r"\\?\")) || wide.starts_with(&text(r"\\.\")) {
        return Ok(abs);
    }
    // `\\server\share\…` becomes `\\?\UNC\server\share\…`; `C:\…` becomes `\\?\C:\…`.
    let (mut verbatim, rest) = match wide.strip_prefix(text(r"\\").as_slice()) {
        Some(_) => (text(r"\\?\UNC"), &wide[1..]),
        None => (text(r"\\?\"), &wide[..]),
    };
    verbatim.extend_from_slice(rest);
    Ok(PathBuf::from(OsString::from_wide(&verbatim)))
}

/// Bytes free for the user on the file system holding `dir`.
pub fn available_space(dir: &Path) -> io::Result<u64> {
    fs4::available_space(dir)
}

/// Whether Windows refused because another program holds the file without sharing it
/// (ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION): a clip open in an editor. Unix lets
/// a file be renamed or deleted while it is open.
pub(crate) fn held_by_another_program(e: &io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(32 | 33))
}

/// The drive (or the user's quota on it) is full: a wait, not a failure.
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The drive under a path went away without the path going (a USB drive pulled while
/// mounted, a network share dropped, a FUSE mount whose program died): its folder
/// answers I/O errors until it is mounted again. A wait for the drive, not a failure.
pub(crate) fn is_drive_away(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        matches!(
            e.raw_os_error().map(Errno::from_raw_os_error),
            Some(Errno::IO | Errno::NXIO | Errno::NODEV | Errno::NOTCONN | Errno::STALE)
        )
    }
    // ERROR_NOT_READY, ERROR_BAD_NETPATH, ERROR_DEV_NOT_EXIST, ERROR_NETNAME_DELETED,
    // ERROR_BAD_NET_NAME, ERROR_DEVICE_NOT_CONNECTED.
    #[cfg(windows)]
    {
        matches!(e.raw_os_error(), Some(21 | 53 | 55 | 64 | 67 | 1167))
    }
}

/// A person-readable explanation of a local file error, with what to do.
pub(crate) fn describe_io_error(action: &str, path: &Path, e: &io::Error) -> String {
    let hint = match e.kind() {
        _ if held_by_another_program(e) => {
            "another program has the file open (an editor or a player?); close it there, then retry"
        }
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
    fn a_drive_that_went_away_is_told_from_other_errors() {
        #[cfg(unix)]
        let (away, other) = (rustix::io::Errno::STALE, rustix::io::Errno::ACCESS);
        #[cfg(unix)]
        let (away, other) = (away.raw_os_error(), other.raw_os_error());
        // ERROR_NOT_READY (a card reader with no card); ERROR_ACCESS_DENIED.
        #[cfg(windows)]
        let (away, other) = (21, 5);
        assert!(is_drive_away(&io::Error::from_raw_os_error(away)));
        assert!(!is_drive_away(&io::Error::from_raw_os_error(other)));
        assert!(!is_drive_away(&io::Error::from(io::ErrorKind::NotFound)));
    }

    /// Windows only: Unix lets a file be deleted while another program has it open.
    #[cfg(windows)]
    #[test]
    fn a_file_another_program_holds_is_named_with_what_to_do() {
        use std::os::windows::fs::OpenOptionsExt;
        let root = tempfile::tempdir().unwrap();
        let clip = root.path().join("clip.mov");
        std::fs::write(&clip, b"frames").unwrap();
        // As an editor holds a clip: others may read it, not delete it.
        const FILE_SHARE_READ: u32 = 1;
        let _held = OpenOptions::new()
            .read(true)
            .share_mode(FILE_SHARE_READ)
            .open(&clip)
            .unwrap();
        let e = std::fs::remove_file(&clip).unwrap_err();
        assert!(held_by_another_program(&e), "{e:?}");
        let message = describe_io_error("remove", &clip, &e);
        assert!(message.contains("clip.mov"), "{message}");
        assert!(
            message.contains("another program has the file open"),
            "{message}"
        );
        assert!(clip.exists());
    }

    #[test]
    fn the_rename_fallback_never_replaces_a_file() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::fs::write(&a, b"new").unwrap();
        std::fs::write(&b, b"precious").unwrap();
        let err = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&b).unwrap(), b"precious");
        std::fs::remove_file(&b).unwrap();
        rename_no_replace(&a, &b).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"new");
        // Past Windows' old 260-character limit.
        let deep = root.path().join("d".repeat(120)).join("e".repeat(120));
        std::fs::create_dir_all(&deep).unwrap();
        let far = deep.join(format!("{}.mov", "f".repeat(100)));
        assert!(far.as_os_str().len() > 300);
        rename_no_replace(&b, &far).unwrap();
        assert_eq!(std::fs::read(&far).unwrap(), b"new");
    }
}
