//! What a repair (a package downloaded again into its folder) records of each file
//! found in place: the hash it must have, and what looking found.

use std::path::{Path, PathBuf};

use inbound_mhl::Digest;

/// What a file found in place must hash to, and what looking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepairCheck {
    /// The hash the earlier download recorded for it.
    pub expected: Digest,
    /// `None` until looked at.
    pub found: Option<Found>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// There and equal to what arrived before: nothing to fetch.
    Same,
    /// Not there: fetched again.
    Missing,
    /// There but different: moved to `kept_as` (relative to the download's folder),
    /// then fetched again.
    Changed { kept_as: PathBuf },
}

impl Found {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Missing => "missing",
            Self::Changed { .. } => "changed",
        }
    }

    pub fn parse(s: &str, kept_as: Option<PathBuf>) -> Option<Self> {
        match (s, kept_as) {
            ("same", _) => Some(Self::Same),
            ("missing", _) => Some(Self::Missing),
            ("changed", Some(kept_as)) => Some(Self::Changed { kept_as }),
            _ => None,
        }
    }

    pub fn kept_as(&self) -> Option<&Path> {
        match self {
            Self::Changed { kept_as } => Some(kept_as),
            _ => None,
        }
    }
}
