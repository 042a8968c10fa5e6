//! Paths below a download's folder, reached without following a link. The folder
//! itself is opened once by the path the person gave (links in it are theirs to make);
//! every step below it goes from an open folder to the next one named, refusing a
//! symbolic link or anything that is not a folder (`openat` with `O_NOFOLLOW`), and
//! creates, opens, links and gives away files relative to the folder holding them.
//! Someone who may write into the download's folder (another account sharing it, say)
//! and swaps a subfolder for a link to `/etc` between two steps gets an error, never
//! a file written, linked or given away outside the folder.
//!
//! On Windows these are path operations (creating a symbolic link there takes a
//! privilege ordinary accounts lack); junctions are left to the folder's ACLs.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// A download's folder, held open.
pub(crate) struct Beneath {
    root: PathBuf,
    #[cfg(unix)]
    dir: std::os::fd::OwnedFd,
}

impl Beneath {
    /// Opens `root` as the person named it.
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        #[cfg(unix)]
        {
            let dir = rustix::fs::open(
                root,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )?;
            Ok(Self {
                root: root.to_owned(),
                dir,
            })
        }
        #[cfg(not(unix))]
        {
            if !std::fs::metadata(root)?.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a folder", root.display()),
                ));
            }
            Ok(Self {
                root: root.to_owned(),
            })
        }
    }

    /// A download's own folder: `folder` when the person chose it, or the package
    /// folder Inbound made inside it (`own`), entered without following a link.
    pub(crate) fn of_download(folder: &Path, own: bool) -> io::Result<Self> {
        match (own, folder.parent(), folder.file_name()) {
            (true, Some(parent), Some(name)) => {
                let outer = Self::open(parent)?;
                outer.folder(Path::new(name))
            }
            _ => Self::open(folder),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The folder at `rel` below this one, every step a real folder.
    pub(crate) fn folder(&self, rel: &Path) -> io::Result<Self> {
        #[cfg(unix)]
        {
            let dir = self.walk(rel.components())?;
            Ok(Self {
                root: self.root.join(rel),
                dir,
            })
        }
        #[cfg(not(unix))]
        {
            checked(rel)?;
            Self::open(&self.root.join(rel))
        }
    }

    /// Creates the folders of `rel` one by one. Returns those it created (relative).
    pub(crate) fn create_dirs(&self, rel: &Path) -> io::Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        let mut done = PathBuf::new();
        for comp in rel.components() {
            let name = normal(comp)?;
            let parent = self.folder(&done)?;
            done.push(name);
            match parent.make_dir(name) {
                Ok(()) => created.push(done.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        // Every one of them a folder, not a link put there meanwhile.
        self.folder(rel)?;
        Ok(created)
    }

    /// A new file at `rel`, read and write; fails if anything is at its name.
    pub(crate) fn create_new(&self, rel: &Path) -> io::Result<File> {
        let (parent, name) = self.parent_of(rel)?;
        parent.open_in(name, Access::CreateNew)
    }

    /// The file at `rel`, read and write; a link there is refused.
    pub(crate) fn open_existing(&self, rel: &Path) -> io::Result<File> {
        let (parent, name) = self.parent_of(rel)?;
        parent.open_in(name, Access::ReadWrite)
    }

    /// The file at `rel`, read only; a link there is refused.
    pub(crate) fn open_read(&self, rel: &Path) -> io::Result<File> {
        let (parent, name) = self.parent_of(rel)?;
        parent.open_in(name, Access::Read)
    }

    /// Makes the names in this folder durable (a rename or link is only safe after).
    pub(crate) fn sync(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            Ok(rustix::fs::fsync(&self.dir)?)
        }
        // Windows makes a folder's names durable with the files themselves.
        #[cfg(not(unix))]
        {
            Ok(())
        }
    }

    /// Gives `rel` (a file or a folder; the folder itself when empty) to `uid`/`gid`.
    /// A link at `rel` is given away itself, never what it points to.
    #[cfg(unix)]
    pub(crate) fn chown(&self, rel: &Path, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        let (uid, gid) = (
            uid.map(rustix::fs::Uid::from_raw),
            gid.map(rustix::fs::Gid::from_raw),
        );
        if rel.as_os_str().is_empty() {
            return Ok(rustix::fs::fchown(&self.dir, uid, gid)?);
        }
        let (parent, name) = self.parent_of(rel)?;
        Ok(rustix::fs::chownat(
            &parent.dir,
            name,
            uid,
            gid,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Removes the file at `rel`.
    pub(crate) fn remove_file(&self, rel: &Path) -> io::Result<()> {
        let (parent, name) = self.parent_of(rel)?;
        #[cfg(unix)]
        {
            Ok(rustix::fs::unlinkat(
                &parent.dir,
                name,
                rustix::fs::AtFlags::empty(),
            )?)
        }
        #[cfg(not(unix))]
        {
            std::fs::remove_file(parent.root.join(name))
        }
    }

    /// Gives the file at `from` a second name, `to` (both below this folder); fails if
    /// `to` exists.
    pub(crate) fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = self.parent_of(from)?;
        let (to_dir, to_name) = self.parent_of(to)?;
        #[cfg(unix)]
        {
            Ok(rustix::fs::linkat(
                &from_dir.dir,
                from_name,
                &to_dir.dir,
                to_name,
                rustix::fs::AtFlags::empty(),
            )?)
        }
        #[cfg(not(unix))]
        {
            std::fs::hard_link(from_dir.root.join(from_name), to_dir.root.join(to_name))
        }
    }

    /// Renames `from` to `to` (both below this folder) without replacing anything.
    pub(crate) fn rename_no_replace(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = self.parent_of(from)?;
        let (to_dir, to_name) = self.parent_of(to)?;
        #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
        {
            Ok(rustix::fs::renameat_with(
                &from_dir.dir,
                from_name,
                &to_dir.dir,
                to_name,
                rustix::fs::RenameFlags::NOREPLACE,
            )?)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
        {
            crate::transfer::fsutil::rename_no_replace(
                &from_dir.root.join(from_name),
                &to_dir.root.join(to_name),
            )
        }
    }

    /// The folder holding `rel`, and `rel`'s last name.
    fn parent_of<'a>(&self, rel: &'a Path) -> io::Result<(Self, &'a OsStr)> {
        let name = match rel.components().next_back() {
            Some(c) => normal(c)?,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an empty path below the folder",
                ));
            }
        };
        let parent = self.folder(rel.parent().unwrap_or(Path::new("")))?;
        Ok((parent, name))
    }

    fn make_dir(&self, name: &OsStr) -> io::Result<()> {
        #[cfg(unix)]
        {
            Ok(rustix::fs::mkdirat(
                &self.dir,
                name,
                rustix::fs::Mode::from_raw_mode(0o777),
            )?)
        }
        #[cfg(not(unix))]
        {
            std::fs::create_dir(self.root.join(name))
        }
    }

    fn open_in(&self, name: &OsStr, access: Access) -> io::Result<File> {
        #[cfg(unix)]
        {
            use rustix::fs::OFlags;
            let flags = OFlags::NOFOLLOW
                | OFlags::CLOEXEC
                | match access {
                    Access::Read => OFlags::RDONLY,
                    Access::ReadWrite => OFlags::RDWR,
                    Access::CreateNew => OFlags::RDWR | OFlags::CREATE | OFlags::EXCL,
                };
            let fd = rustix::fs::openat(
                &self.dir,
                name,
                flags,
                rustix::fs::Mode::from_raw_mode(0o666),
            )
            .map_err(|e| self.explain(name, e.into()))?;
            Ok(File::from(fd))
        }
        #[cfg(not(unix))]
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.read(true);
            match access {
                Access::Read => {}
                Access::ReadWrite => {
                    opts.write(true);
                }
                Access::CreateNew => {
                    opts.write(true).create_new(true);
                }
            }
            opts.open(self.root.join(name))
        }
    }

    /// One step down from this folder: `names` in turn, each a real folder.
    #[cfg(unix)]
    fn walk<'a>(
        &self,
        names: impl Iterator<Item = Component<'a>>,
    ) -> io::Result<std::os::fd::OwnedFd> {
        use rustix::fs::OFlags;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut cur = rustix::fs::openat(&self.dir, ".", flags, rustix::fs::Mode::empty())?;
        let mut at = self.root.clone();
        for comp in names {
            let name = normal(comp)?;
            at.push(name);
            cur = rustix::fs::openat(&cur, name, flags, rustix::fs::Mode::empty())
                .map_err(|e| not_through_links(&at, e.into()))?;
        }
        Ok(cur)
    }

    #[cfg(unix)]
    fn explain(&self, name: &OsStr, e: io::Error) -> io::Error {
        not_through_links(&self.root.join(name), e)
    }
}

