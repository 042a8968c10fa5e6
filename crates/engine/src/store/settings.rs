//! Engine settings kept with the downloads (the bandwidth schedule, the hooks, each
//! download's own speed limit), so every face over one data folder (desktop, agent,
//! CLI) sees the same ones.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::EngineError;
use crate::store::Store;

impl Store {
    /// Saves a setting as JSON with the downloads.
    pub(crate) fn save_setting<T: Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), EngineError> {
        let json = serde_json::to_string(value).unwrap_or_default();
        self.set_setting(key, &json)
            .map_err(EngineError::db(self.path()))
    }

    pub fn setting(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
    }

    /// A setting saved as JSON; `None` when it was never saved or cannot be read (the
    /// log says which), so its default applies.
    pub fn json_setting<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let json = self.setting(key).ok().flatten()?;
        match serde_json::from_str(&json) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(key, error = %e, "a saved setting is unreadable; its default applies");
                None
            }
        }
    }

    pub fn set_setting(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Every download's own speed limit (bytes per second), by download id.
    pub fn download_limits(&self) -> rusqlite::Result<Vec<(String, u64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT download_id, bytes_per_sec FROM download_limits")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect()
    }

    pub fn set_download_limit(&self, id: &str, limit: Option<u64>) -> rusqlite::Result<()> {
        let conn = self.conn();
        match limit {
            Some(b) => conn.execute(
                "INSERT INTO download_limits (download_id, bytes_per_sec) VALUES (?1, ?2)
                 ON CONFLICT (download_id) DO UPDATE SET bytes_per_sec = excluded.bytes_per_sec",
                params![id, b as i64],
            )?,
            None => conn.execute(
                "DELETE FROM download_limits WHERE download_id = ?1",
                params![id],
            )?,
        };
        Ok(())
    }

    /// Every download's file owner, by download id (`uid`/`gid` asked for when added).
    pub fn download_owners(&self) -> rusqlite::Result<Vec<(String, crate::model::Owner)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT download_id, uid, gid FROM download_owners")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                crate::model::Owner {
                    uid: r.get::<_, Option<i64>>(1)?.map(|v| v as u32),
                    gid: r.get::<_, Option<i64>>(2)?.map(|v| v as u32),
                },
            ))
        })?;
        rows.collect()
    }

    pub fn set_download_owner(&self, id: &str, owner: crate::model::Owner) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO download_owners (download_id, uid, gid) VALUES (?1, ?2, ?3)
             ON CONFLICT (download_id) DO UPDATE SET uid = excluded.uid, gid = excluded.gid",
            params![id, owner.uid.map(i64::from), owner.gid.map(i64::from)],
        )?;
        Ok(())
    }
}
