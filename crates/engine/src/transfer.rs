//! One ranged GET from storage, written in place into the part file.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use inbound_masv::Secret;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::bandwidth::Bandwidth;
use crate::partfile::PartFile;

#[derive(Debug)]
pub(crate) enum FetchError {
    /// Storage refused the presigned URL (expired or otherwise no longer valid).
    UrlRejected,
    /// Worth retrying after a pause.
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// This file cannot be fetched.
    Fatal(String),
    /// Writing to the local disk failed.
    Disk(std::io::Error),
    /// Recording progress failed (message for a person).
    Save(String),
    Cancelled,
}

/// Makes bytes written so far durable and records them, while the transfer goes on.
pub(crate) trait Checkpoint {
    async fn save(&self, start: u64, end: u64) -> Result<(), String>;
}

/// A byte range being fetched. `end` may shrink while the transfer runs: an idle
/// connection takes over the second half of a long range (work stealing), and the
/// connection that owned it stops at the new end.
pub(crate) struct Span {
    pub idx: usize,
    pub start: u64,
    /// First byte not yet written.
    pub pos: AtomicU64,
    pub end: AtomicU64,
}

impl Span {
    pub fn new(idx: usize, start: u64, end: u64) -> Self {
        Self {
            idx,
            start,
            pos: AtomicU64::new(start),
            end: AtomicU64::new(end),
        }
    }

    /// Takes the second half of what is left, if at least `min_piece` would remain on
    /// each side. Returns the range taken.
    pub fn steal_half(&self, min_piece: u64) -> Option<(u64, u64)> {
        let end = self.end.load(Relaxed);
        let pos = self.pos.load(Relaxed);
        let left = end.checked_sub(pos)?;
        if left < 2 * min_piece {
            return None;
        }
        let mid = pos + left / 2;
        self.end
            .compare_exchange(end, mid, Relaxed, Relaxed)
            .ok()
            .map(|_| (mid, end))
    }

    pub fn remaining(&self) -> u64 {
        self.end
            .load(Relaxed)
            .saturating_sub(self.pos.load(Relaxed))
    }
}

pub(crate) struct RangeRequest<'a> {
    pub http: &'a reqwest::Client,
    pub url: &'a Secret,
    pub file: &'a PartFile,
    pub span: &'a Span,
    pub bandwidth: &'a Bandwidth,
    pub stall_timeout: Duration,
    pub cancel: CancellationToken,
    /// Progress is saved after every this many bytes.
    pub checkpoint_every: u64,
}

/// Fetches the span and writes it at the same offsets, calling `on_bytes` with each
/// amount written. Returns how many bytes from `span.start` on were written (whatever
/// happened) and how it ended.
pub(crate) async fn fetch_range(
    req: RangeRequest<'_>,
    on_bytes: impl Fn(u64),
    checkpoint: &impl Checkpoint,
) -> (u64, Result<(), FetchError>) {
    let result = receive(&req, &on_bytes, checkpoint).await;
    (req.span.pos.load(Relaxed) - req.span.start, result)
}

async fn receive(
    req: &RangeRequest<'_>,
    on_bytes: &impl Fn(u64),
    checkpoint: &impl Checkpoint,
) -> Result<(), FetchError> {
    let span = req.span;
    let mut saved = span.start;
    let send = req
        .http
        .get(req.url.expose())
        .header(
            reqwest::header::RANGE,
            format!("bytes={}-{}", span.start, span.end.load(Relaxed) - 1),
        )
        .send();
    let mut resp = tokio::select! {
        _ = req.cancel.cancelled() => return Err(FetchError::Cancelled),
        r = tokio::time::timeout(req.stall_timeout, send) => match r {
            Err(_) => return Err(transient("storage did not answer in time")),
            Ok(Err(e)) => return Err(transient(network_message(e))),
            Ok(Ok(resp)) => resp,
        },
    };
    check_status(&resp, span.start)?;
    loop {
        let pos = span.pos.load(Relaxed);
        let wanted = span.end.load(Relaxed).saturating_sub(pos);
        if wanted == 0 {
            return Ok(());
        }
        let next = tokio::select! {
            _ = req.cancel.cancelled() => return Err(FetchError::Cancelled),
            r = tokio::time::timeout(req.stall_timeout, resp.chunk()) => r,
        };
        let mut chunk = match next {
            Err(_) => return Err(transient("the download stalled (no data received)")),
            Ok(Err(e)) => return Err(transient(network_message(e))),
            Ok(Ok(None)) => {
                return Err(transient(
                    "the connection closed before the range was complete",
                ));
            }
            Ok(Ok(Some(c))) => c,
        };
        // Past our end (a 200 answer, or a range shortened by stealing): keep ours only.
        if chunk.len() as u64 > wanted {
            chunk.truncate(wanted as usize);
        }
        req.bandwidth.take(chunk.len()).await;
        req.file.write_at(&chunk, pos).map_err(FetchError::Disk)?;
        let pos = pos + chunk.len() as u64;
        span.pos.store(pos, Relaxed);
        on_bytes(chunk.len() as u64);
        if pos - saved >= req.checkpoint_every && pos < span.end.load(Relaxed) {
            checkpoint
                .save(saved, pos)
                .await
                .map_err(FetchError::Save)?;
            saved = pos;
        }
    }
}

fn check_status(resp: &reqwest::Response, start: u64) -> Result<(), FetchError> {
    let status = resp.status();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let range_start = resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if range_start == Some(start) {
                Ok(())
            } else {
                Err(FetchError::Fatal(
                    "storage answered with a different byte range than requested".into(),
                ))
            }
        }
        StatusCode::OK if start == 0 => Ok(()),
        StatusCode::OK => Err(FetchError::Fatal(
            "storage does not support resuming (it ignored the byte range)".into(),
        )),
        StatusCode::FORBIDDEN => Err(FetchError::UrlRejected),
        StatusCode::TOO_MANY_REQUESTS => Err(FetchError::Transient {
            message: "storage is rate limiting".into(),
            retry_after: resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(inbound_masv::parse_retry_after),
        }),
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
            Err(transient(format!("storage answered {s}")))
        }
        StatusCode::NOT_FOUND => Err(FetchError::Fatal(
            "the file is missing from MASV storage; ask the sender to re-send it".into(),
        )),
        s => Err(FetchError::Fatal(format!("storage answered {s}"))),
    }
}

fn transient(message: impl Into<String>) -> FetchError {
    FetchError::Transient {
        message: message.into(),
        retry_after: None,
    }
}

/// Describes a network error without the URL (a presigned URL is a credential).
fn network_message(e: reqwest::Error) -> String {
    inbound_masv::MasvError::from_reqwest(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stealing_takes_the_second_half_and_shrinks_the_owner() {
        let s = Span::new(0, 0, 100);
        s.pos.store(20, Relaxed);
        assert_eq!(s.steal_half(10), Some((60, 100)));
        assert_eq!(s.end.load(Relaxed), 60);
        assert_eq!(s.remaining(), 40);
        assert_eq!(s.steal_half(25), None, "too little left to split");
        s.pos.store(60, Relaxed);
        assert_eq!(s.steal_half(1), None);
    }
}
