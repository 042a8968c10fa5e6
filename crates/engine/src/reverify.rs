//! Verifying a package folder again, later: every file hashed again against the
//! folder's ASC MHL history, and (when asked) the verification recorded there as a new
//! generation, so the history shows who checked the files, when, and what they found.

use std::path::{Path, PathBuf};

use chrono::Utc;
use inbound_mhl::{Generation, MhlError, Outcome, Process, Report, VerifyProgress};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::paths::PART_SUFFIX;

/// A verification's findings, as the UI and the API show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct VerifySummary {
    pub ok: usize,
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    /// Files in the folder the history never recorded.
    pub extra: Vec<String>,
    /// The hash format(s) the history used, e.g. `xxh128`.
    pub algorithms: Vec<String>,
    /// The generation this verification added to the history, if it was recorded.
    #[ts(type = "string | null")]
    pub recorded: Option<PathBuf>,
}

impl VerifySummary {
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }

    pub fn of(report: &Report, recorded: Option<PathBuf>) -> Self {
        let paths = |outcome: Outcome| {
            report
                .files
                .iter()
                .filter(|f| f.outcome == outcome)
                .map(|f| f.path.clone())
                .collect::<Vec<_>>()
        };
        let mut algorithms: Vec<String> = report
            .files
            .iter()
            .filter_map(|f| f.found.as_ref())
            .map(|h| h.digest.algorithm.name().to_owned())
            .collect();
        algorithms.sort();
        algorithms.dedup();
        Self {
            ok: report.count(Outcome::Ok),
            changed: paths(Outcome::Changed),
            missing: paths(Outcome::Missing),
            extra: paths(Outcome::Extra),
            algorithms,
            recorded,
        }
    }
}

/// Verifies `root` against its ASC MHL history (Inbound's unfinished part files are
/// not content). With `record`, appends a generation naming every file hashed as
/// verified or failed.
pub fn verify_folder(
    root: &Path,
    record: bool,
    progress: impl FnMut(VerifyProgress<'_>),
) -> Result<(Report, Option<PathBuf>), MhlError> {
    let ignore = vec![format!("*{PART_SUFFIX}")];
    let report = inbound_mhl::verify(root, &ignore, progress)?;
    if !record {
        return Ok((report, None));
    }
    let files = report.as_generation_files();
    // One generation has one format for its folder hashes: the one most files use.
    let Some(algorithm) = most_used(files.iter().map(|f| f.digest.algorithm)) else {
        // Nothing was hashed (every file is missing): nothing to record.
        return Ok((report, None));
    };
    let generation = Generation {
        tool: "Inbound".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        comment: Some(format!(
            "verified again: {} OK, {} changed, {} missing, {} not recorded before",
            report.count(Outcome::Ok),
            report.count(Outcome::Changed),
            report.count(Outcome::Missing),
            report.count(Outcome::Extra),
        )),
        process: Process::InPlace,
        ignore,
        created: Utc::now(),
    };
    let manifest = inbound_mhl::record_generation(root, algorithm, files, generation)?;
    Ok((report, Some(manifest)))
}

fn most_used<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts = std::collections::BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(k, _)| k)
}
