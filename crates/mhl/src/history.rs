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
    /// The highest number a manifest in the folder carries, listed or not.
    numbered_up_to: u32,
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
            numbered_up_to: 0,
        })
    }

    /// The history of `root`, to add a generation to. A chain that cannot be read
    /// (cut short by a crash, garbled by another tool) does not stop that: it is kept
    /// as it was beside a new chain, and the new generation is numbered after every
    /// manifest in the folder, so no number is used twice.
    pub fn open_to_append(root: &Path) -> Result<Self, MhlError> {
        let dir = root.join(FOLDER);
        let chain = dir.join(CHAIN);
        let generations = match std::fs::read(&chain) {
            Ok(bytes) => match std::str::from_utf8(&bytes)
                .map_err(|_| MhlError::Xml("not UTF-8".into()))
                .and_then(read_chain)
            {
                Ok(generations) => generations,
                Err(_) => {
                    keep_unreadable_chain(&dir, &bytes)?;
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(MhlError::io(&chain, e)),
        };
        Ok(Self {
            root: root.to_owned(),
            generations,
            numbered_up_to: highest_manifest_number(&dir),
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
        let last = self
            .generations
            .iter()
            .map(|g| g.number)
            .max()
            .unwrap_or(0)
            .max(self.numbered_up_to);
        let number = last.checked_add(1).ok_or_else(|| {
            MhlError::Malformed(
                dir.join(CHAIN),
                format!("no sequence number is left after {last}"),
            )
        })?;
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

/// The number the highest-numbered `NNNN_….mhl` in `dir` carries (0: none).
fn highest_manifest_number(dir: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (number, _) = name.strip_suffix(".mhl")?.split_once('_')?;
            number.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Keeps the bytes of a chain that could not be read under a free name beside it
/// (`ascmhl_chain (unreadable).xml`, then `… (unreadable 2).xml`).
fn keep_unreadable_chain(dir: &Path, bytes: &[u8]) -> Result<(), MhlError> {
    for n in 1..1000 {
        let name = if n == 1 {
            "ascmhl_chain (unreadable).xml".to_owned()
        } else {
            format!("ascmhl_chain (unreadable {n}).xml")
        };
        match write_new(&dir.join(name), bytes) {
            Err(MhlError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            done => return done,
        }
    }
    Err(MhlError::Malformed(
        dir.join(CHAIN),
        "unreadable, and no free name was found to keep it under".into(),
    ))
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
    let mut closed = false;
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
            Event::End(e) if e.local_name().as_ref() == b"ascmhldirectory" => closed = true,
            Event::Eof if !closed => {
                return Err(MhlError::Xml("the chain ends before it is closed".into()));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::manifest::{Creator, Process};

    fn manifest() -> Manifest {
        Manifest {
            creator: Creator {
                created: Utc::now(),
                hostname: "host".into(),
                tool: "Inbound".into(),
                tool_version: "1".into(),
                comment: None,
            },
            process: Process::Transfer,
            root: None,
            ignore: Vec::new(),
            files: Vec::new(),
            dirs: Vec::new(),
        }
    }

    #[test]
    fn a_broken_chain_is_kept_aside_and_the_numbers_go_on_after_every_manifest_there() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(FOLDER);
        std::fs::create_dir(&dir).unwrap();
        // Another tool's generations, and a chain cut short by a crash.
        std::fs::write(dir.join("0007_x_2026-01-01_000000Z.mhl"), b"<hashlist/>").unwrap();
        let broken = b"<ascmhldirectory><hashlist sequencenr=\"7\"><path>0007_x";
        std::fs::write(dir.join(CHAIN), broken).unwrap();
        let mut history = History::open_to_append(root.path()).unwrap();
        let written = history.append(&manifest()).unwrap();
        assert!(
            written
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("0008_"),
            "{written:?}"
        );
        // The unreadable chain is kept as it was, beside the new one.
        let aside = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.contains("unreadable"))
            .expect("the old chain kept");
        assert_eq!(std::fs::read(dir.join(aside)).unwrap(), broken);
        let reopened = History::open(root.path()).unwrap();
        assert_eq!(reopened.generations.len(), 1);
        assert_eq!(reopened.generations[0].number, 8);
    }

    #[test]
    fn the_last_sequence_number_is_an_error_not_an_overflow() {
        let root = tempfile::tempdir().unwrap();
        let mut history = History::open_to_append(root.path()).unwrap();
        history.generations.push(ChainEntry {
            number: u32::MAX,
            file: "x.mhl".into(),
            c4: "c4".into(),
        });
        assert!(matches!(
            history.append(&manifest()),
            Err(MhlError::Malformed(..))
        ));
    }
}
