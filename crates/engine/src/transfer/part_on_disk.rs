//! A file's part file on disk: created exclusively, reopened only while it is still
//! the one this download created, and given its final name without replacing
//! anything. Every step is taken below the download's folder without following a link
//! ([`Beneath`]).

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::transfer::beneath::Beneath;
use crate::transfer::identity::FileId;

/// Creates a new part file of `size` bytes at `rel`. Fails if anything is already at
/// its name (nothing this download did not create is ever adopted).
pub(crate) fn create_part_file(dir: &Beneath, rel: &Path, size: u64) -> io::Result<(File, FileId)> {
    let file = dir.create_new(rel)?;
    file.set_len(size)?;
    let id = FileId::of(&file)?;
    Ok((file, id))
}

/// File systems stamp a new file from a coarse clock (a tick, up to ~16 ms behind the
/// time a program reads): a file created just after the intent may look a little older.
const CLOCK_SLACK: Duration = Duration::from_millis(50);

/// The part file at `rel` if this download created it after `intent` (the moment it
/// recorded that it would) and was stopped before recording it: a regular file, born
/// since then, empty or of the planned length. Given the planned length; its bytes
/// are not trusted (none are recorded). `None` when the file there is not that.
pub(crate) fn adopt_part_file(
    dir: &Beneath,
    rel: &Path,
    size: u64,
    intent: SystemTime,
) -> io::Result<Option<(File, FileId)>> {
    let Ok(file) = dir.open_existing(rel) else {
        return Ok(None);
    };
    let meta = file.metadata()?;
    // No birth time (some file systems keep none): nothing proves it is ours.
    let born_since = meta
        .created()
        .is_ok_and(|born| born + CLOCK_SLACK >= intent);
    if !meta.is_file() || !born_since || (meta.len() != 0 && meta.len() != size) {
        return Ok(None);
    }
    file.set_len(size)?;
    let id = FileId::of_open(&file, &meta)?;
    Ok(Some((file, id)))
}

/// Why a recorded part file cannot be used as it is.
#[derive(Debug)]
pub(crate) enum PartCheck {
    /// Gone: its recorded bytes are lost and must be fetched again.
    Missing,
    /// Ours, but not the expected length (truncated by someone): start it again.
    WrongLength,
    /// Something else is at its name now (or a link): never written into.
    Foreign,
    Io(io::Error),
}

/// Opens the part file this download created, if the file at `rel` is still it.
pub(crate) fn reopen_part_file(
    dir: &Beneath,
    rel: &Path,
    size: u64,
    id: FileId,
) -> Result<File, PartCheck> {
    let file = match dir.open_existing(rel) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(PartCheck::Missing),
        // A link (at its name or on the way to it) is not ours.
        Err(_) if is_link(&dir.root().join(rel)) => return Err(PartCheck::Foreign),
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

fn is_link(path: &Path) -> bool {
    path.ancestors()
        .any(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()))
}

/// Moves a finished part file to its final name without replacing anything that
/// appeared there meanwhile, with its modification time set first, and makes the new
/// name durable. Idempotent: after a crash between linking the final name and removing
/// the part name, both names are the same file and finishing just removes the part.
pub(crate) fn finish_part(
    dir: &Beneath,
    part: &Path,
    final_rel: &Path,
    mtime: Option<i64>,
) -> io::Result<()> {
    let final_path = dir.root().join(final_rel);
    if let Some(secs) = mtime {
        let set = dir.open_existing(part).and_then(|f| {
            filetime::set_file_handle_times(
                &f,
                None,
                Some(filetime::FileTime::from_unix_time(secs, 0)),
            )
        });
        if let Err(e) = set {
            // FAT and some network shares refuse it: the bytes matter more than the date.
            tracing::warn!(file = %final_path.display(), error = %e, "could not set the modification time");
        }
    }
    match dir.hard_link(part, final_rel) {
        Ok(()) => remove_part(dir, part)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if same_file(dir, part, final_rel)? {
                remove_part(dir, part)?;
            } else {
                return Err(appeared(&final_path));
            }
        }
        // File systems without hard links (FAT, exFAT, some network shares).
        Err(_) => dir.rename_no_replace(part, final_rel).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                appeared(&final_path)
            } else {
                e
            }
        })?,
    }
    dir.folder(final_rel.parent().unwrap_or(Path::new("")))?
        .sync()
}

