//! Which of a package's files to download: the one model the agent (MASV file ids), the
//! CLI (`--only`/`--exclude` patterns) and the desktop (checked files) share.
//!
//! Patterns are globs on the file's path in the package (`Day 1/**`, `*.wav`). A pattern
//! without a `/` matches the file's name wherever it is, as `.gitignore` does: nobody
//! writing `--exclude '*.wav'` means only the WAVs at the top.

use std::collections::BTreeSet;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Selection {
    /// Every file (a whole-package archive only when asked for, as always).
    #[default]
    All,
    /// These MASV file ids, no others.
    Files { ids: BTreeSet<String> },
    /// Files whose package path matches any `only` pattern (every file when there is
    /// none), except those matching any `exclude` pattern.
    Patterns {
        only: Vec<String>,
        exclude: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("not a usable file pattern: {pattern:?} ({reason})")]
    BadPattern { pattern: String, reason: String },
    #[error(
        "the package has no file with the id{} {}; `inbound ls LINK` lists each file with its id",
        if .0.len() == 1 { "" } else { "s" },
        .0.join(", ")
    )]
    UnknownFiles(Vec<String>),
    #[error(
        "no file of the package is selected ({0}); list its files with `inbound ls` and choose again"
    )]
    NothingSelected(String),
}

impl Selection {
    /// These file ids only.
    pub fn files(ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::Files {
            ids: ids.into_iter().map(Into::into).collect(),
        }
    }

    /// Patterns, checked now so that a typo is reported before anything is listed.
    pub fn patterns(only: Vec<String>, exclude: Vec<String>) -> Result<Self, SelectionError> {
        if only.is_empty() && exclude.is_empty() {
            return Ok(Self::All);
        }
        let selection = Self::Patterns { only, exclude };
        selection.matcher()?;
        Ok(selection)
    }

    pub fn is_all(&self) -> bool {
        *self == Self::All
    }

    /// What the selection says in a few words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "every file".into(),
            Self::Files { ids } => format!("{} file ids", ids.len()),
            Self::Patterns { only, exclude } => {
                let mut parts = Vec::new();
                if !only.is_empty() {
                    parts.push(format!("only {}", only.join(", ")));
                }
                if !exclude.is_empty() {
                    parts.push(format!("excluding {}", exclude.join(", ")));
                }
                parts.join("; ")
            }
        }
    }

    pub(crate) fn matcher(&self) -> Result<Matcher, SelectionError> {
        Ok(match self {
            Self::All => Matcher::All,
            Self::Files { ids } => Matcher::Ids(ids.clone()),
            Self::Patterns { only, exclude } => Matcher::Patterns {
                only: (!only.is_empty()).then(|| glob_set(only)).transpose()?,
                exclude: glob_set(exclude)?,
            },
        })
    }
}

pub(crate) enum Matcher {
    All,
    Ids(BTreeSet<String>),
    Patterns {
        only: Option<PathGlobs>,
        exclude: PathGlobs,
    },
}

impl Matcher {
    pub fn selects(&self, file_id: &str, package_path: &str) -> bool {
        match self {
            Self::All => true,
            Self::Ids(ids) => ids.contains(file_id),
            Self::Patterns { only, exclude } => {
                only.as_ref().is_none_or(|o| o.matches(package_path))
                    && !exclude.matches(package_path)
            }
        }
    }

    /// Whether files were chosen one by one (by id).
    pub fn names_files(&self) -> bool {
        matches!(self, Self::Ids(_))
    }

    /// The ids asked for that are not in `listed` (ids only).
    pub fn unknown_ids<'a>(&self, listed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let Self::Ids(ids) = self else {
            return Vec::new();
        };
        let listed: BTreeSet<&str> = listed.into_iter().collect();
        ids.iter()
            .filter(|id| !listed.contains(id.as_str()))
            .cloned()
            .collect()
    }
}

/// Globs matched against the whole path (patterns with a `/`) or the file's name.
pub(crate) struct PathGlobs {
    paths: GlobSet,
    names: GlobSet,
}

impl PathGlobs {
    fn matches(&self, package_path: &str) -> bool {
        let name = package_path.rsplit('/').next().unwrap_or(package_path);
        self.paths.is_match(package_path) || self.names.is_match(name)
    }
}

