//! The team routes (API key in `X-API-KEY`): team packages, portals, portal packages.

use crate::client::{Route, decode};
use crate::{MasvClient, MasvError, PackageState, Portal, Secret, TeamPackage};

/// Packages per page; listings are fetched page by page until a short one.
const PAGE: usize = 100;
/// A listing stops here even if the server keeps answering full pages.
const MAX_PAGES: usize = 1_000;

impl MasvClient {
    /// `GET /teams/{team_id}/packages`, every page. With `states`, only packages in
    /// those states (MASV's legacy filters `new`, `finalized`, `expired`, `archived`).
    pub async fn team_packages(
        &self,
        api_key: &Secret,
        team_id: &str,
        states: &[PackageState],
    ) -> Result<Vec<TeamPackage>, MasvError> {
        let filters: Vec<(&str, &str)> = states
            .iter()
            .filter(|s| **s != PackageState::Unknown)
            .map(|s| (s.as_str(), "true"))
            .collect();
        self.paged(
            api_key,
            &format!("{}/teams/{}/packages", self.base, path_part(team_id)?),
            &filters,
        )
        .await
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

    /// `GET /portals/{portal_id}/packages`, every page.
    pub async fn portal_packages(
        &self,
        api_key: &Secret,
        portal_id: &str,
    ) -> Result<Vec<TeamPackage>, MasvError> {
        self.paged(
            api_key,
            &format!("{}/portals/{}/packages", self.base, path_part(portal_id)?),
            &[],
        )
        .await
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
