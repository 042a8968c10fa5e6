//! Before a run, and whenever a file must start again: the destination is the one the
//! download started on, every recorded byte still has the part file it was written
//! into, and what is left to fetch is cut into ranges.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use inbound_mhl::Digest;

use crate::download::ledger;
use crate::download::session::Session;
use crate::download::{Download, FileSlot};
use crate::model::FileState;
use crate::model::display::human_bytes;
use crate::run::{RunEnd, open_session};
use crate::run::{RunError, RunServices};
use crate::sync::lock;
use crate::transfer::fsutil::{available_space, describe_io_error};
use crate::transfer::hashing::{Sealed, hash_whole};
use crate::transfer::identity::{FileId, Written, from_unix_nanos, unix_nanos};
use crate::transfer::part_on_disk::{adopt_part_file, create_part_file, finish_part};
use crate::transfer::span::Work;

/// One request covers at most this much; progress inside it is saved as it arrives.
const MAX_SEGMENT: u64 = 1024 * 1024 * 1024;
/// Room kept free beyond the download itself, so the disk is never filled to the brim.
const FREE_SPACE_MARGIN: u64 = 64 * 1024 * 1024;

/// Checks the destination and every part file, opens the package, creates folders and
/// empty files, and lists the byte ranges still missing. MASV out of reach ends it as
/// an interruption (the download waits), anything else as a failure.
pub(crate) async fn prepare(
    shared: &dyn RunServices,
    dl: &Arc<Download>,
) -> Result<(Arc<Session>, VecDeque<Work>), RunEnd> {
    crate::run::destination::check(shared, dl)?;
    crate::run::destination::recheck_finished(shared, dl)?;
    for f in dl.files.iter().filter(|f| !f.state().is_settled()) {
        check_part(shared, dl, f)?;
    }
    crate::run::taking_up::take_up_unsynced(shared, dl)?;
    let cached = lock(&dl.session).take();
    let session = match cached {
        Some(s) => s,
        None => {
            let opened = open_session(shared, &dl.source(), &dl.package_id)
                .await
                .map_err(|e| {
                    if e.is_transient() {
                        RunEnd::Interrupted(crate::run::Interruption::of(&e))
                    } else {
                        RunEnd::Failed(e.to_string())
                    }
                })?;
            // The sender may have extended the package since it was added.
            crate::run::expiry::record(shared, dl, opened.expiry());
            Arc::new(opened)
        }
    };
    // Before the space is counted: files found in place need none.
    crate::run::repair::check_files(shared, dl).await?;
    check_space(shared, dl)?;
    // Opened once, when the first folder is to be made.
    let mut folder = None;
    let mut queue = VecDeque::new();
    for f in &dl.files {
        if f.state().is_settled() {
            continue;
        }
        if f.state() == FileState::Error {
            ledger::show_retrying(f);
        }
        if let Some(parent) = f.meta.rel_path.parent() {
            let created = match &folder {
                Some(d) => Ok(d),
                None => dl.folder().map(|d| &*folder.insert(d)),
            }
            .and_then(|d| d.create_dirs(parent))
            .map_err(|e| describe_io_error("create the folder", &dl.dst.join(parent), &e))?;
            for dir in created {
                shared
                    .store()
                    .add_created_dir(&dl.id, &dir)
                    .map_err(RunError::from)?;
            }
        }
        if f.meta.size == 0 {
            finish_empty(shared, dl, f)?;
            continue;
        }
        if finished_before(dl, f) && !f.record().ranges.missing(f.meta.size).is_empty() {
            // Given its final name, then a power cut lost the last records of its
            // bytes: a part file is renamed only once every byte is in, and this is
            // the very file it created. Hashed from disk below like any whole file.
            take_as_whole(shared, dl, f)?;
        }
        let before = queue.len();
        let gaps = f.record().ranges.missing(f.meta.size);
        push_segments(shared, &mut queue, dl, f, &gaps);
        if queue.len() == before {
            // Every byte is recorded but the rename did not happen (a crash between).
            match digest_from_disk(shared, dl, f)? {
                Some(digest) => finish_file(shared, dl, f, digest)?,
                None => {
                    tracing::warn!(file = %f.meta.package_path, "the bytes on disk do not match storage's MD5; fetching the file again");
                    reset_file(shared, dl, f)?;
                    push_segments(shared, &mut queue, dl, f, &[(0, f.meta.size)]);
                }
            }
        }
    }
    Ok((session, queue))
}

