//! SQLite persistence: downloads, their files, and the byte ranges already on disk.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};

use crate::model::{DownloadState, FileState};

const SCHEMA: &str = "
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
    origin       TEXT
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
    PRIMARY KEY (download_id, idx)
);
CREATE TABLE IF NOT EXISTS ranges (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    PRIMARY KEY (download_id, idx, start)
);
CREATE TABLE IF NOT EXISTS created_dirs (
    download_id TEXT NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
    rel_path    TEXT NOT NULL,
    PRIMARY KEY (download_id, rel_path)
);
";

/// Brings a database from an earlier version up to [`SCHEMA`].
fn migrate(conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('downloads')")?;
    let columns: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_>>()?;
    for column in ["access_token", "origin"] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE downloads ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub(crate) struct DownloadRow {
    pub id: String,
    pub link_id: String,
    /// Holds the link secret: the database is readable by the user only.
    pub link_url: String,
    pub password: Option<String>,
    pub dst_folder: PathBuf,
    pub name: String,
    pub package_id: String,
    pub sender_email: String,
    pub total_bytes: u64,
    pub state: DownloadState,
    pub error: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// A team package's access token (instead of a link).
    pub access_token: Option<String>,
    /// JSON of [`crate::Origin`]; `None` for a link.
    pub origin: Option<String>,
}

/// What a file is and where it goes: fixed when the download is added.
#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    pub idx: usize,
    pub file_id: String,
    pub kind: String,
    pub package_path: String,
    pub rel_path: PathBuf,
    pub size: u64,
    pub mtime: Option<i64>,
    pub virus: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct FileRow {
    pub meta: FileMeta,
    pub state: FileState,
    pub error: Option<String>,
    pub ranges: Vec<(u64, u64)>,
}

pub(crate) struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

type Result<T> = rusqlite::Result<T>;

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a commit survives a crash of the process; power loss may drop
        // the last commits, which only costs re-downloading their ranges.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (it rolls back), so
        // the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert_download(&self, d: &DownloadRow, files: &[FileRow]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO downloads (id, link_id, link_url, password, dst_folder, name, package_id,
                sender_email, total_bytes, state, error, created_at, completed_at, access_token,
                origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                d.id,
                d.link_id,
                d.link_url,
                d.password,
                d.dst_folder.to_string_lossy(),
                d.name,
                d.package_id,
                d.sender_email,
                d.total_bytes as i64,
                d.state.as_str(),
                d.error,
                d.created_at,
                d.completed_at,
                d.access_token,
                d.origin
            ],
        )?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO files (download_id, idx, file_id, kind, package_path, rel_path, size,
                    mtime, virus, state, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for f in files {
                stmt.execute(params![
                    d.id,
                    f.meta.idx as i64,
                    f.meta.file_id,
                    f.meta.kind,
                    f.meta.package_path,
                    f.meta.rel_path.to_string_lossy(),
                    f.meta.size as i64,
                    f.meta.mtime,
                    f.meta.virus,
                    f.state.as_str(),
                    f.error
                ])?;
            }
        }
        tx.commit()
    }

    pub fn load_all(&self) -> Result<Vec<(DownloadRow, Vec<FileRow>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, link_id, link_url, password, dst_folder, name, package_id, sender_email,
                    total_bytes, state, error, created_at, completed_at, access_token, origin
             FROM downloads ORDER BY created_at, rowid",
        )?;
        let downloads = stmt
            .query_map([], |r| {
                Ok(DownloadRow {
                    id: r.get(0)?,
                    link_id: r.get(1)?,
                    link_url: r.get(2)?,
                    password: r.get(3)?,
                    dst_folder: PathBuf::from(r.get::<_, String>(4)?),
                    name: r.get(5)?,
                    package_id: r.get(6)?,
                    sender_email: r.get(7)?,
                    total_bytes: r.get::<_, i64>(8)? as u64,
                    state: DownloadState::parse(&r.get::<_, String>(9)?)
                        .unwrap_or(DownloadState::Error),
                    error: r.get(10)?,
                    created_at: r.get(11)?,
                    completed_at: r.get(12)?,
                    access_token: r.get(13)?,
                    origin: r.get(14)?,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(downloads.len());
        for d in downloads {
            let files = Self::load_files(&conn, &d.id)?;
            out.push((d, files));
        }
        Ok(out)
    }

    fn load_files(conn: &Connection, id: &str) -> Result<Vec<FileRow>> {
        let mut ranges: std::collections::HashMap<usize, Vec<(u64, u64)>> = Default::default();
        let mut stmt = conn.prepare("SELECT idx, start, end FROM ranges WHERE download_id = ?1")?;
        for row in stmt.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)? as usize,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })? {
            let (idx, s, e) = row?;
            ranges.entry(idx).or_default().push((s, e));
        }
        let mut stmt = conn.prepare(
            "SELECT idx, file_id, kind, package_path, rel_path, size, mtime, virus, state, error
             FROM files WHERE download_id = ?1 ORDER BY idx",
        )?;
        stmt.query_map([id], |r| {
            let idx = r.get::<_, i64>(0)? as usize;
            Ok(FileRow {
                meta: FileMeta {
                    idx,
                    file_id: r.get(1)?,
                    kind: r.get(2)?,
                    package_path: r.get(3)?,
                    rel_path: PathBuf::from(r.get::<_, String>(4)?),
                    size: r.get::<_, i64>(5)? as u64,
                    mtime: r.get(6)?,
                    virus: r.get(7)?,
                },
                state: FileState::parse(&r.get::<_, String>(8)?).unwrap_or(FileState::Pending),
                error: r.get(9)?,
                ranges: Vec::new(),
            })
        })?
        .map(|row| {
            row.map(|mut f| {
                f.ranges = ranges.remove(&f.meta.idx).unwrap_or_default();
                f
            })
        })
        .collect()
    }

    pub fn set_state(
        &self,
        id: &str,
        state: DownloadState,
        error: Option<&str>,
        completed_at: Option<i64>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE downloads SET state = ?2, error = ?3, completed_at = ?4 WHERE id = ?1",
            params![id, state.as_str(), error, completed_at],
        )?;
        Ok(())
    }

    /// A team package's listing handed out a newer access token.
    pub fn set_access_token(&self, id: &str, token: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE downloads SET access_token = ?2 WHERE id = ?1",
            params![id, token],
        )?;
        Ok(())
    }

    pub fn set_file_state(
        &self,
        id: &str,
        idx: usize,
        state: FileState,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE files SET state = ?3, error = ?4 WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64, state.as_str(), error],
        )?;
        Ok(())
    }

    /// Replaces the recorded ranges of one file.
    pub fn set_ranges(&self, id: &str, idx: usize, ranges: &[(u64, u64)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM ranges WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64],
        )?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO ranges (download_id, idx, start, end) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for &(s, e) in ranges {
                stmt.execute(params![id, idx as i64, s as i64, e as i64])?;
            }
        }
        tx.commit()
    }

    pub fn add_created_dir(&self, id: &str, rel: &Path) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO created_dirs (download_id, rel_path) VALUES (?1, ?2)",
            params![id, rel.to_string_lossy()],
        )?;
        Ok(())
    }

    pub fn created_dirs(&self, id: &str) -> Result<Vec<PathBuf>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT rel_path FROM created_dirs WHERE download_id = ?1")?;
        stmt.query_map([id], |r| r.get::<_, String>(0).map(PathBuf::from))?
            .collect()
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM downloads WHERE id = ?1", [id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> DownloadRow {
        DownloadRow {
            id: id.into(),
            link_id: "L".into(),
            link_url: "https://get.massive.app/L?secret=s".into(),
            password: Some("pw".into()),
            dst_folder: "/tmp/x".into(),
            name: "n".into(),
            package_id: "P".into(),
            sender_email: "s@e".into(),
            total_bytes: 10,
            state: DownloadState::Queued,
            error: None,
            created_at: 1,
            completed_at: None,
            access_token: None,
            origin: None,
        }
    }

    fn file(idx: usize) -> FileRow {
        FileRow {
            meta: FileMeta {
                idx,
                file_id: format!("f{idx}"),
                kind: "file".into(),
                package_path: "a/b".into(),
                rel_path: "a/b".into(),
                size: 10,
                mtime: Some(5),
                virus: false,
            },
            state: FileState::Pending,
            error: None,
            ranges: vec![],
        }
    }

    #[test]
    fn round_trips_downloads_files_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.insert_download(&row("d1"), &[file(0), file(1)]).unwrap();
            s.set_ranges("d1", 1, &[(0, 4), (6, 8)]).unwrap();
            s.set_ranges("d1", 1, &[(0, 8)]).unwrap();
            s.set_file_state("d1", 0, FileState::Complete, None)
                .unwrap();
            s.set_state("d1", DownloadState::Error, Some("boom"), None)
                .unwrap();
            s.add_created_dir("d1", Path::new("a")).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let all = s.load_all().unwrap();
        assert_eq!(all.len(), 1);
        let (d, files) = &all[0];
        assert_eq!(d.state, DownloadState::Error);
        assert_eq!(d.error.as_deref(), Some("boom"));
        assert_eq!(files[0].state, FileState::Complete);
        assert_eq!(files[1].ranges, vec![(0, 8)]);
        assert_eq!(s.created_dirs("d1").unwrap(), vec![PathBuf::from("a")]);
        s.delete("d1").unwrap();
        assert!(s.load_all().unwrap().is_empty());
        assert!(s.created_dirs("d1").unwrap().is_empty());
    }

    #[test]
    fn a_database_from_before_team_downloads_opens_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            // The first schema: no access_token or origin columns.
            let old = SCHEMA.replace(
                "    completed_at INTEGER,\n    access_token TEXT,\n    origin       TEXT\n",
                "    completed_at INTEGER\n",
            );
            assert_ne!(old, SCHEMA, "the old schema differs");
            conn.execute_batch(&old).unwrap();
            conn.execute(
                "INSERT INTO downloads (id, link_id, link_url, dst_folder, name, package_id,
                    sender_email, total_bytes, state, created_at)
                 VALUES ('old', 'L', 'https://get.massive.app/L?secret=s', '/tmp/x', 'n', 'P',
                    's@e', 1, 'paused', 1)",
                [],
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let mut team = row("team");
        team.access_token = Some("tok".into());
        team.origin = Some(r#"{"kind":"team","team_id":"T"}"#.into());
        s.insert_download(&team, &[]).unwrap();
        s.set_access_token("team", "tok2").unwrap();
        let all = s.load_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0.id, "old");
        assert_eq!(all[0].0.access_token, None);
        assert_eq!(all[1].0.access_token.as_deref(), Some("tok2"));
        assert!(all[1].0.origin.as_deref().unwrap().contains("team"));
    }
}
