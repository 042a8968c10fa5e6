//! The team login: the team id, and the API key in the OS keyring (Secret Service on
//! Linux, the Credential Manager on Windows, the Keychain on macOS), or in a file only
//! the user can read when there is no keyring (a server).

use std::path::{Path, PathBuf};

use inbound_engine::Secret;
use serde::{Deserialize, Serialize};

use crate::InboxError;

const FILE: &str = "team.json";
const KEYRING_SERVICE: &str = "app.inbound.desktop";
/// Set to skip the keyring (tests, or a person who prefers the file).
pub const NO_KEYRING_ENV: &str = "INBOUND_NO_KEYRING";

#[derive(Debug, Clone)]
pub struct Credentials {
    pub team_id: String,
    pub api_key: Secret,
}

/// Where the API key was put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    Keyring,
    File(PathBuf),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    team_id: String,
    /// Only when the keyring could not take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

/// Reads and writes the login in the data folder (and the keyring).
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
    keyring: bool,
}

impl CredentialStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.to_owned(),
            keyring: std::env::var_os(NO_KEYRING_ENV).is_none(),
        }
    }

    /// Never touches the keyring.
    pub fn file_only(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.to_owned(),
            keyring: false,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Saves the login; the key goes to the keyring when there is one.
    pub async fn save(&self, creds: &Credentials) -> Result<KeyLocation, InboxError> {
        let in_keyring = self.keyring && {
            let (team, key) = (creds.team_id.clone(), creds.api_key.clone());
            tokio::task::spawn_blocking(move || keyring_set(&team, &key))
                .await
                .unwrap_or(false)
        };
        let stored = Stored {
            team_id: creds.team_id.clone(),
            api_key: (!in_keyring).then(|| creds.api_key.expose().to_owned()),
        };
        self.write(&stored)?;
        Ok(if in_keyring {
            KeyLocation::Keyring
        } else {
            KeyLocation::File(self.path())
        })
    }

    /// The saved login, if any.
    pub async fn load(&self) -> Result<Option<Credentials>, InboxError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(InboxError::File { path, source }),
        };
        let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| InboxError::File {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let api_key = match stored.api_key {
            Some(k) => Some(k),
            None if self.keyring => {
                let team = stored.team_id.clone();
                tokio::task::spawn_blocking(move || keyring_get(&team))
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        Ok(api_key.map(|k| Credentials {
            team_id: stored.team_id,
            api_key: Secret::new(k),
        }))
    }

    /// The saved login's team and where its key is, without reading the key (for
    /// `inbound doctor`); `None` when there is no login or it cannot be read.
    pub fn saved_team(&self) -> Option<(String, KeyLocation)> {
        let stored: Stored = serde_json::from_slice(&std::fs::read(self.path()).ok()?).ok()?;
        let location = if stored.api_key.is_some() {
            KeyLocation::File(self.path())
        } else {
            KeyLocation::Keyring
        };
        Some((stored.team_id, location))
    }

    /// Forgets the login (file and keyring).
    pub async fn forget(&self) -> Result<(), InboxError> {
        if let Some(Stored { team_id, .. }) = std::fs::read(self.path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            && self.keyring
        {
            let _ = tokio::task::spawn_blocking(move || {
                keyring::Entry::new(KEYRING_SERVICE, &team_id).and_then(|e| e.delete_credential())
            })
            .await;
        }
        match std::fs::remove_file(self.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(InboxError::File {
                path: self.path(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn write(&self, stored: &Stored) -> Result<(), InboxError> {
        let path = self.path();
        let err = |source| InboxError::File {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let json = serde_json::to_vec_pretty(stored).map_err(|e| err(std::io::Error::other(e)))?;
        inbound_engine::write_private(&path, &json).map_err(err)
    }
}

/// Whether the OS keyring can be used, as `inbound doctor` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringStatus {
    Usable,
    /// Turned off with `INBOUND_NO_KEYRING`.
    TurnedOff,
    /// Not usable here; why.
    Unusable(String),
}

/// Asks the keyring for an entry that does not exist: "no entry" means it answers.
/// Blocks (D-Bus): call it off an async runtime's threads.
pub fn keyring_status() -> KeyringStatus {
    if std::env::var_os(NO_KEYRING_ENV).is_some() {
        return KeyringStatus::TurnedOff;
    }
    match keyring::Entry::new(KEYRING_SERVICE, "inbound-doctor-probe")
        .and_then(|e| e.get_password())
    {
        Ok(_) | Err(keyring::Error::NoEntry) => KeyringStatus::Usable,
        Err(e) => KeyringStatus::Unusable(e.to_string()),
    }
}

fn keyring_set(team_id: &str, key: &Secret) -> bool {
    let stored = keyring::Entry::new(KEYRING_SERVICE, team_id)
        .and_then(|e| e.set_password(key.expose()))
        // Read back through a new entry, as the next command will: a keyring that
        // only keeps it in this process (the keyring crate's stand-in where no native
        // store is built in) must not pass for one.
        .and_then(|()| keyring::Entry::new(KEYRING_SERVICE, team_id)?.get_password());
    match stored {
        Ok(read) if read == key.expose() => true,
        Ok(_) => {
            tracing::warn!(
                "the keyring gave back another key; keeping the API key in a user-only file"
            );
            false
        }
        Err(e) => {
            // No Secret Service (a server, a container): the file takes the key.
            tracing::info!(error = %e, "no usable keyring; keeping the API key in a user-only file");
            false
        }
    }
}

fn keyring_get(team_id: &str) -> Option<String> {
    keyring::Entry::new(KEYRING_SERVICE, team_id)
        .and_then(|e| e.get_password())
        .map_err(|e| tracing::warn!(error = %e, "cannot read the API key from the keyring"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_login_round_trips_user_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(dir.path());
        assert!(store.load().await.unwrap().is_none());
        let creds = Credentials {
            team_id: "T1".into(),
            api_key: Secret::new("key-123"),
        };
        let at = store.save(&creds).await.unwrap();
        assert_eq!(at, KeyLocation::File(dir.path().join(FILE)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = store.load().await.unwrap().unwrap();
        assert_eq!(back.team_id, "T1");
        assert_eq!(back.api_key.expose(), "key-123");
        store.forget().await.unwrap();
        assert!(store.load().await.unwrap().is_none());
    }
}
