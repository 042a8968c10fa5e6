//! What the watcher must remember across restarts: the watched portals, and every
//! package it has already handed to the engine (so each is downloaded once).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::automation::Automation;
use crate::{InboxError, PackageFailure, WatchedPortal};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS watched_portals (
    portal_id   TEXT PRIMARY KEY,
    portal_name TEXT NOT NULL,
    folder      TEXT NOT NULL,
    enabled     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS failed_packages (
    package_id  TEXT PRIMARY KEY,
    portal_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    retry_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS awaited_packages (
    package_id  TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS automations (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS handled_packages (
    package_id  TEXT PRIMARY KEY,
    portal_id   TEXT NOT NULL,
    download_id TEXT NOT NULL,
    handled_at  INTEGER NOT NULL
);
";

pub(crate) struct Ledger {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Ledger {
    pub fn open(data_dir: &Path) -> Result<Self, InboxError> {
        let path = data_dir.join("inbox.sqlite");
        let db = |source| InboxError::Database {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(|source| InboxError::File {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        add_since_column(&conn).map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, InboxError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|source| InboxError::Database {
            path: self.path.clone(),
            source,
        })
    }

    /// Runs one statement that returns no rows.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), InboxError> {
        self.with(|c| c.execute(sql, params).map(|_| ()))
    }

    pub fn portals(&self) -> Result<Vec<WatchedPortal>, InboxError> {
        self.with(|c| {
            c.prepare("SELECT portal_id, portal_name, folder, enabled, since FROM watched_portals ORDER BY portal_name")?
                .query_map([], |r| {
                    Ok(WatchedPortal {
                        portal_id: r.get(0)?,
                        portal_name: r.get(1)?,
                        folder: PathBuf::from(r.get::<_, String>(2)?),
                        enabled: r.get(3)?,
                        since: r.get(4)?,
                    })
                })?
                .collect()
        })
    }

    pub fn set_portal(&self, p: &WatchedPortal) -> Result<(), InboxError> {
        self.execute(
            "INSERT INTO watched_portals (portal_id, portal_name, folder, enabled, since)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(portal_id) DO UPDATE SET portal_name = ?2, folder = ?3, enabled = ?4, since = ?5",
            params![
                p.portal_id,
                p.portal_name,
                p.folder.to_string_lossy(),
                p.enabled,
                p.since
            ],
        )
    }

    pub fn remove_portal(&self, portal_id: &str) -> Result<(), InboxError> {
        self.execute(
            "DELETE FROM watched_portals WHERE portal_id = ?1",
            [portal_id],
        )
    }

    /// Every automation, in the order they were made.
    pub fn automations(&self) -> Result<Vec<Automation>, InboxError> {
        let bodies: Vec<String> = self.with(|c| {
            c.prepare("SELECT body FROM automations ORDER BY rowid")?
                .query_map([], |r| r.get(0))?
                .collect()
        })?;
        Ok(bodies
            .iter()
            .filter_map(|b| match serde_json::from_str(b) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable automation");
                    None
                }
            })
            .collect())
    }

    pub fn put_automation(&self, a: &Automation) -> Result<(), InboxError> {
        let body = serde_json::to_string(a).unwrap_or_default();
        self.execute(
            "INSERT INTO automations (id, body) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET body = ?2",
            params![a.id, body],
        )
    }

    /// False when there was none with that id.
    pub fn remove_automation(&self, id: &str) -> Result<bool, InboxError> {
        self.with(|c| c.execute("DELETE FROM automations WHERE id = ?1", [id]))
            .map(|n| n > 0)
    }

    /// A package that could not be handed to the engine, if it is waiting to be tried
    /// again.
    pub fn failure(&self, package_id: &str) -> Result<Option<PackageFailure>, InboxError> {
        self.with(|c| {
            c.query_row(
                "SELECT package_id, portal_id, name, reason, attempts, retry_at
                 FROM failed_packages WHERE package_id = ?1",
                [package_id],
                failure_row,
            )
            .optional()
        })
    }

    pub fn failures(&self) -> Result<Vec<PackageFailure>, InboxError> {
        self.with(|c| {
            c.prepare(
                "SELECT package_id, portal_id, name, reason, attempts, retry_at
                 FROM failed_packages ORDER BY retry_at",
            )?
            .query_map([], failure_row)?
            .collect()
        })
    }

    pub fn record_failure(&self, f: &PackageFailure) -> Result<(), InboxError> {
        self.execute(
            "INSERT INTO failed_packages (package_id, portal_id, name, reason, attempts, retry_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(package_id) DO UPDATE
             SET portal_id = ?2, name = ?3, reason = ?4, attempts = ?5, retry_at = ?6",
            params![
                f.package_id,
                f.portal_id,
                f.package_name,
                f.reason,
                f.attempts,
                f.retry_at
            ],
        )
    }

    pub fn clear_failure(&self, package_id: &str) -> Result<(), InboxError> {
        self.execute(
            "DELETE FROM failed_packages WHERE package_id = ?1",
            [package_id],
        )
    }

    /// A package seen still uploading in a watched portal: new to whoever watches it.
    pub fn await_package(&self, package_id: &str) -> Result<(), InboxError> {
        self.execute(
            "INSERT OR IGNORE INTO awaited_packages (package_id) VALUES (?1)",
            [package_id],
        )
    }

    pub fn awaited(&self, package_id: &str) -> Result<bool, InboxError> {
        self.with(|c| {
            c.prepare("SELECT 1 FROM awaited_packages WHERE package_id = ?1")?
                .exists([package_id])
        })
    }

    pub fn handled(&self, package_id: &str) -> Result<Option<String>, InboxError> {
        self.with(|c| {
            c.query_row(
                "SELECT download_id FROM handled_packages WHERE package_id = ?1",
                [package_id],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn mark_handled(
        &self,
        package_id: &str,
        portal_id: &str,
        download_id: &str,
    ) -> Result<(), InboxError> {
        let now = inbound_engine::unix_now();
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO handled_packages (package_id, portal_id, download_id, handled_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![package_id, portal_id, download_id, now],
            )?;
            // Handled is final: whether it was awaited no longer matters, and a portal
            // watched for years must not keep every upload it ever saw.
            c.execute(
                "DELETE FROM awaited_packages WHERE package_id = ?1",
                [package_id],
            )
            .map(|_| ())
        })
    }
}

fn failure_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageFailure> {
    Ok(PackageFailure {
        package_id: r.get(0)?,
        portal_id: r.get(1)?,
        package_name: r.get(2)?,
        reason: r.get(3)?,
        attempts: r.get(4)?,
        retry_at: r.get(5)?,
    })
}

/// Ledgers written before portals had a start date: `since` is added, empty (such a
/// portal was already downloading everything).
fn add_since_column(conn: &Connection) -> rusqlite::Result<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info('watched_portals') WHERE name = 'since'")?
        .exists([])?;
    if !has {
        conn.execute_batch("ALTER TABLE watched_portals ADD COLUMN since INTEGER")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_awaited_package_is_forgotten_once_handled() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        ledger.await_package("pkg-a").unwrap();
        ledger.await_package("pkg-b").unwrap();
        ledger.mark_handled("pkg-a", "portal", "d1").unwrap();
        assert!(!ledger.awaited("pkg-a").unwrap());
        assert!(
            ledger.awaited("pkg-b").unwrap(),
            "only the handled one goes"
        );
        assert_eq!(ledger.handled("pkg-a").unwrap().as_deref(), Some("d1"));
    }
}
