//! The team side: packages sent to a team and its portals (API key in `X-API-KEY`),
//! and a PubNub-style subscribe endpoint that reports uploads still in progress.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::server::{SimState, api_error};

/// A team, its portals and the packages it received.
#[derive(Clone, Debug)]
pub struct SimTeam {
    pub team_id: String,
    pub api_key: String,
    pub pubnub_key: String,
    pub portals: Vec<SimPortal>,
    pub packages: Vec<SimTeamPackage>,
}

#[derive(Clone, Debug)]
pub struct SimPortal {
    pub id: String,
    pub name: String,
    pub subdomain: String,
}

/// One of the simulator's packages (by link id) as the team sees it.
#[derive(Clone, Debug)]
pub struct SimTeamPackage {
    pub link_id: String,
    /// new | finalized | expired | archived
    pub state: &'static str,
    pub portal_id: Option<String>,
    /// For a `new` package: its upload runs for this long once the simulator starts
    /// (progress published on its channel), then it is finalized.
    pub upload: Option<Duration>,
    /// Listed without an `access_token` (MASV leaves it out for some packages).
    pub no_access_token: bool,
    /// `created_at` in the listings (RFC 3339).
    pub created_at: String,
    /// Its teamspace's id; by default the team's own (`ts-{team_id}`).
    pub teamspace_id: Option<String>,
    /// Its tag: id and name.
    pub tag: Option<(String, String)>,
}

impl SimTeamPackage {
    pub fn new(link_id: impl Into<String>, state: &'static str) -> Self {
        Self {
            link_id: link_id.into(),
            state,
            portal_id: None,
            upload: None,
            no_access_token: false,
            created_at: "2026-11-20T09:00:00Z".into(),
            teamspace_id: None,
            tag: None,
        }
    }

    pub fn in_teamspace(mut self, id: impl Into<String>) -> Self {
        self.teamspace_id = Some(id.into());
        self
    }

    pub fn tagged(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.tag = Some((id.into(), name.into()));
        self
    }

    pub fn without_access_token(mut self) -> Self {
        self.no_access_token = true;
        self
    }

    pub fn created_at(mut self, rfc3339: impl Into<String>) -> Self {
        self.created_at = rfc3339.into();
        self
    }

    pub fn in_portal(mut self, portal_id: impl Into<String>) -> Self {
        self.portal_id = Some(portal_id.into());
        self
    }

    /// A package still uploading, finalized after `d`.
    pub fn uploading_for(mut self, d: Duration) -> Self {
        self.state = "new";
        self.upload = Some(d);
        self
    }
}

impl SimTeam {
    pub fn new(team_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            team_id: team_id.into(),
            api_key: api_key.into(),
            pubnub_key: "sub-c-sim".into(),
            portals: Vec::new(),
            packages: Vec::new(),
        }
    }

    pub fn with_portal(mut self, id: &str, name: &str) -> Self {
        self.portals.push(SimPortal {
            id: id.into(),
            name: name.into(),
            subdomain: id.to_ascii_lowercase(),
        });
        self
    }

    pub fn with_package(mut self, p: SimTeamPackage) -> Self {
        self.packages.push(p);
        self
    }
}

/// The team while the simulator runs: package states change as uploads finish.
pub(crate) struct TeamState {
    pub team: SimTeam,
    states: Mutex<HashMap<String, &'static str>>,
    channels: Mutex<HashMap<String, Vec<(u64, Value)>>>,
    published: Notify,
    next_timetoken: AtomicU64,
    pub requests: AtomicU64,
    /// Requests to the paginated v1.1 routes (answered or refused).
    pub v11_requests: AtomicU64,
    /// The v1.1 routes answer 404, as a MASV deployment without them would.
    pub legacy_only: std::sync::atomic::AtomicBool,
}

impl TeamState {
    pub fn new(team: SimTeam) -> Self {
        let states = team
            .packages
            .iter()
            .map(|p| (p.link_id.clone(), p.state))
            .collect();
        Self {
            team,
            states: Mutex::new(states),
            channels: Mutex::new(HashMap::new()),
            published: Notify::new(),
            next_timetoken: AtomicU64::new(17_000_000_000_000_000),
            requests: AtomicU64::new(0),
            v11_requests: AtomicU64::new(0),
            legacy_only: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A listed package's state now (its upload may have finished since start).
    pub(crate) fn current_state(&self, p: &SimTeamPackage) -> &'static str {
        self.state_of(&p.link_id).unwrap_or(p.state)
    }

    pub fn state_of(&self, link_id: &str) -> Option<&'static str> {
        lock(&self.states).get(link_id).copied()
    }

