//! The hooks: what runs after each package completes (see `crate::hooks`), set
//! for the engine (saved with the downloads) or for one process (`--then-run`).

use std::sync::Arc;

use super::Engine;
use crate::download::Download;
use crate::error::EngineError;
use crate::hooks::{AfterDownload, CompletedPackage, run_hooks};
use crate::model::Event;
use crate::sync::lock;

/// The key the hooks are saved under in the engine's settings.
const SETTING: &str = "after_download";

/// The hooks given for this process, else the saved ones.
pub(super) fn load(
    config: &crate::config::EngineConfig,
    store: &crate::store::Store,
) -> AfterDownload {
    config
        .after_download
        .clone()
        .unwrap_or_else(|| store.json_setting(SETTING).unwrap_or_default())
}

impl Engine {
    /// What runs after each package completes.
    pub fn after_download(&self) -> AfterDownload {
        lock(&self.shared.after_download).clone()
    }

    /// Replaces (and saves) what runs after each package completes.
    pub fn set_after_download(&self, hooks: AfterDownload) -> Result<(), EngineError> {
        hooks.validate()?;
        self.shared.store.save_setting(SETTING, &hooks)?;
        *lock(&self.shared.after_download) = hooks;
        Ok(())
    }

    /// Runs the hooks for a package that just completed, in the background; the
    /// outcome is an event and shows on the download, never changes its state.
    ///
    /// Every completion passes through here, once. MASV marks a download `complete`
    /// for the sender only when its own clients confirm it, through a route it does not
    /// publish; Inbound does not guess it. Once published, that call belongs here.
    pub(super) fn after_complete(&self, dl: &Arc<Download>) {
        let hooks = self.after_download();
        if hooks.is_empty() {
            return;
        }
        let package = CompletedPackage::of(&dl.detail());
        let (engine, dl) = (self.clone(), dl.clone());
        self.shared.tasks.spawn(async move {
            let failures = run_hooks(&hooks, &package).await;
            let error = (!failures.is_empty()).then(|| failures.join("; "));
            match &error {
                Some(e) => tracing::warn!(id = %dl.id, error = %e, "an after-download hook failed"),
                None => tracing::info!(id = %dl.id, "after-download hooks ran"),
            }
            dl.status().after_error = error.clone();
            engine.shared.emit(Event::AfterDownload {
                id: dl.id.clone(),
                error,
            });
        });
    }
}
