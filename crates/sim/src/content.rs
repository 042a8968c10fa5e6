use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The bytes of a simulated file. Large files are generated on demand from a seed so a
/// multi-gigabyte package costs no memory; any byte range can be produced independently.
#[derive(Clone, Debug)]
pub enum Content {
    Bytes(Arc<[u8]>),
    Generated { seed: u64, len: u64 },
}

impl Content {
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(Arc::from(data.into().into_boxed_slice()))
    }

    pub fn generated(seed: u64, len: u64) -> Self {
        Self::Generated { seed, len }
    }

    pub fn len(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::Generated { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes starting at `offset`; `buf` must lie inside the file.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        match self {
            Self::Bytes(b) => {
                let start = offset as usize;
                buf.copy_from_slice(&b[start..start + buf.len()]);
            }
            Self::Generated { seed, .. } => fill_generated(*seed, offset, buf),
        }
    }

    pub fn sha256_hex(&self) -> String {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut offset = 0;
        while offset < self.len() {
            let n = (self.len() - offset).min(buf.len() as u64) as usize;
            self.fill(offset, &mut buf[..n]);
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        hex::encode(hasher.finalize())
    }
}

/// Byte `i` of the stream is byte `i % 8` of `splitmix64(seed ^ (i / 8))`: random-looking
/// (so nothing compresses it away) and computable at any offset.
fn fill_generated(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = 0usize;
    let mut word_index = offset / 8;
    let mut skip = (offset % 8) as usize;
    while pos < buf.len() {
        let word = splitmix64(seed ^ word_index.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes();
        let take = (8 - skip).min(buf.len() - pos);
        buf[pos..pos + take].copy_from_slice(&word[skip..skip + take]);
        pos += take;
        skip = 0;
        word_index += 1;
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_matches_the_whole() {
        let c = Content::generated(42, 1000);
        let mut whole = vec![0u8; 1000];
        c.fill(0, &mut whole);
        for (start, len) in [(0, 1), (3, 17), (8, 8), (999, 1), (123, 500)] {
            let mut part = vec![0u8; len];
            c.fill(start as u64, &mut part);
            assert_eq!(part, whole[start..start + len]);
        }
        assert_ne!(whole[..8], whole[8..16]);
        assert_ne!(
            Content::generated(1, 64).sha256_hex(),
            Content::generated(2, 64).sha256_hex()
        );
    }
}
