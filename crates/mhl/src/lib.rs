//! ASC Media Hash List (ASC MHL) histories, as the American Society of Cinematographers
//! specifies them: hash the files of a folder, record a generation in its `ascmhl/`
//! folder, and verify the folder against what was recorded.

mod algorithm;
mod c4;
mod dirhash;
mod history;
mod manifest;
mod record;
mod verify;

use std::path::{Path, PathBuf};

pub use algorithm::{HashAlgorithm, Hasher};
pub use dirhash::{FolderHashes, folder_hashes};
pub use history::{CHAIN, ChainEntry, FOLDER, History};
pub use manifest::{
    Action, Creator, Digest, DirHash, FileHash, Manifest, Process, ReadFile, ReadManifest,
    read_manifest,
};
pub use record::{Generation, record_generation};
pub use verify::{FileCheck, Outcome, Report, VerifyProgress, exact_path_pattern, verify};

#[derive(Debug, thiserror::Error)]
pub enum MhlError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a readable ASC MHL file: {1}")]
    Malformed(PathBuf, String),
    #[error("XML: {0}")]
    Xml(String),
    #[error(
        "{0} is not the manifest its history recorded (its C4 ID differs): it was changed after it was written"
    )]
    Tampered(PathBuf),
    #[error("{0} has no ASC MHL history (no ascmhl folder with a chain file)")]
    NoHistory(PathBuf),
}

impl MhlError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// An XML problem, placed in the file it was found in.
    pub(crate) fn at(self, path: &Path) -> Self {
        match self {
            Self::Xml(why) => Self::Malformed(path.to_owned(), why),
            other => other,
        }
    }
}

impl From<quick_xml::Error> for MhlError {
    fn from(e: quick_xml::Error) -> Self {
        Self::Xml(e.to_string())
    }
}

impl From<quick_xml::encoding::EncodingError> for MhlError {
    fn from(e: quick_xml::encoding::EncodingError) -> Self {
        Self::Xml(e.to_string())
    }
}

/// An XML document: the declaration, one root element with `attributes` and the
/// content `inner` writes, and a final newline.
pub(crate) fn xml_document(
    root: &str,
    attributes: &[(&str, &str)],
    inner: impl FnOnce(&mut quick_xml::Writer<Vec<u8>>) -> std::io::Result<()>,
) -> Result<Vec<u8>, MhlError> {
    use quick_xml::events::{BytesDecl, Event};
    // Writing into memory fails only if the writer's own checks do.
    let failed = |e: std::io::Error| MhlError::Xml(e.to_string());
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(failed)?;
    w.create_element(root)
        .with_attributes(attributes.iter().copied())
        .write_inner_content(inner)
        .map_err(failed)?;
    let mut xml = w.into_inner();
    xml.push(b'\n');
    Ok(xml)
}

/// Hashes a whole file from disk.
pub fn hash_file(path: &Path, algorithm: HashAlgorithm) -> std::io::Result<String> {
    hash_file_with(path, algorithm, |_| {})
}

/// Hashes a whole file, telling `progress` how many bytes each read took in.
pub fn hash_file_with(
    path: &Path,
    algorithm: HashAlgorithm,
    mut progress: impl FnMut(u64),
) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        progress(n as u64);
    }
    Ok(hasher.finish())
}
