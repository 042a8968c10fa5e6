//! Access to one package: the package token (refreshed when it expires) and the
//! presigned URL of each file (refreshed when storage rejects it).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use inbound_masv::{LinkInfo, LinkRef, MasvClient, MasvError, PackageFile, Secret};
use tokio::sync::{Mutex, OnceCell, RwLock};

use crate::transfer::retry::Backoff;

#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub base: std::time::Duration,
    pub max: std::time::Duration,
    pub attempts: u32,
}

impl RetryPolicy {
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.base, self.max, self.attempts)
    }
}

/// A presigned URL and the generation it belongs to, so that only the first of many
/// connections seeing it expire fetches a new one.
#[derive(Clone)]
pub(crate) struct FileUrl {
    pub generation: u64,
    pub url: Arc<Secret>,
}

pub(crate) struct Session {
    client: MasvClient,
    /// The link and password that give fresh tokens; `None` for a team package, whose
    /// access token comes from a listing.
    link: Option<(LinkRef, Option<Secret>)>,
    package_id: String,
    retry: RetryPolicy,
    token: RwLock<(u64, Secret)>,
    refreshing: Mutex<()>,
    urls: std::sync::Mutex<HashMap<usize, Arc<OnceCell<FileUrl>>>>,
    url_generation: AtomicU64,
    /// When the link stops working (Unix seconds), as MASV said when it was opened.
    expiry: Option<i64>,
}

impl Session {
    /// Opens the link (retrying transient failures) and returns its details.
    pub async fn open(
        client: MasvClient,
        link: LinkRef,
        password: Option<Secret>,
        retry: RetryPolicy,
    ) -> Result<(Self, LinkInfo), MasvError> {
        let info = retrying(&retry, || client.link(&link, password.as_ref())).await?;
        let mut session = Self::new(
            client,
            Some((link, password)),
            info.package_id.clone(),
            info.package_token.clone(),
            retry,
        );
        session.expiry = info.expiry.map(|e| e.timestamp());
        Ok((session, info))
    }

    /// A team package, opened with its listing's access token.
    pub fn team(
        client: MasvClient,
        package_id: String,
        access_token: Secret,
        retry: RetryPolicy,
    ) -> Self {
        Self::new(client, None, package_id, access_token, retry)
    }

    fn new(
        client: MasvClient,
        link: Option<(LinkRef, Option<Secret>)>,
        package_id: String,
        token: Secret,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            client,
            link,
            package_id,
            retry,
            token: RwLock::new((0, token)),
            refreshing: Mutex::new(()),
            urls: Default::default(),
            url_generation: AtomicU64::new(0),
            expiry: None,
        }
    }

    /// When the link stops working, as MASV said on opening it (a team package's
    /// session does not know).
    pub fn expiry(&self) -> Option<i64> {
        self.expiry
    }

    pub async fn list_files(&self) -> Result<Vec<PackageFile>, MasvError> {
        self.with_token(|t| async move { self.client.files(&self.package_id, &t).await })
            .await
    }

    /// The presigned URL for a file, from cache when still believed valid. Concurrent
    /// callers for the same file share one request.
    pub async fn file_url(&self, idx: usize, file_id: &str) -> Result<FileUrl, MasvError> {
        let cell = self.lock_urls().entry(idx).or_default().clone();
        cell.get_or_try_init(|| async {
            let got = self
                .with_token(|t| async move {
                    self.client
                        .download_url(&self.package_id, file_id, &t)
                        .await
                })
                .await?;
            Ok(FileUrl {
                generation: self.url_generation.fetch_add(1, Ordering::Relaxed) + 1,
                url: Arc::new(got.url),
            })
        })
        .await
        .cloned()
    }

    /// Whether a URL for this file is cached or being fetched.
    pub fn knows_url(&self, idx: usize) -> bool {
        self.lock_urls().contains_key(&idx)
    }

    /// Storage rejected this URL (expired): forget it unless another connection
    /// already replaced it.
    pub fn invalidate_url(&self, idx: usize, generation: u64) {
        let mut urls = self.lock_urls();
        if urls
            .get(&idx)
            .and_then(|c| c.get())
            .is_some_and(|u| u.generation == generation)
        {
            urls.remove(&idx);
        }
    }

    pub fn forget_url(&self, idx: usize) {
        self.lock_urls().remove(&idx);
    }

    fn lock_urls(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<OnceCell<FileUrl>>>> {
        self.urls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` with the current token: on 401 gets a fresh token from the link, on
    /// transient errors backs off and tries again.
    async fn with_token<T, F, Fut>(&self, op: F) -> Result<T, MasvError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, MasvError>>,
    {
        let mut backoff = self.retry.backoff();
        let mut refreshes = 0;
        loop {
            let (generation, token) = self.token.read().await.clone();
            match op(token).await {
                Err(MasvError::TokenExpired) if refreshes < 3 => {
                    refreshes += 1;
                    self.refresh_token(generation).await?;
                }
                Err(e) if e.is_transient() => {
                    let delay = backoff.next_delay(retry_after(&e)).ok_or(e)?;
                    tracing::debug!(?delay, "MASV call failed, retrying");
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn refresh_token(&self, seen_generation: u64) -> Result<(), MasvError> {
        let _guard = self.refreshing.lock().await;
        if self.token.read().await.0 != seen_generation {
            return Ok(());
        }
        let Some((link, password)) = &self.link else {
            return Err(MasvError::Other(
                "MASV no longer accepts this package's access token: download it again from the team's package list, which hands out a fresh one".into(),
            ));
        };
        tracing::info!(package = %self.package_id, "package token expired, getting a fresh one");
        let info = retrying(&self.retry, || self.client.link(link, password.as_ref())).await?;
        let mut token = self.token.write().await;
        *token = (seen_generation + 1, info.package_token);
        Ok(())
    }
}

fn retry_after(e: &MasvError) -> Option<std::time::Duration> {
    match e {
        MasvError::RateLimited { retry_after } => *retry_after,
        _ => None,
    }
}

/// Retries a call that needs no token while it fails transiently.
pub(crate) async fn retrying<T, F, Fut>(retry: &RetryPolicy, mut op: F) -> Result<T, MasvError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, MasvError>>,
{
    let mut backoff = retry.backoff();
    loop {
        match op().await {
            Err(e) if e.is_transient() => {
                let delay = backoff.next_delay(retry_after(&e)).ok_or(e)?;
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}
