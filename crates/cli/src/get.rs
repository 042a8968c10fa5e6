use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use inbound_engine::{
    Destination, DownloadState, Engine, EngineConfig, EngineError, Event, HashAlgorithm,
    LinkOptions, MasvError, Secret, Selection, SelectionError, human_bytes,
};
use inbound_sim::Sim;
use tokio::sync::broadcast::error::RecvError;

use crate::patient::Added;
use crate::progress::ProgressView;

/// Exit code after Ctrl-C, as shells expect for SIGINT.
const INTERRUPTED: u8 = 130;
/// Exit code when the package is complete but files MASV flagged as infected were
/// withheld: a script must not take the package for whole, yet may accept it.
const FILES_WITHHELD: u8 = 3;
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
    when_done: crate::when_done::WhenDone,
    /// Download Inbound's demo package from a built-in simulator (no MASV link needed).
    #[arg(long, conflicts_with = "url")]
    demo: bool,
}

/// Which files of the package: the same options for `get` and `ls`.
#[derive(Args, Clone, Default)]
pub struct Pick {
    /// Only files matching this pattern (repeatable): `'Day 1/**'` is everything in
    /// that folder, `'*.mov'` every MOV wherever it is (`*` stays in a folder, `**`
    /// crosses folders).
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Leave out files matching this pattern (repeatable), e.g. `'*.wav'`.
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
}

impl Pick {
    pub fn selection(&self) -> Result<Selection, SelectionError> {
        Selection::patterns(self.only.clone(), self.exclude.clone())
    }
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

/// `--dest` made absolute, or the user's Downloads/MASV.
pub(crate) fn destination(dest: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    match dest {
        Some(d) => std::path::absolute(d).with_context(|| format!("bad folder {}", d.display())),
        None => inbound_engine::default_destination()
            .context("cannot find your Downloads folder; pass --dest DIR"),
    }
}

/// Where a package goes: a folder of its own inside `folder`, unless asked not to.
pub(crate) fn placement(folder: PathBuf, no_package_folder: bool) -> Destination {
    if no_package_folder {
        Destination::straight(folder)
    } else {
        Destination::package_folder_in(folder)
    }
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
    config.after_download = args.when_done.hooks()?;
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

pub(crate) fn read_password() -> anyhow::Result<Secret> {
    let pw = crate::stdin_line::read("the password")?;
    if pw.is_empty() {
        anyhow::bail!("--password-stdin was given but standard input had no password");
    }
    Ok(Secret::new(pw))
}

pub(crate) fn explain_add_error(e: EngineError, had_password: bool) -> anyhow::Error {
    match e {
        EngineError::Masv(MasvError::PasswordRequired) if !had_password => anyhow::anyhow!(
            "password required: this link is protected; pass the password on standard input with --password-stdin"
        ),
        other => anyhow::Error::new(other),
    }
}

/// The most connections a download grows to when no count was asked for.
const ADAPTIVE_MAX: usize = 32;

/// Exactly the connections asked for, or, with none asked for, as many as pay (see
/// `--connections`).
pub fn set_connections(config: &mut EngineConfig, asked: Option<u16>) {
    match asked {
        Some(n) => {
            config.connections_per_download = usize::from(n);
            config.adaptive_connections = false;
            // The engine-wide cap must not quietly cut the count asked for.
            config.max_connections = config.max_connections.max(usize::from(n));
        }
        None => {
            config.connections_per_download = ADAPTIVE_MAX;
            config.adaptive_connections = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_asked_for_is_not_cut_by_the_engine_wide_cap() {
        let mut config = EngineConfig::new(std::path::PathBuf::from("/tmp/inbound-test"));
        let cap = config.max_connections;
        set_connections(&mut config, Some(64));
        assert_eq!(config.connections_per_download, 64);
        assert!(
            config.max_connections >= 64,
            "asked for 64, the engine allows {} at once",
            config.max_connections
        );
        set_connections(&mut config, Some(2));
        assert_eq!(config.connections_per_download, 2);
        assert!(
            config.max_connections >= cap,
            "a small count never lowers the cap"
        );
    }
}
