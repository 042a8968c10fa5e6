//! The paginated v1.1 team routes: `GET /v1.1/teams/{team_id}/packages` and
//! `/v1.1/teams/{team_id}/inbox` (portal packages), `page` from 1 and `limit` up to 50,
//! answering `{metadata: {total}, records: [...]}`. With `legacy_only` they answer 404,
//! as a deployment without them would, so clients must fall back to v1.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{SimState, api_error};
use crate::team::{TeamState, package_json, team_preamble};

/// The most records a page may ask for.
pub const V11_MAX_LIMIT: usize = 50;

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    page: Option<usize>,
    limit: Option<usize>,
    /// Comma-separated states (`new,finalized`), MASV's `status`; without it,
    /// `finalized` and `expired`, as MASV documents.
    status: Option<String>,
    /// The inbox of one portal only.
    portal_id: Option<String>,
    /// Comma-separated teamspace ids.
    teamspaces: Option<String>,
    /// Comma-separated tag ids.
    tags: Option<String>,
    /// Packages expiring at or after / before (ISO 8601).
    expiry_start: Option<String>,
    expiry_end: Option<String>,
}

fn csv(v: Option<&str>) -> Option<Vec<&str>> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Whether the listed record `r` passes the teamspace, tag and expiry filters.
fn passes(q: &PageQuery, r: &Value) -> bool {
    let among = |wanted: Option<Vec<&str>>, have: Option<&str>| {
        wanted.is_none_or(|w| have.is_some_and(|h| w.contains(&h)))
    };
    let time = |s: Option<&str>| s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let expiry = time(r["expiry"].as_str());
    among(csv(q.teamspaces.as_deref()), r["teamspace_id"].as_str())
        && among(csv(q.tags.as_deref()), r["tag"]["id"].as_str())
        && time(q.expiry_start.as_deref()).is_none_or(|t| expiry.is_some_and(|e| e >= t))
        && time(q.expiry_end.as_deref()).is_none_or(|t| expiry.is_some_and(|e| e <= t))
}

async fn preamble<'a>(
    s: &'a SimState,
    headers: &HeaderMap,
    team_id: &str,
) -> Result<&'a TeamState, Response> {
    if let Some(team) = &s.team {
        team.v11_requests.fetch_add(1, Relaxed);
        if team.legacy_only.load(Relaxed) {
            return Err(api_error(StatusCode::NOT_FOUND, "not found"));
        }
    }
    team_preamble(s, headers, Some(team_id)).await
}

fn page(q: &PageQuery, records: Vec<Value>) -> Response {
    let limit = q.limit.unwrap_or(V11_MAX_LIMIT);
    if !(1..=V11_MAX_LIMIT).contains(&limit) {
        return api_error(StatusCode::BAD_REQUEST, "limit must be between 1 and 50");
    }
    let page = q.page.unwrap_or(1).max(1);
    let total = records.len();
    let start = ((page - 1) * limit).min(total);
    let shown: Vec<Value> = records[start..(start + limit).min(total)].to_vec();
    axum::Json(
        json!({ "metadata": { "total": total, "page": page, "limit": limit }, "records": shown }),
    )
    .into_response()
}

fn listed(s: &SimState, team: &TeamState, q: &PageQuery, in_portals: bool) -> Vec<Value> {
    let wanted: Vec<&str> = q
        .status
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_else(|| vec!["finalized", "expired"]);
    team.team
        .packages
        .iter()
        .filter(|p| !in_portals || p.portal_id.is_some())
        .filter(|p| q.portal_id.is_none() || p.portal_id == q.portal_id)
        .filter(|p| wanted.contains(&team.current_state(p)))
        .filter_map(|p| package_json(s, team, p))
        .filter(|r| passes(q, r))
        .collect()
}

pub(crate) async fn packages_route(
    State(s): State<Arc<SimState>>,
    Path(team_id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    answer(&s, &team_id, &q, &headers, false).await
}

pub(crate) async fn inbox_route(
    State(s): State<Arc<SimState>>,
    Path(team_id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    answer(&s, &team_id, &q, &headers, true).await
}

/// A page of the team's packages, or (`inbox`) of those sent through its portals.
async fn answer(
    s: &SimState,
    team_id: &str,
    q: &PageQuery,
    headers: &HeaderMap,
    inbox: bool,
) -> Response {
    let team = match preamble(s, headers, team_id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Some(portal) = &q.portal_id
        && !team.team.portals.iter().any(|p| &p.id == portal)
    {
        return api_error(StatusCode::NOT_FOUND, "portal not found");
    }
    page(q, listed(s, team, q, inbox))
}
