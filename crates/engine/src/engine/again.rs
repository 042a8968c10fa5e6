//! A completed package checked again in its folder on request ("Repair" after a
//! verification found changes, "Check it again" when its link is pasted again): each
//! file is hashed where it is and only what is missing or differs is fetched (see
//! `repair`).

use super::Engine;
use super::planning::NewDownload;
use crate::engine::placement::Destination;
use crate::error::EngineError;
use crate::model::source::Source;
use crate::model::{DownloadId, DownloadState};
use crate::run;

impl Engine {
    /// Downloads the completed download `id` again into its own folder: a file that
    /// still hashes as it arrived is kept, a missing one is fetched, and one that
    /// differs is moved aside under a name that says so (it may be someone's edit)
    /// before the package's own bytes are fetched. The new download takes the earlier
    /// one's place in the list; its id is returned.
    pub async fn repair(&self, id: &str) -> Result<DownloadId, EngineError> {
        let earlier = self.find(id)?;
        let place = Destination {
            folder: match earlier.dst.parent() {
                Some(parent) if earlier.package_folder => parent.to_owned(),
                _ => earlier.dst.clone(),
            },
            package_folder: earlier.package_folder,
        };
        let source = earlier.source();
        let key = match &source {
            Source::Link { link, .. } => format!("link:{}", link.id),
            Source::Team { .. } => format!("package:{}", earlier.package_id),
        };
        // The same gate as adding it: a paste of its link meanwhile waits for this.
        let _adding = self.adding(&key, &place).await;
        if earlier.state() != DownloadState::Complete || earlier.status().deleted {
            return Err(EngineError::NotRepairable(
                "only a completed download can be checked again; resume or retry it instead".into(),
            ));
        }
        let session = run::open_session(&*self.shared, &source, &earlier.package_id).await?;
        let expires_at = earlier.expires_at();
        let new = NewDownload {
            package_id: earlier.package_id.clone(),
            name: earlier.name.clone(),
            sender_email: earlier.sender_email.clone(),
            source,
            selection: earlier.selection.clone(),
            priority: earlier.priority(),
            chunk_size: earlier.chunk_size,
            expires_at,
            replaces: Some(earlier),
            refuse_flagged: false,
        };
        self.insert(new, session, &place).await
    }
}
