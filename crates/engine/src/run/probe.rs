//! Learns a file's size from storage when the package listing leaves it out, so an
//! unknown size is never taken for an empty file.

use std::time::Duration;

use http::StatusCode;
use http::header::{self, HeaderValue};
use inbound_masv::{PackageFile, Secret};

use crate::download::session::Session;
use crate::error::EngineError;
use crate::run::RunServices;
use crate::transfer::parse_content_range;
use crate::transfer::storage_client::{SendError, StorageClient};

/// Why one probe did not give a size.
enum ProbeError {
    /// Worth asking again after a pause (network, 5xx, 429, expired URL).
    Transient(String),
    /// Storage answered, but not with a size.
    NoSize(String),
}

/// Every listed size, asking storage for the files the listing does not size. `None`
/// is left for files that will not be fetched (`wanted` says which will).
pub(crate) async fn listed_or_stored_sizes(
    shared: &dyn RunServices,
    session: &Session,
    listing: &[PackageFile],
    wanted: impl Fn(usize) -> bool,
) -> Result<Vec<u64>, EngineError> {
    let mut sizes = Vec::with_capacity(listing.len());
    for (idx, f) in listing.iter().enumerate() {
        sizes.push(match f.size {
            Some(size) => size,
            None if !wanted(idx) => 0,
            None => stored_size(shared, session, idx, f).await?,
        });
    }
    Ok(sizes)
}

async fn stored_size(
    shared: &dyn RunServices,
    session: &Session,
    idx: usize,
    f: &PackageFile,
) -> Result<u64, EngineError> {
    let mut backoff = shared.retry_policy().backoff();
    loop {
        let url = session.file_url(idx, &f.id).await?;
        let failure = match probe(shared.storage(), &url.url, shared.config().stall_timeout).await {
            Ok(size) => {
                tracing::info!(file = %f.package_path(), size, "size learned from storage");
                return Ok(size);
            }
            Err(ProbeError::NoSize(why)) => why,
            Err(ProbeError::Transient(why)) => {
                session.invalidate_url(idx, url.generation);
                match backoff.next_delay(None) {
                    Some(delay) => {
                        tracing::debug!(?delay, %why, "size probe failed, retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    None => why,
                }
            }
        };
        return Err(EngineError::UnknownSize {
            name: f.package_path(),
            reason: failure,
        });
    }
}

/// Asks for the first byte: the answer's `Content-Range` (or a whole-object answer's
/// `Content-Length`) names the object's size. The body is not read.
async fn probe(
    storage: &StorageClient,
    url: &Secret,
    timeout: Duration,
) -> Result<u64, ProbeError> {
    let range = [(header::RANGE, HeaderValue::from_static("bytes=0-0"))];
    let resp = tokio::time::timeout(timeout, storage.get(url, &range))
        .await
        .map_err(|_| ProbeError::Transient("storage did not answer in time".into()))?
        .map_err(|e| match e {
            SendError::BadUrl => ProbeError::NoSize("MASV gave an unusable download URL".into()),
            SendError::Network(why) => {
                ProbeError::Transient(inbound_masv::MasvError::Transient(why).to_string())
            }
        })?;
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let total = header(header::CONTENT_RANGE)
        .and_then(parse_content_range)
        .and_then(|(_, _, total)| total);
    match resp.status() {
        // An empty object cannot satisfy a range: `bytes */0`.
        StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE => total.ok_or_else(|| {
            ProbeError::NoSize("storage's answer does not name the file's size".into())
        }),
        StatusCode::OK => header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ProbeError::NoSize("storage's answer has no length".into())),
        s if s.is_server_error()
            || s == StatusCode::TOO_MANY_REQUESTS
            || s == StatusCode::FORBIDDEN
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            Err(ProbeError::Transient(format!("storage answered {s}")))
        }
        s => Err(ProbeError::NoSize(format!("storage answered {s}"))),
    }
}
