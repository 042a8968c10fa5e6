//! The MASV Agent's provisioning file (developer.massive.io "transfer-agent/provisioning"),
//! read by `inbound agent --config FILE`, so a facility moves its Agent's set-up over
//! unchanged: `auth.api_key`, `settings.download_rate_limit` with its weekday schedule,
//! `settings.fifo_mode`, `portal_download_automations` and
//! `all_portals_download_automations`. What only concerns sending (upload limits and
//! automations) and what Inbound decides itself (disk write modes) is read, not used,
//! and said so.
//!
//! The file is applied at every start and may be applied again: an automation is matched
//! to the one of the same kind and name it made before, and changed, never doubled.

use std::path::{Path, PathBuf};

use inbound_engine::{Engine, Secret};
use inbound_inbox::Watcher;
use serde::Deserialize;

use crate::automations::{AutomationBody, KindName};
use crate::fifo::{ALL_AT_ONCE, FifoModeBody};
use crate::masv_automations::{AllPortalsDownloadBody, PortalDownloadBody};
use crate::rate_limit::RateLimitBody;

/// The file as written. Unknown keys are refused, so a misspelt one does not pass
/// silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub portal_download_automations: Vec<PortalAutomation>,
    #[serde(default)]
    pub all_portals_download_automations: Vec<AllPortalsAutomation>,
    /// Sending: read and not used.
    #[serde(default)]
    portal_upload_automations: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    team_upload_automations: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The team's API key: automations and the team inbox use it.
    pub api_key: Option<Secret>,
    /// Inbound's addition: the team the key belongs to, when no all-portals automation
    /// and no saved login names it.
    pub team_id: Option<String>,
    /// The MASV Agent's user login: Inbound logs in with an API key only.
    email: Option<String>,
    password: Option<Secret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub download_rate_limit: Option<RateLimitBody>,
    pub fifo_mode: Option<FifoModeBody>,
    /// Sending, and the Agent's disk tuning: read and not used.
    upload_rate_limit: Option<serde_yaml_ng::Value>,
    disk_write_mode: Option<serde_yaml_ng::Value>,
}

fn yes() -> bool {
    true
}

/// One entry of `portal_download_automations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalAutomation {
    pub name: String,
    pub portal_subdomain: String,
    pub destination_folder: String,
    #[serde(default = "yes")]
    pub create_package_folder: bool,
    pub effective_time: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub priority: i64,
}

/// One entry of `all_portals_download_automations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllPortalsAutomation {
    pub name: String,
    pub team_id: String,
    pub destination_folder: String,
    #[serde(default = "yes")]
    pub create_package_folder: bool,
    #[serde(default = "yes")]
    pub create_portal_subfolder: bool,
    pub effective_time: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub priority: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("cannot read the provisioning file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The YAML's own message names the line and column.
    #[error("the provisioning file {path} is not what MASV documents: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("the provisioning file {path}, line {line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "the provisioning file {0} logs in with email and password; Inbound logs in to a team with an API key: put it under auth as api_key (and team_id)"
    )]
    UserLogin(PathBuf),
    #[error(
        "the provisioning file {0} has automations but Inbound has no team to run them for: add auth.api_key and auth.team_id, or run `inbound team login --team-id <TEAM_ID>` once"
    )]
    NoTeam(PathBuf),
}

/// A file read: its settings, and where it came from (for messages that name lines).
#[derive(Debug)]
pub struct ProvisioningFile {
    pub path: PathBuf,
    text: String,
    pub contents: Provisioning,
    /// Other accounts of the machine may read it (Unix permissions).
    open_to_others: bool,
}

