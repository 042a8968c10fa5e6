//! The MASV Agent's own automation routes and bodies, as developer.massive.io documents
//! them ("transfer-agent/automations"): `POST /automations/portal_download` and
//! `/automations/all_portals_download`, `PUT` and `DELETE` on `…/{automation_id}`, with
//! `portal_subdomain`, `dst_folder`, `enabled` and `download_priority`. A facility's
//! script written for the MASV Agent runs unchanged; each body becomes Inbound's own
//! (`/automations`, see `automations`), which stays as it is.

use axum::extract::{Path as UrlPath, State};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::automations::{
    AutomationBody, AutomationView, KindName, create_from, delete_of, update_from,
};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::server::ApiState;

type Result<T> = std::result::Result<T, ApiError>;

fn yes() -> bool {
    true
}

/// `POST /automations/portal_download` and its `PUT`: one portal's packages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalDownloadBody {
    #[serde(default)]
    pub name: String,
    /// The portal: its subdomain.
    pub portal_subdomain: String,
    /// Absolute folder the packages go into.
    pub dst_folder: String,
    /// Each package in a folder of its own (default true).
    #[serde(default = "yes")]
    pub create_package_folder: bool,
    /// Also packages sent since then (`2025-01-20 00:00:00` in local time, or RFC 3339);
    /// by default only what arrives from now on.
    #[serde(default)]
    pub effective_time: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Given to each download it starts (higher goes first).
    #[serde(default)]
    pub download_priority: i64,
}

/// `POST /automations/all_portals_download` and its `PUT`: every portal of a team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllPortalsDownloadBody {
    #[serde(default)]
    pub name: String,
    /// The team: the one this agent is logged in to.
    pub team_id: String,
    pub dst_folder: String,
    #[serde(default = "yes")]
    pub create_package_folder: bool,
    /// A folder per portal inside `dst_folder` (default true).
    #[serde(default = "yes")]
    pub create_portal_subfolder: bool,
    #[serde(default)]
    pub effective_time: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub download_priority: i64,
}

impl From<PortalDownloadBody> for AutomationBody {
    fn from(b: PortalDownloadBody) -> Self {
        Self {
            kind: KindName::PortalDownload,
            name: b.name,
            subdomain: Some(b.portal_subdomain),
            team_id: None,
            destination: b.dst_folder,
            create_package_folder: b.create_package_folder,
            create_portal_subfolder: Some(false),
            folder_template: None,
            effective_time: b.effective_time,
            priority: b.download_priority,
            enable: b.enabled,
        }
    }
}

impl From<AllPortalsDownloadBody> for AutomationBody {
    fn from(b: AllPortalsDownloadBody) -> Self {
        Self {
            kind: KindName::AllPortalsDownload,
            name: b.name,
            subdomain: None,
            team_id: Some(b.team_id),
            destination: b.dst_folder,
            create_package_folder: b.create_package_folder,
            create_portal_subfolder: Some(b.create_portal_subfolder),
            folder_template: None,
            effective_time: b.effective_time,
            priority: b.download_priority,
            enable: b.enabled,
        }
    }
}

/// A body of `kind`'s documented shape, as Inbound's.
fn parse(kind: KindName, body: &[u8]) -> Result<AutomationBody> {
    Ok(match kind {
        KindName::PortalDownload => crate::error::json_body::<PortalDownloadBody>(
            body,
            "invalid_automation",
            r#"{"name": "Editorial", "portal_subdomain": "editorial", "dst_folder": "/abs/dir"}"#,
        )?
        .into(),
        KindName::AllPortalsDownload => crate::error::json_body::<AllPortalsDownloadBody>(
            body,
            "invalid_automation",
            r#"{"name": "All portals", "team_id": "TEAM_ID", "dst_folder": "/abs/dir"}"#,
        )?
        .into(),
    })
}

/// Creates a portal download automation, as the MASV Agent documents it.
#[utoipa::path(post, path = "/automations/portal_download", tag = "automations",
    request_body = PortalDownloadBody,
    responses(
        (status = 200, description = "Created; its `automation_id` names it", body = AutomationView),
        (status = 400, description = "Malformed body or an unknown field (named), a relative folder, a bad time", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn create_portal(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    create_from(&state, &caller, parse(KindName::PortalDownload, &body))
}

/// Changes a portal download automation (the whole body, as for creating it).
#[utoipa::path(put, path = "/automations/portal_download/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    request_body = PortalDownloadBody,
    responses(
        (status = 200, description = "Changed", body = AutomationView),
        (status = 400, description = "As for creating one", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No portal download automation of that id", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn update_portal(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    let kind = KindName::PortalDownload;
    update_from(&state, &caller, id, Some(kind), parse(kind, &body))
}

/// Deletes a portal download automation: nothing more is downloaded for it.
#[utoipa::path(delete, path = "/automations/portal_download/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    responses(
        (status = 200, description = "Deleted", body = AutomationView),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No portal download automation of that id", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn delete_portal(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<AutomationView>> {
    delete_of(&state, &caller, &id, Some(KindName::PortalDownload))
}

/// Creates an all-portals download automation, as the MASV Agent documents it.
#[utoipa::path(post, path = "/automations/all_portals_download", tag = "automations",
    request_body = AllPortalsDownloadBody,
    responses(
        (status = 200, description = "Created; its `automation_id` names it", body = AutomationView),
        (status = 400, description = "Malformed body or an unknown field (named), another team, a relative folder", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn create_all_portals(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    create_from(&state, &caller, parse(KindName::AllPortalsDownload, &body))
}

/// Changes an all-portals download automation.
#[utoipa::path(put, path = "/automations/all_portals_download/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    request_body = AllPortalsDownloadBody,
    responses(
        (status = 200, description = "Changed", body = AutomationView),
        (status = 400, description = "As for creating one", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No all-portals download automation of that id", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn update_all_portals(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    let kind = KindName::AllPortalsDownload;
    update_from(&state, &caller, id, Some(kind), parse(kind, &body))
}

/// Deletes an all-portals download automation.
#[utoipa::path(delete, path = "/automations/all_portals_download/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    responses(
        (status = 200, description = "Deleted", body = AutomationView),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No all-portals download automation of that id", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn delete_all_portals(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<AutomationView>> {
    delete_of(&state, &caller, &id, Some(KindName::AllPortalsDownload))
}
