use std::path::Path;

use inbound_engine::WorkerGuard;

/// Logs to stderr (default: warnings only, so progress bars stay readable) and to the
/// data folder. Keep the guard alive until exit.
pub fn init(data_dir: Option<&Path>) -> Option<WorkerGuard> {
    init_with_stderr_default(data_dir, "warn")
}

/// As [`init`], with another default level for stderr (a server logs more).
pub fn init_with_stderr_default(data_dir: Option<&Path>, level: &str) -> Option<WorkerGuard> {
    inbound_engine::init_logging(data_dir, "inbound", level)
}
