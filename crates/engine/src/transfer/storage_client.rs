//! The HTTP client for storage: the presigned URLs a package's files are fetched from.
//!
//! Storage bodies go through hyper directly, not reqwest, for one setting reqwest does
//! not expose: each connection's read buffer. hyper grows it towards 400 KiB on a fast
//! connection, and a download may hold 64 connections; here it is a fixed
//! [`READ_BUFFER`], so memory grows with the connection count by a known amount.
//!
//! Storage is spoken to over HTTP/1.1 only: each connection is its own TCP stream with
//! its own congestion window, which is what a higher connection count is for. HTTP/2
//! would fold them into one stream.
//!
//! A proxy named in the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`) is honoured as before: such requests go through reqwest, which speaks
//! to proxies.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use inbound_masv::Secret;

/// Bytes read from a storage connection at a time; also the most a connection holds
/// before the body's reader takes it.
pub(crate) const READ_BUFFER: usize = 64 * 1024;
/// Idle connections kept per storage host, to be reused by the next range or file.
const IDLE_PER_HOST: usize = 64;
/// An idle connection is closed after this long (storage closes its own at ~60 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed for one request (reqwest's default too).
const MAX_REDIRECTS: usize = 10;
const AGENT: &str = concat!("Inbound/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum StorageClientError {
    #[error("cannot set up TLS for storage connections: {0}")]
    Tls(String),
    #[error("cannot set up the client for proxied storage requests: {0}")]
    Proxied(String),
}

/// Why a request got no answer. Messages never carry the URL (it is a credential).
#[derive(Debug)]
pub(crate) enum SendError {
    /// The presigned URL is not one a request can be made to.
    BadUrl,
    Network(String),
}

pub(crate) struct StorageClient {
    direct: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    proxied: reqwest::Client,
    proxies: Matcher,
}

impl StorageClient {
    /// The client for this process: proxies as the environment names them.
    pub fn from_env() -> Result<Self, StorageClientError> {
        let proxied = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(AGENT)
            .build()
            .map_err(|e| StorageClientError::Proxied(e.to_string()))?;
        Self::new(Matcher::from_env(), proxied)
    }

    /// `proxies` says which URLs go through a proxy; `proxied` is the client that
    /// sends them there.
    fn new(proxies: Matcher, proxied: reqwest::Client) -> Result<Self, StorageClientError> {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        tcp.set_nodelay(true);
        // The TLS layer above it takes https URLs.
        tcp.enforce_http(false);
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls_provider())
            .map_err(|e| StorageClientError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let direct = Client::builder(TokioExecutor::new())
            .http1_read_buf_exact_size(READ_BUFFER)
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(tls);
        Ok(Self {
            direct,
            proxied,
            proxies,
        })
    }

    /// Sends a GET with these headers and returns once the answer's headers are in,
    /// following redirects (as reqwest did: storage may send a request to another
    /// region or host), each with the same headers.
    pub async fn get(
        &self,
        url: &Secret,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<StorageResponse, SendError> {
        let mut current = url::Url::parse(url.expose()).map_err(|_| SendError::BadUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let response = self.get_once(&current, headers).await?;
            match redirect_target(&current, &response) {
                Some(next) => current = next,
                None => return Ok(response),
            }
        }
        Err(SendError::Network(
            "storage sent the request on too many times (redirects)".into(),
        ))
    }

    async fn get_once(
        &self,
        url: &url::Url,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<StorageResponse, SendError> {
        let uri: Uri = url.as_str().parse().map_err(|_| SendError::BadUrl)?;
        if uri.host().is_none() {
            return Err(SendError::BadUrl);
        }
        if self.proxies.intercept(&uri).is_some() {
            return self.get_proxied(url.as_str(), headers).await;
        }
        let mut request = Request::get(uri).header(USER_AGENT, HeaderValue::from_static(AGENT));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Empty::new()).map_err(|_| SendError::BadUrl)?;
        let response = self
            .direct
            .request(request)
            .await
            .map_err(|e| SendError::Network(describe(&e, e.is_connect())))?;
        let (parts, body) = response.into_parts();
        Ok(StorageResponse {
            status: parts.status,
            headers: parts.headers,
            body: Body::Direct(body),
        })
    }

    async fn get_proxied(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<StorageResponse, SendError> {
        let mut request = self.proxied.get(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_builder() {
                SendError::BadUrl
            } else {
                SendError::Network(inbound_masv::MasvError::from_reqwest(e).reason())
            }
        })?;
        Ok(StorageResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: Body::Proxied(response),
        })
    }
}

/// Where a redirect sends the request, if `response` is one this client follows:
/// 301, 302, 303, 307 or 308 with a `Location` (relative to `current`) to http(s).
/// reqwest follows its own for a proxied request.
fn redirect_target(current: &url::Url, response: &StorageResponse) -> Option<url::Url> {
    if matches!(response.body, Body::Proxied(_))
        || !matches!(response.status.as_u16(), 301 | 302 | 303 | 307 | 308)
    {
        return None;
    }
    let location = response
        .headers
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    let next = current.join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

/// The crypto behind TLS to storage: the same provider reqwest's TLS uses here.
fn rustls_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Storage's answer: status and headers at once, the body as it arrives.
pub(crate) struct StorageResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

enum Body {
    Direct(hyper::body::Incoming),
    Proxied(reqwest::Response),
}

impl StorageResponse {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The next piece of the body; `None` once it ended.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        match &mut self.body {
            Body::Direct(body) => loop {
                match body.frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(describe(&e, false)),
                    // Trailers (never sent by storage) carry no bytes of the file.
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Ok(Some(data)),
                        _ => {}
                    },
                }
            },
            Body::Proxied(response) => response
                .chunk()
                .await
                .map_err(|e| inbound_masv::MasvError::from_reqwest(e).reason()),
        }
    }
}

/// A person's words for a failed exchange with storage, the URL left out.
fn describe(err: &(dyn std::error::Error + 'static), connect: bool) -> String {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled())
        {
            // Sent, and the connection closed before the answer was complete.
            return "the connection was cut".into();
        }
        source = e.source();
    }
    inbound_masv::describe_transport_error(err, connect, false)
}

#[cfg(test)]
mod tests;