impl ProvisioningFile {
    pub fn read(path: &Path) -> Result<Self, ProvisioningError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProvisioningError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file = Self::parse(path, text)?;
        file.open_to_others = readable_by_others(path);
        Ok(file)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, ProvisioningError> {
        let contents: Provisioning = if text.trim().is_empty() {
            Provisioning::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| ProvisioningError::Syntax {
                path: path.to_owned(),
                message: e.to_string(),
            })?
        };
        let file = Self {
            path: path.to_owned(),
            text,
            contents,
            open_to_others: false,
        };
        file.check()?;
        Ok(file)
    }

    /// What can be checked before anything is applied: nothing is half applied when
    /// the file is wrong.
    fn check(&self) -> Result<(), ProvisioningError> {
        let c = &self.contents;
        if c.auth.api_key.is_none() && (c.auth.email.is_some() || c.auth.password.is_some()) {
            return Err(ProvisioningError::UserLogin(self.path.clone()));
        }
        if let Some(limit) = &c.settings.download_rate_limit
            && let Err(e) = limit.rules()
        {
            // A bad time is on its day's line, below the setting's.
            let day = match &e {
                crate::rate_limit::RateLimitError::BadTime { day, .. } => Some(*day),
                _ => None,
            };
            let line = self.line_of("download_rate_limit:", 0);
            let line = day.map_or(line, |d| self.line_of(&format!("{d}:"), line));
            return Err(ProvisioningError::Invalid {
                path: self.path.clone(),
                line,
                message: e.to_string(),
            });
        }
        if c.settings
            .fifo_mode
            .as_ref()
            .is_some_and(|f| f.at_once().is_none())
        {
            return Err(self.invalid(
                "active_download_count",
                format!("active_download_count must be 1 to {ALL_AT_ONCE}"),
            ));
        }
        Ok(())
    }

    /// Keys read and not used, each with why (logged at start).
    pub fn notes(&self) -> Vec<String> {
        let c = &self.contents;
        let mut notes = Vec::new();
        let mut note = |present: bool, key: &str, why: &str| {
            if present {
                notes.push(format!(
                    "{key} in {} is not used: {why}",
                    self.path.display()
                ));
            }
        };
        let sending = "Inbound only receives";
        note(
            c.portal_upload_automations.is_some(),
            "portal_upload_automations",
            sending,
        );
        note(
            c.team_upload_automations.is_some(),
            "team_upload_automations",
            sending,
        );
        note(
            c.settings.upload_rate_limit.is_some(),
            "settings.upload_rate_limit",
            sending,
        );
        note(
            c.settings.disk_write_mode.is_some(),
            "settings.disk_write_mode",
            "each file has one writer that batches its syncs",
        );
        note(
            c.auth.email.is_some() || c.auth.password.is_some(),
            "auth.email and auth.password",
            "Inbound logs in with auth.api_key",
        );
        if self.open_to_others && c.auth.api_key.is_some() {
            notes.push(format!(
                "{} holds an API key and other accounts may read it: chmod 600 it",
                self.path.display()
            ));
        }
        notes
    }

    /// The team the file names: `auth.team_id`, else an all-portals automation's.
    pub fn team_id(&self) -> Option<&str> {
        let c = &self.contents;
        c.auth.team_id.as_deref().or_else(|| {
            c.all_portals_download_automations
                .first()
                .map(|a| a.team_id.as_str())
        })
    }

    pub fn has_automations(&self) -> bool {
        !self.contents.portal_download_automations.is_empty()
            || !self.contents.all_portals_download_automations.is_empty()
    }

    /// Puts the settings in force (saved with the downloads, as through the API).
    /// `keep_fifo` is false when the command line set the count itself.
    pub fn apply_settings(
        &self,
        engine: &Engine,
        keep_fifo: bool,
    ) -> Result<(), ProvisioningError> {
        let settings = &self.contents.settings;
        if let Some(limit) = &settings.download_rate_limit {
            let schedule = limit
                .applied_to(&engine.bandwidth_schedule())
                .map_err(|e| self.invalid("download_rate_limit", e.to_string()))?;
            engine
                .set_bandwidth_schedule(schedule)
                .map_err(|e| self.invalid("download_rate_limit", e.to_string()))?;
        }
        // Checked when read (see `check`).
        if let Some(n) = settings
            .fifo_mode
            .as_ref()
            .filter(|_| keep_fifo)
            .and_then(FifoModeBody::at_once)
        {
            engine
                .keep_max_active_downloads(n as usize)
                .map_err(|e| self.invalid("fifo_mode", e.to_string()))?;
        }
        Ok(())
    }

    /// Creates the file's automations, or changes the ones of the same kind and name
    /// it made before. One without `effective_time` that exists already keeps its own,
    /// so a restart does not skip what arrived while the agent was stopped.
    pub fn apply_automations(&self, watcher: &Watcher) -> Result<(), ProvisioningError> {
        // The file's spellings (`destination_folder`, `priority`) as the MASV Agent's
        // routes take them, then as Inbound's.
        let c = &self.contents;
        let portal = c.portal_download_automations.iter().map(|a| {
            AutomationBody::from(PortalDownloadBody {
                name: a.name.clone(),
                portal_subdomain: a.portal_subdomain.clone(),
                dst_folder: a.destination_folder.clone(),
                create_package_folder: a.create_package_folder,
                effective_time: a.effective_time.clone(),
                enabled: a.enabled,
                download_priority: a.priority,
            })
        });
        let all = c.all_portals_download_automations.iter().map(|a| {
            AutomationBody::from(AllPortalsDownloadBody {
                name: a.name.clone(),
                team_id: a.team_id.clone(),
                dst_folder: a.destination_folder.clone(),
                create_package_folder: a.create_package_folder,
                create_portal_subfolder: a.create_portal_subfolder,
                effective_time: a.effective_time.clone(),
                enabled: a.enabled,
                download_priority: a.priority,
            })
        });
        let existing = watcher
            .automations()
            .map_err(|e| self.invalid("automations", e.to_string()))?;
        for body in portal.chain(all) {
            let name = body.name.clone();
            let problem =
                |e: crate::ApiError| self.invalid_at(&format!("name: {name}"), e.body.message);
            let kind = body.kind;
            let had_time = body.effective_time.is_some();
            let before = existing
                .iter()
                .find(|a| KindName::of(a.kind) == kind && a.name == name);
            let mut automation = body
                .into_automation(before.map(|a| a.id.clone()).unwrap_or_default(), watcher)
                .map_err(problem)?;
            match before {
                Some(old) => {
                    if !had_time {
                        automation.effective_time = old.effective_time;
                    }
                    watcher
                        .update_automation(&automation)
                        .map_err(|e| problem(e.into()))?;
                }
                None => {
                    watcher
                        .create_automation(automation)
                        .map_err(|e| problem(e.into()))?;
                }
            }
        }
        Ok(())
    }

    fn invalid(&self, key: &str, message: String) -> ProvisioningError {
        self.invalid_at(&format!("{key}:"), message)
    }

    /// An error at the first line that holds `needle` (the key the message is about).
    fn invalid_at(&self, needle: &str, message: String) -> ProvisioningError {
        ProvisioningError::Invalid {
            path: self.path.clone(),
            line: self.line_of(needle, 0),
            message,
        }
    }

    /// The number of the first line after line `after` that holds `needle` (else
    /// `after`, or 1).
    fn line_of(&self, needle: &str, after: usize) -> usize {
        self.text
            .lines()
            .enumerate()
            .skip(after)
            .find(|(_, l)| l.contains(needle))
            .map_or(after.max(1), |(i, _)| i + 1)
    }
}

