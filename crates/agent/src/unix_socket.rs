//! Serving the API on a Unix socket (`inbound agent --listen unix:///path.sock`), as the
//! MASV Agent can: no port to collide on, and the socket file's permissions (owner only)
//! say who may call it.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;

use crate::peer::Peer;
use crate::server::AgentError;

/// The socket, bound and made private, not yet served; removed when served to the end.
pub(crate) struct SocketListener {
    path: PathBuf,
    listener: UnixListener,
}

impl SocketListener {
    pub(crate) async fn bind(path: PathBuf) -> Result<Self, AgentError> {
        let fail = |reason: String| AgentError::Socket {
            path: path.clone(),
            reason,
        };
        clear_stale(&path).await.map_err(fail)?;
        let listener = UnixListener::bind(&path).map_err(|e| fail(e.to_string()))?;
        // Owner only: the socket is the door, and the file's mode is its lock (and each
        // caller's uid is asked of the kernel besides: crate::peer).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail(format!("cannot make it private: {e}")))?;
        tracing::info!(path = %path.display(), "agent API listening on a Unix socket");
        Ok(Self { path, listener })
    }

    pub(crate) async fn serve(
        self,
        app: IntoMakeServiceWithConnectInfo<Router, Peer>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(AgentError::Serve);
        let _ = std::fs::remove_file(&self.path);
        served
    }
}

/// A socket left by an agent that was killed is removed; one another agent still
/// listens on, or a file that is not a socket, is left alone and refused.
async fn clear_stale(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(
            "a file that is not a socket is already there; remove it or choose another path".into(),
        );
    }
    if tokio::net::UnixStream::connect(path).await.is_ok() {
        return Err(
            "another agent is listening on it; stop that one first or choose another path".into(),
        );
    }
    std::fs::remove_file(path)
        .map_err(|e| format!("cannot remove the stale socket left there: {e}"))
}
