//! Thin handlers: parse, call the engine, shape the answer.

use std::path::Path;

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::{Extension, Json};
use bytes::Bytes;
use inbound_engine::{Destination, Engine, LinkOptions, Secret, Selection};

use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::views::{AgentState, Deleted, Download, DownloadWithFiles, StartDownload};

type Result<T> = std::result::Result<T, ApiError>;

/// Starts a download. The link is checked now: a bad link, a missing or wrong password
/// or an expired link is answered here, and nothing is written. When MASV cannot be
/// reached the link is kept as a download waiting for the network (`transferring`,
/// `"waiting": "network"`): it lists its files and starts by itself once MASV answers.
/// The same link into the same folder while its download is unfinished answers that
/// download (a retried POST makes one download). Once it is complete, the same link
/// starts a new download in its place that checks the files already in the folder
/// against their recorded hashes and fetches only what is missing or changed; a file
/// that changed is moved aside (`kept_aside`), never overwritten.
#[utoipa::path(post, path = "/downloads", tag = "downloads",
    request_body = StartDownload,
    responses(
        (status = 200, description = "Started (or, unfinished, already known: the same link into the same folder), or waiting for MASV to be reachable", body = Download),
        (status = 400, description = "Malformed body, not a MASV link, unknown link, or relative dst_folder", body = ErrorBody),
        (status = 401, description = "The link needs a password", body = ErrorBody),
        (status = 403, description = "Wrong password, request refused (origin, host), no right to give the files to `uid`/`gid`, or a caller Inbound cannot identify asking for `uid`/`gid` or a folder outside the allowed ones without the token", body = ErrorBody),
        (status = 409, description = "`bypass_package_quarantine: false` and MASV's virus scan flagged a file of the package (named); nothing written", body = ErrorBody),
        (status = 410, description = "The link has expired", body = ErrorBody),
        (status = 502, description = "MASV answered with an error", body = ErrorBody),
    ))]
pub async fn start(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Download>> {
    let req: StartDownload = crate::error::json_body(
        &body,
        "invalid_body",
        r#"{"url": "https://get.massive.app/ID?secret=S", "dst_folder": "/abs/dir"}"#,
    )?;
    if req.url.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_link",
            "url is empty; pass the MASV download link",
        ));
    }
    let dst = Path::new(req.dst_folder.trim());
    if !dst.is_absolute() {
        return Err(ApiError::bad_request(
            "invalid_dst_folder",
            format!(
                "dst_folder must be an absolute path, got {:?}",
                req.dst_folder
            ),
        ));
    }
    caller.check_destination(dst)?;
    if req.uid.is_some() || req.gid.is_some() {
        caller.require_trusted("Giving the files to a uid or gid")?;
    }
    let password = req.password.filter(|p| !p.is_empty()).map(Secret::new);
    let dst = if req.create_package_folder {
        Destination::package_folder_in(dst)
    } else {
        Destination::straight(dst)
    };
    let selection = match req.file_ids {
        Some(ids) if !ids.is_empty() => Selection::files(ids),
        _ => Selection::All,
    };
    let options = LinkOptions {
        password,
        selection,
        wait_if_unreachable: true,
        priority: req.priority,
        owner: Some(inbound_engine::Owner {
            uid: req.uid,
            gid: req.gid,
        }),
        // As the MASV Agent: the same link into the same folder is the same download.
        if_downloaded: inbound_engine::IfDownloaded::Reuse,
        refuse_flagged: !req.bypass_package_quarantine,
        chunk_size: req.chunk_size,
    };
    let id = engine.add_link_with(&req.url, dst, options).await?;
    Ok(Json(engine.get(&id)?.summary.into()))
}

#[utoipa::path(get, path = "/downloads", tag = "downloads",
    responses((status = 200, description = "Every download, oldest first", body = [Download])))]
pub async fn list(State(engine): State<Engine>) -> Json<Vec<Download>> {
    Json(engine.list().into_iter().map(Into::into).collect())
}

#[utoipa::path(get, path = "/downloads/{download_id}", tag = "downloads",
    params(("download_id" = String, Path, description = "As returned when the download started")),
    responses(
        (status = 200, description = "The download and its files", body = DownloadWithFiles),
        (status = 404, description = "No such download", body = ErrorBody),
    ))]
pub async fn get_one(
    State(engine): State<Engine>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<DownloadWithFiles>> {
    Ok(Json(engine.get(&id)?.into()))
}

#[utoipa::path(post, path = "/downloads/{download_id}/pause", tag = "downloads",
    params(("download_id" = String, Path)),
    responses(
        (status = 200, description = "Paused; bytes received so far are kept", body = Download),
        (status = 404, description = "No such download", body = ErrorBody),
    ))]
pub async fn pause(
    State(engine): State<Engine>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Download>> {
    engine.pause(&id).await?;
    Ok(Json(engine.get(&id)?.summary.into()))
}

/// Resumes a paused download, or retries one that stopped with an error.
#[utoipa::path(post, path = "/downloads/{download_id}/resume", tag = "downloads",
    params(("download_id" = String, Path)),
    responses(
        (status = 200, description = "Transferring again", body = Download),
        (status = 404, description = "No such download", body = ErrorBody),
    ))]
pub async fn resume(
    State(engine): State<Engine>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Download>> {
    engine.resume(&id)?;
    Ok(Json(engine.get(&id)?.summary.into()))
}

/// `PUT /downloads/{id}/speed_limit` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct SpeedLimit {
    /// Bytes per second for this download, within the global limit; null or 0: none.
    #[serde(default)]
    pub bytes_per_sec: Option<u64>,
}

