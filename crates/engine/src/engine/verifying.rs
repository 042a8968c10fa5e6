//! Verifying a completed download again, on request ("Verify again").

use super::Engine;
use crate::engine::reverify::{VerifySummary, record_verification, verify_folder};
use crate::error::EngineError;
use crate::model::DownloadState;
use crate::sync::lock;

impl Engine {
    /// Verifies a completed download's files again against the ASC MHL history written
    /// when it completed, and records the verification there as a new generation.
    pub async fn verify_again(&self, id: &str) -> Result<VerifySummary, EngineError> {
        let dl = self.find(id)?;
        if dl.state() != DownloadState::Complete {
            return Err(EngineError::NotVerifiable(
                "the package has not finished downloading; verify it once it is complete".into(),
            ));
        }
        let root = dl.dst.clone();
        let shared = self.shared.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let report = verify_folder(&root, |_| {})?;
            // Packages sharing a folder share its history: one writer at a time, and
            // only while writing (the hashing can take hours on a large package).
            let _one_writer = lock(&shared.sealing);
            record_verification(&root, &report).map(|recorded| (report, recorded))
        })
        .await
        .map_err(|e| EngineError::NotVerifiable(format!("the verification stopped: {e}")))?
        .map_err(|e| EngineError::NotVerifiable(e.to_string()))?;
        let (report, recorded) = verified;
        let summary = VerifySummary::of(&report, recorded);
        tracing::info!(
            id = %dl.id,
            ok = summary.ok,
            changed = summary.changed.len(),
            missing = summary.missing.len(),
            extra = summary.extra.len(),
            "package verified again"
        );
        Ok(summary)
    }
}
