//! `inbound doctor`: what a support request needs, in one screen: versions, the data
//! folder and who holds it, free space where packages go, whether MASV answers, who
//! opens `masv://` links, the keyring, the team login. Never a secret: the team's API
//! key, link secrets and the agent token are only ever said to exist.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use inbound_engine::human_bytes;
use inbound_inbox::{CredentialStore, KeyLocation, KeyringStatus};

/// How long MASV has to accept a connection before it is reported out of reach.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct DoctorArgs {}

pub async fn run(args: DoctorArgs) -> ExitCode {
    match doctor(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::fail_line(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn doctor(_args: DoctorArgs) -> anyhow::Result<()> {
    let data = crate::data_dir()?;
    let mut lines: Vec<(&str, String)> = vec![
        ("Inbound", version()),
        ("Data folder", folder_state(&data)),
        ("In use", holder(&data)),
    ];
    if let Some(dest) = inbound_engine::default_destination() {
        lines.push(("Downloads to", space(&dest)));
    }
    let api = inbound_masv::api_url_from_env();
    lines.push(("MASV API", reach(&api).await));
    for scheme in ["masv", "inbound"] {
        let label = if scheme == "masv" {
            "masv:// links"
        } else {
            "inbound:// links"
        };
        let handler = tokio::task::spawn_blocking(move || inbound_engine::scheme_handler(scheme));
        lines.push((label, handler.await?.to_string()));
    }
    let keyring = tokio::task::spawn_blocking(inbound_inbox::keyring_status).await?;
    lines.push(("Keyring", keyring_line(&keyring)));
    lines.push(("Team login", team_line(&data)));
    lines.push(("Agent API token", token_line(&data)));
    let mut out = std::io::stdout().lock();
    for (label, value) in lines {
        writeln!(out, "{label:<17}{}", inbound_engine::terminal_safe(&value))?;
    }
    Ok(())
}

fn version() -> String {
    // Linux's kernel release (elsewhere the OS name and architecture say enough; under
    // Wine this file would be the Linux host's).
    let kernel = if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| format!(", kernel {}", k.trim()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    format!(
        "{} ({} {}{kernel})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn folder_state(dir: &Path) -> String {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            let writable = tempfile::tempfile_in(dir).is_ok();
            format!(
                "{} ({})",
                dir.display(),
                if writable { "writable" } else { "NOT writable" }
            )
        }
        Ok(_) => format!("{} (not a folder)", dir.display()),
        Err(_) => format!("{} (not created yet)", dir.display()),
    }
}

/// Who holds the data folder's lock, as the lock file names them.
fn holder(dir: &Path) -> String {
    let path = dir.join("inbound.lock");
    let Ok(file) = std::fs::File::open(&path) else {
        return "no".into();
    };
    match file.try_lock_shared() {
        Ok(()) => "no".into(),
        Err(_) => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut parts = text.lines();
            let pid = parts.next().unwrap_or("?");
            let program = parts.next().unwrap_or("another Inbound");
            format!("yes, by process {pid} ({program})")
        }
    }
}

fn space(dest: &Path) -> String {
    // The folder may not exist yet: its nearest existing parent has the same disk.
    let existing = dest.ancestors().find(|p| p.exists()).unwrap_or(dest);
    match inbound_engine::available_space(existing) {
        Ok(free) => format!("{} ({} free)", dest.display(), human_bytes(free)),
        Err(e) => format!("{} (free space unknown: {e})", dest.display()),
    }
}

/// Whether MASV's API answers: a link that does not exist is asked for, so any answer
/// from MASV (even "no such link") proves the way there works.
async fn reach(api: &str) -> String {
    let probe = inbound_masv::LinkRef::parse("https://get.massive.app/inbound-doctor?secret=probe");
    let (Ok(client), Ok(link)) = (inbound_masv::MasvClient::new(api), probe) else {
        return format!("{api}: cannot be asked (not a usable URL)");
    };
    let started = Instant::now();
    match tokio::time::timeout(REACH_TIMEOUT, client.link(&link, None)).await {
        Err(_) => format!(
            "{api}: NOT reachable (no answer within {} s)",
            REACH_TIMEOUT.as_secs()
        ),
        Ok(Err(e)) if e.is_transient() => format!("{api}: NOT reachable ({})", e.reason()),
        Ok(_) => format!("{api}: answers ({} ms)", started.elapsed().as_millis()),
    }
}

fn keyring_line(status: &KeyringStatus) -> String {
    match status {
        KeyringStatus::Usable => "usable".into(),
        KeyringStatus::TurnedOff => "turned off (INBOUND_NO_KEYRING is set)".into(),
        KeyringStatus::Unusable(why) => {
            format!("not usable ({why}); a team login's key is kept in a file only you can read")
        }
    }
}

fn team_line(data: &Path) -> String {
    match CredentialStore::new(data).saved_team() {
        None => "none (inbound team login)".into(),
        Some((team, KeyLocation::Keyring)) => format!("team {team}, key in the keyring"),
        Some((team, KeyLocation::File(path))) => {
            format!("team {team}, key in {} (yours only)", path.display())
        }
    }
}

fn token_line(data: &Path) -> String {
    if inbound_agent::token::path_in(data).is_file() {
        "kept in the data folder (yours only; other accounts must send it: inbound agent --show-token)".into()
    } else {
        "none yet (made when the agent first starts)".into()
    }
}
