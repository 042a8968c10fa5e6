//! Logs for every face of Inbound: stderr, and a daily file in the data folder.

use std::path::Path;

pub use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const FILE_FILTER: &str = "warn,inbound=info,inbound_engine=info,inbound_masv=info,inbound_sim=info,inbound_agent=info,inbound_desktop=info";

/// Logs to stderr (`RUST_LOG`, else `stderr_default`) and, with a data folder, to
/// `data_dir/logs/{file_prefix}.DATE.log` (a week kept). Keep the guard until exit.
pub fn init_logging(
    data_dir: Option<&Path>,
    file_prefix: &str,
    stderr_default: &str,
) -> Option<WorkerGuard> {
    let stderr_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(stderr_default));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(stderr_filter);
    let appender = data_dir.and_then(|dir| {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).ok()?;
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(file_prefix)
            .filename_suffix("log")
            .max_log_files(7)
            .build(&logs)
            .ok()
    });
    let (file, guard) = match appender {
        Some(a) => {
            // The default queue (128k lines) preallocates 4 MB; logs are sparse.
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(4096)
                .finish(a);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(EnvFilter::new(FILE_FILTER));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    guard
}
