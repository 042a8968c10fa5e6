//! Verifying a package folder again, later: every file hashed again against the
//! folder's ASC MHL history, and (when asked) the verification recorded there as a new
//! generation, so the history shows who checked the files, when, and what they found.

use std::path::{Path, PathBuf};

use chrono::Utc;
use inbound_mhl::{Generation, MhlError, Outcome, Process, Report, VerifyProgress};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::paths::PART_SUFFIX;

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

/// Inbound's unfinished part files are not content.
fn ignored() -> Vec<String> {
    vec![format!("*{PART_SUFFIX}")]
}

/// Verifies `root` against its ASC MHL history: every recorded file hashed again.
pub fn verify_folder(
    root: &Path,
    progress: impl FnMut(VerifyProgress<'_>),
) -> Result<Report, MhlError> {
    inbound_mhl::verify(root, &ignored(), progress)
}

/// Appends a generation to `root`'s history naming every file `report` hashed as
/// verified or failed; `None` when nothing was hashed (every file missing). Only this
/// writes: whoever shares the folder's history need only wait for this, not for the
/// hashing before it.
pub fn record_verification(root: &Path, report: &Report) -> Result<Option<PathBuf>, MhlError> {
    let files = report.as_generation_files();
    // One generation has one format for its folder hashes: the one most files use.
    let Some(algorithm) = most_used(files.iter().map(|f| f.digest.algorithm)) else {
        return Ok(None);
    };
    let generation = Generation {
        tool: crate::run::manifest::TOOL.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        comment: Some(format!(
            "verified again: {} OK, {} changed, {} missing, {} not recorded before",
            report.count(Outcome::Ok),
            report.count(Outcome::Changed),
            report.count(Outcome::Missing),
            report.count(Outcome::Extra),
        )),
        process: Process::InPlace,
        ignore: ignored(),
        created: Utc::now(),
    };
    inbound_mhl::record_generation(root, algorithm, files, generation).map(Some)
}

fn most_used<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts = std::collections::BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(k, _)| k)
}
