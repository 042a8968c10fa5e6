//! Bytes from storage into part files: the storage client, byte ranges, spans, part
//! files, write batches, hashing and the file-system rules. Knows no download, no
//! SQLite and no engine. This module: one ranged GET from storage, written in place
//! into the part file.

pub(crate) mod bandwidth;
pub(crate) mod beneath;
pub(crate) mod fsutil;
pub(crate) mod hashing;
pub(crate) mod identity;
pub(crate) mod part_on_disk;
pub(crate) mod partfile;
pub(crate) mod ranges;
pub(crate) mod retry;
pub(crate) mod span;
pub(crate) mod storage_client;
pub(crate) mod unsynced;
pub(crate) mod volume;
pub(crate) mod write_batch;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Buf;
use http::StatusCode;
use http::header::{self, HeaderValue};
use inbound_masv::Secret;

use crate::sync::lock;
use crate::transfer::bandwidth::Bandwidth;
use crate::transfer::partfile::PartFile;
use crate::transfer::span::Span;
use crate::transfer::storage_client::{SendError, StorageClient, StorageResponse};
use crate::transfer::write_batch::WriteBatch;

#[derive(Debug)]
pub(crate) enum FetchError {
    /// Storage refused the presigned URL (expired or otherwise no longer valid).
    UrlRejected,
    /// Worth retrying after a pause.
    Transient {
        message: String,
        retry_after: Option<Duration>,
        /// Storage said there are too many requests (429, 503): fewer connections.
        throttled: bool,
    },
    /// This file cannot be fetched.
    Fatal(String),
    /// Writing to the local disk failed.
    Disk(std::io::Error),
    /// Recording progress failed (message for a person).
    Save(String),
    /// The object on storage is not the one the bytes so far came from (another ETag,
    /// or 412 to `If-Match`): the file must start again.
    Changed(String),
    Cancelled,
}

/// Makes bytes written so far durable and records them, while the transfer goes on.
pub(crate) trait Checkpoint {
    async fn save(&self, start: u64, end: u64) -> Result<(), String>;
    /// Storage named the object's ETag: the first one is remembered (and sent as
    /// `If-Match` from then on); a different one means the object changed.
    fn pin_etag(&self, etag: &str) -> Result<(), FetchError>;
}

pub(crate) struct RangeRequest<'a> {
    pub storage: &'a StorageClient,
    pub url: &'a Secret,
    pub file: &'a PartFile,
    pub span: &'a Span,
    pub bandwidth: &'a Bandwidth,
    /// The download's own limit, taken from before the global one.
    pub download_limit: &'a Bandwidth,
    pub stall_timeout: Duration,
    /// Progress is saved after every this many bytes...
    pub checkpoint_every: u64,
    /// ...or this much time, whichever comes first.
    pub checkpoint_interval: Duration,
    /// The file's size in the package listing.
    pub size: u64,
    /// The ETag the bytes so far belong to.
    pub if_match: Option<String>,
    /// Told how long storage took to answer (headers in).
    pub on_answer: &'a (dyn Fn(Duration) + Sync),
    /// Told how long each write to the file took.
    pub on_write: &'a (dyn Fn(Duration) + Sync),
}

/// Fetches the span and writes it at the same offsets, calling `on_bytes` with each
/// amount written. Returns how many bytes from `span.start` on were written (whatever
/// happened) and how it ended.
pub(crate) async fn fetch_range(
    req: RangeRequest<'_>,
    on_bytes: impl Fn(u64),
    checkpoint: &impl Checkpoint,
) -> (u64, Result<(), FetchError>) {
    let mut batch = WriteBatch::default();
    let received = receive(&req, &on_bytes, checkpoint, &mut batch).await;
    // However the transfer ended, the bytes that arrived are kept.
    let flushed = flush(&req, &on_bytes, &mut batch);
    let result = match (received, flushed) {
        (Ok(()), Err(e)) => Err(FetchError::Disk(e)),
        (result, _) => result,
    };
    (req.span.pos.load(Relaxed) - req.span.start, result)
}