    pub(crate) fn set_state(&self, link_id: &str, state: &'static str) {
        lock(&self.states).insert(link_id.to_owned(), state);
    }

    fn publish(&self, channel: &str, message: Value) {
        let tt = self.next_timetoken.fetch_add(1, Relaxed) + 1;
        lock(&self.channels)
            .entry(channel.to_owned())
            .or_default()
            .push((tt, message));
        self.published.notify_waiters();
    }

    fn current_timetoken(&self) -> u64 {
        self.next_timetoken.load(Relaxed)
    }

    fn messages_after(&self, channel: &str, tt: u64) -> Vec<(u64, Value)> {
        lock(&self.channels)
            .get(channel)
            .map(|m| m.iter().filter(|(t, _)| *t > tt).cloned().collect())
            .unwrap_or_default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn upload_channel(package_id: &str) -> String {
    format!("upload-{package_id}")
}

/// Runs the uploads of `new` packages: progress in ten steps, then finalized.
pub(crate) fn start_uploads(s: &Arc<SimState>) {
    let Some(team) = &s.team else { return };
    for p in &team.team.packages {
        let (Some(duration), Some(pkg)) = (p.upload, s.package_by_link(&p.link_id)) else {
            continue;
        };
        let s = s.clone();
        let link_id = p.link_id.clone();
        let channel = upload_channel(&pkg.package_id);
        let total = pkg.size();
        tokio::spawn(async move {
            let Some(team) = &s.team else { return };
            const STEPS: u64 = 10;
            for step in 1..=STEPS {
                tokio::time::sleep(duration / STEPS as u32).await;
                team.publish(
                    &channel,
                    json!({ "bytes_uploaded": total * step / STEPS, "total_bytes": total }),
                );
            }
            if team.state_of(&link_id) != Some("new") {
                // Given up (deleted) meanwhile: it never finalizes.
                return;
            }
            team.set_state(&link_id, "finalized");
            team.publish(&channel, json!({ "state": "finalized" }));
        });
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    new: Option<bool>,
    finalized: Option<bool>,
    expired: Option<bool>,
    archived: Option<bool>,
}

impl ListQuery {
    fn wanted(&self) -> Vec<&'static str> {
        [
            (self.new, "new"),
            (self.finalized, "finalized"),
            (self.expired, "expired"),
            (self.archived, "archived"),
        ]
        .into_iter()
        .filter_map(|(on, name)| (on == Some(true)).then_some(name))
        .collect()
    }

    fn page<T: Clone>(&self, items: &[T]) -> Vec<T> {
        let offset = self.offset.unwrap_or(0).min(items.len());
        let limit = self.limit.unwrap_or(100).clamp(1, 1000);
        items[offset..(offset + limit).min(items.len())].to_vec()
    }
}

/// The shared faults, the API key check and, with `team_id`, that it is this team's.
pub(crate) async fn team_preamble<'a>(
    s: &'a SimState,
    headers: &HeaderMap,
    team_id: Option<&str>,
) -> Result<&'a TeamState, Response> {
    if let Some(r) = s.api_preamble().await {
        return Err(r);
    }
    let Some(team) = &s.team else {
        return Err(api_error(StatusCode::NOT_FOUND, "no team"));
    };
    team.requests.fetch_add(1, Relaxed);
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(team.team.api_key.as_str()) {
        return Err(api_error(StatusCode::UNAUTHORIZED, "invalid API key"));
    }
    if team_id.is_some_and(|id| id != team.team.team_id) {
        return Err(api_error(StatusCode::NOT_FOUND, "team not found"));
    }
    Ok(team)
}

