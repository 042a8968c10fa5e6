//! `inbound team ...`: the team's and portals' packages, and downloads without a link.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use inbound_engine::{Engine, EngineConfig, Origin, Secret, human_bytes, terminal_safe};
use inbound_inbox::{CredentialStore, Credentials, KeyLocation, TeamApi, to_download};
use inbound_masv::{MasvClient, PackageState, Portal, TeamPackage};
use serde::Serialize;

#[derive(Args)]
pub struct TeamArgs {
    #[command(subcommand)]
    command: TeamCommand,
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Save the team id and API key (read from standard input; never printed). The key
    /// goes to the OS keyring, or to a user-only file when there is none.
    Login {
        /// The team's id (MASV web app, team settings).
        #[arg(long)]
        team_id: String,
    },
    /// Forget the saved team login.
    Logout,
    /// The team's packages.
    Packages {
        /// Only packages in these states (comma-separated): new, finalized, expired, archived.
        #[arg(long, value_delimiter = ',', value_parser = parse_state)]
        state: Vec<PackageState>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The team's portals.
    Portals {
        #[arg(long)]
        json: bool,
    },
    /// The packages sent through one portal.
    PortalPackages {
        portal_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Download a team package (finalized) by id, no link needed.
    Download {
        package_id: String,
        /// Folder to download into [default: Downloads/MASV].
        #[arg(long, short)]
        dest: Option<PathBuf>,
        /// Put the package's files straight into the folder, without a package folder.
        #[arg(long)]
        no_package_folder: bool,
        /// Use exactly this many parallel connections. By default Inbound finds the
        /// count itself: it opens 32 at once and closes those that do not add to its
        /// throughput.
        #[arg(long, short = 'c', value_parser = clap::value_parser!(u16).range(1..=64))]
        connections: Option<u16>,
    },
}

fn parse_state(s: &str) -> Result<PackageState, String> {
    PackageState::parse(s)
        .ok_or_else(|| format!("unknown state {s:?}: use new, finalized, expired or archived"))
}

pub async fn run(args: TeamArgs) -> ExitCode {
    match team(args).await {
        Ok(code) => code,
        Err(e) => {
            crate::output::fail_line(&crate::output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn team(args: TeamArgs) -> anyhow::Result<ExitCode> {
    let data_dir = crate::data_dir()?;
    let _log = crate::logging::init(Some(&data_dir));
    let store = CredentialStore::new(&data_dir);
    let mut out = std::io::stdout().lock();
    match args.command {
        TeamCommand::Login { team_id } => {
            let api_key = read_api_key()?;
            let creds = Credentials { team_id, api_key };
            // Checked before it is saved, so a typo fails here and not at the next use.
            api(&creds)?
                .portals()
                .await
                .context("the login was not saved")?;
            match store.save(&creds).await? {
                KeyLocation::Keyring => writeln!(
                    out,
                    "Logged in to team {}; the API key is in your keyring.",
                    creds.team_id
                )?,
                KeyLocation::File(path) => writeln!(
                    out,
                    "Logged in to team {}; no keyring here, so the API key is in {} (readable by you only).",
                    creds.team_id,
                    path.display()
                )?,
            }
        }
        TeamCommand::Logout => {
            store.forget().await?;
            writeln!(out, "Logged out.")?;
        }
        TeamCommand::Packages { state, json } => {
            let packages = logged_in(&store).await?.packages(&state).await?;
            print_packages(&mut out, &packages, json)?;
        }
        TeamCommand::Portals { json } => {
            let portals = logged_in(&store).await?.portals().await?;
            print_portals(&mut out, &portals, json)?;
        }
        TeamCommand::PortalPackages { portal_id, json } => {
            let packages = logged_in(&store).await?.portal_packages(&portal_id).await?;
            print_packages(&mut out, &packages, json)?;
        }
        TeamCommand::Download {
            package_id,
            dest,
            no_package_folder,
            connections,
        } => {
            drop(out);
            let api = logged_in(&store).await?;
            let package = api.package(&package_id).await?;
            let download = to_download(
                &package,
                Origin::Team {
                    team_id: api.team_id().to_owned(),
                },
            )?;
            let dest = crate::args::placement(
                crate::args::destination(dest.as_deref())?,
                no_package_folder,
            );
            let mut config = EngineConfig::new(&data_dir);
            config.auto_resume = false;
            crate::args::set_connections(&mut config, connections);
            let engine = Engine::open(config).await?;
            let events = engine.subscribe();
            let id = match engine.add_team_package(download, dest).await {
                Ok(id) => id,
                Err(e) => {
                    engine.shutdown().await;
                    return Err(e.into());
                }
            };
            return crate::output::follow(&engine, &id, events).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn api(creds: &Credentials) -> anyhow::Result<TeamApi> {
    let client = MasvClient::new(inbound_masv::api_url_from_env())?;
    Ok(TeamApi::new(
        client,
        creds.api_key.clone(),
        creds.team_id.clone(),
    ))
}

async fn logged_in(store: &CredentialStore) -> anyhow::Result<TeamApi> {
    let creds = store
        .load()
        .await?
        .ok_or(inbound_inbox::InboxError::NotLoggedIn)?;
    api(&creds)
}

fn read_api_key() -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let _ = write!(
            std::io::stderr(),
            "MASV API key (input is not hidden; or pipe it in): "
        );
        let _ = std::io::stderr().flush();
    }
    let line = crate::stdin_line::read("the API key")?;
    let key = line.trim();
    if key.is_empty() {
        anyhow::bail!(
            "no API key on standard input: pipe it in, e.g. `inbound team login --team-id ID < key.txt`"
        );
    }
    Ok(Secret::new(key))
}

/// A package as printed: everything but the access token.
#[derive(Serialize)]
struct PackageView<'a> {
    id: &'a str,
    name: &'a str,
    state: PackageState,
    sender: &'a str,
    size: u64,
    total_files: u64,
    created_at: Option<String>,
    expiry: Option<String>,
    contains_virus: bool,
    portal_id: Option<&'a str>,
    uploading: bool,
}

impl<'a> From<&'a TeamPackage> for PackageView<'a> {
    fn from(p: &'a TeamPackage) -> Self {
        Self {
            id: &p.id,
            name: &p.name,
            state: p.state,
            sender: &p.sender,
            size: p.size,
            total_files: p.total_files,
            created_at: p.created_at.map(|t| t.to_rfc3339()),
            expiry: p.expiry.map(|t| t.to_rfc3339()),
            contains_virus: p.contains_virus,
            portal_id: p.portal_id.as_deref(),
            uploading: p.upload_channel().is_some(),
        }
    }
}

/// A package's size for the table: MASV leaves it out of some listings (it arrives as
/// 0), and "0 B" would read as an empty package.
fn size_cell(size: u64) -> String {
    if size == 0 {
        "—".into()
    } else {
        human_bytes(size)
    }
}

fn print_packages(
    out: &mut impl Write,
    packages: &[TeamPackage],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let views: Vec<PackageView> = packages.iter().map(PackageView::from).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
        return Ok(());
    }
    if packages.is_empty() {
        writeln!(out, "No packages.")?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = packages
        .iter()
        .map(|p| {
            [
                p.id.clone(),
                if p.contains_virus {
                    format!("{} (virus)", p.state)
                } else {
                    p.state.to_string()
                },
                size_cell(p.size),
                p.created_at
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                terminal_safe(&p.sender),
                terminal_safe(&p.name),
            ]
        })
        .collect();
    table(
        out,
        ["ID", "STATE", "SIZE", "DATE", "SENDER", "NAME"],
        &rows,
    )
}

fn print_portals(out: &mut impl Write, portals: &[Portal], json: bool) -> anyhow::Result<()> {
    if json {
        let views: Vec<_> = portals
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id, "name": p.name, "subdomain": p.subdomain, "active": p.active,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
        return Ok(());
    }
    if portals.is_empty() {
        writeln!(out, "No portals.")?;
        return Ok(());
    }
    let rows: Vec<[String; 4]> = portals
        .iter()
        .map(|p| {
            [
                p.id.clone(),
                terminal_safe(&p.name),
                terminal_safe(&p.subdomain),
                if p.active { "active" } else { "inactive" }.to_owned(),
            ]
        })
        .collect();
    table(out, ["ID", "NAME", "SUBDOMAIN", "STATUS"], &rows)
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> anyhow::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_without_sizes_shows_a_dash_not_zero_bytes() {
        let packages: Vec<TeamPackage> = serde_json::from_value(serde_json::json!([
            { "id": "p-nosize", "name": "Rushes", "state": "finalized" },
            { "id": "p-sized", "name": "Stills", "state": "finalized", "size": 3_145_728 },
        ]))
        .unwrap();
        let mut out = Vec::new();
        print_packages(&mut out, &packages, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = |id: &str| text.lines().find(|l| l.starts_with(id)).unwrap().to_owned();
        assert!(row("p-nosize").contains(" — "), "{text}");
        assert!(!text.contains("0 B"), "{text}");
        assert!(row("p-sized").contains("3.0 MB"), "{text}");
    }
}