/// Whether other accounts of the machine may read the file (its Unix permissions).
#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

/// On Windows a file in the profile is the user's (its ACL inherits the profile's);
/// not checked.
#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

/// Where the file is looked for when `--config` is not given:
/// `$XDG_CONFIG_HOME/inbound/agent.yaml` (the platform's configuration folder
/// elsewhere).
pub fn default_path(config_dir: &Path) -> PathBuf {
    config_dir.join("inbound").join("agent.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProvisioningFile, ProvisioningError> {
        ProvisioningFile::parse(Path::new("agent.yaml"), text.to_owned())
    }

    const MASV_EXAMPLE: &str = r#"
auth:
   api_key: your-api-key

settings:
  upload_rate_limit:
    enabled: true
    rate_limit_bps: 10000000
  download_rate_limit:
    enabled: true
    rate_limit_bps: 20000000
    schedule_enabled: true
    schedule:
      mon:
        enabled: true
        start: "09:00"
        end: "17:00"
  fifo_mode:
    enabled: true
    active_download_count: 1
    active_upload_count: 1
  disk_write_mode:
    calibration_mode: 0

portal_download_automations:
  - name: portal-download-auto
    portal_subdomain: YourPortalSubdomain
    destination_folder: /data/portal-downloads
    create_package_folder: true
    effective_time: 2021-07-30T00:00:00Z
    enabled: true
    priority: 0

all_portals_download_automations:
  - name: all-portals-download-auto
    team_id: YourTeamID
    destination_folder: /data/portal-inbox
    create_portal_subfolder: true
    effective_time: 2023-09-25T00:00:00Z
    enabled: true
    priority: 3

portal_upload_automations:
  - name: portal-upload-auto
    path: /data/watch
"#;

    #[test]
    fn masvs_documented_example_reads_with_its_sending_keys_noted() {
        let f = parse(MASV_EXAMPLE).unwrap();
        let c = &f.contents;
        assert_eq!(c.auth.api_key.as_ref().unwrap().expose(), "your-api-key");
        assert_eq!(
            c.settings
                .download_rate_limit
                .as_ref()
                .unwrap()
                .rate_limit_bps,
            20_000_000
        );
        assert_eq!(
            c.portal_download_automations[0].destination_folder,
            "/data/portal-downloads"
        );
        assert_eq!(f.team_id(), Some("YourTeamID"));
        let notes = f.notes().join("\n");
        for key in [
            "portal_upload_automations",
            "settings.upload_rate_limit",
            "settings.disk_write_mode",
        ] {
            assert!(notes.contains(key), "{notes}");
        }
        assert!(
            !format!("{c:?}").contains("your-api-key"),
            "the key reached Debug"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let misspelt = "settings:\n  download_rate_limit:\n    enabled: true\n    rate_limit_bps: 8000\n    schedule_enabled: true\n    schedule:\n      tue:\n        enabled: true\n        estart: \"09:00\"\n";
        let e = parse(misspelt).unwrap_err().to_string();
        assert!(e.contains("line 9") && e.contains("estart"), "{e}");

        let no_day = "settings:\n  download_rate_limit:\n    enabled: true\n    rate_limit_bps: 8000\n    schedule_enabled: true\n";
        let e = parse(no_day).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("no day"), "{e}");

        let bad_time = "settings:\n  download_rate_limit:\n    enabled: true\n    rate_limit_bps: 8000\n    schedule_enabled: true\n    schedule:\n      wed: {enabled: true, start: 9am, end: \"17:00\"}\n";
        let e = parse(bad_time).unwrap_err().to_string();
        assert!(e.contains("line 7") && e.contains("\"9am\""), "{e}");

        let unknown_top = "auth:\n  api_key: k\nportal_downlod_automations: []\n";
        let e = parse(unknown_top).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("portal_downlod_automations"),
            "{e}"
        );
        assert!(!e.contains(": k"), "{e}");
    }

    #[test]
    fn a_user_login_is_refused_with_what_to_write_instead() {
        let e = parse("auth:\n  email: a@example.com\n  password: topsecret\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("api_key") && !e.contains("topsecret"), "{e}");
    }

    #[test]
    fn an_empty_file_is_nothing_to_do() {
        let f = parse("\n# nothing yet\n").unwrap();
        assert!(!f.has_automations() && f.notes().is_empty());
    }
}
