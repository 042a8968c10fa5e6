//! Where a package goes: straight into the chosen folder (as the MASV Agent does), or
//! into a new folder of its own named after the package, so that packages sharing a
//! download folder never mix their files or their ASC MHL histories.

use std::path::{Path, PathBuf};

use crate::model::paths::{NameRules, collision_key, numbered, safe_folder_name};

/// The folder a package is asked into, and whether it gets a folder of its own there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub folder: PathBuf,
    pub package_folder: bool,
}

impl Destination {
    /// The package's files go straight into `folder`.
    pub fn straight(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            package_folder: false,
        }
    }

    /// The package gets a new folder inside `folder`, named after it.
    pub fn package_folder_in(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            package_folder: true,
        }
    }
}

impl From<&Path> for Destination {
    fn from(folder: &Path) -> Self {
        Self::straight(folder)
    }
}

impl From<&PathBuf> for Destination {
    fn from(folder: &PathBuf) -> Self {
        Self::straight(folder.clone())
    }
}

impl From<PathBuf> for Destination {
    fn from(folder: PathBuf) -> Self {
        Self::straight(folder)
    }
}

/// Names tried before giving up: `Name`, `Name (1)`, ... `Name (999)`.
const MAX_TRIES: u32 = 1000;

/// Creates the package's own folder inside `parent`: the package name made safe, with
/// ` (1)`, ` (2)`... when a folder of that name is already there or is another
/// download's. The folder is claimed by creating it (no other process can create the
/// same one in between), so two packages of the same name never share a folder.
pub(crate) fn claim_package_folder(
    parent: &Path,
    package_name: &str,
    rules: NameRules,
    taken: &[PathBuf],
) -> std::io::Result<PathBuf> {
    let base = safe_folder_name(package_name, rules);
    let taken: std::collections::HashSet<String> = taken.iter().map(|p| collision_key(p)).collect();
    for n in 0..MAX_TRIES {
        let name = if n == 0 {
            base.clone()
        } else {
            numbered(&base, n, false)
        };
        let candidate = parent.join(name);
        if taken.contains(&collision_key(&candidate)) {
            continue;
        }
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "{MAX_TRIES} folders named like \"{base}\" are already there; choose another download folder"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_names_get_numbered_folders_and_existing_folders_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Dailies")).unwrap();
        let rules = NameRules::Unix;
        let a = claim_package_folder(dir.path(), "Dailies", rules, &[]).unwrap();
        assert_eq!(a, dir.path().join("Dailies (1)"));
        let taken = vec![dir.path().join("DAILIES (2)")];
        let b = claim_package_folder(dir.path(), "Dailies", rules, &taken).unwrap();
        assert_eq!(
            b,
            dir.path().join("Dailies (3)"),
            "another download's folder, by case"
        );
    }

    #[test]
    fn a_hostile_package_name_stays_one_folder_inside_the_parent() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../../etc", "/abs/path", "..", "", "a\\b"] {
            let got = claim_package_folder(dir.path(), name, NameRules::Windows, &[]).unwrap();
            assert_eq!(got.parent(), Some(dir.path()), "{name:?} -> {got:?}");
        }
    }
}
