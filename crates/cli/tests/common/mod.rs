//! Helpers shared by the CLI's integration tests.

use std::path::Path;

use sha2::{Digest, Sha256};

pub fn sha256_file(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(h.finalize())
}
