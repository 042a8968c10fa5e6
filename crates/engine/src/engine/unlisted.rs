//! A link added while MASV could not be reached (see [`Engine::add_or_wait`]). Its
//! download waits for the network like any other; once MASV answers, its package is
//! listed, its folder and file names are chosen, and the full download takes the
//! placeholder's place under the same id, so whoever holds the id sees it carry on.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Engine;
use super::planning::{NewDownload, package_name, retire};
use crate::download::Download;
use crate::download::ledger;
use crate::download::session::Session;
use crate::engine::placement::Destination;
use crate::error::EngineError;
use crate::model::source::Source;
use crate::model::{DownloadState, Event};
use crate::run::{Interruption, RunEnd};
use crate::sync::lock;

impl Engine {
    /// The download ready to run: as it is, or, not listed yet, once MASV has listed
    /// it (waiting for the network meanwhile, as long as it takes). Otherwise how the
    /// run ended: stopped, or a cause no wait cures (expired link, wrong password).
    pub(super) async fn list_when_reachable(
        &self,
        dl: Arc<Download>,
        cancel: &CancellationToken,
    ) -> Result<Arc<Download>, (Arc<Download>, RunEnd)> {
        if !dl.is_unlisted() {
            return Ok(dl);
        }
        let mut backoff = self.network_backoff();
        // Added just after a failed try: it waits before the next.
        let mut unreachable = dl.status().waiting.as_ref().map(|w| Interruption {
            message: w.message.clone(),
            reason: w.reason,
            retry_after: None,
        });
        loop {
            if let Some(why) = unreachable.take()
                && !self.wait_for_network(&dl, &mut backoff, why, cancel).await
            {
                return Err((dl, RunEnd::Cancelled));
            }
            let listed = tokio::select! {
                _ = cancel.cancelled() => return Err((dl, RunEnd::Cancelled)),
                listed = self.list_unlisted(&dl) => listed,
            };
            match listed {
                Ok(Some(listed)) => return Ok(listed),
                // Paused or deleted while MASV answered.
                Ok(None) => return Err((dl, RunEnd::Cancelled)),
                Err(EngineError::Masv(e)) if e.is_transient() => {
                    tracing::info!(download = %dl.id, reason = %e, "still waiting for MASV");
                    unreachable = Some(Interruption {
                        message: e.unreachable_sentence(),
                        ..Interruption::of(&e)
                    });
                }
                Err(e) => {
                    tracing::warn!(download = %dl.id, error = %e, "link could not be listed");
                    return Err((dl, RunEnd::Failed(e.to_string())));
                }
            }
        }
    }

    /// Lists the package behind a waiting link and puts the full download in the
    /// placeholder's place (taking over its run). `None` if the placeholder was paused
    /// or deleted meanwhile: then nothing is recorded.
    async fn list_unlisted(
        &self,
        dl: &Arc<Download>,
    ) -> Result<Option<Arc<Download>>, EngineError> {
        let Source::Link { link, password } = dl.source() else {
            return Ok(Some(dl.clone()));
        };
        let (session, info) = Session::open(
            self.shared.client_for(&link.id),
            link.clone(),
            password.clone(),
            self.shared.quick_retry_policy(),
        )
        .await?;
        let dst = Destination {
            folder: dl.dst.clone(),
            package_folder: dl.package_folder,
        };
        // The link was asked for again after its download there completed: this one
        // checks that download's files and takes its place.
        let replaces = self.find_complete(&link.id, &dst, dl);
        let new = NewDownload {
            name: package_name(&info.name, &info.package_id),
            package_id: info.package_id,
            sender_email: info.sender_email,
            source: Source::Link { link, password },
            selection: dl.selection.clone(),
            priority: dl.priority(),
            replaces,
            refuse_flagged: false,
            chunk_size: dl.chunk_size,
            expires_at: None,
        };
        let mut planned = self
            .plan(new, &session, &dst, dl.id.clone(), dl.created_at)
            .await?;
        planned.row.state = DownloadState::Transferring;
        // In the order `list` takes them: the list, then a download's status.
        let mut list = lock(&self.shared.downloads);
        let mut placeholder = dl.status();
        if placeholder.deleted || placeholder.state() != DownloadState::Transferring {
            drop((placeholder, list));
            planned.abandon();
            return Ok(None);
        }
        let db = self.shared.store.path().to_owned();
        if let Err(e) = self.shared.store.resolve_download(
            &planned.row,
            &planned.files,
            planned.replaces.as_ref().map(|e| e.id.as_str()),
        ) {
            drop((placeholder, list));
            planned.abandon();
            return Err(EngineError::db(&db)(e));
        }
        let (listed, replaced, planning) = planned.into_download();
        listed.status().run = placeholder.run.take();
        // What was set on the placeholder meanwhile carries over.
        ledger::carry_settings(dl, &listed);
        // Whoever still holds the placeholder finds it gone.
        placeholder.deleted = true;
        *lock(&listed.session) = Some(Arc::new(session));
        if let Some(slot) = list.iter_mut().find(|d| Arc::ptr_eq(d, dl)) {
            *slot = listed.clone();
        }
        if let Some(earlier) = &replaced {
            retire(&mut list, earlier);
        }
        drop((placeholder, list, planning));
        if let Some(earlier) = replaced {
            self.shared.emit(Event::Removed {
                id: earlier.id.clone(),
            });
        }
        tracing::info!(id = %listed.id, name = %listed.name, files = listed.files.len(), "waiting link listed");
        // MASV answered: whatever else waits for the network tries now too.
        self.shared.network_back.notify_waiters();
        self.shared.emit(Event::Added {
            download: Box::new(listed.summary()),
        });
        crate::run::expiry::warn_if_soon(&*self.shared, &listed, crate::model::unix_now());
        Ok(Some(listed))
    }
}
