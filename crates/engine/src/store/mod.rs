//! SQLite persistence: downloads, their files, and the byte ranges already on disk;
//! the schema and the rows of repairs, settings, drives and choices in submodules.

pub(crate) mod choice;
pub(crate) mod drive;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod part;
pub(crate) mod repair;
pub(crate) mod schema;
pub(crate) mod settings;
pub(crate) mod unsynced;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};

use inbound_mhl::{Digest, HashAlgorithm};

use crate::model::RepairCheck;
use crate::model::{DownloadState, FileState};
use crate::store::schema::{
    SCHEMA, clear_ranges, file_id_from_sql, migrate, path_from_sql, path_to_sql,
};
use crate::transfer::identity::{FileId, Written};
use crate::transfer::volume::Volume;

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
    /// The drive the destination folder was on when the download was added (see
    /// [`Volume`]): another one later is a drive not connected.
    pub volume: Option<Volume>,
    /// The ASC MHL manifest written when the package completed.
    pub manifest: Option<PathBuf>,
    /// `dst_folder` is the package's own folder, created for it when it was added.
    pub package_folder: bool,
    /// JSON of the [`crate::Selection`] it was added with; `None` for every file. Kept
    /// for a download listed later (added while MASV was out of reach).
    pub selection: Option<String>,
    /// Higher goes first (see `Engine::set_priority`).
    pub priority: i64,
    /// Bytes asked of storage per range, when the download was added with its own
    /// (`LinkOptions::chunk_size`).
    pub chunk_size: Option<u64>,
    /// When MASV deletes the package (Unix seconds), as it last said.
    pub expires_at: Option<i64>,
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
    /// The part file this download created, once it has.
    pub part: Option<FileId>,
    /// When this download set out to create a part file it has not recorded yet
    /// (nanoseconds since the Unix epoch; see `part_on_disk::adopt_part_file`).
    pub part_intent: Option<i64>,
    /// The storage ETag the bytes so far belong to.
    pub etag: Option<String>,
    /// The completed file as written.
    pub written: Option<Written>,
    /// The completed file's hash, from its bytes on disk.
    pub hash: Option<Digest>,
    /// Downloaded again into its folder: the file there is checked before fetching.
    pub repair: Option<RepairCheck>,
}

