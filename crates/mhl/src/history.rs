//! The `ascmhl/` folder of a root: numbered manifests, and the chain file naming each
//! with its C4 ID so a changed manifest is noticed.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesText, Event};
use sha2::Digest as _;

use crate::MhlError;
use crate::manifest::{Manifest, ReadManifest, read_manifest};

pub const FOLDER: &str = "ascmhl";
/// The chain file in [`FOLDER`] listing every generation.
pub const CHAIN: &str = "ascmhl_chain.xml";
const CHAIN_NAMESPACE: &str = "urn:ASC:MHL:DIRECTORY:v2.0";

/// One generation as the chain lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub number: u32,
    /// File name inside `ascmhl/`.
    pub file: String,
    pub c4: String,
}

/// A root's history: its generations, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    root: PathBuf,
    pub generations: Vec<ChainEntry>,
}

impl History {
    /// The history of `root`; empty when it has none yet.
    pub fn open(root: &Path) -> Result<Self, MhlError> {
        let chain = root.join(FOLDER).join(CHAIN);
        let generations = match std::fs::read_to_string(&chain) {
            Ok(xml) => read_chain(&xml).map_err(|e| e.at(&chain))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(MhlError::io(&chain, e)),
        };
        Ok(Self {
            root: root.to_owned(),
            generations,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every generation's manifest, oldest first, each checked against the C4 ID the
    /// chain recorded for it.
    pub fn manifests(&self) -> Result<Vec<(ChainEntry, ReadManifest)>, MhlError> {
        self.generations
            .iter()
            .map(|g| {
                let path = self.root.join(FOLDER).join(&g.file);
                let bytes = std::fs::read(&path).map_err(|e| MhlError::io(&path, e))?;
                if c4_of(&bytes) != g.c4 {
                    return Err(MhlError::Tampered(path));
                }
                let xml = String::from_utf8(bytes)
                    .map_err(|_| MhlError::Malformed(path.clone(), "not UTF-8".into()))?;
                let manifest = read_manifest(&xml).map_err(|e| e.at(&path))?;
                Ok((g.clone(), manifest))
            })
            .collect()
    }

    /// Writes `manifest` as the next generation and records it in the chain. Returns
    /// the manifest's path.
    pub fn append(&mut self, manifest: &Manifest) -> Result<PathBuf, MhlError> {
        let dir = self.root.join(FOLDER);
        std::fs::create_dir_all(&dir).map_err(|e| MhlError::io(&dir, e))?;
        let number = self.generations.last().map_or(1, |g| g.number + 1);
        let file = manifest_name(number, &self.root, manifest.creator.created);
        let path = dir.join(&file);
        let xml = manifest.to_xml()?;
        write_new(&path, &xml)?;
        self.generations.push(ChainEntry {
            number,
            file,
            c4: c4_of(&xml),
        });
        let chain = dir.join(CHAIN);
        write_replacing(&chain, &chain_xml(&self.generations)?)?;
        Ok(path)
    }
}

/// `0001_<root folder name>_2024-05-01_101500Z.mhl`, as the specification names them.
fn manifest_name(number: u32, root: &Path, created: DateTime<Utc>) -> String {
    let folder = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    format!(
        "{number:04}_{folder}_{}.mhl",
        created.format("%Y-%m-%d_%H%M%SZ")
    )
}

fn c4_of(bytes: &[u8]) -> String {
    crate::c4::encode(&sha2::Sha512::digest(bytes).into())
}

fn chain_xml(generations: &[ChainEntry]) -> Result<Vec<u8>, MhlError> {
    crate::xml_document("ascmhldirectory", &[("xmlns", CHAIN_NAMESPACE)], |w| {
        for g in generations {
            let number = g.number.to_string();
            w.create_element("hashlist")
                .with_attribute(("sequencenr", number.as_str()))
                .write_inner_content(|w| {
                    w.create_element("path")
                        .write_text_content(BytesText::new(&g.file))?;
                    w.create_element("c4")
                        .write_text_content(BytesText::new(&g.c4))?;
                    Ok(())
                })?;
        }
        Ok(())
    })
}

fn read_chain(xml: &str) -> Result<Vec<ChainEntry>, MhlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut out = Vec::new();
    let mut current: Option<ChainEntry> = None;
    let mut leaf = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                leaf = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if leaf == "hashlist" {
                    let mut number = 0;
                    for a in e.attributes() {
                        let a = a.map_err(quick_xml::Error::from)?;
                        if a.key.local_name().as_ref() == b"sequencenr" {
                            number = a.unescape_value()?.trim().parse().unwrap_or(0);
                        }
                    }
                    current = Some(ChainEntry {
                        number,
                        file: String::new(),
                        c4: String::new(),
                    });
                }
            }
            Event::Text(t) => {
                if let Some(g) = current.as_mut() {
                    let text = t.unescape()?.trim().to_owned();
                    match leaf.as_str() {
                        "path" => g.file = text,
                        "c4" => g.c4 = text,
                        _ => {}
                    }
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"hashlist" => {
                out.extend(current.take());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out.sort_by_key(|g| g.number);
    Ok(out)
}

/// Creates `path` with `bytes`, durably, never replacing an existing file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), MhlError> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| MhlError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| MhlError::io(path, e))
}

/// Replaces `path` with `bytes` atomically (a crash leaves the old or the new file).
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), MhlError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| MhlError::io(path, e))
}