/// Cuts the gaps of one file into requests: as many as connections (long requests spare
/// round trips), or of the download's own chunk size when it has one; idle connections
/// later split what is left (work stealing).
pub(crate) fn push_segments(
    shared: &dyn RunServices,
    queue: &mut VecDeque<Work>,
    dl: &Download,
    f: &FileSlot,
    gaps: &[(u64, u64)],
) {
    let segment = match dl.chunk_size {
        Some(chunk) => chunk.max(1),
        None => {
            let chunk = shared.config().chunk_size.max(64 * 1024);
            let connections = shared.connections_per_download() as u64;
            f.meta
                .size
                .div_ceil(connections)
                .clamp(chunk, MAX_SEGMENT.max(chunk))
        }
    };
    for &(start, end) in gaps {
        let mut s = start;
        while s < end {
            let e = (s + segment).min(end);
            queue.push_back(Work {
                idx: f.meta.idx,
                start: s,
                end: e,
                epoch: f.epoch(),
                handovers: 0,
            });
            s = e;
        }
    }
}

/// Recorded bytes are only trusted together with the part file they were written
/// into: still there, still the same file, still the right length. Otherwise the file
/// starts again; a file that is not ours is never written into.
fn check_part(shared: &dyn RunServices, dl: &Download, f: &FileSlot) -> Result<(), RunError> {
    let path = f.part_path(&dl.dst);
    let found = FileId::at(&path).map_err(|e| describe_io_error("check", &path, &e))?;
    let (recorded, has_ranges) = {
        let r = f.record();
        (r.part, !r.ranges.ranges().is_empty())
    };
    match (recorded, found) {
        // Nothing fetched yet: the part file is created (exclusively) when needed.
        (None, _) if !has_ranges => Ok(()),
        // A database from before part files were recorded: the part file it wrote is
        // taken at its word once, if its length is right.
        (None, Some(id)) if part_len(&path) == Some(f.meta.size) => {
            set_part(shared, dl, f, Some(id))
        }
        (None, _) => restart(shared, dl, f, "its part file is not the one recorded"),
        // Ours and whole: trusted.
        (Some(id), Some(now)) if id == now && part_len(&path) == Some(f.meta.size) => Ok(()),
        // Another file at its name, or ours changed by something else (its length is
        // only ever set by us): never written into, never deleted.
        (Some(_), Some(_)) => {
            reset_file(shared, dl, f)?;
            Err(RunError::Said(format!(
                "{} was replaced or changed by something else; Inbound will not write into it. Move it away, then retry",
                path.display()
            )))
        }
        (Some(_), None) if finished_before(dl, f) => Ok(()),
        (Some(_), None) => restart(shared, dl, f, "its part file was deleted"),
    }
}

/// Records every byte of `f` as arrived.
fn take_as_whole(shared: &dyn RunServices, dl: &Download, f: &FileSlot) -> Result<(), RunError> {
    tracing::warn!(file = %f.meta.package_path, "found at its final name though not all its bytes were recorded (a power cut?); checking it from disk");
    Ok(ledger::add_ranges(shared, dl, f, [(0, f.meta.size)])?)
}

fn part_len(path: &std::path::Path) -> Option<u64> {
    std::fs::symlink_metadata(path).ok().map(|m| m.len())
}

fn set_part(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    id: Option<FileId>,
) -> Result<(), RunError> {
    Ok(ledger::set_part(shared, dl, f, id)?)
}

fn restart(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    why: &str,
) -> Result<(), RunError> {
    tracing::warn!(file = %f.meta.package_path, "{why}; fetching the file again");
    reset_file(shared, dl, f)
}

/// Forgets everything fetched for a file: its ranges, part file and ETag. Connections
/// still writing into the old part file are ignored from now on (new epoch).
pub(crate) fn reset_file(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
) -> Result<(), RunError> {
    Ok(ledger::reset_file(shared, dl, f)?)
}

/// Enough free space on the destination's drive for what this download has still to
/// write, what the other downloads running on that drive still have to write, and a
/// margin; else the download waits for space (another program may free it, or the
/// person), saying how much is missing.
fn check_space(shared: &dyn RunServices, dl: &Download) -> Result<(), RunEnd> {
    let remaining = dl.bytes_remaining();
    let free = available_space(&dl.dst)
        .map_err(|e| describe_io_error("check free space in", &dl.dst, &e))?;
    let device = crate::transfer::identity::FileId::device_of(&dl.dst);
    let others = shared.remaining_of_others_on(dl, device);
    let needed = remaining + others + FREE_SPACE_MARGIN;
    if needed <= free {
        return Ok(());
    }
    let mut message = format!(
        "waiting for space on the drive of {}: {} to download",
        dl.dst.display(),
        human_bytes(remaining)
    );
    if others > 0 {
        message.push_str(&format!(
            ", {} for other downloads there",
            human_bytes(others)
        ));
    }
    message.push_str(&format!(
        " and {} to spare, {} free; free {} (or choose another folder)",
        human_bytes(FREE_SPACE_MARGIN),
        human_bytes(free),
        human_bytes(needed - free)
    ));
    Err(RunEnd::Interrupted(crate::run::Interruption::space(
        message,
    )))
}

