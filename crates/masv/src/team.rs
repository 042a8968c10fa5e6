//! The team routes (API key in `X-API-KEY`): team packages, portals, portal packages.
//! Packages are listed through the paginated v1.1 routes where MASV has them, and the
//! legacy v1 ones (deprecated) where those answer 404.

use std::sync::atomic::Ordering::Relaxed;

use serde::Deserialize;

use crate::client::{Route, decode};
use crate::{MasvClient, MasvError, PackageState, Portal, Secret, TeamFilter, TeamPackage};

/// Packages per page; listings are fetched page by page until a short one.
const PAGE: usize = 100;
/// The most a v1.1 page holds.
const V11_PAGE: usize = 50;
/// A listing stops here even if the server keeps answering full pages.
const MAX_PAGES: usize = 1_000;

/// A v1.1 page: `{metadata: {total}, records: [...]}`.
#[derive(Deserialize)]
struct V11Page<T> {
    #[serde(default)]
    metadata: V11Metadata,
    #[serde(default = "Vec::new")]
    records: Vec<T>,
}

#[derive(Deserialize, Default)]
struct V11Metadata {
    #[serde(default)]
    total: Option<usize>,
}

impl MasvClient {
    /// The team's packages that `filter` asks for, every page (v1.1's
    /// `GET /teams/{team_id}/packages`, else the legacy route with its state filters
    /// `new`, `finalized`, `expired`, `archived`).
    pub async fn team_packages(
        &self,
        api_key: &Secret,
        team_id: &str,
        filter: &TeamFilter,
    ) -> Result<Vec<TeamPackage>, MasvError> {
        let query = filter.v11_query();
        let v11_filters: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let team = path_part(team_id)?;
        let filters: Vec<(&str, &str)> = filter
            .states
            .iter()
            .filter(|s| **s != PackageState::Unknown)
            .map(|s| (s.as_str(), "true"))
            .collect();
        let found = self
            .v11_or_legacy(
                api_key,
                (&format!("teams/{team}/packages"), &v11_filters),
                (&format!("{}/teams/{}/packages", self.base, team), &filters),
            )
            .await?;
        Ok(found.into_iter().filter(|p| filter.keeps(p)).collect())
    }

    /// `PUT /packages/{package_id}/expiry` with the package's token (a team listing's
    /// `access_token`): MASV keeps the package until `expiry`, as its own clients ask
    /// (`{"unlimited_storage": false, "expiry": "…"}`). Extra storage may be charged
    /// to the team.
    pub async fn set_package_expiry(
        &self,
        package_id: &str,
        token: &Secret,
        expiry: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), MasvError> {
        let resp = self
            .http
            .put(format!(
                "{}/packages/{}/expiry",
                self.base,
                path_part(package_id)?
            ))
            .header("X-Package-Token", token.expose())
            .json(&serde_json::json!({
                "unlimited_storage": false,
                "expiry": expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }))
            .send()
            .await
            .map_err(MasvError::from_reqwest)?;
        decode::<serde_json::Value>(resp, Route::Expiry)
            .await
            .map(|_| ())
    }

    /// `GET /teams/{team_id}/portals`.
    pub async fn portals(&self, api_key: &Secret, team_id: &str) -> Result<Vec<Portal>, MasvError> {
        self.paged(
            api_key,
            &format!("{}/teams/{}/portals", self.base, path_part(team_id)?),
            &[],
        )
        .await
    }

    /// A portal's packages: the team's v1.1 inbox for that portal, or the legacy
    /// `GET /portals/{portal_id}/packages`; every page.
    pub async fn portal_packages(
        &self,
        api_key: &Secret,
        team_id: &str,
        portal_id: &str,
    ) -> Result<Vec<TeamPackage>, MasvError> {
        let (team, portal) = (path_part(team_id)?, path_part(portal_id)?);
        // Every state: without `status`, MASV lists only finalized and expired ones.
        let every = TeamFilter::default().v11_query();
        let mut v11_filters: Vec<(&str, &str)> =
            every.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v11_filters.push(("portal_id", portal));
        let found = self
            .v11_or_legacy(
                api_key,
                (&format!("teams/{team}/inbox"), &v11_filters),
                (&format!("{}/portals/{}/packages", self.base, portal), &[]),
            )
            .await?;
        // The v1.1 filter's name is not documented: keep only this portal's, whatever
        // the server did with it.
        Ok(found
            .into_iter()
            .filter(|p| p.portal_id.as_deref().is_none_or(|id| id == portal))
            .collect())
    }

