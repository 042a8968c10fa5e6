//! The team inbox in the desktop: login (API key to the keyring or a user-only file,
//! never back to the UI), team and portal listings, downloads without a link, and the
//! watcher of watched portals, whose events go to the UI as `inbox`.

use std::path::PathBuf;
use std::time::Duration;

use inbound_engine::{Engine, Origin, Secret};
use inbound_inbox::{
    CredentialStore, Credentials, PackageFailure, TeamApi, WatchedPortal, Watcher, WatcherConfig,
    to_download,
};
use inbound_masv::{MasvClient, PackageState, TeamFilter, TeamPackage};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::error::CommandError;
use crate::state::AppState;

type Result<T> = std::result::Result<T, CommandError>;

/// A logged-in team: its API client and the running watcher.
pub struct InboxSession {
    api: TeamApi,
    pub(crate) watcher: Watcher,
}

impl Drop for InboxSession {
    fn drop(&mut self) {
        self.watcher.stop();
    }
}

/// Whether a team is logged in. The key itself never leaves the shell.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxStatus {
    pub team_id: Option<String>,
}

/// A team or portal package as the inbox lists it (no access token).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxPackage {
    pub id: String,
    pub name: String,
    /// new | finalized | expired | archived | unknown
    pub state: String,
    pub sender: String,
    #[ts(type = "number")]
    pub size: u64,
    #[ts(type = "number")]
    pub total_files: u64,
    /// Seconds since the epoch.
    #[ts(type = "number | null")]
    pub created_at: Option<i64>,
    pub contains_virus: bool,
    pub portal_id: Option<String>,
    /// Still being uploaded, with progress reported on a channel.
    pub uploading: bool,
    /// When MASV deletes it (Unix seconds), if it says.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    pub teamspace_id: Option<String>,
    pub tag: Option<InboxTag>,
}

/// A package's tag, as MASV lists it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxTag {
    pub id: String,
    pub name: String,
}

impl From<&TeamPackage> for InboxPackage {
    fn from(p: &TeamPackage) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            state: p.state.to_string(),
            sender: p.sender.clone(),
            size: p.size,
            total_files: p.total_files,
            created_at: p.created_at.map(|t| t.timestamp()),
            contains_virus: p.contains_virus,
            portal_id: p.portal_id.clone(),
            uploading: p.upload_channel().is_some(),
            expires_at: p.expiry.map(|t| t.timestamp()),
            teamspace_id: p.teamspace_id.clone(),
            tag: p.tag.as_ref().map(|t| InboxTag {
                id: t.id.clone(),
                name: t.name.clone(),
            }),
        }
    }
}

/// A portal, and whether (and where) it is watched.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxPortal {
    pub id: String,
    pub name: String,
    pub subdomain: String,
    pub watched: bool,
    pub folder: Option<String>,
    /// Packages sent before this (Unix seconds) are not downloaded by themselves.
    #[ts(type = "number | null")]
    pub since: Option<i64>,
}

fn store(state: &AppState) -> CredentialStore {
    CredentialStore::new(&state.data_dir)
}

fn inbox_error(e: impl std::fmt::Display, code: &str) -> CommandError {
    CommandError::new(code, e.to_string())
}

fn masv_error(e: inbound_masv::MasvError) -> CommandError {
    let code = match e {
        inbound_masv::MasvError::ApiKeyRejected => "api_key_rejected",
        inbound_masv::MasvError::TeamNotFound => "team_not_found",
        _ => "network",
    };
    inbox_error(e, code)
}

/// The team routes on the engine's MASV API.
fn team_api(engine: &Engine, creds: &Credentials) -> Result<TeamApi> {
    let client = MasvClient::new(engine.config().api_url.clone()).map_err(masv_error)?;
    Ok(TeamApi::new(
        client,
        creds.api_key.clone(),
        creds.team_id.clone(),
    ))
}

/// Starts the session (and its watcher) for these credentials.
async fn start(app: &AppHandle, creds: &Credentials) -> Result<()> {
    let state = app.state::<AppState>();
    let engine = state.engine().await;
    let api = team_api(engine, creds)?;
    let settings = state.settings();
    let config = WatcherConfig {
        interval: Duration::from_secs(u64::from(settings.inbox_poll_secs)),
        package_folders: settings.package_folders,
        ..WatcherConfig::default()
    };
    let watcher = Watcher::open(api.clone(), engine.clone(), &state.data_dir, config)
        .map_err(|e| inbox_error(e, "inbox_failed"))?;
    let mut events = watcher.subscribe();
    let h = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ev) => {
                    let _ = h.emit("inbox", ev);
                }
                // A burst the window fell behind on: the next listing catches up.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "inbox events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let w = watcher.clone();
    tauri::async_runtime::spawn(async move { w.run().await });
    *crate::lock(&state.inbox) = Some(InboxSession { api, watcher });
    Ok(())
}