/// Sets one download's own speed limit (kept across restarts).
#[utoipa::path(put, path = "/downloads/{download_id}/speed_limit", tag = "downloads",
    params(("download_id" = String, Path)),
    request_body = SpeedLimit,
    responses(
        (status = 200, description = "Set", body = Download),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 404, description = "No such download", body = ErrorBody),
    ))]
pub async fn speed_limit(
    State(engine): State<Engine>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<Download>> {
    let limit: SpeedLimit = crate::error::json_body(
        &body,
        "invalid_body",
        r#"{"bytes_per_sec": 10485760} (null for none)"#,
    )?;
    engine.set_download_limit(&id, limit.bytes_per_sec)?;
    Ok(Json(engine.get(&id)?.summary.into()))
}

/// `PUT /downloads/{id}/files` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ChosenFiles {
    /// The package files to download from now on (MASV file ids, as listed under
    /// `files`); null or absent: every file.
    #[serde(default)]
    pub file_ids: Option<Vec<String>>,
}

/// Changes which files a download fetches, while it runs or after it completed. Files
/// taken in are fetched; files left out stop and what they had fetched is removed; a
/// complete file stays. A running download starts again with the new files at once
/// (the others keep their bytes); a completed one taking in files runs again.
#[utoipa::path(put, path = "/downloads/{download_id}/files", tag = "downloads",
    params(("download_id" = String, Path)),
    request_body = ChosenFiles,
    responses(
        (status = 200, description = "Changed (or already so)", body = DownloadWithFiles),
        (status = 400, description = "Malformed body, an id the package does not have, or no file left", body = ErrorBody),
        (status = 404, description = "No such download", body = ErrorBody),
        (status = 409, description = "MASV has not listed the package yet", body = ErrorBody),
    ))]
pub async fn choose_files(
    State(engine): State<Engine>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<DownloadWithFiles>> {
    let chosen: ChosenFiles = crate::error::json_body(
        &body,
        "invalid_body",
        r#"{"file_ids": ["FILE_ID", "FILE_ID"]} (null for every file)"#,
    )?;
    let selection = match chosen.file_ids {
        Some(ids) => Selection::files(ids),
        None => Selection::All,
    };
    engine.choose_files(&id, selection).await?;
    Ok(Json(engine.get(&id)?.into()))
}

#[utoipa::path(delete, path = "/downloads/{download_id}", tag = "downloads",
    params(
        ("download_id" = String, Path),
        ("remove_files" = Option<bool>, Query, description = "Also delete the files this download wrote (never other files)"),
    ),
    responses(
        (status = 200, description = "Forgotten", body = Deleted),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 403, description = "remove_files from a caller Inbound cannot identify, without the token", body = ErrorBody),
        (status = 404, description = "No such download", body = ErrorBody),
    ))]
pub async fn delete_one(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Deleted>> {
    let q = DeleteQuery::parse(query.as_deref(), false)?;
    q.check(&caller)?;
    engine.delete(&id, q.remove_files).await?;
    Ok(Json(Deleted {
        deleted: vec![id],
        removed_files: q.remove_files,
    }))
}

#[utoipa::path(delete, path = "/downloads", tag = "downloads",
    params(
        ("states" = Option<String>, Query, description = "Comma list of transferring, paused, complete, error; all when absent"),
        ("remove_files" = Option<bool>, Query, description = "Also delete the files these downloads wrote"),
    ),
    responses(
        (status = 200, description = "Forgotten", body = Deleted),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 403, description = "remove_files from a caller Inbound cannot identify, without the token", body = ErrorBody),
    ))]
pub async fn delete_many(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Result<Json<Deleted>> {
    let q = DeleteQuery::parse(query.as_deref(), true)?;
    q.check(&caller)?;
    let mut deleted = Vec::new();
    for d in engine.list() {
        if q.states
            .as_ref()
            .is_none_or(|s| s.contains(&AgentState::of(d.state)))
        {
            match engine.delete(&d.id, q.remove_files).await {
                Ok(()) => deleted.push(d.id),
                // Deleted meanwhile by another request: nothing left to do.
                Err(inbound_engine::EngineError::UnknownDownload(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Json(Deleted {
        deleted,
        removed_files: q.remove_files,
    }))
}

struct DeleteQuery {
    remove_files: bool,
    states: Option<Vec<AgentState>>,
}

impl DeleteQuery {
    /// Removing files is for trusted callers only.
    fn check(&self, caller: &Caller) -> Result<()> {
        if self.remove_files {
            caller.require_trusted("Removing a download's files (remove_files)")?;
        }
        Ok(())
    }

    fn parse(query: Option<&str>, allow_states: bool) -> Result<Self> {
        let mut q = Self {
            remove_files: false,
            states: None,
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "remove_files" => {
                    q.remove_files = match v.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" | "" => false,
                        other => {
                            return Err(ApiError::bad_request(
                                "invalid_query",
                                format!("remove_files must be true or false, got {other:?}"),
                            ));
                        }
                    }
                }
                "states" if allow_states => {
                    let states = v
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| {
                            AgentState::parse(s).ok_or_else(|| {
                                ApiError::bad_request(
                                    "invalid_query",
                                    format!("unknown state {s:?}; use transferring, paused, complete or error"),
                                )
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    q.states = Some(states);
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_queries() {
        let q = DeleteQuery::parse(Some("states=complete,transferring&remove_files=true"), true)
            .unwrap();
        assert!(q.remove_files);
        assert_eq!(
            q.states,
            Some(vec![AgentState::Complete, AgentState::Transferring])
        );
        let q = DeleteQuery::parse(None, true).unwrap();
        assert!(!q.remove_files && q.states.is_none());
        assert!(DeleteQuery::parse(Some("states=done"), true).is_err());
        assert!(DeleteQuery::parse(Some("remove_files=yes"), false).is_err());
    }
}
