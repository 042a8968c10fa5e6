//! File-system operations with the engine's safety rules: nothing outside the
//! destination, no symlink followed out of it, no existing file overwritten.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::EngineError;
use crate::identity::FileId;

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
            Ok(()) => {
                // Who holds it, for the message the next one gets; best effort.
                let mut file = file;
                let _ = file.set_len(0).and_then(|()| {
                    use std::io::Write;
                    writeln!(file, "{}\n{}", std::process::id(), this_program())
                });
                Ok(Self { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::AlreadyRunning {
                dir: dir.to_owned(),
                holder: std::fs::read_to_string(dir.join("inbound.lock"))
                    .ok()
                    .and_then(|text| describe_holder(&text))
                    .unwrap_or_default(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(data_err(e)),
        }
    }
}

/// This process as a person would name it: `inbound agent`, `inbound get`,
/// `inbound-desktop` (the program's file name and its subcommand, never its arguments,
/// which may hold a link's secret).
fn this_program() -> String {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(
            |name| match name.strip_suffix(std::env::consts::EXE_SUFFIX) {
                // `inbound.exe get` is typed and read as `inbound get` on Windows too.
                Some(stem) if !stem.is_empty() => stem.to_owned(),
                _ => name,
            },
        )
        .unwrap_or_else(|| "inbound".into());
    match args.next().map(|a| a.to_string_lossy().into_owned()) {
        Some(sub)
            if !sub.is_empty()
                && sub.len() <= 16
                && sub.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !sub.starts_with('-') =>
        {
            format!("{program} {sub}")
        }
        _ => program,
    }
}

/// `` by `inbound agent` (process 1234)`` from what the holder wrote, or `None`.
fn describe_holder(lock_text: &str) -> Option<String> {
    let mut lines = lock_text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let program: String = lines
        .next()
        .unwrap_or("inbound")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    Some(format!(" by `{program}` (process {pid})"))
}

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

fn part_open_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    opts
}

/// Creates a new part file of `size` bytes. Fails if anything is already at its name
/// (O_EXCL: nothing this download did not create is ever adopted).
pub(crate) fn create_part_file(path: &Path, size: u64) -> io::Result<(File, FileId)> {
    let file = part_open_options().create_new(true).open(path)?;
    file.set_len(size)?;
    let id = FileId::of(&file)?;
    Ok((file, id))
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

/// Why a recorded part file cannot be used as it is.
#[derive(Debug)]
pub(crate) enum PartCheck {
    /// Gone: its recorded bytes are lost and must be fetched again.
    Missing,
    /// Ours, but not the expected length (truncated by someone): start it again.
    WrongLength,
    /// Something else is at its name now: never written into.
    Foreign,
    Io(io::Error),
}

/// Opens the part file this download created, if the file at `path` is still it.
pub(crate) fn reopen_part_file(path: &Path, size: u64, id: FileId) -> Result<File, PartCheck> {
    let file = match part_open_options().open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(PartCheck::Missing),
        // O_NOFOLLOW refused a symlink: not ours.
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            return Err(PartCheck::Foreign);
        }
        Err(e) => return Err(PartCheck::Io(e)),
    };
    let meta = file.metadata().map_err(PartCheck::Io)?;
    if !meta.is_file() || FileId::of_open(&file, &meta).map_err(PartCheck::Io)? != id {
        return Err(PartCheck::Foreign);
    }
    if meta.len() != size {
        return Err(PartCheck::WrongLength);
    }
    Ok(file)
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

/// Moves a finished part file to its final name without replacing anything that
/// appeared there meanwhile, with its modification time set first, and makes the new
/// name durable. Idempotent: after a crash between linking the final name and removing
/// the part name, both names are the same file and finishing just removes the part.
pub(crate) fn finish_part(part: &Path, final_path: &Path, mtime: Option<i64>) -> io::Result<()> {
    if let Some(secs) = mtime
        && let Err(e) = filetime::set_file_mtime(part, filetime::FileTime::from_unix_time(secs, 0))
    {
        // FAT and some network shares refuse it: the bytes matter more than the date.
        tracing::warn!(file = %final_path.display(), error = %e, "could not set the modification time");
    }
    match std::fs::hard_link(part, final_path) {
        Ok(()) => remove_part_file(part)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if same_file(part, final_path)? {
                remove_part_file(part)?;
            } else {
                return Err(appeared(final_path));
            }
        }
        // File systems without hard links (FAT, exFAT, some network shares).
        Err(_) => rename_no_replace(part, final_path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                appeared(final_path)
            } else {
                e
            }
        })?,
    }
    if let Some(dir) = final_path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn appeared(final_path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} appeared while downloading; Inbound will not overwrite it",
            final_path.display()
        ),
    )
}

