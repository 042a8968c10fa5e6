//! Follows one package's upload on its PubNub channel until the upload ends.

use std::time::Duration;

use inbound_masv::{MasvError, ProgressChannel, PubNub, UploadProgress};
use tokio_util::sync::CancellationToken;

/// Calls `on_progress` for every progress message until the upload reports it is
/// complete (100 %, or a `finalized` state message), or `cancel` fires. Transient
/// failures are retried with growing pauses; a refused subscription ends it.
pub async fn watch_upload(
    pubnub: &PubNub,
    channel: &ProgressChannel,
    cancel: &CancellationToken,
    mut on_progress: impl FnMut(UploadProgress),
) -> Result<(), MasvError> {
    let mut sub = pubnub.subscribe(channel)?;
    let mut delay = Duration::from_millis(500);
    loop {
        let messages = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            m = sub.next() => m,
        };
        match messages {
            Ok(messages) => {
                delay = Duration::from_millis(500);
                for m in messages {
                    let finished = m.get("state").and_then(|s| s.as_str()) == Some("finalized");
                    if let Some(p) = UploadProgress::from_message(&m) {
                        on_progress(p);
                        if p.fraction >= 1.0 {
                            return Ok(());
                        }
                    }
                    if finished {
                        return Ok(());
                    }
                }
            }
            Err(e) if e.is_transient() => {
                tracing::debug!(error = %e, ?delay, "upload progress subscription failed, retrying");
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(e) => return Err(e),
        }
    }
}
