//! The S3 side of the simulator: presigned GETs with `Range`, S3-style ETags and
//! `If-Match`, objects that can change under a download, and the ways real storage
//! misbehaves (200 to a range, wrong or short `Content-Range`, short bodies, drops,
//! stalls, trickles).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use md5::{Digest, Md5};
use serde::Deserialize;

use crate::Content;
use crate::faults::Mischief;
use crate::range::{RangeAnswer, parse_range};
use crate::server::{SimState, now_ms, sleep_latency, status_fault};

/// Objects up to this size get the MD5 of their bytes as ETag; larger ones were
/// uploaded in parts (as MASV uploads large files) and get S3's multipart ETag.
pub const SINGLE_PART_MAX: u64 = 16 * 1024 * 1024;
/// Part size of a simulated multipart upload.
pub const UPLOAD_PART: u64 = 8 * 1024 * 1024;

/// What storage holds for one file right now, and its ETag (computed once).
#[derive(Clone)]
struct StoredObject {
    content: Content,
    etag: Arc<OnceLock<String>>,
}

impl StoredObject {
    fn new(content: Content) -> Self {
        Self {
            content,
            etag: Arc::new(OnceLock::new()),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| s3_etag(&self.content))
    }
}

/// Storage's objects, by (package id, file id). Starts with the packages' files;
/// [`crate::Sim::replace_object`] swaps one for other bytes (a re-upload).
#[derive(Default)]
pub(crate) struct Objects {
    map: Mutex<HashMap<(String, String), StoredObject>>,
}

impl Objects {
    pub fn insert(&self, package_id: &str, file_id: &str, content: Content) {
        self.lock()
            .insert(key(package_id, file_id), StoredObject::new(content));
    }

    fn get(&self, package_id: &str, file_id: &str) -> Option<StoredObject> {
        self.lock().get(&key(package_id, file_id)).cloned()
    }

    pub fn content(&self, package_id: &str, file_id: &str) -> Option<Content> {
        self.get(package_id, file_id).map(|o| o.content)
    }

