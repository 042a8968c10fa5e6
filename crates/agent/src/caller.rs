//! What a request may do, once [`crate::guard`] has let it in. A caller is trusted when
//! it sent the token or the kernel says it is the agent's own account; one Inbound
//! cannot identify (macOS and Windows over TCP) gets only what is safe for anyone on
//! the machine: downloads into the allowed folders, as the agent's user.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;

use crate::error::ApiError;

/// Who the request is from, as far as it matters to the handlers.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Sent the token, or is the agent's own account (or root).
    Trusted,
    /// Could not be identified and sent no token: downloads only into these folders
    /// (and their subfolders), and nothing that changes owners, runs or posts
    /// something, sets automations or removes files.
    Restricted(Arc<[PathBuf]>),
}

impl Caller {
    /// Refuses `what` (a phrase: "uid and gid", "after-download hooks") unless the
    /// caller is trusted.
    pub fn require_trusted(&self, what: &str) -> Result<(), ApiError> {
        match self {
            Self::Trusted => Ok(()),
            Self::Restricted(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "token_required",
                format!(
                    "{what} needs the agent's token from callers Inbound cannot identify: send Authorization: Bearer <token> (the agent's user prints it with `inbound agent --show-token`), or call through the agent's Unix socket"
                ),
            )),
        }
    }

    /// Refuses a destination outside the allowed folders for a restricted caller.
    pub fn check_destination(&self, dst: &Path) -> Result<(), ApiError> {
        let Self::Restricted(allowed) = self else {
            return Ok(());
        };
        if within_any(dst, allowed) {
            return Ok(());
        }
        let list = allowed
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "dst_folder_not_allowed",
            format!(
                "{} is outside the folders callers Inbound cannot identify may download into ({}); send the agent's token, or start the agent with --allow-dest {}",
                dst.display(),
                if list.is_empty() { "none" } else { &list },
                dst.display()
            ),
        ))
    }
}

/// `dst` is one of `roots` or inside one, after following every link of the part
/// that exists (a link inside an allowed folder pointing out of it does not count as
/// inside). A `..` anywhere is refused outright.
fn within_any(dst: &Path, roots: &[PathBuf]) -> bool {
    if dst.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    let Some(resolved) = resolve_existing(dst) else {
        return false;
    };
    roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|root| resolved.starts_with(&root))
}

/// `path` with its longest existing ancestor canonicalized and the rest appended.
fn resolve_existing(path: &Path) -> Option<PathBuf> {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        match std::fs::canonicalize(existing) {
            Ok(real) => {
                let mut out = real;
                out.extend(rest.iter().rev());
                return Some(out);
            }
            Err(_) => {
                rest.push(existing.file_name()?);
                existing = existing.parent()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_callers_download_only_inside_the_allowed_folders() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("Downloads");
        let outside = dir.path().join("elsewhere");
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let caller = Caller::Restricted(vec![allowed.clone()].into());
        caller.check_destination(&allowed).unwrap();
        caller
            .check_destination(&allowed.join("MASV/not/made/yet"))
            .unwrap();
        for bad in [
            outside.clone(),
            allowed.join("../elsewhere"),
            dir.path().join("Downloads-not"),
        ] {
            let e = caller.check_destination(&bad).unwrap_err();
            assert_eq!(e.status, StatusCode::FORBIDDEN, "{}", bad.display());
            assert!(
                e.body.message.contains("--allow-dest"),
                "{}",
                e.body.message
            );
        }
        #[cfg(unix)]
        {
            // A link inside the allowed folder that leads out of it.
            std::os::unix::fs::symlink(&outside, allowed.join("door")).unwrap();
            assert!(caller.check_destination(&allowed.join("door/x")).is_err());
        }
        Caller::Trusted.check_destination(&outside).unwrap();
        assert!(caller.require_trusted("uid and gid").is_err());
        Caller::Trusted.require_trusted("uid and gid").unwrap();
    }
}
