//! Helpers shared by the CLI's integration tests.

// Each test file uses only some of them.
#![allow(dead_code)]

pub mod agent;
pub mod curl;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub fn sha256_file(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(h.finalize())
}

/// A finished command's status and output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `inbound` pointed at the simulator's API, with its own data folder, output captured.
pub fn inbound(sim: &inbound_sim::Sim, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_inbound"));
    c.env("MASV_API_URL", sim.api_url())
        .env("INBOUND_DATA_DIR", data)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `inbound get` of the simulator's first package straight into `dest` (no package
/// folder), run to its end.
pub fn get_straight(sim: &inbound_sim::Sim, data: &Path, dest: &Path) -> Output {
    inbound(sim, data)
        .args([
            "get",
            &sim.packages()[0].link(),
            "--no-package-folder",
            "--dest",
        ])
        .arg(dest)
        .output()
        .unwrap_or_else(|e| panic!("inbound get runs: {e}"))
}
