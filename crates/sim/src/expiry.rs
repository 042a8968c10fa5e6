//! When each package expires, as MASV keeps it: told by the link and the team
//! listings, changed by a sender (`Sim::set_expiry`) or a team member through
//! `PUT /v1/packages/{package_id}/expiry` (header `X-Package-Token`, body
//! `{"unlimited_storage": false, "expiry": "<ISO 8601>"}` or
//! `{"unlimited_storage": true}`), as MASV's own clients call it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::server::{SimState, api_error};

/// What "unlimited storage" keeps a package for.
const UNLIMITED_YEARS: i64 = 100;

#[derive(Default)]
pub(crate) struct Expiries {
    by_package: Mutex<HashMap<String, DateTime<Utc>>>,
    pub(crate) extend_requests: AtomicU64,
}

impl Expiries {
    /// The expiry set for `package_id`, if any (else the route's default applies).
    pub(crate) fn of(&self, package_id: &str) -> Option<DateTime<Utc>> {
        self.lock().get(package_id).copied()
    }

    pub(crate) fn set(&self, package_id: &str, at: DateTime<Utc>) {
        self.lock().insert(package_id.to_owned(), at);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.by_package.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Deserialize)]
pub(crate) struct ExpiryBody {
    unlimited_storage: bool,
    #[serde(default)]
    expiry: Option<String>,
}

pub(crate) async fn extend_route(
    State(s): State<Arc<SimState>>,
    Path(package_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = s
        .package_preamble(&s.expiries.extend_requests, &headers, &package_id)
        .await
    {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<ExpiryBody>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "invalid body");
    };
    let at = match (body.unlimited_storage, body.expiry) {
        (true, None) => Utc::now() + chrono::Duration::days(365 * UNLIMITED_YEARS),
        (true, Some(_)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "expiry may not be set with unlimited storage",
            );
        }
        (false, None) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "expiry must be set unless storage is unlimited",
            );
        }
        (false, Some(text)) => match DateTime::parse_from_rfc3339(&text) {
            Ok(t) if t > Utc::now() => t.with_timezone(&Utc),
            Ok(_) => return api_error(StatusCode::BAD_REQUEST, "expiry is in the past"),
            Err(_) => return api_error(StatusCode::BAD_REQUEST, "expiry is not ISO 8601"),
        },
    };
    s.expiries.set(&package_id, at);
    axum::Json(json!({ "id": package_id, "expiry": at.to_rfc3339() })).into_response()
}
