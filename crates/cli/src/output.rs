//! What a command prints: a download followed to its end, its report, and the one
//! line an error gets.

use std::io::Write;
use std::process::ExitCode;

use inbound_engine::{DownloadState, Engine, EngineError, Event, MasvError, human_bytes};
use tokio::sync::broadcast::error::RecvError;

use crate::progress::ProgressView;

/// Exit code after Ctrl-C, as shells expect for SIGINT.
pub(crate) const INTERRUPTED: u8 = 130;
/// Exit code when the package is complete but files MASV flagged as infected were
/// withheld: a script must not take the package for whole, yet may accept it.
const FILES_WITHHELD: u8 = 3;
/// An error and its causes in one line, each thing said once: messages here already
/// name their cause, so a cause whose text is in the line is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// The one line a failed command prints.
pub fn fail_line(msg: &str) {
    // Messages can carry names from a package: never let them drive the terminal.
    let _ = writeln!(
        std::io::stderr(),
        "error: {}",
        inbound_engine::terminal_safe(msg)
    );
}

/// Shows the download's progress until it completes or fails, then reports; Ctrl-C
/// stops it with its progress saved.
pub(crate) async fn follow(
    engine: &Engine,
    id: &str,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) -> anyhow::Result<ExitCode> {
    let id = id.to_owned();
    let detail = engine.get(&id)?;
    let mut view = ProgressView::new(&detail);
    let mut state = detail.summary.state;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !matches!(state, DownloadState::Complete | DownloadState::Error) {
        tokio::select! {
            _ = &mut ctrl_c => {
                view.finish();
                engine.shutdown().await;
                fail_line("stopped; progress is saved, run the same command again to resume");
                return Ok(ExitCode::from(INTERRUPTED));
            }
            ev = events.recv() => match ev {
                Ok(Event::StateChanged { id: ev_id, state: s, .. }) if ev_id == id => state = s,
                Ok(Event::Progress { downloads }) => {
                    if let Some(p) = downloads.iter().find(|p| p.id == id) {
                        view.update(p);
                    }
                }
                Ok(Event::Waiting { id: ev_id, waiting }) if ev_id == id => view.waiting(waiting),
                Ok(Event::FileStateChanged { id: ev_id, index, state: fs, .. }) if ev_id == id => {
                    view.file_state(index, fs);
                }
                Ok(Event::ExpiresSoon { id: ev_id, expires_at }) if ev_id == id => {
                    view.note(&format!(
                        "note: the package {} ({}): MASV deletes it then; keep this running until it completes",
                        inbound_engine::expires_in(expires_at - inbound_engine::unix_now()),
                        inbound_engine::local_moment(expires_at)
                    ));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => state = engine.get(&id)?.summary.state,
                Err(RecvError::Closed) => break,
            }
        }
    }
    view.finish();
    let detail = engine.get(&id)?;
    engine.shutdown().await;
    report(&detail)
}

fn report(detail: &inbound_engine::DownloadDetail) -> anyhow::Result<ExitCode> {
    let summary = &detail.summary;
    if summary.state == DownloadState::Error {
        anyhow::bail!(
            "{}",
            summary
                .error
                .clone()
                .unwrap_or_else(|| "the download failed; run the command again to retry".into())
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Downloaded \"{}\": {} files, {} into {}",
        inbound_engine::terminal_safe(&summary.name),
        summary.files_complete,
        human_bytes(summary.total_bytes),
        summary.dst_folder.display()
    )?;
    writeln!(out, "{}", verified_line(summary))?;
    // Downloaded again into its folder: a copy that differed was moved, not replaced.
    for f in &detail.files {
        if let Some(kept) = &f.kept_aside {
            eprintln!(
                "note: {} differed from what arrived before; that copy is kept as {}",
                inbound_engine::terminal_safe(&f.path.to_string_lossy()),
                inbound_engine::terminal_safe(&kept.to_string_lossy())
            );
        }
    }
    if !summary.virus_files.is_empty() {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "warning: {} file(s) flagged as infected by MASV were not downloaded:",
            summary.virus_files.len()
        )?;
        for f in &summary.virus_files {
            writeln!(err, "  {}", inbound_engine::terminal_safe(f))?;
        }
        return Ok(ExitCode::from(FILES_WITHHELD));
    }
    Ok(ExitCode::SUCCESS)
}

/// `12 files verified (xxh128), manifest in /dest/Package/ascmhl`.
fn verified_line(summary: &inbound_engine::DownloadSummary) -> String {
    let algorithm = summary.hash_algorithm.as_deref().unwrap_or("no hash");
    let mut line = format!(
        "{} file{} verified ({algorithm})",
        summary.files_verified,
        if summary.files_verified == 1 { "" } else { "s" }
    );
    if let Some(history) = summary
        .manifest
        .as_deref()
        .and_then(std::path::Path::parent)
    {
        line.push_str(&format!(", manifest in {}", history.display()));
    }
    line
}

/// An add that failed, said with what to do: a protected link names the option that
/// gives its password.
pub(crate) fn explain_add_error(e: EngineError, had_password: bool) -> anyhow::Error {
    match e {
        EngineError::Masv(MasvError::PasswordRequired) if !had_password => anyhow::anyhow!(
            "password required: this link is protected; pass the password on standard input with --password-stdin"
        ),
        other => anyhow::Error::new(other),
    }
}
