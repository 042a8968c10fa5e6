//! A completed package is handed over with its proof: an ASC MHL generation in the
//! destination's `ascmhl/` history naming every file received and its hash.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use inbound_mhl::{
    Action, Digest, FileHash, Generation, HashAlgorithm, Process, record_generation,
};

use crate::download::{Download, FileSlot, ledger};
use crate::model::FileState;
use crate::model::paths::PART_SUFFIX;
use crate::run::{RunError, RunServices};
use crate::sync::lock;

/// The creator every manifest Inbound writes names (its own and a verification's).
pub(crate) const TOOL: &str = "Inbound";

/// Writes the package's manifest (unless turned off) and remembers where it is.
pub(crate) fn write_manifest(
    shared: &dyn RunServices,
    dl: &Download,
) -> Result<Option<PathBuf>, RunError> {
    if !shared.config().write_manifest {
        return Ok(None);
    }
    shared.seam("sealing");
    let algorithm = shared.hash_algorithm();
    let files = dl
        .files
        .iter()
        .filter(|f| f.state() == FileState::Complete)
        .map(|f| entry(shared, dl, f, algorithm))
        .collect::<Result<Vec<FileHash>, RunError>>()?;
    let generation = Generation {
        tool: TOOL.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        comment: Some(comment(dl)),
        process: Process::Transfer,
        ignore: ignore_patterns(dl),
        created: Utc::now(),
    };
    // Packages sharing a folder share its history: one writer at a time.
    let _one_writer = lock(shared.sealing());
    let manifest = record_generation(&dl.dst, algorithm, files, generation).map_err(|e| {
        format!("the package arrived, but its ASC MHL manifest could not be written: {e}")
    })?;
    ledger::set_manifest(shared, dl, manifest.clone())?;
    tracing::info!(id = %dl.id, manifest = %manifest.display(), "ASC MHL manifest written");
    Ok(Some(manifest))
}

/// A received file's entry. Its hash was taken while it arrived; a file hashed in
/// another format (the setting changed while it downloaded) or with no hash on record
/// is hashed again from disk, so one generation uses one format. A file that cannot be
/// read now fails the manifest, naming it: nothing is left out silently.
fn entry(
    shared: &dyn RunServices,
    dl: &Download,
    f: &FileSlot,
    algorithm: HashAlgorithm,
) -> Result<FileHash, RunError> {
    let path = f.final_path(&dl.dst);
    let unreadable = |e: std::io::Error| {
        format!(
            "the package arrived, but {} cannot be read to record its hash: {e}",
            f.meta.package_path
        )
    };
    let meta = std::fs::metadata(&path).map_err(unreadable)?;
    let recorded = f.record().hash.clone().filter(|d| d.algorithm == algorithm);
    let digest = match recorded {
        Some(d) => d,
        None => {
            let digest = Digest {
                algorithm,
                value: inbound_mhl::hash_file(&path, algorithm).map_err(unreadable)?,
            };
            // The file shows the hash its manifest holds.
            ledger::record_hash(shared, dl, f, digest.clone())?;
            digest
        }
    };
    // Found in place and equal to what arrived before (a repair): checked, not received.
    let found_in_place = matches!(
        f.record().repair.as_ref().and_then(|c| c.found.as_ref()),
        Some(crate::model::Found::Same)
    );
    Ok(FileHash {
        path: slash_path(&f.meta.rel_path),
        size: meta.len(),
        modified: meta.modified().ok().map(DateTime::<Utc>::from),
        digest,
        action: if found_in_place {
            Action::Verified
        } else {
            Action::Original
        },
        hashed_at: Utc::now(),
    })
}

/// Part files, and the copies a repair moved aside (they are someone's files, not the
/// package's: the history leaves them out rather than calling them new).
fn ignore_patterns(dl: &Download) -> Vec<String> {
    let mut ignore = vec![format!("*{PART_SUFFIX}")];
    for f in &dl.files {
        if let Some(kept) = f
            .record()
            .repair
            .as_ref()
            .and_then(|c| c.found.as_ref())
            .and_then(|found| found.kept_as())
        {
            ignore.push(inbound_mhl::exact_path_pattern(&slash_path(kept)));
        }
    }
    ignore
}

/// A relative path as ASC MHL writes it: `/` between components on every platform.
fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where the package came from, and the files that are listed in it but not on disk
/// (so that verifying the folder stays clean and nothing is silently missing).
fn comment(dl: &Download) -> String {
    let mut text = format!("MASV package {} \"{}\"", dl.package_id, dl.name);
    if !dl.sender_email.is_empty() {
        text.push_str(&format!(" from {}", dl.sender_email));
    }
    let names = |state: FileState| {
        dl.files
            .iter()
            .filter(|f| f.state() == state)
            .map(|f| f.meta.package_path.as_str())
            .collect::<Vec<_>>()
    };
    let withheld = names(FileState::VirusWithheld);
    if !withheld.is_empty() {
        text.push_str(&format!(
            "; withheld by MASV's virus scan, not downloaded: {}",
            withheld.join(", ")
        ));
    }
    let skipped = names(FileState::Skipped);
    if !skipped.is_empty() {
        text.push_str(&format!(
            "; whole-package archives not downloaded (the files were): {}",
            skipped.join(", ")
        ));
    }
    let excluded = names(FileState::Excluded);
    if !excluded.is_empty() {
        text.push_str(&format!(
            "; not selected for download: {}",
            excluded.join(", ")
        ));
    }
    text
}
