use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::faults::Mischief;
use crate::sign::Signer;
use crate::storage::{Objects, storage_route};
use crate::team::{self, SimTeam};
use crate::{Content, Faults, Injected, SimPackage};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write the storage export: {0}")]
    Export(std::io::Error),
}

/// A running simulator. Dropping it stops the server.
pub struct Sim {
    state: Arc<SimState>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

pub(crate) struct SimState {
    pub(crate) team: Option<crate::team::TeamState>,
    packages: Vec<SimPackage>,
    by_link: HashMap<String, usize>,
    by_package: HashMap<String, usize>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) signer: Signer,
    pub(crate) served: HashMap<(String, String), AtomicU64>,
    pub(crate) objects: Objects,
    storage_base: String,
    last_listing: Mutex<HashMap<String, Instant>>,
    link_requests: AtomicU64,
    /// Link requests by link id, whatever the answer.
    link_requests_by_id: Mutex<HashMap<String, u64>>,
    listing_requests: AtomicU64,
    url_requests: AtomicU64,
    pub(crate) storage_requests: AtomicU64,
    /// Storage bodies being sent now, and the most at once: the client's connections.
    pub(crate) bodies: Arc<crate::storage::BodiesInFlight>,
    pub(crate) expiries: crate::expiry::Expiries,
}

