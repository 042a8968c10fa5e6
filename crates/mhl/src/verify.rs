//! Verifying a folder against its history: every file recorded is hashed again and
//! compared with its newest recorded hash; files the history does not know are extra.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::MhlError;
use crate::history::{FOLDER, History};
use crate::manifest::{Action, Digest, FileHash};
use crate::record::modified;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Same hash as recorded.
    Ok,
    /// Different size or hash.
    Changed,
    /// Recorded, not on disk.
    Missing,
    /// On disk, never recorded.
    Extra,
}

#[derive(Debug, Clone)]
pub struct FileCheck {
    /// Relative to the root, `/`-separated.
    pub path: String,
    pub outcome: Outcome,
    /// The hash found now (for files that were hashed).
    pub found: Option<FileHash>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: Vec<FileCheck>,
    /// Generations the history had.
    pub generations: usize,
}

impl Report {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.files.iter().filter(|f| f.outcome == outcome).count()
    }

    pub fn is_clean(&self) -> bool {
        self.files.iter().all(|f| f.outcome == Outcome::Ok)
    }

    /// The hashes found, as the entries of a generation recording this verification.
    pub fn as_generation_files(&self) -> Vec<FileHash> {
        self.files.iter().filter_map(|f| f.found.clone()).collect()
    }
}

/// How far a verification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyProgress<'a> {
    /// Before any hashing: how many files will be hashed, holding how many bytes.
    Planned { files: usize, bytes: u64 },
    /// `bytes` more of `path` were hashed.
    Hashed { path: &'a str, bytes: u64 },
}

/// What the history expects of one file.
struct Expected {
    size: Option<u64>,
    digest: Digest,
}

/// Verifies `root` against its history. `ignore` adds name patterns that are not
/// content (`*.part` or an exact name); `progress` hears what is planned, then of
/// every byte hashed.
pub fn verify(
    root: &Path,
    ignore: &[String],
    mut progress: impl FnMut(VerifyProgress<'_>),
) -> Result<Report, MhlError> {
    let history = History::open(root)?;
    if history.generations.is_empty() {
        return Err(MhlError::NoHistory(root.to_owned()));
    }
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    // What the caller leaves out, and what any generation said to leave out.
    let mut ignore = ignore.to_vec();
    for (_, manifest) in history.manifests()? {
        ignore.extend(manifest.ignore);
        for f in manifest.files {
            // The fastest format recorded for it (the enum lists them fastest first);
            // a later generation's word replaces an earlier one's.
            let best = f
                .digests
                .iter()
                .filter(|(_, failed)| !failed)
                .map(|(d, _)| d.clone())
                .min_by_key(|d| d.algorithm);
            if let Some(digest) = best {
                expected.insert(
                    f.path,
                    Expected {
                        size: f.size,
                        digest,
                    },
                );
            }
        }
    }
    let mut report = Report {
        files: Vec::new(),
        generations: history.generations.len(),
    };
    let mut to_hash = Vec::new();
    for (path, rel) in files_under(root, &ignore)? {
        let Some(exp) = expected.remove(&rel) else {
            report.files.push(FileCheck {
                path: rel,
                outcome: Outcome::Extra,
                found: None,
            });
            continue;
        };
        let size = std::fs::metadata(&path)
            .map_err(|e| MhlError::io(&path, e))?
            .len();
        to_hash.push((path, rel, size, exp));
    }
    progress(VerifyProgress::Planned {
        files: to_hash.len(),
        bytes: to_hash.iter().map(|(_, _, size, _)| size).sum(),
    });
    for (path, rel, size, exp) in to_hash {
        let algorithm = exp.digest.algorithm;
        let value = crate::hash_file_with(&path, algorithm, |bytes| {
            progress(VerifyProgress::Hashed { path: &rel, bytes })
        })
        .map_err(|e| MhlError::io(&path, e))?;
        let same = exp.size.is_none_or(|s| s == size) && value == exp.digest.value;
        report.files.push(FileCheck {
            found: Some(FileHash {
                path: rel.clone(),
                size,
                modified: modified(&path),
                digest: Digest { algorithm, value },
                action: if same {
                    Action::Verified
                } else {
                    Action::Failed
                },
                hashed_at: Utc::now(),
            }),
            path: rel,
            outcome: if same { Outcome::Ok } else { Outcome::Changed },
        });
    }
    report
        .files
        .extend(expected.into_keys().map(|path| FileCheck {
            path,
            outcome: Outcome::Missing,
            found: None,
        }));
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// Every regular file under `root` (path, and relative `/`-separated name), leaving
/// out the history folder and ignored names.
fn files_under(root: &Path, ignore: &[String]) -> Result<Vec<(PathBuf, String)>, MhlError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| MhlError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| MhlError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if name == ".DS_Store"
                || (rel.is_empty() && name == FOLDER)
                || ignored(&name, &child, ignore)
            {
                continue;
            }
            let kind = entry
                .file_type()
                .map_err(|e| MhlError::io(&entry.path(), e))?;
            if kind.is_dir() {
                stack.push((entry.path(), child));
            } else if kind.is_file() {
                out.push((entry.path(), child));
            }
        }
    }
    Ok(out)
}

/// Whether a name is left out: `*suffix`, an exact name, or a path as
/// [`exact_path_pattern`] writes it.
fn ignored(name: &str, rel: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        if let Some(path) = p.strip_prefix("**/") {
            let path = unescape(path);
            return rel == path || rel.ends_with(&format!("/{path}"));
        }
        match p.strip_prefix('*') {
            Some(suffix) => name.ends_with(suffix),
            None => name == p.trim_end_matches('/'),
        }
    })
}

/// The ignore pattern that leaves out one file, `rel` (`/`-separated, from the root),
/// with its wildcard characters escaped, as gitignore's rules (which the ASC MHL
/// reference tools follow) read it. It starts with `**/` rather than `/`: the reference
/// tools match patterns against whole paths, so one anchored at `/` would never match.
pub fn exact_path_pattern(rel: &str) -> String {
    let mut out = String::from("**/");
    let trailing_spaces = rel.len() - rel.trim_end_matches(' ').len();
    let body_len = rel.len() - trailing_spaces;
    for (i, c) in rel.char_indices() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']') || (c == ' ' && i >= body_len) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn unescape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}