/// At start-up: resumes the saved login, if any.
pub async fn resume_saved(app: AppHandle) {
    let state = app.state::<AppState>();
    match store(&state).load().await {
        Ok(Some(creds)) => {
            if let Err(e) = start(&app, &creds).await {
                tracing::warn!(error = %e, "team inbox not started");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the team login"),
    }
}

/// Restarts the watcher with the current settings (poll interval).
pub async fn restart(app: &AppHandle) {
    let state = app.state::<AppState>();
    let was_on = crate::lock(&state.inbox).take().is_some();
    if was_on {
        resume_saved(app.clone()).await;
    }
}

fn api(state: &AppState) -> Result<TeamApi> {
    crate::lock(&state.inbox)
        .as_ref()
        .map(|s| s.api.clone())
        .ok_or_else(|| inbox_error(inbound_inbox::InboxError::NotLoggedIn, "not_logged_in"))
}

fn watcher(state: &AppState) -> Result<Watcher> {
    crate::lock(&state.inbox)
        .as_ref()
        .map(|s| s.watcher.clone())
        .ok_or_else(|| inbox_error(inbound_inbox::InboxError::NotLoggedIn, "not_logged_in"))
}

#[tauri::command]
pub fn inbox_status(state: State<'_, AppState>) -> InboxStatus {
    InboxStatus {
        team_id: crate::lock(&state.inbox)
            .as_ref()
            .map(|s| s.api.team_id().to_owned()),
    }
}

/// Checks the key with MASV, saves it, and starts the inbox.
#[tauri::command]
pub async fn inbox_login(
    app: AppHandle,
    state: State<'_, AppState>,
    team_id: String,
    api_key: String,
) -> Result<InboxStatus> {
    let (team_id, api_key) = (team_id.trim().to_owned(), api_key.trim().to_owned());
    if team_id.is_empty() || api_key.is_empty() {
        return Err(CommandError::new(
            "missing",
            "enter the team id and an API key (MASV web app, Settings, API keys)",
        ));
    }
    let creds = Credentials {
        team_id,
        api_key: Secret::new(api_key),
    };
    team_api(state.engine().await, &creds)?
        .portals()
        .await
        .map_err(masv_error)?;
    store(&state)
        .save(&creds)
        .await
        .map_err(|e| inbox_error(e, "login_not_saved"))?;
    start(&app, &creds).await?;
    Ok(inbox_status(state))
}

#[tauri::command]
pub async fn inbox_logout(state: State<'_, AppState>) -> Result<()> {
    crate::lock(&state.inbox).take();
    store(&state)
        .forget()
        .await
        .map_err(|e| inbox_error(e, "logout_failed"))
}

/// The team's packages: in these states (none: every state), teamspaces and tags
/// (ids; none: any), and, with `expiring_within_days`, only those not yet expired that
/// expire within that many days.
#[tauri::command]
pub async fn inbox_packages(
    state: State<'_, AppState>,
    states: Vec<String>,
    teamspaces: Vec<String>,
    tags: Vec<String>,
    expiring_within_days: Option<u16>,
) -> Result<Vec<InboxPackage>> {
    let now = chrono::Utc::now();
    let filter = TeamFilter {
        states: states
            .iter()
            .filter_map(|s| PackageState::parse(s))
            .collect(),
        teamspaces,
        tags,
        expiry_from: expiring_within_days.map(|_| now),
        expiry_until: expiring_within_days.map(|d| now + chrono::Duration::days(d.into())),
    };
    let packages = api(&state)?
        .packages_where(&filter)
        .await
        .map_err(masv_error)?;
    Ok(packages.iter().map(InboxPackage::from).collect())
}

/// Keeps a finalized team package on MASV `days` longer; answers its new expiry (Unix
/// seconds), which its downloads show at once.
#[tauri::command]
pub async fn inbox_extend(
    state: State<'_, AppState>,
    package_id: String,
    days: u16,
) -> Result<i64> {
    if !(1..=365).contains(&days) {
        return Err(inbox_error(
            format!("extend by 1 to 365 days, not {days}"),
            "invalid_days",
        ));
    }
    let until = api(&state)?
        .extend_expiry(&package_id, days)
        .await
        .map_err(|e| inbox_error(e, "extend_failed"))?;
    let at = until.timestamp();
    state.engine().await.package_expiry_changed(&package_id, at);
    Ok(at)
}

#[tauri::command]
pub async fn inbox_portals(state: State<'_, AppState>) -> Result<Vec<InboxPortal>> {
    let portals = api(&state)?.portals().await.map_err(masv_error)?;
    let watched = watcher(&state)?
        .portals()
        .map_err(|e| inbox_error(e, "inbox_failed"))?;
    Ok(portals
        .into_iter()
        .map(|p| {
            let w = watched.iter().find(|w| w.portal_id == p.id);
            InboxPortal {
                watched: w.is_some_and(|w| w.enabled),
                folder: w.map(|w| w.folder.to_string_lossy().into_owned()),
                since: w.and_then(|w| w.since),
                id: p.id,
                name: p.name,
                subdomain: p.subdomain,
            }
        })
        .collect())
}

/// Downloads a finalized team package into the chosen (or default) folder.
#[tauri::command]
pub async fn inbox_download(
    state: State<'_, AppState>,
    package_id: String,
    destination_folder: Option<String>,
) -> Result<String> {
    let api = api(&state)?;
    let package = api
        .package(&package_id)
        .await
        .map_err(|e| inbox_error(e, "unknown_package"))?;
    let origin = Origin::Team {
        team_id: api.team_id().to_owned(),
    };
    let download = to_download(&package, origin).map_err(|e| inbox_error(e, "not_downloadable"))?;
    let dst = crate::commands::destination(&state, destination_folder);
    Ok(state.engine().await.add_team_package(download, dst).await?)
}

/// Where a watched portal's packages go by default: one folder named after the portal
/// (a name from the API, so made safe) inside the download folder.
fn portal_folder(base: &std::path::Path, portal_name: &str) -> PathBuf {
    base.join(inbound_engine::safe_folder_name(
        portal_name,
        inbound_engine::NameRules::native(),
    ))
}

/// Watched portals' packages that could not be started, waiting to be tried again.
#[tauri::command]
pub async fn inbox_failures(state: State<'_, AppState>) -> Result<Vec<PackageFailure>> {
    watcher(&state)?
        .failures()
        .map_err(|e| inbox_error(e, "inbox_failed"))
}

/// Watches a portal (its new packages download into `folder`), or stops watching it.
/// `since` (Unix seconds) is where its packages start counting as new; without it a
/// watched portal keeps the date it had, and one ticked (first time or again) starts
/// now.
#[tauri::command]
pub async fn inbox_watch(
    state: State<'_, AppState>,
    portal_id: String,
    portal_name: String,
    enabled: bool,
    folder: Option<String>,
    since: Option<i64>,
) -> Result<()> {
    let watcher = watcher(&state)?;
    let known = watcher
        .portals()
        .map_err(|e| inbox_error(e, "inbox_failed"))?
        .into_iter()
        .find(|p| p.portal_id == portal_id);
    let since = since
        // Ticked again after a pause: what arrived meanwhile is not the person's wish.
        .or_else(|| known.filter(|p| p.enabled).and_then(|p| p.since))
        .unwrap_or_else(inbound_engine::unix_now);
    let folder = folder
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            portal_folder(&PathBuf::from(state.settings().destination), &portal_name)
        });
    if !folder.is_absolute() {
        return Err(CommandError::new(
            "invalid_destination",
            format!("{} is not an absolute folder", folder.display()),
        ));
    }
    watcher
        .set_portal(&WatchedPortal {
            portal_id,
            portal_name,
            folder,
            enabled,
            since: Some(since),
        })
        .map_err(|e| inbox_error(e, "inbox_failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portal_name_from_the_api_stays_one_folder_inside_the_base() {
        let base = std::path::Path::new("/home/me/Downloads/MASV");
        for name in ["../../.config/autostart", "/etc", "..", "Editorial"] {
            let folder = portal_folder(base, name);
            assert_eq!(folder.parent(), Some(base), "{name}: {}", folder.display());
        }
    }
}