impl Sim {
    /// Starts on an ephemeral loopback port.
    pub async fn start(packages: Vec<SimPackage>) -> Result<Self, SimError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), packages, None).await
    }

    /// Starts on `addr`. With `storage_base`, presigned URLs point there instead of at
    /// the simulator itself (an nginx serving [`Sim::export_storage`], for benchmarks).
    pub async fn start_on(
        addr: SocketAddr,
        packages: Vec<SimPackage>,
        storage_base: Option<String>,
    ) -> Result<Self, SimError> {
        Self::start_full(addr, packages, storage_base, None).await
    }

    /// [`Sim::start_on`], with a team side when `team` is given: its packages (each one
    /// of `packages`, by link id), its portals, and uploads in progress reported on a
    /// PubNub-style endpoint ([`Sim::pubnub_origin`]).
    pub async fn start_full(
        addr: SocketAddr,
        packages: Vec<SimPackage>,
        storage_base: Option<String>,
        team: Option<SimTeam>,
    ) -> Result<Self, SimError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let storage_base = storage_base.unwrap_or_else(|| format!("http://{addr}/storage"));
        let mut state = SimState::new(packages, storage_base);
        state.team = team.map(crate::team::TeamState::new);
        let state = Arc::new(state);
        let app = Router::new()
            .route("/v1/links/{link_id}", get(link_route))
            .route("/v1/packages/{package_id}/files", get(files_route))
            .route(
                "/v1/packages/{package_id}/expiry",
                axum::routing::put(crate::expiry::extend_route),
            )
            .route(
                "/v1/packages/{package_id}/files/{file_id}/download",
                get(download_url_route),
            )
            .route("/storage/{package_id}/{file_id}", get(storage_route))
            .route(
                "/v1/teams/{team_id}/packages",
                get(team::team_packages_route),
            )
            .route("/v1/teams/{team_id}/portals", get(team::portals_route))
            .route(
                "/v1.1/teams/{team_id}/packages",
                get(crate::team_v11::packages_route),
            )
            .route(
                "/v1.1/teams/{team_id}/inbox",
                get(crate::team_v11::inbox_route),
            )
            .route(
                "/v1/portals/{portal_id}/packages",
                get(team::portal_packages_route),
            )
            .route(
                "/pubnub/v2/subscribe/{key}/{channel}/{callback}",
                get(team::subscribe_route),
            )
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::outage::break_during_outage,
            ))
            .with_state(state.clone());
        team::start_uploads(&state);
        let listener = crate::outage::OutageListener {
            inner: listener,
            state: state.clone(),
        };
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(Self { state, addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `MASV_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The value for `MASV_PUBNUB_ORIGIN`.
    pub fn pubnub_origin(&self) -> String {
        format!("http://{}/pubnub", self.addr)
    }

    /// Requests to the paginated v1.1 team routes (answered or refused).
    pub fn team_v11_requests(&self) -> u64 {
        self.state
            .team
            .as_ref()
            .map_or(0, |t| Injected::get(&t.v11_requests))
    }

    /// The v1.1 team routes answer 404 from now on (`true`), as where MASV has none.
    pub fn set_team_legacy_only(&self, on: bool) {
        if let Some(t) = &self.state.team {
            t.legacy_only
                .store(on, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Requests to the team routes (answered or refused).
    pub fn team_requests(&self) -> u64 {
        self.state
            .team
            .as_ref()
            .map_or(0, |t| Injected::get(&t.requests))
    }

    /// The team's view of a package's state right now (`new` turns `finalized` when its
    /// upload ends).
    pub fn team_package_state(&self, link_id: &str) -> Option<&'static str> {
        self.state.team.as_ref()?.state_of(link_id)
    }

    /// Changes a team package's state as MASV would: `"deleted"` for an upload its
    /// sender gave up on (the package leaves the uploads, never to be finalized).
    pub fn set_team_package_state(&self, link_id: &str, state: &'static str) {
        if let Some(t) = &self.state.team {
            t.set_state(link_id, state);
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    pub fn packages(&self) -> &[SimPackage] {
        &self.state.packages
    }

    /// Body bytes sent for one file, over all requests.
    pub fn bytes_served(&self, package_id: &str, file_id: &str) -> u64 {
        self.state
            .served
            .get(&(package_id.to_owned(), file_id.to_owned()))
            .map_or(0, |c| c.load(Relaxed))
    }

    pub fn package_bytes_served(&self, package_id: &str) -> u64 {
        self.state
            .served
            .iter()
            .filter(|((p, _), _)| p == package_id)
            .map(|(_, c)| c.load(Relaxed))
            .sum()
    }

    /// Replaces what storage holds for one file (a re-upload under the same listing
    /// entry): new bytes, a new ETag, and the listing's size left as it was.
    pub fn replace_object(&self, package_id: &str, file_id: &str, content: Content) {
        self.state.objects.insert(package_id, file_id, content);
    }

    /// What storage holds for one file right now.
    pub fn object(&self, package_id: &str, file_id: &str) -> Option<Content> {
        self.state.objects.content(package_id, file_id)
    }

    /// The storage ETag of one file right now, quoted as in the header.
    pub fn etag(&self, package_id: &str, file_id: &str) -> Option<String> {
        self.state.objects.etag(package_id, file_id)
    }

    /// When the package expires, if set (by the package, a sender or a team member).
    pub fn expiry(&self, package_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.state.expiries.of(package_id)
    }

    /// The sender extends (or shortens) the package's life.
    pub fn set_expiry(&self, package_id: &str, at: chrono::DateTime<chrono::Utc>) {
        self.state.expiries.set(package_id, at);
    }

    /// Requests to change a package's expiry (`PUT /v1/packages/{id}/expiry`).
    pub fn expiry_requests(&self) -> u64 {
        self.state.expiries.extend_requests.load(Relaxed)
    }

    pub fn link_requests(&self) -> u64 {
        self.state.link_requests.load(Relaxed)
    }

    /// How often the link with this id was asked about (read, previewed, listed).
    pub fn link_requests_for(&self, link_id: &str) -> u64 {
        self.state
            .link_requests_by_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(link_id)
            .copied()
            .unwrap_or(0)
    }

    pub fn listing_requests(&self) -> u64 {
        self.state.listing_requests.load(Relaxed)
    }

    pub fn download_url_requests(&self) -> u64 {
        self.state.url_requests.load(Relaxed)
    }

    pub fn storage_requests(&self) -> u64 {
        self.state.storage_requests.load(Relaxed)
    }

    /// Storage bodies being sent right now (each holds one client connection).
    pub fn bodies_in_flight(&self) -> u64 {
        self.state.bodies.now.load(Relaxed)
    }

    /// The most storage bodies sent at once since the start (or the last reset).
    pub fn peak_bodies_in_flight(&self) -> u64 {
        self.state.bodies.peak.load(Relaxed)
    }

    pub fn reset_peak_bodies_in_flight(&self) {
        self.state
            .bodies
            .peak
            .store(self.bodies_in_flight(), Relaxed);
    }

    /// Writes every file's bytes to `dir/{package_id}/{file_id}` so another server can
    /// stand in for storage (see `storage_base` of [`Sim::start_on`]).
    pub fn export_storage(&self, dir: &std::path::Path) -> Result<(), SimError> {
        use std::io::Write;
        for p in &self.state.packages {
            let pdir = dir.join(&p.package_id);
            std::fs::create_dir_all(&pdir).map_err(SimError::Export)?;
            for f in &p.files {
                let mut out = std::io::BufWriter::new(
                    std::fs::File::create(pdir.join(&f.id)).map_err(SimError::Export)?,
                );
                let mut buf = vec![0u8; 1 << 20];
                let mut pos = 0;
                while pos < f.content.len() {
                    let n = (f.content.len() - pos).min(buf.len() as u64) as usize;
                    f.content.fill(pos, &mut buf[..n]);
                    out.write_all(&buf[..n]).map_err(SimError::Export)?;
                    pos += n as u64;
                }
                out.flush().map_err(SimError::Export)?;
            }
        }
        Ok(())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SimState {
    fn new(packages: Vec<SimPackage>, storage_base: String) -> Self {
        let mut served = HashMap::new();
        let mut by_link = HashMap::new();
        let mut by_package = HashMap::new();
        let objects = Objects::default();
        let mut expiries_given = Vec::new();
        for (i, p) in packages.iter().enumerate() {
            by_link.insert(p.link_id.clone(), i);
            by_package.insert(p.package_id.clone(), i);
            if let Some(at) = p.expiry {
                expiries_given.push((p.package_id.clone(), at));
            }
            for f in &p.files {
                served.insert((p.package_id.clone(), f.id.clone()), AtomicU64::new(0));
                objects.insert(&p.package_id, &f.id, f.content.clone());
            }
        }
        let state = Self {
            team: None,
            packages,
            by_link,
            by_package,
            faults: Arc::new(Faults::default()),
            signer: Signer::new(rand::random()),
            served,
            objects,
            storage_base,
            last_listing: Mutex::new(HashMap::new()),
            link_requests: AtomicU64::new(0),
            link_requests_by_id: Mutex::new(HashMap::new()),
            listing_requests: AtomicU64::new(0),
            url_requests: AtomicU64::new(0),
            storage_requests: AtomicU64::new(0),
            bodies: Default::default(),
            expiries: Default::default(),
        };
        for (package_id, at) in expiries_given {
            state.expiries.set(&package_id, at);
        }
        state
    }

    pub(crate) fn package_by_link(&self, link_id: &str) -> Option<&SimPackage> {
        self.by_link.get(link_id).map(|&i| &self.packages[i])
    }

    fn package(&self, package_id: &str) -> Option<&SimPackage> {
        self.by_package.get(package_id).map(|&i| &self.packages[i])
    }

    pub(crate) fn issue_token(&self, package_id: &str) -> String {
        let exp = now_ms() + self.faults.token_lifetime_ms.load(Relaxed);
        let exp = exp.to_string();
        let sig = self.signer.sign(&["token", package_id, &exp]);
        format!("v1.{package_id}.{exp}.{sig}")
    }

    fn token_valid(&self, headers: &HeaderMap, package_id: &str) -> bool {
        let Some(token) = headers.get("x-package-token").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let parts: Vec<&str> = token.split('.').collect();
        let [_, pid, exp, sig] = parts.as_slice() else {
            return false;
        };
        if *pid != package_id || !self.signer.verify(&["token", pid, exp], sig) {
            return false;
        }
        let fresh = exp.parse::<u64>().is_ok_and(|e| e > now_ms());
        if !fresh {
            self.faults.injected.expired_tokens.fetch_add(1, Relaxed);
        }
        fresh
    }

    fn presign(&self, package_id: &str, file_id: &str) -> String {
        let exp = (now_ms() + self.faults.url_lifetime_ms.load(Relaxed)).to_string();
        let sig = self.signer.sign(&["storage", package_id, file_id, &exp]);
        format!(
            "{}/{package_id}/{file_id}?X-Amz-Expires={exp}&X-Amz-Signature={sig}",
            self.storage_base
        )
    }

    /// The common start of the package routes: latency, status faults, counting, and
    /// the package token check.
    pub(crate) async fn package_preamble(
        &self,
        counter: &AtomicU64,
        headers: &HeaderMap,
        package_id: &str,
    ) -> Option<Response> {
        if let Some(r) = self.api_preamble().await {
            return Some(r);
        }
        counter.fetch_add(1, Relaxed);
        (!self.token_valid(headers, package_id))
            .then(|| api_error(StatusCode::UNAUTHORIZED, "invalid or expired token"))
    }

    /// Applies latency and the status faults shared by every API route.
    pub(crate) async fn api_preamble(&self) -> Option<Response> {
        sleep_latency(&self.faults).await;
        status_fault(self.faults.next_api(), 0)
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) async fn sleep_latency(faults: &Faults) {
    let latency = faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// A 503 or 429 answer; `told` (when not 0) is the `Retry-After` both carry, else a
/// 429 says 1 second and a 503 nothing.
pub(crate) fn status_fault(m: Mischief, told: u64) -> Option<Response> {
    let mut r = match m {
        Mischief::Status503 => api_error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
        Mischief::Status429 => api_error(StatusCode::TOO_MANY_REQUESTS, "slow down"),
        _ => return None,
    };
    let retry_after = match (m, told) {
        (_, 0) if m == Mischief::Status429 => Some(1),
        (_, 0) => None,
        (_, secs) => Some(secs),
    };
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(r)
}

pub(crate) fn api_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

#[derive(Deserialize)]
struct SecretQuery {
    secret: Option<String>,
}

async fn link_route(
    State(s): State<Arc<SimState>>,
    Path(link_id): Path<String>,
    Query(q): Query<SecretQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = s.api_preamble().await {
        return r;
    }
    s.link_requests.fetch_add(1, Relaxed);
    *s.link_requests_by_id
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(link_id.clone())
        .or_default() += 1;
    let Some(p) = s.by_link.get(&link_id).map(|&i| &s.packages[i]) else {
        return api_error(StatusCode::NOT_FOUND, "link not found");
    };
    if q.secret.as_deref() != Some(p.secret.as_str()) {
        return api_error(StatusCode::NOT_FOUND, "link not found");
    }
    let expiry = s
        .expiries
        .of(&p.package_id)
        .unwrap_or_else(|| chrono::Utc::now() + chrono::Duration::days(7));
    if p.expired || expiry <= chrono::Utc::now() {
        return api_error(StatusCode::GONE, "link expired");
    }
    if let Some(password) = &p.password {
        match headers.get("x-link-password").and_then(|v| v.to_str().ok()) {
            None => return api_error(StatusCode::UNAUTHORIZED, "password required"),
            Some(given) if given != password => {
                return api_error(StatusCode::FORBIDDEN, "invalid password");
            }
            Some(_) => {}
        }
    }
    axum::Json(json!({
        "id": p.link_id,
        "name": p.name,
        "package_id": p.package_id,
        "package_size": p.size(),
        "package_token": s.issue_token(&p.package_id),
        "expiry": expiry.to_rfc3339(),
        "sender_email": p.sender_email,
        "recipient_email": "recipient@example.com",
        "branding": {},
    }))
    .into_response()
}

async fn files_route(
    State(s): State<Arc<SimState>>,
    Path(package_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = s
        .package_preamble(&s.listing_requests, &headers, &package_id)
        .await
    {
        return r;
    }
    let Some(p) = s.package(&package_id) else {
        return api_error(StatusCode::NOT_FOUND, "package not found");
    };
    if let Some(wait) = listing_wait(&s, p) {
        let mut r = api_error(StatusCode::TOO_MANY_REQUESTS, "listing rate limited");
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let omit_size = s.faults.listing_omits_size.load(Relaxed);
    let files: Vec<_> = p
        .files
        .iter()
        .map(|f| {
            let mut v = json!({
                "id": f.id,
                "kind": f.kind,
                "name": f.name,
                "size": f.content.len(),
                "last_modified": f.last_modified,
                "virus_detected": f.virus,
            });
            if let Some(path) = &f.path {
                v["path"] = json!(path);
            }
            if omit_size && let Some(entry) = v.as_object_mut() {
                entry.remove("size");
            }
            v
        })
        .collect();
    axum::Json(files).into_response()
}

/// How long until this package may be listed again, if it is rate limited now.
fn listing_wait(s: &SimState, p: &SimPackage) -> Option<Duration> {
    let over = s.faults.listing_limit_over_files.load(Relaxed);
    if (p.files.len() as u64) <= over {
        return None;
    }
    let interval = Duration::from_millis(s.faults.listing_interval_ms.load(Relaxed));
    let mut last = s.last_listing.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if let Some(prev) = last.get(&p.package_id) {
        let since = now.duration_since(*prev);
        if since < interval {
            return Some(interval - since);
        }
    }
    last.insert(p.package_id.clone(), now);
    None
}

async fn download_url_route(
    State(s): State<Arc<SimState>>,
    Path((package_id, file_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = s
        .package_preamble(&s.url_requests, &headers, &package_id)
        .await
    {
        return r;
    }
    let Some(f) = s
        .package(&package_id)
        .and_then(|p| p.files.iter().find(|f| f.id == file_id))
    else {
        return api_error(StatusCode::NOT_FOUND, "file not found");
    };
    if f.virus {
        return api_error(StatusCode::FORBIDDEN, "file is infected");
    }
    if s.faults.refuse_download_urls.load(Relaxed) {
        s.faults.injected.url_refusals.fetch_add(1, Relaxed);
        return api_error(StatusCode::FORBIDDEN, "access denied");
    }
    axum::Json(json!({ "method": "GET", "url": s.presign(&package_id, &file_id) })).into_response()
}
