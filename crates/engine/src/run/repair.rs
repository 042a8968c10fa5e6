//! Downloading a package again into the folder it completed in (a repair): each file
//! an earlier download completed is looked for where that download put it and hashed
//! against the hash it recorded. A file that matches is taken as it is; a missing one
//! is fetched; one that differs is moved aside under a name that says so, never
//! overwritten (it may be someone's edit), and the package's own bytes are fetched.
//!
//! This runs in the download's run, not when the link is added: hashing 100 GB takes
//! minutes, and adding a link answers at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use inbound_mhl::Digest;

use crate::download::{Download, ledger};
use crate::model::{FileState, Found, RepairCheck};
use crate::run::prepare::record_complete;
use crate::run::{RunError, RunServices};
use crate::sync::lock;
use crate::transfer::fsutil::{describe_io_error, rename_no_replace};

/// Looks at every file of `dl` still to be checked. Those found equal are complete
/// when this returns; the others are left to be fetched.
pub(crate) async fn check_files(
    shared: &dyn RunServices,
    dl: &Arc<Download>,
) -> Result<(), RunError> {
    let to_check: Vec<(usize, Digest)> = dl
        .files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| unchecked(f).map(|expected| (i, expected)))
        .collect();
    if to_check.is_empty() {
        return Ok(());
    }
    // Shown while it lasts, and gone however it ends (a pause drops this future).
    let _shown = ShownChecking::start(dl, &to_check);
    for (i, expected) in to_check {
        let f = &dl.files[i];
        // Moved aside here, not while hashing: a pause during the hashing (which drops
        // this future) must not leave a file moved that nobody recorded.
        let found = match look_at(dl, i, expected.clone()).await? {
            Some(found) => found,
            None => Found::Changed {
                kept_as: move_aside(&dl.dst, &f.meta.rel_path)?,
            },
        };
        match &found {
            // Complete as it is, with the hash it was found to have.
            Found::Same => record_complete(shared, dl, f, expected)?,
            Found::Missing => {
                tracing::info!(file = %f.meta.package_path, "not in the folder any more; fetching it again");
            }
            Found::Changed { kept_as } => {
                tracing::warn!(file = %f.meta.package_path, kept_as = %kept_as.display(), "differs from what arrived before; kept aside, fetching the package's file again");
            }
        }
        ledger::set_repair_found(shared, dl, f, found)?;
        if let Some(c) = &mut *lock(&dl.checking) {
            c.files_done += 1;
        }
    }
    Ok(())
}

/// What a file completed before, and not looked at yet in this repair, is expected to
/// hash to.
fn unchecked(f: &crate::download::FileSlot) -> Option<Digest> {
    match &f.record().repair {
        Some(RepairCheck {
            expected,
            found: None,
        }) if f.state() == FileState::Pending => Some(expected.clone()),
        _ => None,
    }
}

/// The download's `checking`, set while the files are looked at.
struct ShownChecking<'a>(&'a Download);

impl<'a> ShownChecking<'a> {
    fn start(dl: &'a Download, files: &[(usize, Digest)]) -> Self {
        *lock(&dl.checking) = Some(crate::model::Checking {
            files_done: 0,
            files: files.len(),
            bytes_done: 0,
            bytes: files.iter().map(|&(i, _)| dl.files[i].meta.size).sum(),
        });
        Self(dl)
    }
}

impl Drop for ShownChecking<'_> {
    fn drop(&mut self) {
        *lock(&self.0.checking) = None;
    }
}

/// Hashes the file at its place (off the runtime's threads): `Same` or `Missing`, or
/// `None` when a different file is there.
async fn look_at(dl: &Arc<Download>, i: usize, expected: Digest) -> Result<Option<Found>, String> {
    let dl = dl.clone();
    tokio::task::spawn_blocking(move || {
        let f = &dl.files[i];
        let path = f.final_path(&dl.dst);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Found::Missing)),
            Err(e) => return Err(describe_io_error("check", &path, &e)),
        };
        // A folder or a link where the file was is not the file either.
        let same = meta.is_file()
            && meta.len() == f.meta.size
            && inbound_mhl::hash_file_with(&path, expected.algorithm, |n| {
                if let Some(c) = &mut *lock(&dl.checking) {
                    c.bytes_done += n;
                }
            })
            .map_err(|e| describe_io_error("read", &path, &e))?
                == expected.value;
        Ok(same.then_some(Found::Same))
    })
    .await
    .map_err(|e| format!("checking the files already there stopped: {e}"))?
}

/// Moves the file at `rel` (inside `dst`) to the first free `name (changed).ext`,
/// `name (changed 2).ext`, … beside it, never replacing anything; the new name,
/// relative to `dst`.
fn move_aside(dst: &Path, rel: &Path) -> Result<PathBuf, String> {
    let from = dst.join(rel);
    for n in 1..1000 {
        let aside = rel.with_file_name(aside_name(rel, n));
        match rename_no_replace(&from, &dst.join(&aside)) {
            Ok(()) => return Ok(aside),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(describe_io_error("move aside", &from, &e)),
        }
    }
    Err(format!(
        "{} differs from what arrived before, and no free name was found to keep it under; move it away, then retry",
        from.display()
    ))
}

/// `clip.mov` → `clip (changed).mov`, then `clip (changed 2).mov`; the extension stays
/// last so the file still opens with its application.
fn aside_name(rel: &Path, n: u32) -> String {
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag = if n == 1 {
        "(changed)".to_owned()
    } else {
        format!("(changed {n})")
    };
    match rel.extension() {
        Some(ext) => format!("{stem} {tag}.{}", ext.to_string_lossy()),
        None => format!("{stem} {tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_gets_a_free_name_beside_it_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Day 1")).unwrap();
        let rel = Path::new("Day 1/clip.mov");
        std::fs::write(dir.path().join(rel), b"edit").unwrap();
        std::fs::write(dir.path().join("Day 1/clip (changed).mov"), b"older edit").unwrap();
        let kept = move_aside(dir.path(), rel).unwrap();
        assert_eq!(kept, Path::new("Day 1/clip (changed 2).mov"));
        assert_eq!(std::fs::read(dir.path().join(&kept)).unwrap(), b"edit");
        assert_eq!(
            std::fs::read(dir.path().join("Day 1/clip (changed).mov")).unwrap(),
            b"older edit"
        );
        assert!(!dir.path().join(rel).exists());
        assert_eq!(aside_name(Path::new("README"), 1), "README (changed)");
    }
}
