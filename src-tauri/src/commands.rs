//! What the UI can ask for. Each command is a thin call into the engine.

use std::path::PathBuf;

use inbound_engine::{
    Destination, DownloadDetail, DownloadSummary, Engine, HashAlgorithm, IfDownloaded, LinkOptions,
    PackageListing, Secret, Selection, VerifySummary,
};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::CommandError;
use crate::settings::Settings;
use crate::state::AppState;

type Result<T> = std::result::Result<T, CommandError>;

/// What a person chose for a package already downloaded.
#[derive(Debug, Clone, Copy, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Again {
    /// Checked again in its folder: only what is missing or differs is fetched.
    Check,
    /// A new download into a folder of its own.
    Copy,
}

/// The folder chosen for this package (or the settings' one), with a package folder
/// of its own inside unless the settings say otherwise.
pub(crate) fn destination(state: &AppState, chosen: Option<String>) -> Destination {
    let settings = state.settings();
    let folder = PathBuf::from(
        chosen
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(settings.destination),
    );
    if settings.package_folders {
        Destination::package_folder_in(folder)
    } else {
        Destination::straight(folder)
    }
}

/// Adds a package by link. Fails with code `password_required` when the link needs a
/// password, so the UI asks for one and calls again. When MASV cannot be reached the
/// download is added all the same, waiting for the network: it lists its files and
/// starts by itself once MASV answers.
///
/// `file_ids`: only these files of the package (as `list_package` gives them); none or
/// empty is every file.
///
/// A package already downloaded (this link, or another link to it) fails with code
/// `downloaded_before` and the download's id, unless `again` says what the person
/// chose: check it again in its folder, or download it as a copy.
#[tauri::command]
pub async fn add_link(
    state: State<'_, AppState>,
    url: String,
    destination_folder: Option<String>,
    password: Option<String>,
    file_ids: Option<Vec<String>>,
    again: Option<Again>,
) -> Result<String> {
    let dst = destination(&state, destination_folder);
    let options = LinkOptions {
        // A person pasting a package already downloaded is asked what they want.
        if_downloaded: match again {
            None => IfDownloaded::Ask,
            Some(Again::Check) => IfDownloaded::Reuse,
            Some(Again::Copy) => IfDownloaded::Copy,
        },
        password: password.filter(|p| !p.is_empty()).map(Secret::new),
        selection: match file_ids {
            Some(ids) if !ids.is_empty() => Selection::files(ids),
            _ => Selection::All,
        },
        wait_if_unreachable: true,
        ..LinkOptions::default()
    };
    Ok(state
        .engine()
        .await
        .add_link_with(&url, dst, options)
        .await?)
}

/// A package's files, read without adding it, for "Choose files…". Fails with code
/// `password_required` like `add_link`.
#[tauri::command]
pub async fn list_package(
    state: State<'_, AppState>,
    url: String,
    password: Option<String>,
) -> Result<PackageListing> {
    let password = password.filter(|p| !p.is_empty()).map(Secret::new);
    Ok(state
        .engine()
        .await
        .list_package(&url, password, &Selection::All)
        .await?)
}

fn no_longer_waiting() -> CommandError {
    CommandError::new(
        "unknown_link",
        "that link is no longer waiting; open it again",
    )
}

/// Adds a link that came from outside and was parked waiting for a password.
#[tauri::command]
pub async fn add_parked_link(
    state: State<'_, AppState>,
    token: u64,
    destination_folder: Option<String>,
    password: String,
) -> Result<String> {
    let (id, _) = add_parked(
        &state,
        token,
        destination_folder,
        Some(Secret::new(password)),
    )
    .await?;
    Ok(id)
}

/// Adds a parked link; it stops being parked once added (a wrong password keeps it).
async fn add_parked(
    state: &AppState,
    token: u64,
    destination_folder: Option<String>,
    password: Option<Secret>,
) -> Result<(String, crate::state::ParkedLink)> {
    let parked = state.parked(token).ok_or_else(no_longer_waiting)?;
    let dst = destination(state, destination_folder);
    // Accepted: if MASV drops out now, it waits as a download of its own.
    let id = state
        .engine()
        .await
        .add_or_wait(&parked.url, dst, password)
        .await?;
    crate::lock(&state.parked).remove(&token);
    Ok((id, parked))
}