impl FileRow {
    /// A file as its package listing gives it, before anything is downloaded.
    pub fn listed(meta: FileMeta, state: FileState) -> Self {
        Self {
            meta,
            state,
            error: None,
            ranges: Vec::new(),
            part: None,
            part_intent: None,
            etag: None,
            written: None,
            hash: None,
            repair: None,
        }
    }
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

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (it rolls back), so
        // the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert_download(&self, d: &DownloadRow, files: &[FileRow]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_download_row(&tx, d)?;
        insert_files(&tx, &d.id, files)?;
        tx.commit()
    }

    /// A download added while MASV could not be reached, now listed: its package, its
    /// folder and its files, in the place of `replaces` (see [`Store::supersede`]) if
    /// given. Fails (writing nothing) if the download is gone.
    pub fn resolve_download(
        &self,
        d: &DownloadRow,
        files: &[FileRow],
        replaces: Option<&str>,
    ) -> Result<()> {
        let volume = volume_columns(d.volume.as_ref());
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let updated = tx.execute(
            "UPDATE downloads SET dst_folder = ?2, name = ?3, package_id = ?4,
                sender_email = ?5, total_bytes = ?6, dst_dev = ?7, dst_fsid = ?8, dst_ino = ?9,
                expires_at = ?10
             WHERE id = ?1 AND package_id = ''",
            params![
                d.id,
                path_to_sql(&d.dst_folder),
                d.name,
                d.package_id,
                d.sender_email,
                d.total_bytes as i64,
                volume.0,
                volume.1,
                volume.2,
                d.expires_at,
            ],
        )?;
        if updated != 1 {
            return Err(rusqlite::Error::QueryReturnedNoRows);
        }
        insert_files(&tx, &d.id, files)?;
        if let Some(replaced) = replaces {
            crate::store::repair::take_place_of(&tx, replaced, &d.id)?;
        }
        tx.commit()
    }

    pub fn set_expiry(&self, id: &str, expires_at: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE downloads SET expires_at = ?2 WHERE id = ?1",
            params![id, expires_at],
        )?;
        Ok(())
    }

    pub fn set_priority(&self, id: &str, priority: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE downloads SET priority = ?2 WHERE id = ?1",
            params![id, priority],
        )?;
        Ok(())
    }

    pub fn load_all(&self) -> Result<Vec<(DownloadRow, Vec<FileRow>)>> {
        self.load(None)
    }

    /// One download as recorded, if it is.
    pub fn load_download(&self, id: &str) -> Result<Option<(DownloadRow, Vec<FileRow>)>> {
        Ok(self.load(Some(id))?.pop())
    }

    /// Every download, or only the one with id `only`.
    fn load(&self, only: Option<&str>) -> Result<Vec<(DownloadRow, Vec<FileRow>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, link_id, link_url, password, dst_folder, name, package_id, sender_email,
                    total_bytes, state, error, created_at, completed_at, access_token, origin,
                    dst_dev, manifest, package_folder, selection, priority, dst_fsid, dst_ino,
                    chunk_size, expires_at
             FROM downloads WHERE ?1 IS NULL OR id = ?1 ORDER BY created_at, rowid",
        )?;
        let downloads = stmt
            .query_map([only], |r| {
                Ok(DownloadRow {
                    id: r.get(0)?,
                    link_id: r.get(1)?,
                    link_url: r.get(2)?,
                    password: r.get(3)?,
                    dst_folder: path_from_sql(r, 4)?,
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
                    volume: Volume::from_columns(r.get(15)?, r.get(20)?, r.get(21)?),
                    manifest: match r.get_ref(16)? {
                        rusqlite::types::ValueRef::Null => None,
                        _ => Some(path_from_sql(r, 16)?),
                    },
                    package_folder: r.get::<_, Option<bool>>(17)?.unwrap_or(false),
                    selection: r.get(18)?,
                    priority: r.get::<_, Option<i64>>(19)?.unwrap_or(0),
                    chunk_size: r.get::<_, Option<i64>>(22)?.map(|v| v as u64),
                    expires_at: r.get(23)?,
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
        let mut checks = crate::store::repair::load_repair_checks(conn, id)?;
        let mut stmt = conn.prepare(
            "SELECT idx, file_id, kind, package_path, rel_path, size, mtime, virus, state, error,
                    part_dev, part_ino, etag, done_dev, done_ino, done_size, done_mtime_ns,
                    hash_algo, hash, part_intent
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
                part: file_id_from_sql(r, 10, 11)?,
                part_intent: r.get(19)?,
                etag: r.get(12)?,
                written: match (
                    file_id_from_sql(r, 13, 14)?,
                    r.get::<_, Option<i64>>(15)?,
                    r.get::<_, Option<i64>>(16)?,
                ) {
                    (Some(id), Some(size), Some(mtime_ns)) => Some(Written {
                        id,
                        size: size as u64,
                        mtime_ns,
                    }),
                    _ => None,
                },
                hash: match (
                    r.get::<_, Option<String>>(17)?,
                    r.get::<_, Option<String>>(18)?,
                ) {
                    (Some(algo), Some(value)) => {
                        HashAlgorithm::parse(&algo).map(|algorithm| Digest { algorithm, value })
                    }
                    _ => None,
                },
                repair: None,
            })
        })?
        .map(|row| {
            row.map(|mut f| {
                f.ranges = ranges.remove(&f.meta.idx).unwrap_or_default();
                f.repair = checks.remove(&f.meta.idx);
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
        clear_ranges(&tx, id, idx)?;
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

    pub fn set_etag(&self, id: &str, idx: usize, etag: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE files SET etag = ?3 WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64, etag],
        )?;
        Ok(())
    }

    /// Forgets everything fetched for one file (its bytes are not to be trusted): its
    /// ranges, part file and ETag, in one transaction.
    pub fn reset_file(&self, id: &str, idx: usize) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        clear_ranges(&tx, id, idx)?;
        tx.execute(
            "DELETE FROM unsynced_ranges WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64],
        )?;
        tx.execute(
            "UPDATE files SET part_dev = NULL, part_ino = NULL, part_intent = NULL, etag = NULL
             WHERE download_id = ?1 AND idx = ?2",
            params![id, idx as i64],
        )?;
        tx.commit()
    }

    pub fn set_manifest(&self, id: &str, manifest: &Path) -> Result<()> {
        self.conn().execute(
            "UPDATE downloads SET manifest = ?2 WHERE id = ?1",
            params![id, path_to_sql(manifest)],
        )?;
        Ok(())
    }

    /// Records what a completed file is on disk, to recognise it later, and its hash.
    pub fn set_written(&self, id: &str, idx: usize, w: &Written, hash: &Digest) -> Result<()> {
        self.conn().execute(
            "UPDATE files SET done_dev = ?3, done_ino = ?4, done_size = ?5, done_mtime_ns = ?6,
                hash_algo = ?7, hash = ?8
             WHERE download_id = ?1 AND idx = ?2",
            params![
                id,
                idx as i64,
                w.id.dev as i64,
                w.id.ino as i64,
                w.size as i64,
                w.mtime_ns,
                hash.algorithm.name(),
                hash.value
            ],
        )?;
        Ok(())
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

/// A drive's columns (`dst_dev`, `dst_fsid`, `dst_ino`), all empty when unknown.
fn volume_columns(v: Option<&Volume>) -> (Option<i64>, Option<i64>, Option<i64>) {
    v.map_or((None, None, None), |v| {
        let (dev, fsid, folder) = v.columns();
        (Some(dev), fsid, folder)
    })
}

/// Records a download's own row, in the caller's transaction.
pub(crate) fn insert_download_row(tx: &rusqlite::Transaction<'_>, d: &DownloadRow) -> Result<()> {
    let volume = volume_columns(d.volume.as_ref());
    tx.execute(
        "INSERT INTO downloads (id, link_id, link_url, password, dst_folder, name, package_id,
            sender_email, total_bytes, state, error, created_at, completed_at, access_token,
            origin, dst_dev, package_folder, selection, priority, dst_fsid, dst_ino, chunk_size,
            expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23)",
        params![
            d.id,
            d.link_id,
            d.link_url,
            d.password,
            path_to_sql(&d.dst_folder),
            d.name,
            d.package_id,
            d.sender_email,
            d.total_bytes as i64,
            d.state.as_str(),
            d.error,
            d.created_at,
            d.completed_at,
            d.access_token,
            d.origin,
            volume.0,
            d.package_folder,
            d.selection,
            d.priority,
            volume.1,
            volume.2,
            d.chunk_size.map(|c| c as i64),
            d.expires_at,
        ],
    )?;
    Ok(())
}

/// Records a download's files (and what a repair checks), in the caller's transaction.
pub(crate) fn insert_files(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    files: &[FileRow],
) -> Result<()> {
    let mut stmt = tx.prepare(
        "INSERT INTO files (download_id, idx, file_id, kind, package_path, rel_path, size,
            mtime, virus, state, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for f in files {
        stmt.execute(params![
            id,
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
    crate::store::repair::insert_repair_checks(tx, id, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::fixtures::{file, row};

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
            let old = SCHEMA
                .replace(
                    "    completed_at INTEGER,\n    access_token TEXT,\n    origin       TEXT,\n    dst_dev      INTEGER,\n    manifest     TEXT,\n    package_folder INTEGER,\n    selection    TEXT,\n    priority     INTEGER,\n    dst_fsid     INTEGER,\n    dst_ino      INTEGER,\n    chunk_size   INTEGER,\n    expires_at   INTEGER\n",
                    "    completed_at INTEGER\n",
                )
                .replace(
                    "    error        TEXT,\n    part_dev     INTEGER,\n    part_ino     INTEGER,\n    etag         TEXT,\n    done_dev     INTEGER,\n    done_ino     INTEGER,\n    done_size    INTEGER,\n    done_mtime_ns INTEGER,\n    hash_algo    TEXT,\n    hash         TEXT,\n    part_intent  INTEGER,\n    PRIMARY KEY (download_id, idx)",
                    "    error        TEXT,\n    PRIMARY KEY (download_id, idx)",
                );
            assert!(!old.contains("dst_dev") && !old.contains("part_dev"));
            assert!(!old.contains("selection") && !old.contains("priority"));
            assert!(!old.contains("dst_fsid") && !old.contains("dst_ino"));
            assert!(!old.contains("chunk_size") && !old.contains("expires_at"));
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