    pub fn etag(&self, package_id: &str, file_id: &str) -> Option<String> {
        self.get(package_id, file_id).map(|o| o.etag().to_owned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), StoredObject>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(package_id: &str, file_id: &str) -> (String, String) {
    (package_id.to_owned(), file_id.to_owned())
}

/// S3's ETag, quoted as in the header: the MD5 of the bytes for an object stored in one
/// piece; for a multipart upload the MD5 of the parts' MD5s followed by `-N`, which is
/// not the file's MD5.
pub fn s3_etag(content: &Content) -> String {
    let len = content.len();
    let md5_of = |start: u64, end: u64| {
        let mut h = Md5::new();
        let mut buf = vec![0u8; (1 << 20).min((end - start) as usize).max(1)];
        let mut pos = start;
        while pos < end {
            let n = (end - pos).min(buf.len() as u64) as usize;
            content.fill(pos, &mut buf[..n]);
            h.update(&buf[..n]);
            pos += n as u64;
        }
        h.finalize()
    };
    if len <= SINGLE_PART_MAX {
        return format!("\"{}\"", hex::encode(md5_of(0, len)));
    }
    let mut outer = Md5::new();
    let parts = len.div_ceil(UPLOAD_PART);
    for i in 0..parts {
        outer.update(md5_of(i * UPLOAD_PART, ((i + 1) * UPLOAD_PART).min(len)));
    }
    format!("\"{}-{parts}\"", hex::encode(outer.finalize()))
}

pub(crate) fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

#[derive(Deserialize)]
pub(crate) struct PresignQuery {
    #[serde(rename = "X-Amz-Expires")]
    expires: Option<String>,
    #[serde(rename = "X-Amz-Signature")]
    signature: Option<String>,
}

pub(crate) async fn storage_route(
    State(s): State<Arc<SimState>>,
    Path((package_id, file_id)): Path<(String, String)>,
    Query(q): Query<PresignQuery>,
    headers: HeaderMap,
) -> Response {
    sleep_latency(&s.faults).await;
    s.faults.storage_gate().await;
    s.storage_requests.fetch_add(1, Relaxed);
    let (Some(exp), Some(sig)) = (q.expires, q.signature) else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the Signature and Expires parameters",
        );
    };
    if !s
        .signer
        .verify(&["storage", &package_id, &file_id, &exp], &sig)
    {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if exp.parse::<u64>().map_or(true, |e| e <= now_ms()) {
        s.faults.injected.expired_urls.fetch_add(1, Relaxed);
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let mischief = s.faults.next_storage();
    if let Some(r) = status_fault(mischief, s.faults.storage_retry_after_secs.load(Relaxed)) {
        return r;
    }
    let Some(object) = s.objects.get(&package_id, &file_id) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let mut etag = object.etag().to_owned();
    if s.faults.md5_etag_lies.load(Relaxed) {
        etag = format!("\"{}\"", hex::encode(Md5::digest(etag.as_bytes())));
    }
    if let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && !if_match(wanted, &etag)
    {
        s.faults.injected.precondition_failed.fetch_add(1, Relaxed);
        return s3_error(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        );
    }
    let len = object.content.len();
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let answer = match mischief {
        Mischief::IgnoreRange => RangeAnswer::Whole,
        _ => parse_range(range_header, len),
    };
    let (status, start, end) = match answer {
        RangeAnswer::Whole => (StatusCode::OK, 0, len),
        RangeAnswer::Partial(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.end),
        RangeAnswer::Unsatisfiable => {
            let mut r = s3_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range is not satisfiable",
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    // What the headers claim, and what the body carries.
    let (mut claimed_start, mut end, mut total) = (start, end, len);
    match mischief {
        Mischief::WrongRangeStart => claimed_start = (start + 4096).min(end.saturating_sub(1)),
        Mischief::WrongRangeTotal => total = len + 1,
        Mischief::ShortRange if end - start > 1 => end = start + (end - start) / 2,
        _ => {}
    }
    let body_start = claimed_start;
    let cut_at = match mischief {
        Mischief::DropMidBody | Mischief::StallMidBody | Mischief::LengthOver => {
            Some(body_start + (end - body_start) / 2)
        }
        _ => None,
    };
    let counter = s.clone();
    let outage = s.clone();
    let served_key = key(&package_id, &file_id);
    let body = BodyStream {
        _in_flight: BodiesInFlight::enter(&s.bodies),
        content: object.content.clone(),
        pos: body_start,
        end,
        cut_at,
        on_cut: match mischief {
            Mischief::StallMidBody => OnCut::Stall,
            Mischief::LengthOver => OnCut::End,
            _ => OnCut::Reset,
        },
        bytes_per_sec: match mischief {
            Mischief::Trickle => s.faults.trickle_bytes_per_sec.load(Relaxed).max(1),
            _ => s.faults.conn_bytes_per_sec.load(Relaxed),
        },
        on_abandon: (mischief == Mischief::Trickle).then(|| {
            let s = s.clone();
            Box::new(move || {
                s.faults.injected.trickles_abandoned.fetch_add(1, Relaxed);
            }) as Box<dyn Fn() + Send + Sync>
        }),
        started: tokio::time::Instant::now(),
        sent: 0,
        on_sent: Box::new(move |n| {
            if let Some(c) = counter.served.get(&served_key) {
                c.fetch_add(n, Relaxed);
            }
        }),
        unreachable: Box::new(move || outage.faults.in_outage()),
    };
    let mut resp = Response::new(Body::from_stream(body.into_stream()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&(end - body_start).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {claimed_start}-{}/{total}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// `If-Match` as S3 reads it: `*` or a list of quoted ETags.
fn if_match(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.trim_matches('"') == etag.trim_matches('"'))
}

const BODY_CHUNK: u64 = 64 * 1024;

/// What happens when a body reaches its `cut_at`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnCut {
    /// The connection is reset.
    Reset,
    /// The connection stays open and silent, as a wedged server's would.
    Stall,
    /// The body ends early (shorter than its `Content-Length`).
    End,
}

/// Counts the storage bodies being sent, and the most at once.
#[derive(Default)]
pub(crate) struct BodiesInFlight {
    pub now: AtomicU64,
    pub peak: AtomicU64,
}

impl BodiesInFlight {
    fn enter(this: &Arc<Self>) -> InFlight {
        let now = this.now.fetch_add(1, Relaxed) + 1;
        this.peak.fetch_max(now, Relaxed);
        InFlight(this.clone())
    }
}

/// One body being sent; counted until dropped.
struct InFlight(Arc<BodiesInFlight>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Relaxed);
    }
}

struct BodyStream {
    _in_flight: InFlight,
    content: Content,
    pos: u64,
    end: u64,
    cut_at: Option<u64>,
    on_cut: OnCut,
    bytes_per_sec: u64,
    /// Called if the client stops reading before the body's end.
    on_abandon: Option<Box<dyn Fn() + Send + Sync>>,
    started: tokio::time::Instant,
    sent: u64,
    on_sent: Box<dyn Fn(u64) + Send + Sync>,
    /// The simulator went unreachable: the body is cut.
    unreachable: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        if self.pos < self.end
            && let Some(f) = &self.on_abandon
        {
            f();
        }
    }
}

impl BodyStream {
    fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut s = state?;
            if s.pos >= s.end {
                return None;
            }
            if (s.unreachable)() {
                let err =
                    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated outage");
                return Some((Err(err), None));
            }
            if s.cut_at.is_some_and(|cut| s.pos >= cut) {
                match s.on_cut {
                    OnCut::Stall => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return None;
                    }
                    OnCut::End => return None,
                    OnCut::Reset => {
                        let err = std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated connection drop",
                        );
                        return Some((Err(err), None));
                    }
                }
            }
            let limit = s.cut_at.unwrap_or(s.end).min(s.end);
            // A slow body comes in pieces of about a quarter second, as a slow path's
            // would, so it never looks silent.
            let piece = if s.bytes_per_sec > 0 {
                (s.bytes_per_sec / 4).clamp(1, BODY_CHUNK)
            } else {
                BODY_CHUNK
            };
            let n = (limit - s.pos).min(piece);
            if s.bytes_per_sec > 0 {
                let due =
                    s.started + Duration::from_secs_f64(s.sent as f64 / s.bytes_per_sec as f64);
                tokio::time::sleep_until(due).await;
            }
            let mut buf = vec![0u8; n as usize];
            s.content.fill(s.pos, &mut buf);
            s.pos += n;
            s.sent += n;
            (s.on_sent)(n);
            Some((Ok(Bytes::from(buf)), Some(s)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_look_like_s3s() {
        let small = Content::bytes(b"hello".to_vec());
        // md5("hello")
        assert_eq!(s3_etag(&small), "\"5d41402abc4b2a76b9719d911017c592\"");
        let big = Content::generated(7, SINGLE_PART_MAX + 1);
        let tag = s3_etag(&big);
        assert!(tag.ends_with("-3\""), "{tag}");
        assert!(if_match("\"a\", \"b\"", "\"b\""));
        assert!(if_match("*", "\"b\""));
        assert!(!if_match("\"a\"", "\"b\""));
    }
}
