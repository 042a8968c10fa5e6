//! Where a download's package comes from and what grants access to it.

use inbound_masv::{LinkRef, Secret};

use crate::model::Origin;

#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A download link: the link (with its secret) gives a fresh package token.
    Link {
        link: LinkRef,
        password: Option<Secret>,
    },
    /// A team or portal package, opened with the access token its listing gave.
    Team { token: Secret, origin: Origin },
}

impl Source {
    pub fn origin(&self) -> Origin {
        match self {
            Self::Link { .. } => Origin::Link,
            Self::Team { origin, .. } => origin.clone(),
        }
    }

    /// The link without its secret, for listings; empty for team packages.
    pub fn redacted_link(&self) -> String {
        match self {
            Self::Link { link, .. } => link.redacted(),
            Self::Team { .. } => String::new(),
        }
    }

    /// The link id whose API route applies (demo packages are served elsewhere).
    pub fn route_key(&self) -> &str {
        match self {
            Self::Link { link, .. } => &link.id,
            Self::Team { .. } => "",
        }
    }
}

/// A package from a team or portal listing, ready to download without a link.
#[derive(Debug, Clone)]
pub struct TeamDownload {
    pub package_id: String,
    /// The listing's `access_token`, used as the package token.
    pub access_token: Secret,
    pub name: String,
    pub sender_email: String,
    pub origin: Origin,
    /// When MASV deletes the package (Unix seconds), as the listing says.
    pub expires_at: Option<i64>,
}