fn same_file(a: &Path, b: &Path) -> io::Result<bool> {
    Ok(match (FileId::at(a)?, FileId::at(b)?) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    })
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

/// Makes the names in a folder durable (a rename or link is only safe after this).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
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
    fn a_second_lock_on_the_same_folder_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(second, EngineError::AlreadyRunning { .. }));
        let message = second.to_string();
        assert!(message.contains("already used"), "{message}");
        assert!(
            message.contains(&format!("(process {})", std::process::id())),
            "the message names the holder: {message}"
        );
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
    fn part_files_do_not_follow_symlinks() {
        // Windows: creating a symlink needs a privilege users do not have by default;
        // the Windows branch opens every name with FILE_FLAG_OPEN_REPARSE_POINT.
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        std::os::unix::fs::symlink(&target, root.path().join("evil.inbound-part")).unwrap();
        assert!(create_part_file(&root.path().join("evil.inbound-part"), 4).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let (_, id) = create_part_file(&root.path().join("f.inbound-part"), 4).unwrap();
        assert!(matches!(
            reopen_part_file(&root.path().join("evil.inbound-part"), 4, id),
            Err(PartCheck::Foreign)
        ));
    }

    #[test]
    fn finishing_never_overwrites_a_file_that_appeared() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        let part = root.path().join("f.inbound-part");
        let (f, id) = create_part_file(&part, 4).unwrap();
        assert!(
            create_part_file(&part, 4).is_err(),
            "an existing part file is never adopted"
        );
        assert!(matches!(
            reopen_part_file(&target, 4, id),
            Err(PartCheck::Foreign)
        ));
        write_all_at(&f, b"cd", 2).unwrap();
        write_all_at(&f, b"ab", 0).unwrap();
        drop(f);
        let err = finish_part(&part, &target, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            err.to_string().contains("appeared while downloading"),
            "{err}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(
            std::fs::read(&part).unwrap(),
            b"abcd",
            "the downloaded bytes are kept"
        );
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

    #[test]
    fn a_part_file_still_held_open_gives_up_its_name_at_once() {
        // A connection still writing holds the old part file while the file restarts.
        let root = tempfile::tempdir().unwrap();
        let part = root.path().join("clip.mov.inbound-part");
        let (held, _) = create_part_file(&part, 4).unwrap();
        remove_part_file(&part).unwrap();
        let (_, again) = create_part_file(&part, 4).expect("the name is free again");
        assert_eq!(FileId::at(&part).unwrap(), Some(again));
        drop(held);
        let left: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            ["clip.mov.inbound-part"],
            "nothing else is left behind"
        );
    }

    #[test]
    fn finishing_after_a_crash_between_link_and_unlink_completes() {
        let root = tempfile::tempdir().unwrap();
        let part = root.path().join("f.mov.inbound-part");
        let dest = root.path().join("f.mov");
        std::fs::write(&part, b"bytes").unwrap();
        // The crash: the final name was linked, the part name not yet removed.
        std::fs::hard_link(&part, &dest).unwrap();
        finish_part(&part, &dest, Some(1_700_000_000)).unwrap();
        assert!(!part.exists());
        assert_eq!(std::fs::read(&dest).unwrap(), b"bytes");
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