/// Writes the batch at the span's position (what still belongs to the span: its end
/// may have moved), and counts it as written.
fn flush(
    req: &RangeRequest<'_>,
    on_bytes: &impl Fn(u64),
    batch: &mut WriteBatch,
) -> std::io::Result<()> {
    let span = req.span;
    let pos = span.pos.load(Relaxed);
    let room = span.end.load(Relaxed).saturating_sub(pos);
    batch.truncate(usize::try_from(room).unwrap_or(usize::MAX));
    if batch.is_empty() {
        return Ok(());
    }
    let len = batch.len() as u64;
    let started = std::time::Instant::now();
    // Digested as written, for the quick saves; a failed write leaves nothing to save
    // (the piece's bytes may be half on disk).
    let mut unsynced = lock(&span.unsynced);
    unsynced.wrote(batch.pieces());
    if let Err(e) = req.file.write_batch(batch, pos) {
        unsynced.flushed(pos);
        return Err(e);
    }
    drop(unsynced);
    (req.on_write)(started.elapsed());
    span.pos.store(pos + len, Relaxed);
    on_bytes(len);
    Ok(())
}

async fn receive(
    req: &RangeRequest<'_>,
    on_bytes: &impl Fn(u64),
    checkpoint: &impl Checkpoint,
    batch: &mut WriteBatch,
) -> Result<(), FetchError> {
    let span = req.span;
    let mut saved = span.start;
    let mut saved_at = tokio::time::Instant::now();
    let requested_end = span.end.load(Relaxed);
    let range = format!("bytes={}-{}", span.start, requested_end - 1);
    let mut headers = vec![(
        header::RANGE,
        HeaderValue::try_from(range).map_err(|e| FetchError::Fatal(e.to_string()))?,
    )];
    if let Some(etag) = &req.if_match {
        // An ETag storage sent is a valid header value; one that is not cannot be
        // matched, and the file starts again.
        let value = HeaderValue::try_from(etag.as_str())
            .map_err(|_| FetchError::Changed("storage named an unusable ETag".into()))?;
        headers.push((header::IF_MATCH, value));
    }
    let asked = tokio::time::Instant::now();
    let mut resp = tokio::select! {
        _ = span.cancel.cancelled() => return Err(FetchError::Cancelled),
        r = tokio::time::timeout(req.stall_timeout, req.storage.get(req.url, &headers)) => match r {
            Err(_) => return Err(transient("storage did not answer in time")),
            Ok(Err(SendError::BadUrl)) => return Err(FetchError::UrlRejected),
            Ok(Err(SendError::Network(why))) => return Err(network(why)),
            Ok(Ok(resp)) => resp,
        },
    };
    (req.on_answer)(asked.elapsed());
    let answer = check_answer(&resp, span.start, requested_end, req.size)?;
    if let Some(etag) = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        checkpoint.pin_etag(etag)?;
    }
    let mut skip = answer.skip;
    // Received so far: written, plus what waits in the batch.
    let received = |batch: &WriteBatch| span.pos.load(Relaxed) + batch.len() as u64;
    loop {
        let end = span.end.load(Relaxed).min(answer.end);
        if received(batch) >= end {
            // Done, or storage sent less than asked (legal): the rest is asked again.
            return Ok(());
        }
        let next = tokio::select! {
            _ = span.cancel.cancelled() => return Err(FetchError::Cancelled),
            r = tokio::time::timeout(req.stall_timeout, resp.chunk()) => r,
        };
        let mut chunk = match next {
            Err(_) => return Err(transient("the download stalled (no data received)")),
            Ok(Err(why)) => return Err(network(why)),
            Ok(Ok(None)) => {
                return Err(transient(
                    "the connection closed before the range was complete",
                ));
            }
            Ok(Ok(Some(c))) => c,
        };
        span.arrived(chunk.len());
        if skip > 0 {
            // A whole-object answer to a range: the bytes before ours are dropped.
            let n = skip.min(chunk.len() as u64);
            chunk.advance(n as usize);
            skip -= n;
            if chunk.is_empty() {
                continue;
            }
        }
        req.download_limit.take(chunk.len()).await;
        req.bandwidth.take(chunk.len()).await;
        // Right before writing: another connection may have taken the end of this
        // range while we waited, and its bytes are its own to write and count.
        let pos = received(batch);
        let end = span.end.load(Relaxed).min(answer.end);
        if pos >= end {
            return Ok(());
        }
        if chunk.len() as u64 > end - pos {
            chunk.truncate((end - pos) as usize);
        }
        let pos = pos + chunk.len() as u64;
        batch.push(chunk);
        span.received_to.store(pos, Relaxed);
        let due =
            pos - saved >= req.checkpoint_every || saved_at.elapsed() >= req.checkpoint_interval;
        if batch.is_full() || due || pos >= end {
            flush(req, on_bytes, batch).map_err(FetchError::Disk)?;
        }
        let pos = span.pos.load(Relaxed);
        if due && pos < span.end.load(Relaxed) {
            checkpoint
                .save(saved, pos)
                .await
                .map_err(FetchError::Save)?;
            lock(&span.unsynced).flushed(pos);
            saved = pos;
            saved_at = tokio::time::Instant::now();
        }
    }
}

