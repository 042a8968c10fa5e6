//! `/automations`: portal and all-portals downloads (the MASV Agent's automations),
//! run by the team inbox's watcher. They need a team login (`inbound team login`).

use std::path::PathBuf;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bytes::Bytes;
use chrono::{DateTime, Local, NaiveDateTime, TimeZone};
use inbound_inbox::{Automation, AutomationError, AutomationKind, InboxError, Watcher};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::server::ApiState;
use crate::views::rfc3339;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    /// One portal's packages (`subdomain` names it).
    PortalDownload,
    /// Every portal of the logged-in team.
    AllPortalsDownload,
}

/// `POST /automations` and `PUT /automations/{id}` body, in the MASV Agent's words.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AutomationBody {
    #[serde(default = "portal_download")]
    pub kind: KindName,
    #[serde(default)]
    pub name: String,
    /// The portal of a `portal_download`: its subdomain (or its id).
    #[serde(default)]
    pub subdomain: Option<String>,
    /// For `all_portals_download`: must be the logged-in team, if given.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Absolute folder the packages go into.
    pub destination: String,
    /// Each package in a folder of its own (default true).
    #[serde(default = "yes")]
    pub create_package_folder: bool,
    /// A folder per portal inside `destination` (default: false for a portal download,
    /// true for all portals).
    #[serde(default)]
    pub create_portal_subfolder: Option<bool>,
    /// Folders below `destination` from `{portal}`, `{date}`, `{package}`, `{sender}`,
    /// `{package_id}`, e.g. `{portal}/{date}/{package}`; in place of the two options.
    #[serde(default)]
    pub folder_template: Option<String>,
    /// Also download packages sent since this past moment (RFC 3339, or
    /// `YYYY-MM-DD HH:MM:SS` in local time); by default only what arrives from now on.
    #[serde(default)]
    pub effective_time: Option<String>,
    /// Given to each download it starts (higher goes first).
    #[serde(default)]
    pub priority: i64,
    /// Default true.
    #[serde(default = "yes")]
    pub enable: bool,
}

fn yes() -> bool {
    true
}

fn portal_download() -> KindName {
    KindName::PortalDownload
}

impl KindName {
    pub(crate) fn of(kind: AutomationKind) -> Self {
        match kind {
            AutomationKind::PortalDownload => Self::PortalDownload,
            AutomationKind::AllPortalsDownload => Self::AllPortalsDownload,
        }
    }

    /// As the MASV Agent's routes spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::PortalDownload => "portal_download",
            Self::AllPortalsDownload => "all_portals_download",
        }
    }
}

/// An automation as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationView {
    pub automation_id: String,
    pub kind: KindName,
    pub name: String,
    pub subdomain: Option<String>,
    pub destination: String,
    pub create_package_folder: bool,
    pub create_portal_subfolder: bool,
    pub folder_template: Option<String>,
    /// RFC 3339; null: every package the portal lists.
    pub effective_time: Option<String>,
    pub priority: i64,
    pub enable: bool,
    /// The same, as the MASV Agent's routes spell them.
    pub portal_subdomain: Option<String>,
    pub dst_folder: String,
    pub enabled: bool,
    pub download_priority: i64,
}

