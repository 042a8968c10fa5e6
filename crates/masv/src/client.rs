use std::time::Duration;

use reqwest::{Response, StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;

use crate::error::retry_after;
use crate::{DownloadUrl, LinkInfo, LinkRef, MasvError, PackageFile, Secret};

pub const DEFAULT_API_URL: &str = "https://api.massive.app/v1";
pub const API_URL_ENV: &str = "MASV_API_URL";

/// The API base URL: `MASV_API_URL` when set, else the public MASV API.
pub fn api_url_from_env() -> String {
    std::env::var(API_URL_ENV)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
}

/// Client for the MASV routes a recipient uses. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MasvClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    /// The paginated v1.1 team routes answered 404 here once: the legacy ones serve
    /// from then on (shared by clones).
    pub(crate) team_v11_missing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Which route answered, because the same status means different things on each.
#[derive(Clone, Copy)]
pub(crate) enum Route {
    Link {
        sent_password: bool,
    },
    Files,
    DownloadUrl,
    /// The team routes, authenticated by API key.
    Team,
    /// Changing a package's expiry, authenticated by its token.
    Expiry,
}

impl MasvClient {
    pub fn new(base: impl Into<String>) -> Result<Self, MasvError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("Inbound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(MasvError::from_reqwest)?;
        Ok(Self::with_http(http, base))
    }

    pub fn with_http(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
            team_v11_missing: Default::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /links/{id}?secret=S`: link details and a fresh package token.
    pub async fn link(
        &self,
        link: &LinkRef,
        password: Option<&Secret>,
    ) -> Result<LinkInfo, MasvError> {
        let mut req = self
            .http
            .get(format!("{}/links/{}", self.base, link.id))
            .query(&[("secret", link.secret.expose())]);
        if let Some(p) = password {
            req = req.header("X-Link-Password", p.expose());
        }
        let resp = req.send().await.map_err(MasvError::from_reqwest)?;
        let info: LinkInfo = decode(
            resp,
            Route::Link {
                sent_password: password.is_some(),
            },
        )
        .await?;
        if info.is_expired(chrono::Utc::now()) {
            return Err(MasvError::Expired);
        }
        Ok(info)
    }

    /// `GET /packages/{id}/files`. Large packages are rate limited: callers get
    /// [`MasvError::RateLimited`] with the server's `Retry-After`.
    pub async fn files(
        &self,
        package_id: &str,
        token: &Secret,
    ) -> Result<Vec<PackageFile>, MasvError> {
        let resp = self
            .http
            .get(format!("{}/packages/{}/files", self.base, package_id))
            .header("X-Package-Token", token.expose())
            .send()
            .await
            .map_err(MasvError::from_reqwest)?;
        decode(resp, Route::Files).await
    }

    /// `GET /packages/{id}/files/{file_id}/download`: a presigned URL for one file.
    pub async fn download_url(
        &self,
        package_id: &str,
        file_id: &str,
        token: &Secret,
    ) -> Result<DownloadUrl, MasvError> {
        let resp = self
            .http
            .get(format!(
                "{}/packages/{}/files/{}/download",
                self.base, package_id, file_id
            ))
            .header("X-Package-Token", token.expose())
            .send()
            .await
            .map_err(MasvError::from_reqwest)?;
        decode(resp, Route::DownloadUrl).await
    }
}

pub(crate) async fn decode<T: DeserializeOwned>(
    resp: Response,
    route: Route,
) -> Result<T, MasvError> {
    let status = resp.status();
    if status.is_success() {
        return resp.json::<T>().await.map_err(MasvError::from_reqwest);
    }
    let mut err = classify(status, resp.headers(), route);
    // A 403 here means "infected" only when MASV says so; an access rule, a link
    // withdrawn meanwhile or a proxy answers 403 too, and none of those is a reason to
    // throw a file's bytes away.
    if matches!(err, MasvError::FileRefused) && says_virus(&resp.text().await.unwrap_or_default()) {
        err = MasvError::Virus;
    }
    tracing::debug!(%status, error = %err, "MASV API call failed");
    Err(err)
}

/// An error body that speaks of a virus (MASV's scan flags a file as infected).
fn says_virus(body: &str) -> bool {
    let body = body.to_ascii_lowercase();
    ["virus", "infected", "malware", "quarantin"]
        .iter()
        .any(|w| body.contains(w))
}

fn classify(status: StatusCode, headers: &HeaderMap, route: Route) -> MasvError {
    match (status.as_u16(), route) {
        (429, _) => MasvError::RateLimited {
            retry_after: retry_after(headers),
        },
        (500..=599, _) | (408, _) => MasvError::Unavailable(format!("server answered {status}")),
        (410, _) => MasvError::Expired,
        (404, Route::Link { .. }) => MasvError::BadLink,
        (401 | 403, Route::Team) => MasvError::ApiKeyRejected,
        (404, Route::Team) => MasvError::TeamNotFound,
        (401 | 403, Route::Link { sent_password }) => {
            if sent_password {
                MasvError::WrongPassword
            } else {
                MasvError::PasswordRequired
            }
        }
        (401, _) => MasvError::TokenExpired,
        (403, Route::DownloadUrl) => MasvError::FileRefused,
        (403, Route::Expiry) => MasvError::Other(
            "MASV did not let this package's expiry be changed (server answered 403 Forbidden): your team's plan or your role may not allow it".into(),
        ),
        (400, Route::Expiry) => MasvError::Other(
            "MASV refused the new expiry (server answered 400 Bad Request): it must be in the future".into(),
        ),
        (404, _) => MasvError::Other(format!(
            "the package or file no longer exists (server answered {status})"
        )),
        _ => MasvError::Other(format!("server answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_status(code: u16, route: Route) -> MasvError {
        classify(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            route,
        )
    }

    #[test]
    fn statuses_map_to_what_a_person_must_tell_apart() {
        let no_pw = Route::Link {
            sent_password: false,
        };
        let pw = Route::Link {
            sent_password: true,
        };
        assert!(matches!(classify_status(404, no_pw), MasvError::BadLink));
        assert!(matches!(classify_status(410, no_pw), MasvError::Expired));
        assert!(matches!(
            classify_status(401, no_pw),
            MasvError::PasswordRequired
        ));
        assert!(matches!(classify_status(403, pw), MasvError::WrongPassword));
        assert!(matches!(
            classify_status(401, Route::Files),
            MasvError::TokenExpired
        ));
        assert!(matches!(
            classify_status(403, Route::DownloadUrl),
            MasvError::FileRefused
        ));
        assert!(says_virus(r#"{"message": "file is infected"}"#));
        assert!(says_virus("Virus detected"));
        assert!(!says_virus(r#"{"message": "access denied"}"#));
        assert!(!says_virus(""));
        assert!(classify_status(503, Route::Files).is_transient());
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        match classify(StatusCode::TOO_MANY_REQUESTS, &h, Route::Files) {
            MasvError::RateLimited { retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3)))
            }
            other => panic!("{other:?}"),
        }
    }
}
