//! Running the hooks: the command (no shell, folder as last argument, summary on
//! stdin, stopped after a while) and the POST.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{AfterDownload, CompletedPackage};
use crate::model::display::terminal_safe;

/// A command still running after this is stopped, and counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const POST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `hooks` for a completed package; one sentence per hook that failed.
pub(crate) async fn run_hooks(hooks: &AfterDownload, package: &CompletedPackage) -> Vec<String> {
    let json = serde_json::to_vec_pretty(package).unwrap_or_default();
    let mut failures = Vec::new();
    if let Some((program, args)) = hooks.run.split_first()
        && let Err(e) = run_command(program, args, &package.folder, &json).await
    {
        failures.push(e);
    }
    if let Some(url) = &hooks.post_url
        && let Err(e) = post(url, &json).await
    {
        failures.push(e);
    }
    failures
}

async fn run_command(
    program: &str,
    args: &[String],
    folder: &Path,
    json: &[u8],
) -> Result<(), String> {
    let shown = terminal_safe(program);
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .arg(folder)
        .env("INBOUND_PACKAGE_FOLDER", folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("the command {shown} could not start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read the summary is fine.
        let _ = stdin.write_all(json).await;
    }
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!("the command {shown} was still running after 10 minutes and was stopped")
        })?
        .map_err(|e| format!("the command {shown} failed: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let last = said
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let last: String = terminal_safe(last).chars().take(300).collect();
    Err(match (out.status.code(), last.is_empty()) {
        (Some(code), true) => format!("the command {shown} exited with {code}"),
        (Some(code), false) => format!("the command {shown} exited with {code}: {last}"),
        (None, _) => format!("the command {shown} was killed by a signal"),
    })
}

async fn post(url: &str, json: &[u8]) -> Result<(), String> {
    // Never redirected: the URL was checked to be on this machine, and a redirect
    // could send the package's names and paths anywhere.
    let client = reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot post the summary: {e}"))?;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json.to_vec())
        .send()
        .await
        .map_err(|e| {
            let why = inbound_masv::describe_transport_error(&e, e.is_connect(), e.is_timeout());
            format!("posting the summary to {url} failed: {why}")
        })?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!(
            "{url} answered {status} to the summary; a redirect is not followed: set the URL it points to"
        ))
    } else {
        Err(format!("{url} answered {status} to the summary"))
    }
}
