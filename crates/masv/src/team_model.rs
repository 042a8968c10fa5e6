//! What the team routes answer: packages sent to a team or its portals, and portals.
//! Every field but the id is optional on the wire, so a field MASV drops or adds does
//! not break a listing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Secret;
use crate::model::{lenient_time, string_or_list};

/// Where a package is in its life. Only `Finalized` packages are complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    /// Still being uploaded by the sender.
    New,
    Finalized,
    Expired,
    Archived,
    #[serde(other)]
    Unknown,
}

impl PackageState {
    /// The states the team listing can filter on, by their query parameter name.
    pub const FILTERABLE: [PackageState; 4] = [
        PackageState::New,
        PackageState::Finalized,
        PackageState::Expired,
        PackageState::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Finalized => "finalized",
            Self::Expired => "expired",
            Self::Archived => "archived",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a state name as a person types it (`finalized`, `New`...).
    pub fn parse(s: &str) -> Option<Self> {
        Self::FILTERABLE
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for PackageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A package as the team and portal listings show it.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamPackage {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "sender_email")]
    pub sender: String,
    #[serde(default, deserialize_with = "string_or_list")]
    pub recipients: Vec<String>,
    #[serde(default = "unknown_state")]
    pub state: PackageState,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub total_files: u64,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub expiry: Option<DateTime<Utc>>,
    /// Works as the package token, so a team member downloads without a link.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// The download links sent for this package.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<PackageLink>,
    #[serde(default)]
    pub tag: Option<Tag>,
    /// PubNub channels reporting the upload (topic `upload`) or zip progress.
    #[serde(default, deserialize_with = "channels")]
    pub progress_channels: Vec<ProgressChannel>,
    #[serde(default)]
    pub contains_virus: bool,
    #[serde(default)]
    pub teamspace_id: Option<String>,
    #[serde(default)]
    pub portal_id: Option<String>,
}

impl TeamPackage {
    /// The channel reporting this package's upload, while it is still being sent.
    pub fn upload_channel(&self) -> Option<&ProgressChannel> {
        self.progress_channels.iter().find(|c| c.topic == "upload")
    }
}

fn unknown_state() -> PackageState {
    PackageState::Unknown
}

/// One link of a package (only what a recipient list shows; never its secret).
#[derive(Debug, Clone, Deserialize)]
pub struct PackageLink {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub expiry: Option<DateTime<Utc>>,
    #[serde(default)]
    pub download_count: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub color: String,
}

/// A PubNub channel and what it reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProgressChannel {
    pub topic: String,
    pub channel: String,
    /// The PubNub subscribe key, when MASV sends it with the channel.
    #[serde(default)]
    pub subscribe_key: Option<String>,
}

/// A portal: a page where anyone can send packages to the team.
#[derive(Debug, Clone, Deserialize)]
pub struct Portal {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub subdomain: String,
    #[serde(default)]
    pub message: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub teamspace_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

fn yes() -> bool {
    true
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `sender` is an email, or an object with one.
fn sender_email<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(o) => o
            .get("email")
            .and_then(|e| e.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    })
}

/// `progress_channels` as a list of `{topic, channel}` or a map from topic to channel.
fn channels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProgressChannel>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(topic, c)| {
                c.as_str().map(|channel| ProgressChannel {
                    topic,
                    channel: channel.to_owned(),
                    subscribe_key: None,
                })
            })
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_package_parses() {
        let p: TeamPackage = serde_json::from_str(
            r##"{"id":"P1","name":"Rushes","description":"day 1","sender":"a@b.c",
                "recipients":["t@team.com"],"state":"new","size":1024,"total_files":3,
                "created_at":"2026-01-02T03:04:05Z","expiry":"2026-02-02T03:04:05Z",
                "access_token":"tkn-9f3","links":[{"id":"L1","email":"t@team.com"}],
                "tag":{"id":"T","name":"urgent","color":"#f00"},
                "progress_channels":[{"topic":"upload","channel":"c-up","subscribe_key":"sub"}],
                "contains_virus":true,"teamspace_id":"TS","portal_id":"PO"}"##,
        )
        .unwrap();
        assert_eq!(p.state, PackageState::New);
        assert_eq!(p.sender, "a@b.c");
        assert_eq!(p.links[0].id, "L1");
        assert_eq!(p.tag.as_ref().unwrap().name, "urgent");
        assert_eq!(p.upload_channel().unwrap().channel, "c-up");
        assert!(p.contains_virus);
        assert_eq!(p.teamspace_id.as_deref(), Some("TS"));
        assert!(
            !format!("{p:?}").contains("tkn-9f3"),
            "the access token leaks in Debug"
        );
    }

    #[test]
    fn a_sparse_package_parses() {
        let p: TeamPackage = serde_json::from_str(
            r#"{"id":"P2","state":"something_new","links":null,"sender":{"email":"x@y.z"},
                "progress_channels":{"upload":"c1","zip":"c2"}}"#,
        )
        .unwrap();
        assert_eq!(p.state, PackageState::Unknown);
        assert_eq!(p.sender, "x@y.z");
        assert!(p.links.is_empty() && p.access_token.is_none() && p.tag.is_none());
        assert_eq!(p.progress_channels.len(), 2);
        assert_eq!(p.upload_channel().unwrap().channel, "c1");
    }

    #[test]
    fn states_parse_as_typed() {
        assert_eq!(
            PackageState::parse("Finalized"),
            Some(PackageState::Finalized)
        );
        assert_eq!(
            PackageState::parse(" archived "),
            Some(PackageState::Archived)
        );
        assert_eq!(PackageState::parse("done"), None);
    }
}
