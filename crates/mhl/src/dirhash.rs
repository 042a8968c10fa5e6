//! Folder hashes as ASC MHL defines them: a folder's content hash is the hash of its
//! children's hashes in sorted order; its structure hash also covers their names.

use std::collections::BTreeMap;

use crate::algorithm::HashAlgorithm;

/// A folder's two hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderHashes {
    pub content: String,
    pub structure: String,
}

#[derive(Default)]
struct Folder {
    content: Vec<String>,
    structure: Vec<String>,
}

/// Hashes of every folder holding the given files (path relative to the root,
/// `/`-separated, with its digest), keyed by folder path; the root is `""`.
pub fn folder_hashes(
    algorithm: HashAlgorithm,
    files: &[(String, String)],
) -> BTreeMap<String, FolderHashes> {
    let mut folders: BTreeMap<String, Folder> = BTreeMap::new();
    folders.entry(String::new()).or_default();
    for (path, digest) in files {
        let (parent, name) = split(path);
        // Every ancestor exists, even one holding only folders.
        let mut dir = parent;
        loop {
            folders.entry(dir.to_owned()).or_default();
            if dir.is_empty() {
                break;
            }
            dir = split(dir).0;
        }
        let folder = folders.entry(parent.to_owned()).or_default();
        folder.content.push(digest.clone());
        folder
            .structure
            .push(named(algorithm, name, digest).unwrap_or_default());
    }
    // Deepest first, so each folder is done before its parent takes it in.
    let mut paths: Vec<String> = folders.keys().cloned().collect();
    paths.sort_by_key(|p| std::cmp::Reverse(depth(p)));
    let mut done = BTreeMap::new();
    for path in paths {
        let folder = folders.remove(&path).unwrap_or_default();
        let hashes = FolderHashes {
            content: hash_of_list(algorithm, folder.content),
            structure: hash_of_list(algorithm, folder.structure),
        };
        if !path.is_empty() {
            let (parent, name) = split(&path);
            let up = folders.entry(parent.to_owned()).or_default();
            up.content.push(hashes.content.clone());
            up.structure
                .push(named(algorithm, name, &hashes.structure).unwrap_or_default());
        }
        done.insert(path, hashes);
    }
    done
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn depth(path: &str) -> usize {
    if path.is_empty() {
        0
    } else {
        path.matches('/').count() + 1
    }
}

/// The hash of a child's name followed by its hash's bytes.
fn named(algorithm: HashAlgorithm, name: &str, digest: &str) -> Option<String> {
    let mut data = name.as_bytes().to_vec();
    data.extend(algorithm.digest_bytes(digest)?);
    Some(algorithm.hash_data(&data))
}

/// The hash of the listed hashes' bytes, in the order of their text.
fn hash_of_list(algorithm: HashAlgorithm, mut list: Vec<String>) -> String {
    list.sort();
    let mut h = algorithm.hasher();
    for digest in &list {
        if let Some(bytes) = algorithm.digest_bytes(digest) {
            h.update(&bytes);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_tool() {
        // `ascmhl create -h xxh128` on a folder with a.txt ("hello\n") and
        // "Day 1/clip.txt" ("clip\n").
        let files = vec![
            (
                "a.txt".to_owned(),
                HashAlgorithm::Xxh128.hash_data(b"hello\n"),
            ),
            (
                "Day 1/clip.txt".to_owned(),
                HashAlgorithm::Xxh128.hash_data(b"clip\n"),
            ),
        ];
        let hashes = folder_hashes(HashAlgorithm::Xxh128, &files);
        assert_eq!(hashes.len(), 2);
        let root = &hashes[""];
        let day = &hashes["Day 1"];
        assert_eq!(root.content, REFERENCE_ROOT_CONTENT);
        assert_eq!(root.structure, REFERENCE_ROOT_STRUCTURE);
        assert_eq!(day.content, REFERENCE_DAY_CONTENT);
        assert_eq!(day.structure, REFERENCE_DAY_STRUCTURE);
    }

    const REFERENCE_ROOT_CONTENT: &str = "3d135b11c4e694d235e63b5448c578df";
    const REFERENCE_ROOT_STRUCTURE: &str = "edb89f70df651c738935e4da690807a9";
    const REFERENCE_DAY_CONTENT: &str = "d9c08ab73ce8cbcd92f214500614a359";
    const REFERENCE_DAY_STRUCTURE: &str = "3fa7e1e98c3ae0a9c55d13cf0f321d35";
}