    /// A listing through its v1.1 route (path and filters), or through its legacy one
    /// (URL and filters) where v1.1 answered 404.
    async fn v11_or_legacy(
        &self,
        api_key: &Secret,
        (v11_path, v11_filters): (&str, &[(&str, &str)]),
        (legacy_url, legacy_filters): (&str, &[(&str, &str)]),
    ) -> Result<Vec<TeamPackage>, MasvError> {
        if let Some(found) = self.v11_paged(api_key, v11_path, v11_filters).await? {
            return Ok(found);
        }
        let legacy = self.paged(api_key, legacy_url, legacy_filters).await?;
        self.legacy_answered();
        Ok(legacy)
    }

    /// The legacy route answered where v1.1 said 404: this MASV has no v1.1 routes, so
    /// the legacy ones serve from now on.
    fn legacy_answered(&self) {
        if !self.team_v11_missing.swap(true, Relaxed) {
            tracing::info!("MASV has no v1.1 team routes here; using the legacy ones");
        }
    }

    /// Every page of a v1.1 listing (`page` from 1, at most 50 each), or `None` when
    /// it answered 404 (or is known to be missing): the caller asks the legacy route.
    async fn v11_paged<T: serde::de::DeserializeOwned + HasId>(
        &self,
        api_key: &Secret,
        path: &str,
        filters: &[(&str, &str)],
    ) -> Result<Option<Vec<T>>, MasvError> {
        if self.team_v11_missing.load(Relaxed) {
            return Ok(None);
        }
        // `MASV_API_URL` names the v1 API; v1.1 sits beside it.
        let Some(root) = self.base.strip_suffix("/v1") else {
            return Ok(None);
        };
        let url = format!("{root}/v1.1/{path}");
        let mut all: Vec<T> = Vec::new();
        for page in 1..=MAX_PAGES {
            let (page_no, limit) = (page.to_string(), V11_PAGE.to_string());
            let resp = self
                .http
                .get(&url)
                .header("X-API-KEY", api_key.expose())
                .query(filters)
                .query(&[("page", page_no.as_str()), ("limit", limit.as_str())])
                .send()
                .await
                .map_err(MasvError::from_reqwest)?;
            // No such route, or no such team or portal: the legacy route tells which
            // (see `legacy_answered`).
            if page == 1 && resp.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let got: V11Page<T> = decode(resp, Route::Team).await?;
            let short = got.records.len() < V11_PAGE;
            // A server that ignores `page` would answer the first page forever.
            if page > 1 && got.records.first().map(HasId::id) == all.first().map(HasId::id) {
                break;
            }
            all.extend(got.records);
            if short || got.metadata.total.is_some_and(|t| all.len() >= t) {
                break;
            }
        }
        Ok(Some(all))
    }

    async fn paged<T: serde::de::DeserializeOwned + HasId>(
        &self,
        api_key: &Secret,
        url: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<T>, MasvError> {
        let mut all: Vec<T> = Vec::new();
        for page in 0..MAX_PAGES {
            let offset = (page * PAGE).to_string();
            let limit = PAGE.to_string();
            let resp = self
                .http
                .get(url)
                .header("X-API-KEY", api_key.expose())
                .query(filters)
                .query(&[("limit", limit.as_str()), ("offset", offset.as_str())])
                .send()
                .await
                .map_err(MasvError::from_reqwest)?;
            let items: Vec<T> = decode(resp, Route::Team).await?;
            let short = items.len() < PAGE;
            // A server that ignores `offset` would answer the first page forever.
            if page > 0 && items.first().map(HasId::id) == all.first().map(HasId::id) {
                break;
            }
            all.extend(items);
            if short {
                break;
            }
        }
        Ok(all)
    }
}

trait HasId {
    fn id(&self) -> &str;
}

impl HasId for TeamPackage {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Portal {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Team and portal ids go into the URL path: they must be plain ids.
fn path_part(id: &str) -> Result<&str, MasvError> {
    let id = id.trim();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(MasvError::InvalidId(id.chars().take(64).collect()));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_change_the_path_are_refused() {
        assert!(path_part("01HX-team_9").is_ok());
        for bad in ["", "../x", "a/b", "a?b=c", "a b"] {
            assert!(
                matches!(path_part(bad), Err(MasvError::InvalidId(_))),
                "{bad}"
            );
        }
    }
}
