//! One generation of an ASC MHL history: who made it, and a hash per file and folder.
//! Written and read as the `urn:ASC:MHL:v2.0` XML the specification defines.

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::writer::Writer;

use crate::MhlError;
use crate::algorithm::HashAlgorithm;

/// What a hash entry says happened to the file in this generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// First hashed here (a received file).
    Original,
    /// Hashed again and found equal to an earlier generation.
    Verified,
    /// Hashed again and found different.
    Failed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }
}

/// How the files of a generation came to be where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// Copied from elsewhere (a download).
    Transfer,
    /// Hashed where they are (a re-verification).
    InPlace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub algorithm: HashAlgorithm,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Relative to the history's root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
    pub digest: Digest,
    pub action: Action,
    pub hashed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirHash {
    /// Relative to the root; empty for the root itself.
    pub path: String,
    pub modified: Option<DateTime<Utc>>,
    pub content: Digest,
    pub structure: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    pub created: DateTime<Utc>,
    pub hostname: String,
    pub tool: String,
    pub tool_version: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub creator: Creator,
    pub process: Process,
    pub root: Option<DirHash>,
    pub ignore: Vec<String>,
    pub files: Vec<FileHash>,
    pub dirs: Vec<DirHash>,
}

const NAMESPACE: &str = "urn:ASC:MHL:v2.0";

fn date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn precise_date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl Manifest {
    pub fn to_xml(&self) -> Result<Vec<u8>, MhlError> {
        crate::xml_document(
            "hashlist",
            &[("version", "2.0"), ("xmlns", NAMESPACE)],
            |w| {
                self.write_creator(w)?;
                self.write_process(w)?;
                if !self.files.is_empty() || !self.dirs.is_empty() {
                    w.create_element("hashes").write_inner_content(|w| {
                        for f in &self.files {
                            write_file(w, f)?;
                        }
                        for d in &self.dirs {
                            w.create_element("directoryhash").write_inner_content(|w| {
                                let mut path = w.create_element("path");
                                if let Some(m) = d.modified {
                                    path = path
                                        .with_attribute(("lastmodificationdate", date(m).as_str()));
                                }
                                path.write_text_content(BytesText::new(&d.path))?;
                                write_dir_digests(w, d)
                            })?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            },
        )
    }

    fn write_creator(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let c = &self.creator;
        w.create_element("creatorinfo").write_inner_content(|w| {
            w.create_element("creationdate")
                .write_text_content(BytesText::new(&date(c.created)))?;
            w.create_element("hostname")
                .write_text_content(BytesText::new(&c.hostname))?;
            w.create_element("tool")
                .with_attribute(("version", c.tool_version.as_str()))
                .write_text_content(BytesText::new(&c.tool))?;
            if let Some(comment) = &c.comment {
                w.create_element("comment")
                    .write_text_content(BytesText::new(comment))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn write_process(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        w.create_element("processinfo").write_inner_content(|w| {
            let process = match self.process {
                Process::Transfer => "transfer",
                Process::InPlace => "in-place",
            };
            w.create_element("process")
                .write_text_content(BytesText::new(process))?;
            if let Some(root) = &self.root {
                w.create_element("roothash")
                    .write_inner_content(|w| write_dir_digests(w, root))?;
            }
            if !self.ignore.is_empty() {
                w.create_element("ignore").write_inner_content(|w| {
                    for p in &self.ignore {
                        w.create_element("pattern")
                            .write_text_content(BytesText::new(p))?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

fn write_file(w: &mut Writer<Vec<u8>>, f: &FileHash) -> std::io::Result<()> {
    w.create_element("hash").write_inner_content(|w| {
        let size = f.size.to_string();
        let mut path = w
            .create_element("path")
            .with_attribute(("size", size.as_str()));
        if let Some(m) = f.modified {
            path = path.with_attribute(("lastmodificationdate", date(m).as_str()));
        }
        path.write_text_content(BytesText::new(&f.path))?;
        w.create_element(f.digest.algorithm.name())
            .with_attributes([
                ("action", f.action.name()),
                ("hashdate", precise_date(f.hashed_at).as_str()),
            ])
            .write_text_content(BytesText::new(&f.digest.value))?;
        Ok(())
    })?;
    Ok(())
}

fn write_dir_digests(w: &mut Writer<Vec<u8>>, d: &DirHash) -> std::io::Result<()> {
    for (element, digest) in [("content", &d.content), ("structure", &d.structure)] {
        w.create_element(element).write_inner_content(|w| {
            w.create_element(digest.algorithm.name())
                .write_text_content(BytesText::new(&digest.value))?;
            Ok(())
        })?;
    }
    Ok(())
}

/// What verification needs from a manifest someone wrote: every file's path, size and
/// hashes, and the creator's tool and comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadManifest {
    pub tool: String,
    pub comment: Option<String>,
    pub files: Vec<ReadFile>,
    /// The generation's ignore patterns.
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadFile {
    pub path: String,
    pub size: Option<u64>,
    /// Every hash given, with whether its action was `failed`.
    pub digests: Vec<(Digest, bool)>,
}

/// Reads the parts of a manifest that verification needs; other elements are skipped.
pub fn read_manifest(xml: &str) -> Result<ReadManifest, MhlError> {
    // Text is taken as written: a path may begin or end with spaces (a sender's
    // "take 2 .mov"), which trimming would turn into another file's name. The
    // whitespace between elements falls under no element read here.
    let mut reader = Reader::from_str(xml);
    let mut out = ReadManifest::default();
    let mut stack: Vec<String> = Vec::new();
    let mut file: Option<ReadFile> = None;
    let mut failed = false;
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                let name = local_name(&e);
                match name.as_str() {
                    "hash" if stack.last().is_some_and(|p| p == "hashes") => {
                        file = Some(ReadFile::default());
                    }
                    "path" => {
                        if let Some(f) = file.as_mut() {
                            f.size = attribute(&e, "size")?.and_then(|s| s.parse().ok());
                        }
                    }
                    _ => failed = attribute(&e, "action")?.as_deref() == Some("failed"),
                }
                stack.push(name);
            }
            Event::Text(t) => {
                let text = t.unescape()?.into_owned();
                let (Some(leaf), parent) = (stack.last(), stack.iter().rev().nth(1)) else {
                    continue;
                };
                match (parent.map(String::as_str), leaf.as_str()) {
                    (Some("hash"), "path") => {
                        if let Some(f) = file.as_mut() {
                            f.path = text;
                        }
                    }
                    (Some("hash"), alg) => {
                        if let (Some(f), Some(algorithm)) =
                            (file.as_mut(), HashAlgorithm::parse(alg))
                        {
                            f.digests.push((
                                Digest {
                                    algorithm,
                                    value: text.trim().to_owned(),
                                },
                                failed,
                            ));
                        }
                    }
                    (Some("creatorinfo"), "tool") => out.tool = text.trim().to_owned(),
                    (Some("creatorinfo"), "comment") => out.comment = Some(text.trim().to_owned()),
                    (Some("ignore"), "pattern") => out.ignore.push(text),
                    _ => {}
                }
            }
            Event::End(_) => {
                if stack.pop().as_deref() == Some("hash")
                    && let Some(f) = file.take()
                {
                    out.files.push(f);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn local_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, MhlError> {
    for a in e.attributes() {
        let a = a.map_err(quick_xml::Error::from)?;
        if a.key.local_name().as_ref() == name.as_bytes() {
            return Ok(Some(a.unescape_value()?.into_owned()));
        }
    }
    Ok(None)
}
