//! The data folder is one process's: a second engine on the same folder (the agent
//! started twice, `inbound get` beside the desktop app) fails with who holds it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::EngineError;
use crate::transfer::fsutil::create_private_dir;

/// Holds the data folder for this process; a second engine on the same folder fails.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(dir: &Path) -> Result<Self, EngineError> {
        let data_err = |source| EngineError::DataDir {
            path: dir.to_owned(),
            source,
        };
        create_private_dir(dir).map_err(data_err)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("inbound.lock"))
            .map_err(data_err)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the message the next one gets; best effort.
                let mut file = file;
                let _ = file.set_len(0).and_then(|()| {
                    use std::io::Write;
                    writeln!(file, "{}\n{}", std::process::id(), this_program())
                });
                Ok(Self { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::AlreadyRunning {
                dir: dir.to_owned(),
                holder: std::fs::read_to_string(dir.join("inbound.lock"))
                    .ok()
                    .and_then(|text| describe_holder(&text))
                    .unwrap_or_default(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(data_err(e)),
        }
    }
}

/// This process as a person would name it: `inbound agent`, `inbound get`,
/// `inbound-desktop` (the program's file name and its subcommand, never its arguments,
/// which may hold a link's secret).
fn this_program() -> String {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(
            |name| match name.strip_suffix(std::env::consts::EXE_SUFFIX) {
                // `inbound.exe get` is typed and read as `inbound get` on Windows too.
                Some(stem) if !stem.is_empty() => stem.to_owned(),
                _ => name,
            },
        )
        .unwrap_or_else(|| "inbound".into());
    match args.next().map(|a| a.to_string_lossy().into_owned()) {
        Some(sub)
            if !sub.is_empty()
                && sub.len() <= 16
                && sub.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !sub.starts_with('-') =>
        {
            format!("{program} {sub}")
        }
        _ => program,
    }
}

/// `` by `inbound agent` (process 1234)`` from what the holder wrote, or `None`.
fn describe_holder(lock_text: &str) -> Option<String> {
    let mut lines = lock_text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let program: String = lines
        .next()
        .unwrap_or("inbound")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    // The desktop app takes links itself: the quickest way to that download.
    if program.split(' ').next() == Some("inbound-desktop") {
        return Some(format!(
            " by the Inbound desktop app (process {pid}): paste the link into its window to download it there"
        ));
    }
    Some(format!(" by `{program}` (process {pid})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(second, EngineError::AlreadyRunning { .. }));
        let message = second.to_string();
        assert!(message.contains("already used"), "{message}");
        assert!(
            message.contains(&format!("(process {})", std::process::id())),
            "the message names the holder: {message}"
        );
    }

    #[test]
    fn held_by_the_desktop_app_it_says_to_paste_the_link_there() {
        // As `this_program` writes it: the file name, never a path.
        let said = describe_holder("4242\ninbound-desktop\n").unwrap();
        assert_eq!(
            said,
            " by the Inbound desktop app (process 4242): paste the link into its window to download it there"
        );
        assert_eq!(
            describe_holder("9\ninbound agent\n").unwrap(),
            " by `inbound agent` (process 9)"
        );
    }
}
