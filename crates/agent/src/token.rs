//! Bearer tokens for the API: made from the system's randomness, kept in a file only
//! their owner can read, read back as the first line of that file.

use std::io;
use std::path::{Path, PathBuf};

/// Where the desktop keeps the API's token: beside the download database.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("agent-token")
}

/// A fresh token: 32 random bytes, as 64 hex digits.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Writes `token` to `path`, readable and writable by its owner only (see
/// [`inbound_engine::write_private`]: never readable by others, not even for a moment).
pub fn store(path: &Path, token: &str) -> io::Result<()> {
    inbound_engine::write_private(path, format!("{token}\n").as_bytes())
}

/// The token kept at `path`: its first line, trimmed. `None` when the file is missing
/// or that line is empty.
pub fn load(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .next()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent-token");
        assert_eq!(load(&path).unwrap(), None);
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, "old\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        store(&path, &a).unwrap();
        assert_eq!(load(&path).unwrap().as_deref(), Some(a.as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(load(&path).unwrap(), None);
    }
}