/// The person accepted a link that came from outside; with `trust_sender`, links from
/// its sender start without asking from now on.
#[tauri::command]
pub async fn confirm_parked_link(
    state: State<'_, AppState>,
    token: u64,
    destination_folder: Option<String>,
    trust_sender: bool,
) -> Result<String> {
    let (id, parked) = add_parked(&state, token, destination_folder, None).await?;
    let sender = parked.preview.map(|p| p.sender_email).unwrap_or_default();
    if trust_sender && !sender.trim().is_empty() {
        let mut settings = state.settings();
        settings.trusted_senders.push(sender);
        let settings = settings.sanitized();
        save_settings(&state, &settings)?;
        *crate::lock(&state.settings) = settings;
    }
    Ok(id)
}

/// The person dismissed a parked link's prompt: the link (with its secret) is not
/// kept in memory any longer.
#[tauri::command]
pub fn drop_parked_link(state: State<'_, AppState>, token: u64) {
    crate::lock(&state.parked).remove(&token);
}

#[tauri::command]
pub async fn start_demo(
    state: State<'_, AppState>,
    destination_folder: Option<String>,
) -> Result<String> {
    let link = state.opened.wait().await.demo.packages()[0].link();
    let dst = destination(&state, destination_folder);
    Ok(state.engine().await.add(&link, dst, None).await?)
}

// Commands that touch the engine are async: a sync command runs on the window's own
// thread, and a lock held by a busy download or a slow disk would freeze the UI.
#[tauri::command]
pub async fn list_downloads(state: State<'_, AppState>) -> Result<Vec<DownloadSummary>> {
    Ok(state.engine().await.list())
}

/// Ranks the queue in this order (first starts first); see `Engine::reorder`.
#[tauri::command]
pub async fn reorder_downloads(state: State<'_, AppState>, ids: Vec<String>) -> Result<()> {
    Ok(state.engine().await.reorder(&ids)?)
}

/// One download's own speed limit (bytes per second; none or 0: none).
#[tauri::command]
pub async fn set_download_limit(
    state: State<'_, AppState>,
    id: String,
    bytes_per_sec: Option<u64>,
) -> Result<()> {
    Ok(state
        .engine()
        .await
        .set_download_limit(&id, bytes_per_sec)?)
}

/// Chooses again which files a download fetches (see `Engine::choose_files`); its
/// files as they now are.
#[tauri::command]
pub async fn choose_files(
    state: State<'_, AppState>,
    id: String,
    file_ids: Vec<String>,
) -> Result<DownloadDetail> {
    let engine = state.engine().await;
    engine
        .choose_files(&id, inbound_engine::Selection::files(file_ids))
        .await?;
    Ok(engine.get(&id)?)
}

/// The downloads with a file whose name matches the history's search.
#[tauri::command]
pub async fn search_files(state: State<'_, AppState>, query: String) -> Result<Vec<String>> {
    Ok(state.engine().await.downloads_with_file(&query))
}

#[tauri::command]
pub async fn download_details(state: State<'_, AppState>, id: String) -> Result<DownloadDetail> {
    Ok(state.engine().await.get(&id)?)
}

#[tauri::command]
pub async fn pause(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine().await.pause(&id).await?)
}

#[tauri::command]
pub async fn resume(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine().await.resume(&id)?)
}

#[tauri::command]
pub async fn retry(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine().await.retry(&id)?)
}

#[tauri::command]
pub async fn delete_download(
    state: State<'_, AppState>,
    id: String,
    remove_files: bool,
) -> Result<()> {
    Ok(state.engine().await.delete(&id, remove_files).await?)
}