fn glob_set(patterns: &[String]) -> Result<PathGlobs, SelectionError> {
    let mut paths = GlobSetBuilder::new();
    let mut names = GlobSetBuilder::new();
    for pattern in patterns {
        let trimmed = pattern
            .trim()
            .trim_start_matches("./")
            .trim_start_matches('/');
        let bad = |reason: String| SelectionError::BadPattern {
            pattern: pattern.clone(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(bad("it is empty".into()));
        }
        let compiled = glob(trimmed).map_err(|e| bad(e.kind().to_string()))?;
        if trimmed.contains('/') {
            paths.add(compiled);
            // `Day 1/**` also names the folder's files; `Day 1/` alone means the same.
            if let Some(folder) = trimmed.strip_suffix('/') {
                paths.add(glob(&format!("{folder}/**")).map_err(|e| bad(e.kind().to_string()))?);
            }
        } else {
            names.add(compiled);
        }
    }
    let build = |b: GlobSetBuilder| {
        b.build().map_err(|e| SelectionError::BadPattern {
            pattern: patterns.join(", "),
            reason: e.kind().to_string(),
        })
    };
    Ok(PathGlobs {
        paths: build(paths)?,
        names: build(names)?,
    })
}

/// `*` stays within a folder; `**` crosses folders.
fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(selection: &Selection, paths: &[&str]) -> Vec<String> {
        let m = selection.matcher().unwrap();
        paths
            .iter()
            .filter(|p| m.selects("id", p))
            .map(|p| (*p).to_owned())
            .collect()
    }

    const PACKAGE: &[&str] = &[
        "Day 1/A001.mov",
        "Day 1/audio/A001.wav",
        "Day 1/notes.txt",
        "Day 2/B001.mov",
        "Day 2/audio/B001.wav",
        "readme.txt",
    ];

    fn patterns(only: &[&str], exclude: &[&str]) -> Selection {
        Selection::patterns(
            only.iter().map(|s| (*s).to_owned()).collect(),
            exclude.iter().map(|s| (*s).to_owned()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_folder_pattern_takes_everything_under_it_and_a_name_pattern_any_depth() {
        assert_eq!(
            picks(&patterns(&["Day 1/**"], &["*.wav"]), PACKAGE),
            ["Day 1/A001.mov", "Day 1/notes.txt"]
        );
        assert_eq!(
            picks(&patterns(&["Day 2/"], &[]), PACKAGE),
            ["Day 2/B001.mov", "Day 2/audio/B001.wav"]
        );
        assert_eq!(
            picks(&patterns(&[], &["*.wav", "*.txt"]), PACKAGE),
            ["Day 1/A001.mov", "Day 2/B001.mov"]
        );
        // `*` does not cross folders.
        assert_eq!(
            picks(&patterns(&["Day 1/*"], &[]), PACKAGE),
            ["Day 1/A001.mov", "Day 1/notes.txt"]
        );
    }

    #[test]
    fn no_patterns_is_every_file_and_a_bad_one_is_named() {
        assert!(patterns(&[], &[]).is_all());
        let err = Selection::patterns(vec!["Day [1".into()], vec![]).unwrap_err();
        assert!(
            matches!(&err, SelectionError::BadPattern { pattern, .. } if pattern == "Day [1"),
            "{err}"
        );
        let err = Selection::patterns(vec![" ".into()], vec![]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn ids_select_exactly_those_and_unknown_ones_are_reported() {
        let m = Selection::files(["f1", "f3", "nope"]).matcher().unwrap();
        assert!(m.selects("f1", "a"));
        assert!(!m.selects("f2", "a"));
        assert_eq!(m.unknown_ids(["f1", "f2", "f3"]), ["nope"]);
        let text = SelectionError::UnknownFiles(vec!["nope".into()]).to_string();
        assert!(text.contains("no file with the id nope"), "{text}");
    }

    #[test]
    fn a_selection_round_trips_through_json() {
        for s in [
            Selection::All,
            Selection::files(["a", "b"]),
            patterns(&["x/**"], &["*.wav"]),
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Selection>(&json).unwrap(), s);
        }
    }
}
