//! Every file is hashed from the bytes on disk while it downloads: as the written
//! prefix grows, it is read back (from the page cache, just written) and hashed, so a
//! finished file needs no second pass. After a resume the prefix already there is read
//! again. Where storage's ETag is a plain MD5 (an object stored in one piece), MD5 is
//! computed too and must match it.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use inbound_mhl::{Digest, HashAlgorithm, Hasher};

use crate::transfer::fsutil::read_at;

/// Read-back size: big enough for few syscalls, small enough to stay in cache.
const READ_CHUNK: usize = 1 << 20;

/// What a finished hash says about the file.
pub(crate) enum Sealed {
    Good(Digest),
    /// The bytes' MD5 is not the ETag storage gave for them.
    Md5Mismatch {
        etag: String,
        found: String,
    },
}

/// The hash of a file's bytes `[0, hashed)`.
pub(crate) struct PrefixHash {
    algorithm: HashAlgorithm,
    hashed: u64,
    main: Hasher,
    md5: Option<(String, Hasher)>,
}

impl PrefixHash {
    pub fn new(algorithm: HashAlgorithm, etag: Option<&str>) -> Self {
        Self {
            algorithm,
            hashed: 0,
            main: algorithm.hasher(),
            md5: etag
                .and_then(plain_md5)
                .map(|md5| (md5, HashAlgorithm::Md5.hasher())),
        }
    }

    /// Storage named the object's ETag after hashing began: its MD5 can only be
    /// checked if nothing was hashed yet.
    pub fn learn_etag(&mut self, etag: &str) {
        if self.hashed == 0 && self.md5.is_none() {
            self.md5 = plain_md5(etag).map(|md5| (md5, HashAlgorithm::Md5.hasher()));
        }
    }

    /// Reads `[hashed, end)` back from `file` and hashes it.
    pub fn advance(&mut self, file: &File, end: u64) -> std::io::Result<()> {
        if cfg!(feature = "bench-unhashed") {
            self.hashed = self.hashed.max(end);
            return Ok(());
        }
        let mut buf = vec![0u8; READ_CHUNK.min(end.saturating_sub(self.hashed) as usize)];
        while self.hashed < end {
            let want = ((end - self.hashed) as usize).min(buf.len());
            let n = read_at(file, &mut buf[..want], self.hashed)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file is shorter than the bytes recorded as written",
                ));
            }
            self.update(&buf[..n]);
        }
        Ok(())
    }

    fn update(&mut self, data: &[u8]) {
        self.main.update(data);
        if let Some((_, md5)) = self.md5.as_mut() {
            md5.update(data);
        }
        self.hashed += data.len() as u64;
    }

    pub fn finish(self) -> Sealed {
        let digest = Digest {
            algorithm: self.algorithm,
            value: self.main.finish(),
        };
        match self.md5 {
            Some((etag, md5)) => {
                let found = md5.finish();
                if found == etag {
                    Sealed::Good(digest)
                } else {
                    Sealed::Md5Mismatch { etag, found }
                }
            }
            None => Sealed::Good(digest),
        }
    }
}

/// Hashes a whole file from disk (a file finished before this process, or empty).
pub(crate) fn hash_whole(
    path: &Path,
    algorithm: HashAlgorithm,
    etag: Option<&str>,
) -> std::io::Result<Sealed> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut h = PrefixHash::new(algorithm, etag);
    h.advance(&file, len)?;
    Ok(h.finish())
}

/// The MD5 in an ETag, when it is one: S3 gives the MD5 of the bytes for an object
/// stored in one piece, and `<md5 of part md5s>-<parts>` (not the file's MD5) for one
/// uploaded in parts.
pub(crate) fn plain_md5(etag: &str) -> Option<String> {
    let inner = etag.trim().trim_start_matches("W/").trim_matches('"');
    (inner.len() == 32 && inner.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| inner.to_ascii_lowercase())
}

/// Guards a part file's prefix hash: the connection that extends the prefix hashes it,
/// unless another is already at it (it will be caught up when the file finishes).
pub(crate) struct SharedHash(Mutex<Option<PrefixHash>>);

impl SharedHash {
    pub fn new(h: PrefixHash) -> Self {
        Self(Mutex::new(Some(h)))
    }

    pub fn learn_etag(&self, etag: &str) {
        if let Some(h) = crate::sync::lock(&self.0).as_mut() {
            h.learn_etag(etag);
        }
    }

    /// Hashes up to `end` if no one else is hashing this file now.
    pub fn try_advance(&self, file: &File, end: u64) -> std::io::Result<()> {
        match self.0.try_lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(h) => h.advance(file, end),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }

    /// Hashes the rest and gives the result (once; `None` after).
    pub fn finish(&self, file: &File, size: u64) -> std::io::Result<Option<Sealed>> {
        let mut guard = crate::sync::lock(&self.0);
        let Some(mut h) = guard.take() else {
            return Ok(None);
        };
        h.advance(file, size)?;
        Ok(Some(h.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_hashed_in_pieces_equals_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let md5 = HashAlgorithm::Md5.hash_data(&data);
        let mut h = PrefixHash::new(HashAlgorithm::Xxh128, Some(&format!("\"{md5}\"")));
        for end in [1, 1000, 1_048_577, 2_999_999, 3_000_000] {
            h.advance(&file, end).unwrap();
        }
        match h.finish() {
            Sealed::Good(d) => assert_eq!(d.value, HashAlgorithm::Xxh128.hash_data(&data)),
            Sealed::Md5Mismatch { .. } => panic!("the MD5 matches"),
        }
        let wrong = format!("\"{}\"", "0".repeat(32));
        assert!(matches!(
            hash_whole(&path, HashAlgorithm::Xxh128, Some(&wrong)).unwrap(),
            Sealed::Md5Mismatch { .. }
        ));
    }

    #[test]
    fn only_single_part_etags_are_md5s() {
        let md5 = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            plain_md5(&format!("\"{md5}\"")),
            Some(md5.to_ascii_lowercase())
        );
        assert_eq!(plain_md5(&format!("\"{}-3\"", &md5[..32])), None);
        assert_eq!(plain_md5("\"abc\""), None);
    }
}
