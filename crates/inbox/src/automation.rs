//! Automations (the MASV Agent's name): "download what arrives in this portal" or "in
//! every portal of the team", into a folder laid out by options or a template. They run
//! on the same watcher, ledger and once-only rule as the desktop's watched portals.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use inbound_engine::{Destination, NameRules, safe_folder_name};
use inbound_masv::TeamPackage;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum AutomationKind {
    /// One portal's packages.
    PortalDownload,
    /// Every portal of the team.
    AllPortalsDownload,
}

/// One automation, as kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Automation {
    pub id: String,
    pub name: String,
    pub kind: AutomationKind,
    /// The portal (a portal download): its subdomain or its id.
    pub portal: Option<String>,
    #[ts(type = "string")]
    pub destination: PathBuf,
    /// Each package in a folder of its own, named after it.
    pub create_package_folder: bool,
    /// A folder per portal, named after it, between the destination and the packages.
    pub create_portal_subfolder: bool,
    /// Folders below the destination, from `{portal}`, `{date}` (the package's, as
    /// YYYY-MM-DD), `{package}`, `{sender}` and `{package_id}`; in place of the two
    /// options above. A last part of exactly `{package}` is a package folder of its
    /// own (two packages of one name never share one).
    pub folder_template: Option<String>,
    /// Packages sent from then on (Unix seconds); a past moment fetches what came
    /// since. `None`: every package the portal lists.
    #[ts(type = "number | null")]
    pub effective_time: Option<i64>,
    /// Given to every download it starts (higher goes first).
    #[ts(type = "number")]
    pub priority: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutomationError {
    #[error("a portal download names its portal (its subdomain or id)")]
    NoPortal,
    #[error("the destination must be an absolute folder, but got {0:?}")]
    RelativeDestination(PathBuf),
    #[error(
        "the folder template has '{{{0}}}', which is not a name it knows; use {{portal}}, {{date}}, {{package}}, {{sender}} or {{package_id}}"
    )]
    UnknownPlaceholder(String),
    #[error("the folder template '{0}' has an unclosed '{{'")]
    Unclosed(String),
    #[error("the folder template may not climb out of the destination ('..' or an absolute path)")]
    TemplateEscapes,
    #[error("no automation with id {0}")]
    Unknown(String),
}

const PLACEHOLDERS: [&str; 5] = ["portal", "date", "package", "sender", "package_id"];

impl Automation {
    pub fn validate(&self) -> Result<(), AutomationError> {
        if self.kind == AutomationKind::PortalDownload
            && self.portal.as_deref().is_none_or(|p| p.trim().is_empty())
        {
            return Err(AutomationError::NoPortal);
        }
        if !self.destination.is_absolute() {
            return Err(AutomationError::RelativeDestination(
                self.destination.clone(),
            ));
        }
        if let Some(t) = &self.folder_template {
            check_template(t)?;
        }
        Ok(())
    }

    /// Whether this automation covers that portal (by subdomain or id).
    pub fn covers(&self, portal_id: &str, subdomain: &str) -> bool {
        match self.kind {
            AutomationKind::AllPortalsDownload => true,
            AutomationKind::PortalDownload => self.portal.as_deref().is_some_and(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case(subdomain) || p == portal_id
            }),
        }
    }

    /// Where a package of `portal_name` goes.
    pub fn destination_for(&self, portal_name: &str, p: &TeamPackage) -> Destination {
        let rules = NameRules::native();
        let part = |s: &str| safe_folder_name(s, rules);
        match &self.folder_template {
            Some(t) => {
                let parts: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
                let (last, above) = parts
                    .split_last()
                    .map_or((None, &[][..]), |(l, a)| (Some(*l), a));
                let mut folder = self.destination.clone();
                for piece in above {
                    folder.push(part(&render(piece, portal_name, p)));
                }
                match last {
                    // The package's own folder: the engine names it, uniquely.
                    Some("{package}") => Destination::package_folder_in(folder),
                    Some(piece) => {
                        Destination::straight(folder.join(part(&render(piece, portal_name, p))))
                    }
                    None => Destination::straight(folder),
                }
            }
            None => {
                let mut folder = self.destination.clone();
                if self.create_portal_subfolder {
                    folder.push(part(portal_name));
                }
                if self.create_package_folder {
                    Destination::package_folder_in(folder)
                } else {
                    Destination::straight(folder)
                }
            }
        }
    }
}

fn check_template(t: &str) -> Result<(), AutomationError> {
    // Only plain names may follow the destination: a root (`/x`, and on Windows `\x`),
    // a drive (`C:x`), a share or a `..` would put the folder elsewhere when joined.
    let escapes = Path::new(t)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || t.split('/').any(|s| s.trim() == "..") {
        return Err(AutomationError::TemplateEscapes);
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| AutomationError::Unclosed(t.to_owned()))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(AutomationError::UnknownPlaceholder(name.to_owned()));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// One part of the template with the package's values in place, in one pass (a
/// package named `{sender}` stays so named).
fn render(piece: &str, portal_name: &str, p: &TeamPackage) -> String {
    let date = p
        .created_at
        .map(|t: DateTime<Utc>| t.with_timezone(&Local).format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "undated".into());
    let mut out = String::new();
    let mut rest = piece;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = &rest[open..];
            break;
        };
        out.push_str(match &after[..close] {
            "portal" => portal_name,
            "date" => &date,
            "package" => &p.name,
            "sender" => &p.sender,
            "package_id" => &p.id,
            other => other,
        });
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A new automation's id: short, random, safe in a URL.
pub(crate) fn new_id() -> String {
    format!("auto-{:012x}", rand::random::<u64>() >> 16)
}

#[cfg(test)]
mod tests;
