use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use inbound_agent::Access;
use inbound_agent::provisioning::{ProvisioningError, ProvisioningFile};
use inbound_engine::{Engine, EngineConfig};

/// Environment variable holding the bearer token (alternative to --token-file).
const TOKEN_ENV: &str = "INBOUND_AGENT_TOKEN";

#[derive(Args)]
pub struct AgentArgs {
    /// Address to listen on (repeatable): HOST:PORT (anything but loopback needs
    /// --token-file), or a Unix socket, unix:///absolute/path.sock (owner-only).
    #[arg(long, default_value = inbound_agent::DEFAULT_LISTEN)]
    listen: Vec<inbound_agent::Listen>,
    /// File whose first line is the bearer token every request must carry, the
    /// agent's own user's too (or set INBOUND_AGENT_TOKEN). Without it, the token kept
    /// in the data folder is needed only by other accounts of this machine.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the agent's token (made on first start, kept readable by you alone in
    /// the data folder) and exit. Other accounts of this machine send it as
    /// `Authorization: Bearer <token>`.
    #[arg(long)]
    show_token: bool,
    /// A folder (with its subfolders) that callers Inbound cannot identify may
    /// download into without the token (repeatable). Default: your Downloads folder.
    /// Where the caller is known (Linux, or any Unix socket) this is not needed.
    #[arg(long, value_name = "DIR")]
    allow_dest: Vec<PathBuf>,
    /// Let browser pages from this origin call the API (repeatable), e.g. http://localhost:5173.
    #[arg(long)]
    allow_origin: Vec<String>,
    /// Use exactly this many parallel connections per download. By default each
    /// download finds its count: it opens 32 at once and closes those that do not add
    /// to its throughput.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: Option<u16>,
    /// Hash format of the files' proof (ASC MHL): xxh128, xxh64, md5, sha1 or c4.
    #[arg(long, default_value = "xxh128", value_parser = crate::rate::parse_hash)]
    hash: inbound_engine::HashAlgorithm,
    /// Downloads transferring at once; the others wait. By default the count last set
    /// through the API's FIFO mode (`/settings/fifo_mode`), else 3.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=32))]
    max_active: Option<u16>,
    /// Let the machine sleep while packages transfer (by default it is kept awake).
    #[arg(long)]
    allow_sleep: bool,
    #[command(flatten)]
    hours: crate::hours::Hours,
    #[command(flatten)]
    hooks: crate::hooks::HookFlags,
    /// Seconds between two looks at the portals that automations download from
    /// (automations need `inbound team login`).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll_secs: u64,
    /// The MASV Agent's provisioning file (YAML): its API key, download rate limit and
    /// schedule, FIFO mode and download automations are put in force at start. By
    /// default $XDG_CONFIG_HOME/inbound/agent.yaml, when there is one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub async fn run(args: AgentArgs) -> ExitCode {
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::fail_line(&crate::output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: AgentArgs) -> anyhow::Result<()> {
    let data_dir = crate::data_dir()?;
    if args.show_token {
        let token = kept_token(&data_dir)?;
        use std::io::Write;
        std::io::stdout().write_all(format!("{token}\n").as_bytes())?;
        return Ok(());
    }
    let _log_guard = crate::logging::init_with_stderr_default(Some(&data_dir), "info");
    let access = access(&args, &data_dir)?;
    let mut config = EngineConfig::new(&data_dir);
    crate::args::set_connections(&mut config, args.connections);
    config.max_active_downloads = args.max_active.map_or(3, usize::from);
    config.max_active_from_saved = args.max_active.is_none();
    config.hash_algorithm = args.hash;
    config.keep_awake = !args.allow_sleep;
    config.bandwidth_schedule = args.hours.schedule();
    config.after_download = args.hooks.for_engine()?;
    let provisioning = provisioning_file(args.config.as_deref())?;
    let engine = Engine::open(config).await?;
    if let Some(file) = &provisioning {
        file.apply_settings(&engine, args.max_active.is_none())?;
    }
    let watcher =
        automations_watcher(&engine, &data_dir, args.poll_secs, provisioning.as_ref()).await?;
    let state = match &watcher {
        Some(w) => inbound_agent::ApiState::with_watcher(engine.clone(), w.clone()),
        None => inbound_agent::ApiState::engine_only(engine.clone()),
    };
    let served = inbound_agent::serve(state, &args.listen, access, shutdown_signal()).await;
    if let Some(w) = watcher {
        w.stop();
    }
    engine.shutdown().await;
    served?;
    Ok(())
}

/// Who may call: with --token-file (or INBOUND_AGENT_TOKEN), whoever sends that token;
/// otherwise the agent's own account, and others with the kept token.
fn access(args: &AgentArgs, data_dir: &Path) -> anyhow::Result<Access> {
    let explicit = match &args.token_file {
        Some(path) => Some(
            inbound_agent::token::load(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .with_context(|| format!("the token file {} is empty", path.display()))?,
        ),
        None => std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
    };
    if let Some(token) = explicit {
        return Ok(Access::new(Some(token), args.allow_origin.clone()));
    }
    let allowed = if args.allow_dest.is_empty() {
        inbound_engine::default_destination()
            .and_then(|d| d.parent().map(Path::to_owned))
            .into_iter()
            .collect()
    } else {
        args.allow_dest.clone()
    };
    Ok(Access::owner_or_token(
        Some(kept_token(data_dir)?),
        args.allow_origin.clone(),
        allowed,
    ))
}

/// The token kept in the data folder, made (owner-only) the first time.
fn kept_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = inbound_agent::token::path_in(data_dir);
    if let Some(token) = inbound_agent::token::load(&path)
        .with_context(|| format!("cannot read the agent token {}", path.display()))?
    {
        return Ok(token);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let token = inbound_agent::token::generate();
    inbound_agent::token::store(&path, &token)
        .with_context(|| format!("cannot keep the agent token in {}", path.display()))?;
    tracing::info!(path = %path.display(), "made the agent token");
    Ok(token)
}

/// The provisioning file given, or the default one when it exists; what it holds that
/// Inbound does not use is said in the log.
fn provisioning_file(given: Option<&Path>) -> anyhow::Result<Option<ProvisioningFile>> {
    let path = match given {
        Some(path) => path.to_owned(),
        None => match directories::BaseDirs::new()
            .map(|d| inbound_agent::provisioning::default_path(d.config_dir()))
            .filter(|p| p.exists())
        {
            Some(path) => path,
            None => return Ok(None),
        },
    };
    let file = ProvisioningFile::read(&path)?;
    for note in file.notes() {
        tracing::warn!("{note}");
    }
    tracing::info!(path = %path.display(), "provisioning file read");
    Ok(Some(file))
}

/// With a team login (the provisioning file's API key, else the saved login), the
/// watcher that runs automations (polling in the background), with the file's
/// automations in force; without one, none, and `/automations` says a login is needed.
async fn automations_watcher(
    engine: &Engine,
    data_dir: &std::path::Path,
    poll_secs: u64,
    provisioning: Option<&ProvisioningFile>,
) -> anyhow::Result<Option<inbound_inbox::Watcher>> {
    let saved = inbound_inbox::CredentialStore::new(data_dir).load().await?;
    let creds = match (provisioning, saved) {
        (Some(file), saved) if file.contents.auth.api_key.is_some() => {
            let team_id = file
                .team_id()
                .map(str::to_owned)
                .or(saved.map(|c| c.team_id))
                .ok_or_else(|| ProvisioningError::NoTeam(file.path.clone()))?;
            file.contents
                .auth
                .api_key
                .clone()
                .map(|api_key| inbound_inbox::Credentials { team_id, api_key })
        }
        (_, saved) => saved,
    };
    let Some(creds) = creds else {
        if let Some(file) = provisioning.filter(|f| f.has_automations()) {
            return Err(ProvisioningError::NoTeam(file.path.clone()).into());
        }
        tracing::info!("no team login: automations are off (run `inbound team login`)");
        return Ok(None);
    };
    let client = inbound_masv::MasvClient::new(inbound_masv::api_url_from_env())?;
    let api = inbound_inbox::TeamApi::new(client, creds.api_key, creds.team_id);
    let config = inbound_inbox::WatcherConfig {
        interval: std::time::Duration::from_secs(poll_secs),
        ..Default::default()
    };
    let watcher = inbound_inbox::Watcher::open(api, engine.clone(), data_dir, config)?;
    if let Some(file) = provisioning {
        file.apply_automations(&watcher)?;
    }
    let running = watcher.clone();
    tokio::spawn(async move { running.run().await });
    Ok(Some(watcher))
}

/// Ctrl-C or SIGTERM (what service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stopping: saving progress");
}