impl From<Automation> for AutomationView {
    fn from(a: Automation) -> Self {
        let destination = a.destination.to_string_lossy().into_owned();
        Self {
            automation_id: a.id,
            kind: KindName::of(a.kind),
            name: a.name,
            portal_subdomain: a.portal.clone(),
            subdomain: a.portal,
            dst_folder: destination.clone(),
            destination,
            create_package_folder: a.create_package_folder,
            create_portal_subfolder: a.create_portal_subfolder,
            folder_template: a.folder_template,
            effective_time: a.effective_time.map(rfc3339),
            priority: a.priority,
            download_priority: a.priority,
            enable: a.enabled,
            enabled: a.enabled,
        }
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_automation", message)
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS` (as the MASV Agent documents it) in local time.
fn parse_time(s: &str) -> Result<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp())
        .ok_or_else(|| {
            invalid(format!(
                "effective_time {s:?} is not a time; write it as 2025-01-20T00:00:00Z or 2025-01-20 00:00:00"
            ))
        })
}

impl AutomationBody {
    fn parse(body: &[u8]) -> Result<Self> {
        crate::error::json_body(
            body,
            "invalid_automation",
            r#"{"kind": "portal_download", "name": "Editorial", "subdomain": "editorial", "destination": "/abs/dir"}"#,
        )
    }

    pub(crate) fn into_automation(self, id: String, watcher: &Watcher) -> Result<Automation> {
        let kind = match self.kind {
            KindName::PortalDownload => AutomationKind::PortalDownload,
            KindName::AllPortalsDownload => AutomationKind::AllPortalsDownload,
        };
        if let Some(team) = self.team_id.as_deref().filter(|t| !t.is_empty())
            && team != watcher.team_id()
        {
            return Err(invalid(format!(
                "team_id {team:?} is not the team this agent is logged in to ({}); log in to that team with `inbound team login`",
                watcher.team_id()
            )));
        }
        let effective_time = self.effective_time.as_deref().map(parse_time).transpose()?;
        Ok(Automation {
            id,
            name: self.name,
            kind,
            portal: self.subdomain.filter(|s| !s.trim().is_empty()),
            destination: PathBuf::from(self.destination.trim()),
            create_package_folder: self.create_package_folder,
            create_portal_subfolder: self
                .create_portal_subfolder
                .unwrap_or(kind == AutomationKind::AllPortalsDownload),
            folder_template: self.folder_template.filter(|t| !t.trim().is_empty()),
            // Without one, only what arrives from now on (not the portal's whole past).
            effective_time: Some(effective_time.unwrap_or_else(inbound_engine::unix_now)),
            priority: self.priority,
            enabled: self.enable,
        })
    }
}

fn watcher(state: &ApiState) -> Result<Watcher> {
    state.watcher().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_logged_in",
            "automations need a MASV team login: run `inbound team login --team-id <TEAM_ID>`, then start `inbound agent` again",
        )
    })
}

impl From<InboxError> for ApiError {
    fn from(e: InboxError) -> Self {
        match e {
            InboxError::Automation(AutomationError::Unknown(id)) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no automation with id {id}"),
            ),
            InboxError::Automation(a) => invalid(a.to_string()),
            other => {
                let message = other.to_string();
                tracing::error!(%message, "automation request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

/// Every automation.
#[utoipa::path(get, path = "/automations", tag = "automations",
    responses(
        (status = 200, description = "The automations, oldest first", body = [AutomationView]),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<AutomationView>>> {
    let all = watcher(&state)?.automations()?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Creates an automation. The team's portals are checked at once, then polled; each
/// package is downloaded once, whichever automation or watched portal sees it first.
#[utoipa::path(post, path = "/automations", tag = "automations",
    request_body = AutomationBody,
    responses(
        (status = 200, description = "Created", body = AutomationView),
        (status = 400, description = "Malformed body, no portal, a relative destination, a bad template or time", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    create_from(&state, &caller, AutomationBody::parse(&body))
}

/// Creates the automation `body` describes (Inbound's body, or MASV's made into it),
/// for a trusted caller with a team login.
pub(crate) fn create_from(
    state: &ApiState,
    caller: &Caller,
    body: Result<AutomationBody>,
) -> Result<Json<AutomationView>> {
    caller.require_trusted("Setting up an automation")?;
    let w = watcher(state)?;
    let a = body?.into_automation(String::new(), &w)?;
    Ok(Json(w.create_automation(a)?.into()))
}

fn find(w: &Watcher, id: &str) -> Result<Automation> {
    find_of(w, id, None)
}

/// The automation `id`; with `kind`, only if it is of that kind (MASV's routes keep to
/// theirs: a portal automation is not changed through the all-portals route).
fn find_of(w: &Watcher, id: &str, kind: Option<KindName>) -> Result<Automation> {
    let found = w.automations()?.into_iter().find(|a| a.id == id);
    match (found, kind) {
        (Some(a), Some(kind)) if KindName::of(a.kind) != kind => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {} automation with id {id}", kind.as_str()),
        )),
        (Some(a), _) => Ok(a),
        (None, _) => Err(InboxError::Automation(AutomationError::Unknown(id.to_owned())).into()),
    }
}

#[utoipa::path(get, path = "/automations/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    responses(
        (status = 200, description = "The automation", body = AutomationView),
        (status = 404, description = "No such automation", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn get_one(
    State(state): State<ApiState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<AutomationView>> {
    Ok(Json(find(&watcher(&state)?, &id)?.into()))
}

/// Replaces an automation's settings (the whole body, as for creating it).
#[utoipa::path(put, path = "/automations/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    request_body = AutomationBody,
    responses(
        (status = 200, description = "Changed", body = AutomationView),
        (status = 400, description = "As for creating one", body = crate::error::ErrorBody),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No such automation", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<AutomationView>> {
    update_from(&state, &caller, id, None, AutomationBody::parse(&body))
}

/// Replaces automation `id` (of `kind`, if given) with what `body` describes.
pub(crate) fn update_from(
    state: &ApiState,
    caller: &Caller,
    id: String,
    kind: Option<KindName>,
    body: Result<AutomationBody>,
) -> Result<Json<AutomationView>> {
    caller.require_trusted("Changing an automation")?;
    let w = watcher(state)?;
    find_of(&w, &id, kind)?;
    let a = body?.into_automation(id, &w)?;
    w.update_automation(&a)?;
    Ok(Json(a.into()))
}

/// Deletes an automation: nothing more is downloaded for it; its downloads go on.
#[utoipa::path(delete, path = "/automations/{automation_id}", tag = "automations",
    params(("automation_id" = String, Path)),
    responses(
        (status = 200, description = "Deleted", body = AutomationView),
        (status = 403, description = "A caller Inbound cannot identify, without the token", body = crate::error::ErrorBody),
        (status = 404, description = "No such automation", body = crate::error::ErrorBody),
        (status = 409, description = "No team login", body = crate::error::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<AutomationView>> {
    delete_of(&state, &caller, &id, None)
}

/// Deletes automation `id` (of `kind`, if given).
pub(crate) fn delete_of(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    kind: Option<KindName>,
) -> Result<Json<AutomationView>> {
    caller.require_trusted("Deleting an automation")?;
    let w = watcher(state)?;
    let a = find_of(&w, id, kind)?;
    w.remove_automation(id)?;
    Ok(Json(a.into()))
}
