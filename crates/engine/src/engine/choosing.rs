//! Changing which files a download fetches after it was added: files taken in get a
//! name planned against the folder as it is now; files left out stop, and what they
//! had fetched is removed. A file already complete stays (nothing is un-downloaded).
//!
//! A running download's run is stopped for the change and starts again at once with
//! the new files (its other files keep their bytes): the runner never has to take or
//! drop a file under its connections' feet.

use std::path::PathBuf;
use std::sync::Arc;

use super::Engine;
use super::planning::selection_json;
use crate::download::Download;
use crate::download::ledger;
use crate::error::EngineError;
use crate::model::paths::PathPlanner;
use crate::model::selection::{Selection, SelectionError};
use crate::model::{DownloadState, Event, FileState};
use crate::store::choice::ChosenFile;
use crate::sync::lock;

impl Engine {
    /// Fetches the files `selection` chooses from now on, instead of those chosen
    /// before. Returns how many files were taken in and left out.
    pub async fn choose_files(
        &self,
        id: &str,
        selection: Selection,
    ) -> Result<FilesChanged, EngineError> {
        let matcher = selection.matcher()?;
        let dl = self.find(id)?;
        if dl.is_unlisted() {
            return Err(EngineError::CannotChooseFiles(
                "MASV has not listed its files yet; choose them once it has".into(),
            ));
        }
        let unknown = matcher.unknown_ids(dl.files.iter().map(|f| f.meta.file_id.as_str()));
        if !unknown.is_empty() {
            return Err(SelectionError::UnknownFiles(unknown).into());
        }
        let chosen =
            |f: &crate::download::FileSlot| matcher.selects(&f.meta.file_id, &f.meta.package_path);
        let take_in: Vec<usize> = dl
            .files
            .iter()
            .filter(|f| f.state() == FileState::Excluded && chosen(f))
            .map(|f| f.meta.idx)
            .collect();
        let leave_out: Vec<usize> = dl
            .files
            .iter()
            .filter(|f| !f.state().is_settled() && !chosen(f))
            .map(|f| f.meta.idx)
            .collect();
        // A choice of no file at all is a mistake, not a way to stop (that is pause).
        let any_chosen = dl.files.iter().any(|f| {
            chosen(f) && !matches!(f.state(), FileState::VirusWithheld | FileState::Skipped)
        });
        if !any_chosen {
            return Err(SelectionError::NothingSelected(selection.describe()).into());
        }
        if take_in.is_empty() && leave_out.is_empty() {
            return Ok(FilesChanged::default());
        }
        let left_out = self
            .swap_files(&dl, &selection, &take_in, &leave_out)
            .await?;
        Ok(FilesChanged {
            taken_in: take_in.len(),
            left_out,
        })
    }

    /// Stops the download's run, records the change, and puts a download with the new
    /// files in its place (same id), which starts again if it was running or complete.
    /// How many files were left out: one that completed while the run was being
    /// stopped is delivered, and stays.
    async fn swap_files(
        &self,
        dl: &Arc<Download>,
        selection: &Selection,
        take_in: &[usize],
        leave_out: &[usize],
    ) -> Result<usize, EngineError> {
        // Nothing may start the old one again while it is being replaced.
        let (run, was) = {
            let mut s = dl.status();
            if s.deleted {
                return Err(EngineError::UnknownDownload(dl.id.clone()));
            }
            s.deleted = true;
            (s.run.take(), s.state())
        };
        self.shared.seam("choose.stopping");
        super::queue::stop_run(run).await;
        let leave_out: Vec<usize> = leave_out
            .iter()
            .copied()
            .filter(|&idx| !dl.files[idx].state().is_settled())
            .collect();
        let leave_out = leave_out.as_slice();
        let recorded = self.record_choice(dl, selection, take_in, leave_out);
        let (row, files) = match recorded {
            Ok(Some(rows)) => rows,
            Ok(None) => return Err(EngineError::UnknownDownload(dl.id.clone())),
            Err(e) => {
                // Nothing changed: the download goes on as it was.
                dl.status().deleted = false;
                self.schedule();
                return Err(e);
            }
        };
        for &idx in leave_out {
            remove_part_file(dl, idx);
        }
        let next = Arc::new(Download::from_rows(row, files, dl.source()));
        *lock(&next.session) = lock(&dl.session).take();
        let state = match was {
            // Running, or done and now given more to fetch: back to the queue.
            DownloadState::Transferring | DownloadState::Queued => DownloadState::Queued,
            DownloadState::Complete if !take_in.is_empty() => DownloadState::Queued,
            other => other,
        };
        ledger::carry_over(dl, &next, state);
        if let Some(slot) = lock(&self.shared.downloads)
            .iter_mut()
            .find(|d| Arc::ptr_eq(d, dl))
        {
            *slot = next.clone();
        }
        tracing::info!(id = %dl.id, taken_in = take_in.len(), left_out = leave_out.len(), "files chosen again");
        // Known under its id already: the new summary takes the old one's place.
        self.shared.emit(Event::Added {
            download: Box::new(next.summary()),
        });
        if state != was {
            let mut s = next.status();
            let completed_at = s.completed_at();
            ledger::set_state(&*self.shared, &next, &mut s, state, None, completed_at);
        }
        self.schedule();
        Ok(leave_out.len())
    }

    /// Plans names for the files taken in and records the change; the download's rows
    /// as they now are.
    fn record_choice(
        &self,
        dl: &Download,
        selection: &Selection,
        take_in: &[usize],
        leave_out: &[usize],
    ) -> Result<Option<(crate::store::DownloadRow, Vec<crate::store::FileRow>)>, EngineError> {
        let db = self.shared.store.path().to_owned();
        // No other add picks a name while these are chosen.
        let _planning = lock(&self.shared.planning);
        let mut planner = PathPlanner::with_reserved(
            &dl.dst,
            self.shared.config.name_rules,
            self.reserved_paths(&dl.dst),
        );
        let planned: Vec<(usize, PathBuf)> = take_in
            .iter()
            .map(|&idx| (idx, planner.plan(&dl.files[idx].meta.package_path)))
            .collect();
        let empty = PathBuf::new();
        let changed: Vec<ChosenFile<'_>> = planned
            .iter()
            .map(|(idx, rel)| ChosenFile {
                idx: *idx,
                state: FileState::Pending,
                rel_path: rel,
            })
            .chain(leave_out.iter().map(|&idx| ChosenFile {
                idx,
                state: FileState::Excluded,
                rel_path: &empty,
            }))
            .collect();
        let json = selection_json(selection);
        self.shared
            .store
            .choose_files(&dl.id, json.as_deref(), &changed)
            .and_then(|()| self.shared.store.load_download(&dl.id))
            .map_err(EngineError::db(&db))
    }
}

/// Removes the part file a file left out had written into, if it is still the one it
/// created (never a file that is not ours).
fn remove_part_file(dl: &Download, idx: usize) {
    let f = &dl.files[idx];
    let path = f.part_path(&dl.dst);
    let ours = f.record().part;
    if let Some(ours) = ours
        && ours.is_at(&path)
        && let Err(e) = std::fs::remove_file(&path)
    {
        tracing::warn!(file = %path.display(), error = %e, "could not remove the part file of a file left out");
    }
}

/// What choosing files again changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilesChanged {
    pub taken_in: usize,
    pub left_out: usize,
}
