//! One ranged GET from storage, written in place into the part file.

use std::fs::File;
use std::time::Duration;

use inbound_masv::Secret;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::bandwidth::Bandwidth;
use crate::fsutil::write_all_at;

const WRITE_BUFFER: usize = 256 * 1024;

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
    Cancelled,
}

pub(crate) struct RangeRequest<'a> {
    pub http: &'a reqwest::Client,
    pub url: &'a Secret,
    pub file: &'a File,
    pub start: u64,
    pub end: u64,
    pub bandwidth: &'a Bandwidth,
    pub stall_timeout: Duration,
    pub cancel: CancellationToken,
}

/// Fetches `[start, end)` and writes it at the same offsets. Returns how many bytes
/// from `start` on were written (whatever happened) and how it ended.
pub(crate) async fn fetch_range(
    req: RangeRequest<'_>,
    on_progress: impl Fn(u64),
) -> (u64, Result<(), FetchError>) {
    let mut w = Writer {
        file: req.file,
        offset: req.start,
        buf: Vec::with_capacity(WRITE_BUFFER),
        written: 0,
    };
    let result = receive(&req, &mut w, &on_progress).await;
    let flushed = w.flush();
    on_progress(w.written);
    match (result, flushed) {
        (Ok(()), Err(e)) | (Err(_), Err(e)) => (w.written, Err(FetchError::Disk(e))),
        (r, Ok(())) => (w.written, r),
    }
}

struct Writer<'a> {
    file: &'a File,
    offset: u64,
    buf: Vec<u8>,
    written: u64,
}

impl Writer<'_> {
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        write_all_at(self.file, &self.buf, self.offset + self.written)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

async fn receive(
    req: &RangeRequest<'_>,
    w: &mut Writer<'_>,
    on_progress: &impl Fn(u64),
) -> Result<(), FetchError> {
    let wanted = req.end - req.start;
    let send = req
        .http
        .get(req.url.expose())
        .header(
            reqwest::header::RANGE,
            format!("bytes={}-{}", req.start, req.end - 1),
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
    check_status(&resp, req.start)?;
    let mut received = 0u64;
    while received < wanted {
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
        // A server answering 200 to a range sends the whole file; keep only ours.
        if (chunk.len() as u64) > wanted - received {
            chunk.truncate((wanted - received) as usize);
        }
        req.bandwidth.take(chunk.len()).await;
        received += chunk.len() as u64;
        w.buf.extend_from_slice(&chunk);
        if w.buf.len() >= WRITE_BUFFER {
            w.flush().map_err(FetchError::Disk)?;
            on_progress(w.written);
        }
    }
    Ok(())
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
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
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
