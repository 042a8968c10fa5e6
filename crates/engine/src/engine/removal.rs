//! Deleting what a download wrote, and nothing else: a completed file only while it is
//! still the file the engine finished (same identity, size and time), a part file only
//! while it is the one the engine created, folders only if the download created them
//! and they are empty. Part files go whenever a download is removed (they are of no
//! use to anyone); completed files only when asked.

use std::path::{Path, PathBuf};

use crate::download::Download;
use crate::model::FileState;
use crate::transfer::fsutil::remove_part_file;

/// Removes the part files `dl` wrote, and with `completed` its finished files and its
/// history too; then the folders it created, if that left them empty. Carries on past
/// failures and returns them, one line each.
pub(crate) fn remove_written_files(
    dl: &Download,
    mut created_dirs: Vec<PathBuf>,
    completed: bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    for f in &dl.files {
        if f.meta.rel_path.as_os_str().is_empty() {
            continue;
        }
        let final_path = f.final_path(&dl.dst);
        if completed && f.state() == FileState::Complete {
            let written = f.record().written;
            match written {
                Some(w) if w.still_at(&final_path) => {
                    remove(|p| std::fs::remove_file(p), &final_path, &mut failures);
                }
                Some(_) => tracing::info!(
                    file = %final_path.display(),
                    "left in place: it is no longer the file Inbound wrote"
                ),
                None => tracing::info!(
                    file = %final_path.display(),
                    "left in place: no record of what Inbound wrote there"
                ),
            }
        }
        let part = f.part_path(&dl.dst);
        let ours = f.record().part;
        if let Some(id) = ours
            && id.is_at(&part)
        {
            remove(remove_part_file, &part, &mut failures);
        }
    }
    // Deepest first, and only folders this download created that are now empty.
    created_dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in created_dirs {
        let _ = std::fs::remove_dir(dl.dst.join(dir));
    }
    if dl.package_folder {
        if completed {
            remove_own_history(dl);
        }
        // Created for this package when it was added; only removed when empty.
        let _ = std::fs::remove_dir(&dl.dst);
    }
    failures
}

/// The package folder's ASC MHL history, when every generation in it is Inbound's (the
/// download's own, a "Verify again", a repair): it names files that are gone now. A
/// history another tool added to (a later `ascmhl create`, a DIT's copy) is theirs too
/// and stays.
fn remove_own_history(dl: &Download) {
    let history = dl.dst.join(inbound_mhl::FOLDER);
    let Ok(entries) = std::fs::read_dir(&history) else {
        return;
    };
    let paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    let only_ours = paths.iter().all(|p| {
        p.file_name() == Some(std::ffi::OsStr::new(inbound_mhl::CHAIN)) || written_by_inbound(p)
    });
    if !only_ours {
        tracing::info!(folder = %history.display(), "history left in place: another tool wrote in it");
        return;
    }
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    let _ = std::fs::remove_dir(&history);
}

/// A manifest whose creator is Inbound.
fn written_by_inbound(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "mhl")
        && std::fs::read_to_string(path)
            .ok()
            .and_then(|xml| inbound_mhl::read_manifest(&xml).ok())
            .is_some_and(|m| m.tool == crate::run::manifest::TOOL)
}

/// Removes `path` with `remover`; a failure is logged and said in `failures`.
fn remove(
    remover: impl FnOnce(&Path) -> std::io::Result<()>,
    path: &Path,
    failures: &mut Vec<String>,
) {
    match remover(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "could not remove a downloaded file");
            failures.push(crate::transfer::fsutil::describe_io_error(
                "remove", path, &e,
            ));
        }
    }
}