/// What storage's answer carries, once its headers check out.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    /// Body bytes to drop before ours start (a 200 to a range that does not start at 0).
    skip: u64,
    /// Where the body's bytes stop (a short range ends early).
    end: u64,
}

/// Checks status, `Content-Range` (start, end and total) and `Content-Length` against
/// what was asked and what the listing says, so that no byte lands in the wrong place
/// and a changed file is never silently cut or padded.
fn check_answer(
    resp: &StorageResponse,
    start: u64,
    requested_end: u64,
    size: u64,
) -> Result<Answer, FetchError> {
    let headers = resp.headers();
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let content_length = value(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let Some((first, last, total)) =
                value(header::CONTENT_RANGE).and_then(parse_content_range)
            else {
                return Err(transient("storage answered a range without saying which"));
            };
            if let Some(total) = total
                && total != size
            {
                return Err(size_changed(size, total));
            }
            if first != start || last < first {
                return Err(transient(
                    "storage answered with a different byte range than requested",
                ));
            }
            if content_length.is_some_and(|n| n != last + 1 - first) {
                return Err(transient(
                    "storage's answer does not add up (length and range differ)",
                ));
            }
            Ok(Answer {
                skip: 0,
                end: (last + 1).min(requested_end),
            })
        }
        StatusCode::OK => {
            if let Some(total) = content_length
                && total != size
            {
                return Err(size_changed(size, total));
            }
            Ok(Answer {
                skip: start,
                end: requested_end,
            })
        }
        StatusCode::PRECONDITION_FAILED => Err(FetchError::Changed(
            "the file changed on MASV while downloading".into(),
        )),
        StatusCode::RANGE_NOT_SATISFIABLE => {
            match value(header::CONTENT_RANGE).and_then(parse_content_range) {
                Some((_, _, Some(total))) if total != size => Err(size_changed(size, total)),
                _ => Err(FetchError::Fatal(
                    "storage refused the byte range (416)".into(),
                )),
            }
        }
        StatusCode::FORBIDDEN => Err(FetchError::UrlRejected),
        StatusCode::TOO_MANY_REQUESTS => Err(FetchError::Transient {
            message: "storage is rate limiting".into(),
            retry_after: inbound_masv::retry_after(headers),
            throttled: true,
        }),
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
            Err(FetchError::Transient {
                message: format!("storage answered {s}"),
                // A 503 may say when to come back, as a 429 does.
                retry_after: inbound_masv::retry_after(headers),
                // S3 and its kind answer 503 "Slow Down" to too many requests.
                throttled: s == StatusCode::SERVICE_UNAVAILABLE,
            })
        }
        StatusCode::NOT_FOUND => Err(FetchError::Fatal(
            "the file is missing from MASV storage; ask the sender to re-send it".into(),
        )),
        s => Err(FetchError::Fatal(format!("storage answered {s}"))),
    }
}

fn size_changed(listed: u64, stored: u64) -> FetchError {
    FetchError::Fatal(format!(
        "the file's size changed on MASV (listed as {listed} bytes, storage has {stored}); ask the sender to send it again, then add the link again"
    ))
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`) or `bytes */TOTAL`: first, last, total.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if range.trim() == "*" {
        return total.map(|t| (u64::MAX, 0, Some(t)));
    }
    let (first, last) = range.split_once('-')?;
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?, total))
}

/// A network failure, worded as every transient failure is (the words are recognised
/// in stored messages).
fn network(why: String) -> FetchError {
    transient(inbound_masv::MasvError::Transient(why).to_string())
}

fn transient(message: impl Into<String>) -> FetchError {
    FetchError::Transient {
        message: message.into(),
        retry_after: None,
        throttled: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read_whole() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(
            parse_content_range("bytes */42"),
            Some((u64::MAX, 0, Some(42)))
        );
        assert_eq!(parse_content_range("bytes 5-/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