/// Opens a new part file for `f`, exclusively, and records it before any byte is.
/// One at its name that this download created just before it was stopped (killed, or
/// the power cut) is taken up again.
pub(crate) fn create_part(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
) -> Result<(std::fs::File, FileId), RunError> {
    let path = f.part_path(&dl.dst);
    let intent = intend_part(shared, dl, f)?;
    let (rel, size) = (f.part_rel(), f.meta.size);
    let (file, id) = dl
        .folder()
        .and_then(|d| match create_part_file(&d, &rel, size) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let adopted = adopt_part_file(&d, &rel, size, intent)?;
                if adopted.is_some() {
                    tracing::warn!(file = %f.meta.package_path, "taking up the part file this download created before it was stopped");
                }
                adopted.ok_or(e)
            }
            created => created,
        })
        .map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} exists and was not created by this download; Inbound will not write into it. Move it away, then retry",
                path.display()
            )
        } else {
            describe_io_error("create", &path, &e)
        }
    })?;
    shared.seam("part.created");
    set_part(shared, dl, f, Some(id))?;
    Ok((file, id))
}

/// When this download set out to create `f`'s part file: the first time not yet
/// fulfilled, recorded before the file is created.
fn intend_part(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
) -> Result<SystemTime, RunError> {
    let at = ledger::intend_part(shared, dl, f, unix_nanos(SystemTime::now()))?;
    Ok(from_unix_nanos(at))
}

fn finish_empty(shared: &dyn RunServices, dl: &Download, f: &FileSlot) -> Result<(), RunError> {
    if !finished_before(dl, f) && f.record().part.is_none() {
        create_part(shared, dl, f)?;
    }
    let digest = Digest {
        algorithm: shared.hash_algorithm(),
        value: shared.hash_algorithm().hash_data(&[]),
    };
    finish_file(shared, dl, f, digest)
}

/// The hash of a whole file read from disk (its part file, or its final name if the
/// rename already happened), for a file whose bytes arrived in an earlier process.
/// `None` when storage's MD5 says the bytes are wrong.
fn digest_from_disk(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
) -> Result<Option<Digest>, String> {
    let path = if finished_before(dl, f) {
        f.final_path(&dl.dst)
    } else {
        f.part_path(&dl.dst)
    };
    let etag = f.record().etag.clone();
    match hash_whole(&path, shared.hash_algorithm(), etag.as_deref()) {
        Ok(Sealed::Good(digest)) => Ok(Some(digest)),
        Ok(Sealed::Md5Mismatch { .. }) => Ok(None),
        Err(e) => Err(describe_io_error("read back", &path, &e)),
    }
}

/// Gives a whole part file its final name and records the file as written.
pub(crate) fn finish_file(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    digest: Digest,
) -> Result<(), RunError> {
    if !finished_before(dl, f) {
        let final_path = f.final_path(&dl.dst);
        dl.folder()
            .and_then(|d| finish_part(&d, &f.part_rel(), &f.meta.rel_path, f.meta.mtime))
            .map_err(|e| describe_io_error("finish", &final_path, &e))?;
    }
    record_complete(shared, dl, f, digest)
}

/// Records the file at its final name as complete, with `digest` as its hash.
pub(crate) fn record_complete(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    digest: Digest,
) -> Result<(), RunError> {
    let final_path = f.final_path(&dl.dst);
    let written =
        Written::at(&final_path).map_err(|e| describe_io_error("check", &final_path, &e))?;
    Ok(ledger::record_complete(shared, dl, f, written, digest)?)
}

/// The rename happened but the process stopped before recording it: the part file is
/// gone and the final name holds the very file this download created.
fn finished_before(dl: &Download, f: &FileSlot) -> bool {
    let recorded = f.record().part;
    recorded.is_some()
        && FileId::at(&f.part_path(&dl.dst)).ok().flatten().is_none()
        && FileId::at(&f.final_path(&dl.dst)).ok().flatten() == recorded
}
