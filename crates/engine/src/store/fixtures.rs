//! Rows for tests: a download and its files as the store takes them.

use crate::model::{DownloadState, FileState};
use crate::store::{DownloadRow, FileMeta, FileRow};

pub(crate) fn row(id: &str) -> DownloadRow {
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
        volume: None,
        manifest: None,
        package_folder: false,
        selection: None,
        priority: 0,
        chunk_size: None,
        expires_at: None,
    }
}

pub(crate) fn file(idx: usize) -> FileRow {
    FileRow::listed(
        FileMeta {
            idx,
            file_id: format!("f{idx}"),
            kind: "file".into(),
            package_path: "a/b".into(),
            rel_path: "a/b".into(),
            size: 10,
            mtime: Some(5),
            virus: false,
        },
        FileState::Pending,
    )
}