fn remove_part(dir: &Beneath, part: &Path) -> io::Result<()> {
    // Windows frees the name of a file still open elsewhere only when set aside first.
    if cfg!(windows) {
        crate::transfer::fsutil::remove_part_file(&dir.root().join(part))
    } else {
        dir.remove_file(part)
    }
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

fn same_file(dir: &Beneath, a: &Path, b: &Path) -> io::Result<bool> {
    let id = |rel: &Path| -> io::Result<Option<FileId>> {
        match dir.open_read(rel) {
            Ok(f) => Ok(Some(FileId::of(&f)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A link or something we may not open is not our part file.
            Err(_) => Ok(None),
        }
    };
    Ok(match (id(a)?, id(b)?) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::fsutil::{remove_part_file, write_all_at};

    fn at(root: &Path) -> Beneath {
        Beneath::open(root).unwrap()
    }

    #[test]
    fn only_a_part_file_born_since_the_intent_is_taken_up() {
        let root = tempfile::tempdir().unwrap();
        let dir = at(root.path());
        let rel = Path::new("clip.mov.inbound-part");
        let before = SystemTime::now() - Duration::from_secs(5);
        // Another program's file, there before this download meant to create one.
        std::fs::write(root.path().join(rel), b"theirs").unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        assert!(adopt_part_file(&dir, rel, 6, later).unwrap().is_none());
        // Of neither length: not a part file this download made.
        assert!(adopt_part_file(&dir, rel, 100, before).unwrap().is_none());
        std::fs::remove_file(root.path().join(rel)).unwrap();
        // Created (empty) after the intent: taken up at the planned length.
        std::fs::write(root.path().join(rel), b"").unwrap();
        let (file, id) = adopt_part_file(&dir, rel, 100, before).unwrap().unwrap();
        assert_eq!(file.metadata().unwrap().len(), 100);
        assert!(id.is_at(&root.path().join(rel)));
        assert!(
            adopt_part_file(&dir, Path::new("none"), 100, before)
                .unwrap()
                .is_none()
        );
    }

    #[cfg(unix)]
    #[test]
    fn part_files_do_not_follow_symlinks() {
        // Windows: creating a symlink needs a privilege users do not have by default.
        let root = tempfile::tempdir().unwrap();
        let dir = at(root.path());
        let target = root.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        std::os::unix::fs::symlink(&target, root.path().join("evil.inbound-part")).unwrap();
        assert!(create_part_file(&dir, Path::new("evil.inbound-part"), 4).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let (_, id) = create_part_file(&dir, Path::new("f.inbound-part"), 4).unwrap();
        assert!(matches!(
            reopen_part_file(&dir, Path::new("evil.inbound-part"), 4, id),
            Err(PartCheck::Foreign)
        ));
    }

    #[test]
    fn finishing_never_overwrites_a_file_that_appeared() {
        let root = tempfile::tempdir().unwrap();
        let dir = at(root.path());
        let target = root.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        let part = Path::new("f.inbound-part");
        let (f, id) = create_part_file(&dir, part, 4).unwrap();
        assert!(
            create_part_file(&dir, part, 4).is_err(),
            "an existing part file is never adopted"
        );
        assert!(matches!(
            reopen_part_file(&dir, Path::new("target"), 4, id),
            Err(PartCheck::Foreign)
        ));
        write_all_at(&f, b"cd", 2).unwrap();
        write_all_at(&f, b"ab", 0).unwrap();
        drop(f);
        let err = finish_part(&dir, part, Path::new("target"), None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            err.to_string().contains("appeared while downloading"),
            "{err}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(
            std::fs::read(root.path().join(part)).unwrap(),
            b"abcd",
            "the downloaded bytes are kept"
        );
        finish_part(&dir, part, Path::new("f"), Some(1_700_000_000)).unwrap();
        let dest = root.path().join("f");
        assert_eq!(std::fs::read(&dest).unwrap(), b"abcd");
        assert!(!root.path().join(part).exists());
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
        let dir = at(root.path());
        let rel = Path::new("clip.mov.inbound-part");
        let part = root.path().join(rel);
        let (held, _) = create_part_file(&dir, rel, 4).unwrap();
        remove_part_file(&part).unwrap();
        let (_, again) = create_part_file(&dir, rel, 4).expect("the name is free again");
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
        let dir = at(root.path());
        let part = root.path().join("f.mov.inbound-part");
        let dest = root.path().join("f.mov");
        std::fs::write(&part, b"bytes").unwrap();
        // The crash: the final name was linked, the part name not yet removed.
        std::fs::hard_link(&part, &dest).unwrap();
        finish_part(
            &dir,
            Path::new("f.mov.inbound-part"),
            Path::new("f.mov"),
            Some(1_700_000_000),
        )
        .unwrap();
        assert!(!part.exists());
        assert_eq!(std::fs::read(&dest).unwrap(), b"bytes");
    }
}
