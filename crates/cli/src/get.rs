//! `inbound get`: one package from a link into a folder, followed at the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use inbound_engine::{Engine, EngineConfig, EngineError, HashAlgorithm, LinkOptions, MasvError};
use inbound_sim::Sim;

use crate::args::{Pick, destination, placement, read_password, set_connections};
use crate::output::{INTERRUPTED, explain_add_error, fail_line, follow, one_line};
use crate::patient::Added;

/// Where a script can put the link instead of the command line.
const LINK_ENV: &str = "INBOUND_LINK";
/// Per-connection cap of the demo's simulated storage, so the demo shows progress.
const DEMO_CONN_RATE: u64 = 6 * 1024 * 1024;

#[derive(Args)]
pub struct GetArgs {
    /// The MASV download link (https://get.massive.app/...?secret=...). `-` reads it
    /// from the first line of standard input (the password, with --password-stdin,
    /// from the next); or set INBOUND_LINK. Either keeps the secret out of the list
    /// of processes other users can see.
    #[arg(required_unless_present = "demo", env = LINK_ENV, hide_env_values = true)]
    url: Option<String>,
    /// Folder to download into [default: Downloads/MASV]; the package gets a folder
    /// of its own there.
    #[arg(long, short)]
    dest: Option<PathBuf>,
    /// Put the package's files straight into the folder, without a package folder.
    #[arg(long)]
    no_package_folder: bool,
    /// Read the link's password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Let the machine sleep while the package transfers (by default it is kept awake).
    #[arg(long)]
    allow_sleep: bool,
    /// Use exactly this many parallel connections. By default Inbound finds the count
    /// itself: it opens 32 at once and closes those that do not add to its throughput.
    #[arg(long, short = 'c', value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: Option<u16>,
    /// Bandwidth limit, e.g. 20M (bytes per second, binary units).
    #[arg(long, value_parser = crate::rate::parse_bytes)]
    limit: Option<u64>,
    /// Hash format of the files' proof (ASC MHL): xxh128, xxh64, md5, sha1 or c4.
    #[arg(long, default_value = "xxh128", value_parser = crate::rate::parse_hash)]
    hash: HashAlgorithm,
    #[command(flatten)]
    pick: Pick,
    #[command(flatten)]
    hours: crate::hours::Hours,
    #[command(flatten)]
    hooks: crate::hooks::HookFlags,
    /// Download Inbound's demo package from a built-in simulator (no MASV link needed).
    #[arg(long, conflicts_with = "url")]
    demo: bool,
}

pub async fn run(args: GetArgs) -> ExitCode {
    match get(args).await {
        Ok(code) => code,
        Err(e) => {
            fail_line(&one_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let data_dir = crate::data_dir()?;
    let _log_guard = crate::logging::init(Some(&data_dir));
    let dest = placement(destination(args.dest.as_deref())?, args.no_package_folder);
    // A mistyped pattern is reported before anything else happens.
    let selection = args.pick.selection()?;
    // The link first: with `-` it is standard input's first line, the password its next.
    let link = match args.url.as_deref() {
        Some("-") => read_link()?,
        other => other.unwrap_or_default().to_owned(),
    };
    let password = if args.password_stdin {
        Some(read_password()?)
    } else {
        None
    };
    let mut config = EngineConfig::new(&data_dir);
    config.auto_resume = false;
    set_connections(&mut config, args.connections);
    config.bandwidth_limit = args.limit;
    config.bandwidth_schedule = args.hours.schedule();
    config.after_download = args.hooks.for_engine()?;
    config.hash_algorithm = args.hash;
    config.keep_awake = !args.allow_sleep;
    let (_sim, url) = if args.demo {
        let sim = Sim::start(vec![inbound_sim::catalog::demo()])
            .await
            .context("cannot start the demo simulator")?;
        sim.faults().set_conn_rate(DEMO_CONN_RATE);
        config.api_url = sim.api_url();
        let link = sim.packages()[0].link();
        (Some(sim), link)
    } else {
        (None, link)
    };
    let engine = Engine::open(config).await?;
    let events = engine.subscribe();
    let mut options = LinkOptions {
        password,
        selection,
        ..LinkOptions::default()
    };
    // A protected link with a person at the terminal: asked for, as `ssh` does.
    let mut asked = 0;
    let id = loop {
        let added = crate::patient::add_patiently(&engine, &url, dest.clone(), options.clone());
        match added.await {
            Ok(Added::Download(id)) => break id,
            Ok(Added::Stopped) => {
                engine.shutdown().await;
                fail_line("stopped while waiting for MASV; nothing was downloaded");
                return Ok(ExitCode::from(INTERRUPTED));
            }
            Err(EngineError::Masv(
                e @ (MasvError::PasswordRequired | MasvError::WrongPassword),
            )) if !args.password_stdin
                && asked < crate::asking::TRIES
                && crate::asking::can_ask() =>
            {
                asked += 1;
                match crate::asking::password(matches!(e, MasvError::WrongPassword)) {
                    Ok(pw) => options.password = Some(pw),
                    Err(why) => {
                        engine.shutdown().await;
                        return Err(why);
                    }
                }
            }
            Err(e) => {
                engine.shutdown().await;
                return Err(explain_add_error(e, args.password_stdin || asked > 0));
            }
        }
    };
    follow(&engine, &id, events).await
}

/// The link, from the first line of standard input (`inbound get -`).
fn read_link() -> anyhow::Result<String> {
    let line = crate::stdin_line::read("the link")?;
    let link = line.trim();
    if link.is_empty() {
        anyhow::bail!(
            "the link was to come from standard input (-), but its first line was empty; pipe the link in: echo \"$LINK\" | inbound get -"
        );
    }
    Ok(link.to_owned())
}