pub(crate) fn package_json(s: &SimState, team: &TeamState, p: &SimTeamPackage) -> Option<Value> {
    let pkg = s.package_by_link(&p.link_id)?;
    let state = team.current_state(p);
    let channels = if state == "new" {
        json!([{ "topic": "upload", "channel": upload_channel(&pkg.package_id),
                 "subscribe_key": team.team.pubnub_key }])
    } else {
        json!([])
    };
    Some(json!({
        "id": pkg.package_id,
        "name": pkg.name,
        "description": "",
        "sender": pkg.sender_email,
        "recipients": ["inbox@team.example"],
        "state": state,
        "size": pkg.size(),
        "total_files": pkg.files.len(),
        "created_at": p.created_at,
        "updated_at": "2026-11-20T09:30:00Z",
        "expiry": s
            .expiries
            .of(&pkg.package_id)
            .unwrap_or_else(|| chrono::Utc::now() + chrono::Duration::days(14))
            .to_rfc3339(),
        "access_token": (!p.no_access_token).then(|| s.issue_token(&pkg.package_id)),
        "links": [{ "id": pkg.link_id, "email": "inbox@team.example" }],
        "tag": p.tag.as_ref().map(|(id, name)| json!({ "id": id, "name": name })),
        "progress_channels": channels,
        "contains_virus": pkg.files.iter().any(|f| f.virus),
        "teamspace_id": p.teamspace_id.clone().unwrap_or_else(|| format!("ts-{}", team.team.team_id)),
        "portal_id": p.portal_id,
    }))
}

pub(crate) async fn team_packages_route(
    State(s): State<Arc<SimState>>,
    Path(team_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let team = match team_preamble(&s, &headers, Some(&team_id)).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let wanted = q.wanted();
    let all: Vec<Value> = team
        .team
        .packages
        .iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&team.current_state(p)))
        .filter_map(|p| package_json(&s, team, p))
        .collect();
    axum::Json(q.page(&all)).into_response()
}

pub(crate) async fn portals_route(
    State(s): State<Arc<SimState>>,
    Path(team_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let team = match team_preamble(&s, &headers, Some(&team_id)).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let all: Vec<Value> = team
        .team
        .portals
        .iter()
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "subdomain": p.subdomain,
                "message": format!("Send files to {}", p.name), "active": true,
                "teamspace_id": format!("ts-{}", team.team.team_id),
                "created_at": "2026-01-01T00:00:00Z",
            })
        })
        .collect();
    axum::Json(q.page(&all)).into_response()
}

pub(crate) async fn portal_packages_route(
    State(s): State<Arc<SimState>>,
    Path(portal_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let team = match team_preamble(&s, &headers, None).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !team.team.portals.iter().any(|p| p.id == portal_id) {
        return api_error(StatusCode::NOT_FOUND, "portal not found");
    }
    let all: Vec<Value> = team
        .team
        .packages
        .iter()
        .filter(|p| p.portal_id.as_deref() == Some(portal_id.as_str()))
        .filter_map(|p| package_json(&s, team, p))
        .collect();
    axum::Json(q.page(&all)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct SubscribeQuery {
    tt: Option<String>,
}

/// `GET /pubnub/v2/subscribe/{key}/{channel}/0?tt=T`: PubNub's long poll. `tt=0` answers
/// the current timetoken at once; otherwise waits (up to 20 s) for later messages.
pub(crate) async fn subscribe_route(
    State(s): State<Arc<SimState>>,
    Path((key, channel, _callback)): Path<(String, String, String)>,
    Query(q): Query<SubscribeQuery>,
) -> Response {
    let Some(team) = &s.team else {
        return api_error(StatusCode::NOT_FOUND, "no team");
    };
    if key != team.team.pubnub_key {
        return api_error(StatusCode::FORBIDDEN, "invalid subscribe key");
    }
    let tt: u64 = q.tt.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let envelope = |t: u64, m: Vec<Value>| {
        axum::Json(json!({ "t": { "t": t.to_string(), "r": 1 }, "m": m })).into_response()
    };
    if tt == 0 {
        return envelope(team.current_timetoken(), Vec::new());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let notified = team.published.notified();
        let found = team.messages_after(&channel, tt);
        if !found.is_empty() {
            let last = found.iter().map(|(t, _)| *t).max().unwrap_or(tt);
            let m = found
                .into_iter()
                .map(|(t, d)| json!({ "c": channel, "d": d, "p": { "t": t.to_string(), "r": 1 } }))
                .collect();
            return envelope(last, m);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return envelope(tt, Vec::new());
        }
    }
}