/// How a file is opened.
#[derive(Clone, Copy)]
enum Access {
    Read,
    ReadWrite,
    CreateNew,
}

/// A link where a folder or file was expected (`ELOOP`, or `ENOTDIR` for a link to a
/// file), said as such.
#[cfg(unix)]
fn not_through_links(at: &Path, e: io::Error) -> io::Error {
    let link = std::fs::symlink_metadata(at).is_ok_and(|m| m.file_type().is_symlink());
    if link {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is a symbolic link; Inbound does not write through links",
                at.display()
            ),
        )
    } else if e.raw_os_error() == Some(libc::ENOTDIR) {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a folder", at.display()),
        )
    } else {
        e
    }
}

fn normal(comp: Component<'_>) -> io::Result<&OsStr> {
    match comp {
        Component::Normal(name) => Ok(name),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing path component {other:?}"),
        )),
    }
}

#[cfg(not(unix))]
fn checked(rel: &Path) -> io::Result<()> {
    rel.components().try_for_each(|c| normal(c).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_folders_are_made_and_opened_below_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let b = Beneath::open(dir.path()).unwrap();
        assert_eq!(
            b.create_dirs(Path::new("a/b")).unwrap(),
            vec![PathBuf::from("a"), PathBuf::from("a/b")]
        );
        assert!(b.create_dirs(Path::new("a/b")).unwrap().is_empty());
        let mut f = b.create_new(Path::new("a/b/x.part")).unwrap();
        std::io::Write::write_all(&mut f, b"bytes").unwrap();
        assert_eq!(
            b.create_new(Path::new("a/b/x.part")).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        b.open_existing(Path::new("a/b/x.part")).unwrap();
        b.hard_link(Path::new("a/b/x.part"), Path::new("a/x"))
            .unwrap();
        b.remove_file(Path::new("a/b/x.part")).unwrap();
        b.rename_no_replace(Path::new("a/x"), Path::new("a/b/y"))
            .unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b/y")).unwrap(), b"bytes");
        for bad in ["../x", "/etc/x", "a/../../x"] {
            assert!(b.create_new(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_anywhere_below_the_folder_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let b = Beneath::open(dir.path()).unwrap();
        b.create_dirs(Path::new("Clips")).unwrap();
        std::fs::write(outside.path().join("precious"), b"keep").unwrap();
        // The folder swapped for a link to somewhere else.
        std::fs::rename(dir.path().join("Clips"), dir.path().join("Clips.old")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("Clips")).unwrap();
        let e = b.create_new(Path::new("Clips/new.part")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(b.open_existing(Path::new("Clips/precious")).is_err());
        assert!(b.create_dirs(Path::new("Clips/sub")).is_err());
        assert!(
            b.hard_link(Path::new("Clips.old"), Path::new("Clips/x"))
                .is_err()
        );
        // A link at the file's own name.
        std::os::unix::fs::symlink(outside.path().join("precious"), dir.path().join("f")).unwrap();
        assert!(b.open_existing(Path::new("f")).is_err());
        assert!(b.create_new(Path::new("f")).is_err());
        assert_eq!(
            std::fs::read(outside.path().join("precious")).unwrap(),
            b"keep"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        // A package folder Inbound made, itself swapped for a link.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("Package")).unwrap();
        assert!(Beneath::of_download(&dir.path().join("Package"), true).is_err());
        assert!(Beneath::of_download(&dir.path().join("Package"), false).is_ok());
    }
}
