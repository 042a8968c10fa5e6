//! A download's folder around its runs: it must be on the drive the download started
//! on. A drive that is away (unplugged, a share not mounted: its folder gone, or the
//! empty folder it is mounted on) is waited for like the network, never started afresh
//! on; a drive back under another device number is recognised and its files taken up
//! again; finished files no longer in the folder are fetched again.

use crate::download::{Download, ledger};
use crate::model::FileState;
use crate::run::{Interruption, RunEnd};
use crate::run::{RunError, RunServices};
use crate::transfer::fsutil::{describe_io_error, is_drive_away};
use crate::transfer::identity::FileId;
use crate::transfer::volume::{Compared, Volume};

/// Checks the folder before a run: there and on the download's drive (carrying its
/// files' identities over when the drive came back as another device), or a wait.
/// True when the drive was found again under a new device number.
pub(crate) fn check(shared: &dyn RunServices, dl: &Download) -> Result<bool, RunEnd> {
    let has_progress = dl.files.iter().any(|f| {
        let r = f.record();
        f.state() == FileState::Complete || r.part.is_some() || !r.ranges.ranges().is_empty()
    });
    let now = match Volume::of(&dl.dst) {
        Ok((meta, now)) if meta.is_dir() => now,
        Ok(_) => {
            return Err(RunEnd::Failed(format!(
                "{} is not a folder; choose another destination",
                dl.dst.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && has_progress => {
            return Err(away(dl, "is gone"));
        }
        Err(e) if is_drive_away(&e) && has_progress => {
            tracing::info!(folder = %dl.dst.display(), error = %e, "the download's drive does not answer");
            return Err(away(dl, "cannot be reached"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dl.dst)
                .map_err(|e| describe_io_error("create the folder", &dl.dst, &e))?;
            let made = Volume::of(&dl.dst)
                .map_err(|e| describe_io_error("open the folder", &dl.dst, &e))?;
            made.1
        }
        Err(e) => return Err(describe_io_error("open the folder", &dl.dst, &e).into()),
    };
    let was = dl.volume();
    match was {
        Some(was) if has_progress => match was.compare(&now) {
            Compared::Same if was.folder.is_none() => record(shared, dl, &now).map(|()| false),
            Compared::Same => Ok(false),
            Compared::Remounted => moved_to(shared, dl, was.dev, &now).map(|()| true),
            Compared::Unproven if files_recognised(dl, now.dev) => {
                moved_to(shared, dl, was.dev, &now).map(|()| true)
            }
            Compared::Unproven | Compared::Other => Err(away(
                dl,
                "is on another drive than the one the download started on",
            )),
        },
        // Nothing on disk yet (or an older record): the drive is the one it is now.
        _ if was != Some(now) => record(shared, dl, &now).map(|()| false),
        _ => Ok(false),
    }
}

/// What to make of a run that failed.
pub(crate) enum Recovery {
    /// Its folder went away: wait for it.
    Wait(Interruption),
    /// Something it had is gone and is to be fetched again, or its drive came back
    /// under another number: run again now.
    Again,
}

/// A run failed (a file could not be written, renamed or read back): if the cause is
/// its folder going away, or finished files gone from it, that is no failure.
pub(crate) fn after_failure(shared: &dyn RunServices, dl: &Download) -> Option<Recovery> {
    match check(shared, dl) {
        Err(RunEnd::Interrupted(why)) => Some(Recovery::Wait(why)),
        Err(_) => None,
        Ok(true) => Some(Recovery::Again),
        Ok(false) => match recheck_finished(shared, dl) {
            Ok(true) => Some(Recovery::Again),
            _ => None,
        },
    }
}

/// Finished files that are no longer at their name (deleted, moved away, or lost
/// with a share that came back empty) are fetched again: a package is only handed
/// over whole. True when there was one.
pub(crate) fn recheck_finished(shared: &dyn RunServices, dl: &Download) -> Result<bool, RunError> {
    let mut any = false;
    for f in dl.files.iter().filter(|f| f.state() == FileState::Complete) {
        let path = f.final_path(&dl.dst);
        if FileId::at(&path).is_ok_and(|found| found.is_none()) {
            tracing::warn!(file = %f.meta.package_path, "finished before, but no longer in the folder; fetching it again");
            ledger::forget_finished(shared, dl, f)?;
            any = true;
        }
    }
    Ok(any)
}

/// The wait for a drive that is not there, in words that say what to do.
fn away(dl: &Download, why: &str) -> RunEnd {
    RunEnd::Interrupted(Interruption::drive(format!(
        "the folder {} {why}: is the drive connected? Inbound goes on by itself once it is back (or remove this download and add the link again to start over elsewhere)",
        dl.dst.display()
    )))
}

fn record(shared: &dyn RunServices, dl: &Download, now: &Volume) -> Result<(), RunEnd> {
    ledger::set_volume(shared, dl, now).map_err(|e| RunEnd::from(RunError::from(e)))
}

/// Whether a file this download created is at its name on device `dev` under the
/// inode it had: proof that a drive whose file system has no lasting id is the one.
fn files_recognised(dl: &Download, dev: u64) -> bool {
    dl.files.iter().any(|f| {
        let (part, written) = {
            let r = f.record();
            (r.part, r.written)
        };
        let part = part.map(|id| (id, f.part_path(&dl.dst)));
        let written = written.map(|w| (w.id, f.final_path(&dl.dst)));
        part.into_iter().chain(written).any(|(id, path)| {
            FileId::at(&path).is_ok_and(|found| found == Some(FileId { dev, ino: id.ino }))
        })
    })
}

/// The drive came back as device `now.dev`: every identity recorded on `was` moves
/// to it, in the database first.
fn moved_to(shared: &dyn RunServices, dl: &Download, was: u64, now: &Volume) -> Result<(), RunEnd> {
    tracing::info!(download = %dl.id, folder = %dl.dst.display(), was, now = now.dev, "the drive is back under another device number; its files are taken up again");
    ledger::move_to_volume(shared, dl, was, now).map_err(|e| RunEnd::from(RunError::from(e)))
}
