//! Logging to a daily-rotated file in the state dir. Nothing is ever written to the
//! terminal, because the TUI owns it.

use std::path::Path;

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// How many rotated log files to keep.
const KEEP_FILES: usize = 7;

/// Starts file logging. Keep the returned guard alive until exit so buffered lines are
/// flushed. `RUST_LOG` overrides `level` when set.
pub fn init(log_dir: &Path, level: &str) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir)
        .with_context(|| format!("creating log directory {}", log_dir.display()))?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(&spec)
            .with_context(|| format!("RUST_LOG={spec:?} is not a valid filter"))?,
        _ => EnvFilter::try_new(level).with_context(|| {
            format!("--log-level {level:?} is not valid; use error, warn, info, debug or trace")
        })?,
    };
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("ck8s-console")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(log_dir)
        .with_context(|| format!("opening log file in {}", log_dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))?;
    Ok(guard)
}
