//! Recording a generation: the files' hashes, their folders' hashes and the root hash,
//! appended to the root's history.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::MhlError;
use crate::algorithm::HashAlgorithm;
use crate::dirhash::folder_hashes;
use crate::history::History;
use crate::manifest::{Creator, Digest, DirHash, FileHash, Manifest, Process};

/// What a new generation says about itself.
#[derive(Debug, Clone)]
pub struct Generation {
    pub tool: String,
    pub tool_version: String,
    pub comment: Option<String>,
    pub process: Process,
    /// Patterns of names that are not content (besides the history itself).
    pub ignore: Vec<String>,
    pub created: DateTime<Utc>,
}

/// Appends a generation listing `files` (all hashed with `algorithm`) to the history
/// under `root`, with a hash for every folder holding them and for the root. Returns
/// the new manifest's path.
pub fn record_generation(
    root: &Path,
    algorithm: HashAlgorithm,
    files: Vec<FileHash>,
    generation: Generation,
) -> Result<PathBuf, MhlError> {
    let mut history = History::open_to_append(root)?;
    let listed: Vec<(String, String)> = files
        .iter()
        .filter(|f| f.digest.algorithm == algorithm)
        .map(|f| (f.path.clone(), f.digest.value.clone()))
        .collect();
    let mut folders = folder_hashes(algorithm, &listed);
    let digest = |value: String| Digest { algorithm, value };
    let root_hashes = folders.remove("");
    let dirs = folders
        .into_iter()
        .map(|(path, h)| DirHash {
            modified: modified(&root.join(&path)),
            path,
            content: digest(h.content),
            structure: digest(h.structure),
        })
        .collect();
    let mut ignore = vec![
        ".DS_Store".to_owned(),
        crate::FOLDER.to_owned(),
        format!("{}/", crate::FOLDER),
    ];
    ignore.extend(generation.ignore);
    let manifest = Manifest {
        creator: Creator {
            created: generation.created,
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            tool: generation.tool,
            tool_version: generation.tool_version,
            comment: generation.comment,
        },
        process: generation.process,
        root: root_hashes.map(|h| DirHash {
            path: String::new(),
            modified: None,
            content: digest(h.content),
            structure: digest(h.structure),
        }),
        ignore,
        files,
        dirs,
    };
    history.append(&manifest)
}

/// A file's or folder's modification time, when the file system has one.
pub(crate) fn modified(path: &Path) -> Option<DateTime<Utc>> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from)
}
