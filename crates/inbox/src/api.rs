//! The team routes with the manners a shared API deserves: rate limits are waited
//! out (`Retry-After`), transient failures retried with growing pauses.

use std::time::Duration;

use inbound_engine::{Origin, Secret, TeamDownload};
use inbound_masv::{MasvClient, MasvError, PackageState, Portal, TeamFilter, TeamPackage};

use crate::InboxError;

/// Tries per call before a transient failure is returned.
const ATTEMPTS: u32 = 6;

#[derive(Clone, Debug)]
pub struct TeamApi {
    client: MasvClient,
    api_key: Secret,
    team_id: String,
    first_delay: Duration,
}

impl TeamApi {
    pub fn new(client: MasvClient, api_key: Secret, team_id: impl Into<String>) -> Self {
        Self {
            client,
            api_key,
            team_id: team_id.into(),
            first_delay: Duration::from_secs(1),
        }
    }

    /// The pause before the first retry when the server names none (tests shorten it).
    pub fn with_first_delay(mut self, d: Duration) -> Self {
        self.first_delay = d;
        self
    }

    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    pub async fn packages(&self, states: &[PackageState]) -> Result<Vec<TeamPackage>, MasvError> {
        self.packages_where(&TeamFilter::states(states)).await
    }

    /// The team's packages that `filter` asks for (states, teamspaces, tags, expiry).
    pub async fn packages_where(&self, filter: &TeamFilter) -> Result<Vec<TeamPackage>, MasvError> {
        self.politely(|| {
            self.client
                .team_packages(&self.api_key, &self.team_id, filter)
        })
        .await
    }

    pub async fn portals(&self) -> Result<Vec<Portal>, MasvError> {
        self.politely(|| self.client.portals(&self.api_key, &self.team_id))
            .await
    }

    pub async fn portal_packages(&self, portal_id: &str) -> Result<Vec<TeamPackage>, MasvError> {
        self.politely(|| {
            self.client
                .portal_packages(&self.api_key, &self.team_id, portal_id)
        })
        .await
    }

    /// A package of the team (any state) by id.
    pub async fn package(&self, id: &str) -> Result<TeamPackage, InboxError> {
        self.packages(&[])
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| InboxError::UnknownPackage(id.to_owned()))
    }

    /// Keeps package `id` on MASV `days` longer than it would be now (from now, if its
    /// expiry is unknown); returns the new expiry. Extra storage may be charged to the
    /// team.
    pub async fn extend_expiry(
        &self,
        id: &str,
        days: u16,
    ) -> Result<chrono::DateTime<chrono::Utc>, InboxError> {
        let p = self.package(id).await?;
        let token = finalized_token(&p)?;
        let now = chrono::Utc::now();
        let until =
            p.expiry.filter(|e| *e > now).unwrap_or(now) + chrono::Duration::days(days.into());
        self.politely(|| self.client.set_package_expiry(&p.id, &token, until))
            .await?;
        Ok(until)
    }

    async fn politely<T, F, Fut>(&self, op: F) -> Result<T, MasvError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, MasvError>>,
    {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match op().await {
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    let wait = match &e {
                        MasvError::RateLimited {
                            retry_after: Some(after),
                        } => *after,
                        _ => delay,
                    };
                    tracing::info!(error = %e, ?wait, attempt, "team listing failed, waiting before the next try");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// A listed package's token, which serves as its package token: only a finalized
/// package's, and only where MASV listed one.
fn finalized_token(p: &TeamPackage) -> Result<Secret, InboxError> {
    if p.state != PackageState::Finalized {
        return Err(InboxError::NotFinalized {
            id: p.id.clone(),
            state: p.state.to_string(),
        });
    }
    p.access_token
        .clone()
        .ok_or_else(|| InboxError::NoAccessToken(p.id.clone()))
}

/// What the engine needs to download a listed package: finalized, with a token.
pub fn to_download(p: &TeamPackage, origin: Origin) -> Result<TeamDownload, InboxError> {
    Ok(TeamDownload {
        package_id: p.id.clone(),
        access_token: finalized_token(p)?,
        name: p.name.clone(),
        sender_email: p.sender.clone(),
        origin,
        expires_at: p.expiry.map(|e| e.timestamp()),
    })
}
