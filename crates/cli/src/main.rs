//! `inbound`: download MASV packages from a terminal, and run the simulator.

mod agent;
mod args;
mod asking;
mod doctor;
mod get;
mod hooks;
mod hours;
mod logging;
mod ls;
mod output;
mod patient;
mod progress;
mod rate;
mod sim;
mod stdin_line;
mod team;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "inbound",
    version,
    about = "Fast, resumable downloads of MASV packages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download a package from a MASV link (run the same command again to resume).
    Get(get::GetArgs),
    /// Serve the MASV-Agent-compatible REST API (http://127.0.0.1:8080/api/v1).
    Agent(agent::AgentArgs),
    /// Serve a simulated MASV API and storage, printing the links it serves.
    Sim(sim::SimArgs),
    /// The team's and portals' packages; download them without a link.
    Team(team::TeamArgs),
    /// Hash a package folder again and compare every file with its ASC MHL history.
    Verify(verify::VerifyArgs),
    /// List a package's files (size, id, path) without downloading anything.
    Ls(ls::LsArgs),
    /// Print what a support request needs (versions, data folder, free space, whether
    /// MASV answers, link handlers, keyring, team login); never a secret.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `inbound man > inbound.1`.
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "inbound",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                // `inbound man | head`: the reader had enough.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    output::fail_line(&format!("cannot write the manual page: {e}"));
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::fail_line(&format!("cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Get(args) => get::run(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::Sim(args) => sim::run(args).await,
            Command::Team(args) => team::run(args).await,
            Command::Verify(args) => verify::run(args),
            Command::Ls(args) => ls::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            // Answered before the runtime started.
            Command::Completions { .. } | Command::Man => ExitCode::SUCCESS,
        }
    })
}

/// The data folder: `INBOUND_DATA_DIR`, else the platform's.
fn data_dir() -> anyhow::Result<PathBuf> {
    inbound_engine::default_data_dir().ok_or_else(|| {
        anyhow::anyhow!("cannot find a data folder for Inbound; set INBOUND_DATA_DIR")
    })
}
