//! A run's start takes up what the run before it wrote but had not flushed (see
//! `unsynced`): each piece whose bytes are still the ones written is flushed and
//! recorded; the rest is fetched again.

use crate::download::{Download, FileSlot, ledger};
use crate::run::{RunError, RunServices};
use crate::transfer::fsutil::describe_io_error;
use crate::transfer::part_on_disk::{PartCheck, reopen_part_file};
use crate::transfer::unsynced::{UnsyncedPiece, still_there};

/// Takes up the saved pieces of every file still to fetch, then forgets them all.
/// Runs after the part files are checked: a piece is read only from the part file
/// this download created.
pub(crate) fn take_up_unsynced(shared: &dyn RunServices, dl: &Download) -> Result<(), RunError> {
    let mut saved = shared
        .store()
        .unsynced(&dl.id)
        .map_err(|e| format!("could not read the saved progress: {e}"))?;
    if saved.is_empty() {
        return Ok(());
    }
    for f in dl.files.iter().filter(|f| !f.state().is_settled()) {
        if let Some(pieces) = saved.remove(&f.meta.idx) {
            take_up(shared, dl, f, pieces)?;
        }
    }
    shared
        .store()
        .clear_unsynced(&dl.id)
        .map_err(RunError::from)
}

fn take_up(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    saved: Vec<UnsyncedPiece>,
) -> Result<(), RunError> {
    let Some(id) = f.record().part else {
        return Ok(());
    };
    let path = f.part_path(&dl.dst);
    let file = match dl
        .folder()
        .map_err(PartCheck::Io)
        .and_then(|d| reopen_part_file(&d, &f.part_rel(), f.meta.size, id))
    {
        Ok(file) => file,
        Err(PartCheck::Io(e)) => return Err(describe_io_error("open", &path, &e).into()),
        // Not the part file recorded: the check before has started the file again.
        Err(_) => return Ok(()),
    };
    let missing = f.record().ranges.missing(f.meta.size);
    let mut taken = Vec::new();
    for piece in saved {
        let needed = missing
            .iter()
            .any(|&(start, end)| start < piece.end && piece.start < end);
        if !needed {
            continue;
        }
        match still_there(&file, &piece) {
            Ok(true) => taken.push(piece),
            Ok(false) => {
                tracing::info!(file = %f.meta.package_path, start = piece.start, end = piece.end, "bytes written before the stop are not on disk as written; fetching them again");
            }
            Err(e) => return Err(describe_io_error("read back", &path, &e).into()),
        }
    }
    if taken.is_empty() {
        return Ok(());
    }
    // Recorded for good only once on disk, as every range.
    file.sync_data()
        .map_err(|e| describe_io_error("write", &path, &e))?;
    tracing::debug!(file = %f.meta.package_path, pieces = taken.len(), "took up bytes written before the stop");
    let pieces = taken.iter().map(|piece| (piece.start, piece.end));
    Ok(ledger::add_ranges(shared, dl, f, pieces)?)
}