#[tauri::command]
pub async fn open_folder(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<()> {
    let folder = state.engine().await.get(&id)?.summary.dst_folder;
    open_path(&app, &folder)
}

/// Opens one file of a download with the system's default application. Only a complete
/// file, found by the engine from the download and the file's index: the window never
/// names a path, so nothing outside the download folders can be opened this way.
#[tauri::command]
pub async fn open_file(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    index: usize,
) -> Result<()> {
    let path = complete_file(&state, &id, index).await?;
    open_path(&app, &path)
}

/// Shows one file of a download in the file manager, selected.
#[tauri::command]
pub async fn show_file(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    index: usize,
) -> Result<()> {
    let path = complete_file(&state, &id, index).await?;
    app.opener().reveal_item_in_dir(&path).map_err(|e| {
        CommandError::new(
            "open_failed",
            format!("cannot show {}: {e}", path.display()),
        )
    })
}

/// Where a download's complete file is.
async fn complete_file(
    state: &State<'_, AppState>,
    id: &str,
    index: usize,
) -> Result<std::path::PathBuf> {
    let detail = state.engine().await.get(id)?;
    let file = detail
        .files
        .iter()
        .find(|f| f.index == index && f.state == inbound_engine::FileState::Complete)
        .ok_or_else(|| {
            CommandError::new(
                "not_complete",
                "that file has not arrived (yet), so there is nothing to open",
            )
        })?;
    Ok(detail.summary.dst_folder.join(&file.path))
}

/// Opens a folder in the system's file manager.
pub(crate) fn open_path(app: &AppHandle, folder: &std::path::Path) -> Result<()> {
    app.opener()
        .open_path(folder.to_string_lossy(), None::<&str>)
        .map_err(|e| {
            CommandError::new(
                "open_failed",
                format!("cannot open {}: {e}", folder.display()),
            )
        })
}

/// Why clipboard capture cannot work here (no X11 display, say); `None` when it can.
#[tauri::command]
pub fn clipboard_capture_status(state: State<'_, AppState>) -> Option<String> {
    crate::lock(&state.clipboard_unavailable).clone()
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    let mut settings = state.settings();
    // The agent API's FIFO mode may have changed it since (clamped as Settings are).
    if let Some(engine) = state.engine_now() {
        settings.max_active_downloads =
            u32::try_from(engine.max_active_downloads()).map_or(32, |n| n.clamp(1, 32));
    }
    settings
}

/// Saves and applies new settings; returns what was stored (values are clamped).
#[tauri::command]
pub async fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings> {
    let mut new = settings.sanitized();
    let old = state.settings();
    // Owned by making or dropping a token: a settings form opened before that must not
    // undo it.
    new.agent_api_token = old.agent_api_token;
    if new.agent_api != old.agent_api {
        crate::agent_api::apply(&state, new.agent_api).await?;
    }
    apply_engine_settings(state.engine().await, &new);
    save_settings(&state, &new)?;
    *crate::lock(&state.settings) = new.clone();
    if new.inbox_poll_secs != old.inbox_poll_secs {
        crate::inbox::restart(&app).await;
    }
    Ok(new)
}

pub(crate) fn save_settings(state: &AppState, settings: &Settings) -> Result<()> {
    settings.save(&state.settings_path).map_err(|e| {
        CommandError::new(
            "settings_not_saved",
            format!("could not save settings: {e}"),
        )
    })
}

pub fn apply_engine_settings(engine: &Engine, s: &Settings) {
    engine.set_bandwidth_limit(s.bandwidth_limit);
    engine.set_max_active_downloads(s.max_active_downloads as usize);
    engine.set_connections_per_download(s.connections_per_download as usize);
    engine.set_adaptive_connections(s.adaptive_connections);
    if let Some(algorithm) = HashAlgorithm::parse(&s.hash_algorithm) {
        engine.set_hash_algorithm(algorithm);
    }
    engine.set_keep_awake(s.keep_awake);
}

/// A completed package checked again in its folder: only what is missing or differs
/// is fetched. Returns the new download's id (it takes the earlier one's place).
#[tauri::command]
pub async fn repair_download(state: State<'_, AppState>, id: String) -> Result<String> {
    Ok(state.engine().await.repair(&id).await?)
}

/// Hashes a completed package's files again against its ASC MHL history, and records
/// the verification there.
#[tauri::command]
pub async fn verify_again(state: State<'_, AppState>, id: String) -> Result<VerifySummary> {
    Ok(state.engine().await.verify_again(&id).await?)
}

/// The UI listens now: hand it the links that arrived before.
#[tauri::command]
pub fn ui_ready(app: AppHandle) {
    let state = app.state::<AppState>();
    state
        .ui_ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let early: Vec<String> = std::mem::take(&mut *crate::lock(&state.early_links));
    for url in early {
        crate::incoming::handle(&app, url);
    }
}
