//! What a repair (a package downloaded again into its folder) keeps in the database:
//! the hash each file found in place must have, what was found, and the download it
//! takes the place of.

use std::collections::HashMap;
use std::path::PathBuf;

use inbound_mhl::{Digest, HashAlgorithm};
use rusqlite::{Connection, params};

use crate::model::{Found, RepairCheck};
use crate::store::{DownloadRow, FileRow, Store, insert_download_row, insert_files};

type Result<T> = rusqlite::Result<T>;

impl Store {
    /// Records `d` in the place of the download `replaced` in one step: either the new
    /// download is there and the earlier one gone, or nothing changed. The folders the
    /// earlier one created become the new one's (removing it with its files removes
    /// them, if empty).
    pub fn supersede(&self, replaced: &str, d: &DownloadRow, files: &[FileRow]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_download_row(&tx, d)?;
        insert_files(&tx, &d.id, files)?;
        take_place_of(&tx, replaced, &d.id)?;
        tx.commit()
    }

    /// What looking at a file found in place turned up.
    pub fn set_repair_found(&self, id: &str, idx: usize, found: &Found) -> Result<()> {
        self.conn().execute(
            "UPDATE repair_files SET found = ?3, kept_as = ?4 WHERE download_id = ?1 AND idx = ?2",
            params![
                id,
                idx as i64,
                found.as_str(),
                found.kept_as().map(|p| p.to_string_lossy().into_owned())
            ],
        )?;
        Ok(())
    }
}

/// The download `id` takes the place of `replaced`, in the caller's transaction.
pub(crate) fn take_place_of(
    tx: &rusqlite::Transaction<'_>,
    replaced: &str,
    id: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE created_dirs SET download_id = ?2 WHERE download_id = ?1",
        params![replaced, id],
    )?;
    tx.execute("DELETE FROM downloads WHERE id = ?1", [replaced])?;
    Ok(())
}

/// Records the checks of a new download's files, in the caller's transaction.
pub(crate) fn insert_repair_checks(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    files: &[FileRow],
) -> Result<()> {
    let mut stmt = tx.prepare(
        "INSERT INTO repair_files (download_id, idx, hash_algo, hash) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for f in files {
        if let Some(check) = &f.repair {
            stmt.execute(params![
                id,
                f.meta.idx as i64,
                check.expected.algorithm.name(),
                check.expected.value
            ])?;
        }
    }
    Ok(())
}

/// A download's checks, by file index.
pub(crate) fn load_repair_checks(
    conn: &Connection,
    id: &str,
) -> Result<HashMap<usize, RepairCheck>> {
    let mut stmt = conn.prepare(
        "SELECT idx, hash_algo, hash, found, kept_as FROM repair_files WHERE download_id = ?1",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)? as usize,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut checks = HashMap::new();
    for row in rows {
        let (idx, algo, value, found, kept_as) = row?;
        // A hash format this version does not know cannot be checked: the file is
        // then fetched as any other.
        let Some(algorithm) = HashAlgorithm::parse(&algo) else {
            continue;
        };
        let found = found.and_then(|f| Found::parse(&f, kept_as.map(PathBuf::from)));
        checks.insert(
            idx,
            RepairCheck {
                expected: Digest { algorithm, value },
                found,
            },
        );
    }
    Ok(checks)
}
