//! `inbound verify DIR`: hash a package folder again and compare every file with its
//! ASC MHL history.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use inbound_engine::{VerifySummary, record_verification, terminal_safe, verify_folder};
use inbound_mhl::{Outcome, VerifyProgress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Exit code when a file is changed, missing or not in the history.
const PROBLEMS: u8 = 1;
/// Exit code when the folder could not be verified at all.
const UNVERIFIABLE: u8 = 2;

#[derive(Args)]
#[command(
    after_help = "Exit status: 0 every file matches, 1 a file is changed, missing or \
    not in the history, 2 the folder could not be verified (no history, unreadable)."
)]
pub struct VerifyArgs {
    /// The package folder: the one holding the `ascmhl` history.
    dir: PathBuf,
    /// Record this verification in the folder's history as a new generation.
    #[arg(long)]
    record: bool,
    /// Print only the problems and the summary, not every file that matches.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: VerifyArgs) -> ExitCode {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    bar.set_style(
        ProgressStyle::with_template(
            "[{bar:40.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let verified = verify_folder(&args.dir, |p| match p {
        VerifyProgress::Planned { bytes, .. } => bar.set_length(bytes),
        VerifyProgress::Hashed { path, bytes } => {
            bar.inc(bytes);
            bar.set_message(terminal_safe(path));
        }
    });
    bar.finish_and_clear();
    let verified = verified.and_then(|report| {
        let recorded = if args.record {
            record_verification(&args.dir, &report)?
        } else {
            None
        };
        Ok((report, recorded))
    });
    let (report, recorded) = match verified {
        Ok(v) => v,
        Err(e) => {
            crate::output::fail_line(&format!("cannot verify {}: {e}", args.dir.display()));
            return ExitCode::from(UNVERIFIABLE);
        }
    };
    let mut out = std::io::stdout().lock();
    for f in &report.files {
        let word = match f.outcome {
            Outcome::Ok if args.quiet => continue,
            Outcome::Ok => "OK",
            Outcome::Changed => "CHANGED",
            Outcome::Missing => "MISSING",
            Outcome::Extra => "EXTRA",
        };
        let _ = writeln!(out, "{word:<8} {}", terminal_safe(&f.path));
    }
    let summary = VerifySummary::of(&report, recorded);
    let _ = writeln!(out, "{}", summary_line(&summary, report.generations));
    if let Some(manifest) = &summary.recorded {
        let _ = writeln!(out, "recorded in {}", manifest.display());
    }
    if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PROBLEMS)
    }
}

/// `12 OK, 1 changed, 0 missing, 0 extra (xxh128; history of 2 generations)`.
fn summary_line(s: &VerifySummary, generations: usize) -> String {
    let verdict = if s.is_clean() {
        "every file matches its hash"
    } else {
        "PROBLEMS FOUND"
    };
    format!(
        "{verdict}: {} OK, {} changed, {} missing, {} extra ({}; history of {generations} generation{})",
        s.ok,
        s.changed.len(),
        s.missing.len(),
        s.extra.len(),
        if s.algorithms.is_empty() {
            "nothing hashed".to_owned()
        } else {
            s.algorithms.join(", ")
        },
        if generations == 1 { "" } else { "s" },
    )
}
