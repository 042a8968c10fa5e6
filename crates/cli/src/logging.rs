use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const FILE_FILTER: &str =
    "warn,inbound=info,inbound_engine=info,inbound_masv=info,inbound_sim=info";

/// Logs to stderr (`RUST_LOG`, default: warnings only, so progress bars stay readable)
/// and to a daily file in `data_dir/logs`. Keep the guard alive until exit.
pub fn init(data_dir: Option<&Path>) -> Option<WorkerGuard> {
    init_with_stderr_default(data_dir, "warn")
}

/// As [`init`], with another default level for stderr (a server logs more).
pub fn init_with_stderr_default(data_dir: Option<&Path>, level: &str) -> Option<WorkerGuard> {
    let stderr_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(stderr_filter);
    let (file, guard) = match data_dir {
        Some(dir) => {
            let logs = dir.join("logs");
            let _ = std::fs::create_dir_all(&logs);
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("inbound")
                .filename_suffix("log")
                .max_log_files(7)
                .build(&logs)
                .ok();
            match appender {
                Some(a) => {
                    // The default queue (128k lines) preallocates 4 MB; logs are sparse.
                    let (writer, guard) =
                        tracing_appender::non_blocking::NonBlockingBuilder::default()
                            .buffered_lines_limit(4096)
                            .finish(a);
                    let layer = tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_filter(EnvFilter::new(FILE_FILTER));
                    (Some(layer), Some(guard))
                }
                None => (None, None),
            }
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    guard
}
