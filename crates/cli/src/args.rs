//! What a command line says, turned into what the engine takes: which files, where
//! they go, how many connections, and a password from standard input.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use inbound_engine::{Destination, EngineConfig, Secret, Selection, SelectionError};

/// Which files of the package: the same options for `get` and `ls`.
#[derive(Args, Clone, Default)]
pub struct Pick {
    /// Only files matching this pattern (repeatable): `'Day 1/**'` is everything in
    /// that folder, `'*.mov'` every MOV wherever it is (`*` stays in a folder, `**`
    /// crosses folders).
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Leave out files matching this pattern (repeatable), e.g. `'*.wav'`.
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
}

impl Pick {
    pub fn selection(&self) -> Result<Selection, SelectionError> {
        Selection::patterns(self.only.clone(), self.exclude.clone())
    }
}

/// `--dest` made absolute, or the user's Downloads/MASV.
pub(crate) fn destination(dest: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    match dest {
        Some(d) => std::path::absolute(d).with_context(|| format!("bad folder {}", d.display())),
        None => inbound_engine::default_destination()
            .context("cannot find your Downloads folder; pass --dest DIR"),
    }
}

/// Where a package goes: a folder of its own inside `folder`, unless asked not to.
pub(crate) fn placement(folder: PathBuf, no_package_folder: bool) -> Destination {
    if no_package_folder {
        Destination::straight(folder)
    } else {
        Destination::package_folder_in(folder)
    }
}

/// The link's password, from standard input's next line (`--password-stdin`).
pub(crate) fn read_password() -> anyhow::Result<Secret> {
    let pw = crate::stdin_line::read("the password")?;
    if pw.is_empty() {
        anyhow::bail!("--password-stdin was given but standard input had no password");
    }
    Ok(Secret::new(pw))
}

/// The most connections a download grows to when no count was asked for.
const ADAPTIVE_MAX: usize = 32;

/// Exactly the connections asked for, or, with none asked for, as many as pay (see
/// `--connections`).
pub fn set_connections(config: &mut EngineConfig, asked: Option<u16>) {
    match asked {
        Some(n) => {
            config.connections_per_download = usize::from(n);
            config.adaptive_connections = false;
            // The engine-wide cap must not quietly cut the count asked for.
            config.max_connections = config.max_connections.max(usize::from(n));
        }
        None => {
            config.connections_per_download = ADAPTIVE_MAX;
            config.adaptive_connections = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_asked_for_is_not_cut_by_the_engine_wide_cap() {
        let mut config = EngineConfig::new(std::path::PathBuf::from("/tmp/inbound-test"));
        let cap = config.max_connections;
        set_connections(&mut config, Some(64));
        assert_eq!(config.connections_per_download, 64);
        assert!(
            config.max_connections >= 64,
            "asked for 64, the engine allows {} at once",
            config.max_connections
        );
        set_connections(&mut config, Some(2));
        assert_eq!(config.connections_per_download, 2);
        assert!(
            config.max_connections >= cap,
            "a small count never lowers the cap"
        );
    }
}
