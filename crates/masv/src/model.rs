use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Secret;

/// `GET /links/{id}`: what a link points to, and the short-lived token for its package.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkInfo {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub package_id: String,
    #[serde(default)]
    pub package_size: u64,
    pub package_token: Secret,
    #[serde(default, deserialize_with = "lenient_time")]
    pub expiry: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sender_email: String,
    #[serde(default, deserialize_with = "string_or_list")]
    pub recipient_email: Vec<String>,
    #[serde(default)]
    pub branding: serde_json::Value,
}

impl LinkInfo {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    ZipWindows,
    ZipMac,
    #[serde(other)]
    Unknown,
}

/// One entry of `GET /packages/{id}/files`.
#[derive(Debug, Clone, Deserialize)]
pub struct PackageFile {
    pub id: String,
    #[serde(default = "default_kind")]
    pub kind: FileKind,
    pub name: String,
    /// Folder inside the package, when the sender uploaded a tree.
    #[serde(default)]
    pub path: Option<String>,
    /// `None` when the listing leaves it out (unknown, which is not empty).
    #[serde(default)]
    pub size: Option<u64>,
    /// `None` when MASV does not know it (it sends `0001-01-01T00:00:00Z`).
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_modified: Option<DateTime<Utc>>,
    #[serde(default)]
    pub virus_detected: bool,
}

impl PackageFile {
    /// The file's place inside the package as the sender named it: `path` joined with
    /// `name`. Untrusted: the engine sanitises it before touching the disk.
    pub fn package_path(&self) -> String {
        match self
            .path
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(dir) => format!("{}/{}", dir.trim_end_matches(['/', '\\']), self.name),
            None => self.name.clone(),
        }
    }
}

fn default_kind() -> FileKind {
    FileKind::File
}

/// `GET /packages/{id}/files/{file_id}/download`: a presigned storage URL.
#[derive(Debug, Clone, Deserialize)]
pub struct DownloadUrl {
    #[serde(default = "default_method")]
    pub method: String,
    /// Presigned, so it works as a credential until it expires.
    pub url: Secret,
}

fn default_method() -> String {
    "GET".into()
}

pub(crate) fn lenient_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        // MASV's "unknown" is year 1; anything before the epoch is not a real date.
        .filter(|t| t.timestamp() > 0))
}

pub(crate) fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Nothing(()) => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_entries_tolerate_missing_fields_and_unknown_dates() {
        let files: Vec<PackageFile> = serde_json::from_str(
            r#"[{"id":"1","kind":"file","name":"a.mov","size":5,
                 "last_modified":"0001-01-01T00:00:00Z","virus_detected":false,"path":"shoot/day1"},
                {"id":"2","kind":"zip_mac","name":"all.zip"},
                {"id":"3","kind":"something_new","name":"x","last_modified":"2024-05-01T10:00:00Z"}]"#,
        )
        .unwrap();
        assert_eq!(files[0].last_modified, None);
        assert_eq!(files[0].package_path(), "shoot/day1/a.mov");
        assert_eq!(files[1].kind, FileKind::ZipMac);
        assert_eq!(files[0].size, Some(5));
        assert_eq!(files[1].size, None, "a missing size is unknown, not 0");
        assert_eq!(files[2].kind, FileKind::Unknown);
        assert_eq!(
            files[2].last_modified.unwrap().to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
    }

    #[test]
    fn link_info_accepts_one_or_many_recipients() {
        let info: LinkInfo = serde_json::from_str(
            r#"{"id":"L","package_id":"P","package_token":"t","recipient_email":"a@b.c",
                "expiry":"2000-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(info.recipient_email, vec!["a@b.c"]);
        assert!(info.is_expired(Utc::now()));
        assert!(!format!("{info:?}").contains("\"t\""));
    }
}
