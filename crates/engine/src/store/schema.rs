//! The database's shape: the schema, the columns added since the first version (and
//! the migration that adds them to an older database), and how paths and file
//! identities are stored.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::transfer::identity::FileId;

type Result<T> = rusqlite::Result<T>;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS downloads (
    id           TEXT PRIMARY KEY,
    link_id      TEXT NOT NULL,
    link_url     TEXT NOT NULL,
    password     TEXT,
    dst_folder   TEXT NOT NULL,
    name         TEXT NOT NULL,
    package_id   TEXT NOT NULL,
    sender_email TEXT NOT NULL,
    total_bytes  INTEGER NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER,
    access_token TEXT,
    origin       TEXT,
    dst_dev      INTEGER,
    manifest     TEXT,
    package_folder INTEGER,
    selection    TEXT,
    priority     INTEGER,
    dst_fsid     INTEGER,
    dst_ino      INTEGER,
    chunk_size   INTEGER,
    expires_at   INTEGER
);
CREATE TABLE IF NOT EXISTS files (
    download_id  TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    file_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    package_path TEXT NOT NULL,
    rel_path     TEXT NOT NULL,
    size         INTEGER NOT NULL,
    mtime        INTEGER,
    virus        INTEGER NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT,
    part_dev     INTEGER,
    part_ino     INTEGER,
    etag         TEXT,
    done_dev     INTEGER,
    done_ino     INTEGER,
    done_size    INTEGER,
    done_mtime_ns INTEGER,
    hash_algo    TEXT,
    hash         TEXT,
    part_intent  INTEGER,
    PRIMARY KEY (download_id, idx)
);
CREATE TABLE IF NOT EXISTS ranges (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    PRIMARY KEY (download_id, idx, start)
);
-- Written but not yet flushed (see unsynced.rs): taken up only if the bytes still match.
CREATE TABLE IF NOT EXISTS unsynced_ranges (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    xxh3        INTEGER NOT NULL,
    PRIMARY KEY (download_id, idx, start)
);
CREATE TABLE IF NOT EXISTS created_dirs (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    rel_path    TEXT NOT NULL,
    PRIMARY KEY (download_id, rel_path)
);
CREATE TABLE IF NOT EXISTS download_limits (
    download_id   TEXT PRIMARY KEY REFERENCES downloads(id) ON DELETE CASCADE,
    bytes_per_sec INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS download_owners (
    download_id TEXT PRIMARY KEY REFERENCES downloads(id) ON DELETE CASCADE,
    uid         INTEGER,
    gid         INTEGER
);
CREATE TABLE IF NOT EXISTS repair_files (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    hash_algo   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    found       TEXT,
    kept_as     TEXT,
    PRIMARY KEY (download_id, idx)
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Columns added since the first schema, by table: an older database gets them (empty).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("downloads", "access_token", "TEXT"),
    ("downloads", "origin", "TEXT"),
    ("downloads", "dst_dev", "INTEGER"),
    ("files", "part_dev", "INTEGER"),
    ("files", "part_ino", "INTEGER"),
    ("files", "etag", "TEXT"),
    ("files", "done_dev", "INTEGER"),
    ("files", "done_ino", "INTEGER"),
    ("files", "done_size", "INTEGER"),
    ("files", "done_mtime_ns", "INTEGER"),
    ("files", "hash_algo", "TEXT"),
    ("files", "hash", "TEXT"),
    ("downloads", "manifest", "TEXT"),
    ("downloads", "package_folder", "INTEGER"),
    ("downloads", "selection", "TEXT"),
    ("downloads", "priority", "INTEGER"),
    ("downloads", "dst_fsid", "INTEGER"),
    ("downloads", "dst_ino", "INTEGER"),
    ("files", "part_intent", "INTEGER"),
    ("downloads", "chunk_size", "INTEGER"),
    ("downloads", "expires_at", "INTEGER"),
];

/// Brings a database from an earlier version up to [`SCHEMA`].
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let columns: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_>>()?;
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// A path as stored: text when it is valid Unicode (every path Inbound plans is), else
/// its raw form (bytes on Unix, UTF-16 units on Windows), so a folder with any name
/// survives a restart unchanged.
pub(crate) fn path_to_sql(path: &Path) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match path.to_str() {
        Some(s) => Value::Text(s.to_owned()),
        #[cfg(unix)]
        None => {
            use std::os::unix::ffi::OsStrExt;
            Value::Blob(path.as_os_str().as_bytes().to_vec())
        }
        #[cfg(windows)]
        None => {
            use std::os::windows::ffi::OsStrExt;
            Value::Blob(
                path.as_os_str()
                    .encode_wide()
                    .flat_map(u16::to_le_bytes)
                    .collect(),
            )
        }
    }
}

pub(crate) fn path_from_sql(r: &rusqlite::Row<'_>, idx: usize) -> Result<PathBuf> {
    use rusqlite::types::ValueRef;
    match r.get_ref(idx)? {
        ValueRef::Text(t) => Ok(PathBuf::from(String::from_utf8_lossy(t).into_owned())),
        #[cfg(unix)]
        ValueRef::Blob(b) => {
            use std::os::unix::ffi::OsStrExt;
            Ok(PathBuf::from(std::ffi::OsStr::from_bytes(b)))
        }
        #[cfg(windows)]
        ValueRef::Blob(b) => {
            use std::os::windows::ffi::OsStringExt;
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            Ok(PathBuf::from(std::ffi::OsString::from_wide(&units)))
        }
        other => Err(rusqlite::Error::InvalidColumnType(
            idx,
            "path".into(),
            other.data_type(),
        )),
    }
}

pub(crate) fn clear_ranges(tx: &rusqlite::Transaction<'_>, id: &str, idx: usize) -> Result<()> {
    tx.execute(
        "DELETE FROM ranges WHERE download_id = ?1 AND idx = ?2",
        params![id, idx as i64],
    )?;
    Ok(())
}

pub(crate) fn file_id_from_sql(
    r: &rusqlite::Row<'_>,
    dev: usize,
    ino: usize,
) -> Result<Option<FileId>> {
    Ok(
        match (r.get::<_, Option<i64>>(dev)?, r.get::<_, Option<i64>>(ino)?) {
            (Some(dev), Some(ino)) => Some(FileId {
                dev: dev as u64,
                ino: ino as u64,
            }),
            _ => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that is not Unicode: invalid UTF-8 on Unix, a lone surrogate on Windows.
    fn not_unicode() -> PathBuf {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            PathBuf::from(std::ffi::OsStr::from_bytes(b"/deliveries/caf\xe9"))
        }
        #[cfg(windows)]
        {
            use std::os::windows::ffi::OsStringExt;
            let mut units: Vec<u16> = r"C:\deliveries\caf".encode_utf16().collect();
            units.push(0xD800);
            PathBuf::from(std::ffi::OsString::from_wide(&units))
        }
    }

    #[test]
    fn any_folder_name_comes_back_as_it_was_stored() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        for path in [PathBuf::from("Deliveries/Scène 4"), not_unicode()] {
            let back: PathBuf = db
                .query_row("SELECT ?1", [path_to_sql(&path)], |r| path_from_sql(r, 0))
                .unwrap();
            assert_eq!(back, path);
        }
    }
}
