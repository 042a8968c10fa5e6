use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use inbound_sim::{Sim, catalog};

#[derive(Args)]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Size of the single file of the `large` package.
    #[arg(long, default_value = "256M", value_parser = crate::rate::parse_bytes)]
    large_size: u64,
    /// Number of files of the `many` package.
    #[arg(long, default_value_t = 10_000)]
    many_files: usize,
    /// The `mixed` package: this many large files...
    #[arg(long, default_value_t = 2)]
    mixed_large: usize,
    /// ...of this size...
    #[arg(long, default_value = "256M", value_parser = crate::rate::parse_bytes)]
    mixed_large_size: u64,
    /// ...plus this many 256 KiB files.
    #[arg(long, default_value_t = 200)]
    mixed_small: usize,
    /// The `spread` package: this many files...
    #[arg(long, default_value_t = 5000)]
    spread_files: usize,
    /// ...of sizes from this...
    #[arg(long, default_value = "64K", value_parser = crate::rate::parse_bytes)]
    spread_min: u64,
    /// ...to this (more small ones than large).
    #[arg(long, default_value = "2M", value_parser = crate::rate::parse_bytes)]
    spread_max: u64,
    /// Cut every N-th storage response halfway through its body.
    #[arg(long, default_value_t = 0)]
    drop_every: u32,
    /// Stall every N-th storage response halfway (connection stays open, silent).
    #[arg(long, default_value_t = 0)]
    stall_every: u32,
    /// Answer every N-th request with 503.
    #[arg(long, default_value_t = 0)]
    error_503_every: u32,
    /// Answer every N-th request with 429 and Retry-After.
    #[arg(long, default_value_t = 0)]
    error_429_every: u32,
    /// Lifetime of presigned URLs, in seconds.
    #[arg(long, default_value_t = 3600)]
    url_lifetime: u64,
    /// Lifetime of package tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Per-connection bandwidth cap, e.g. 20M (bytes per second).
    #[arg(long, value_parser = crate::rate::parse_bytes)]
    conn_rate: Option<u64>,
    /// Milliseconds added before every response (emulates WAN latency).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Presigned URLs point here instead of at the simulator (e.g. an nginx serving
    /// the folder given to --export-storage).
    #[arg(long)]
    storage_base: Option<String>,
    /// Write every file to DIR/{package_id}/{file_id} before serving.
    #[arg(long)]
    export_storage: Option<PathBuf>,
    /// Seconds the demo team's "Day 2 rushes" takes to finish uploading (then it is
    /// finalized and watched portals download it).
    #[arg(long, default_value_t = 120)]
    team_upload_secs: u64,
    /// Serve only these packages (link ids, comma separated), e.g. `mixed`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

pub async fn run(args: SimArgs) -> ExitCode {
    let _guard = crate::logging::init(None);
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::fail_line(&crate::output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: SimArgs) -> anyhow::Result<()> {
    let mut packages = vec![
        catalog::demo(),
        catalog::demo_with_password(),
        catalog::demo_expired(),
        catalog::hostile(),
        catalog::large("large", args.large_size),
        catalog::many_files("many", args.many_files),
        catalog::mixed(
            "mixed",
            args.mixed_large,
            args.mixed_large_size,
            args.mixed_small,
        ),
    ];
    // Only when asked for: 5,000 files are a moment to build.
    if args.only.iter().any(|o| o == "spread") {
        packages.push(catalog::spread(
            "spread",
            args.spread_files,
            args.spread_min,
            args.spread_max,
        ));
    }
    let (team_packages, team) = catalog::team(Duration::from_secs(args.team_upload_secs));
    packages.extend(team_packages);
    if !args.only.is_empty() {
        packages.retain(|p| args.only.contains(&p.link_id));
        anyhow::ensure!(!packages.is_empty(), "--only matched no package");
    }
    let sim = Sim::start_full(
        SocketAddr::new(args.bind, args.port),
        packages,
        args.storage_base.clone(),
        Some(team),
    )
    .await?;
    let f = sim.faults();
    f.drop_mid_body_every.store(args.drop_every, Relaxed);
    f.stall_every.store(args.stall_every, Relaxed);
    f.error_503_every.store(args.error_503_every, Relaxed);
    f.error_429_every.store(args.error_429_every, Relaxed);
    f.set_url_lifetime(Duration::from_secs(args.url_lifetime));
    f.set_token_lifetime(Duration::from_secs(args.token_lifetime));
    f.set_conn_rate(args.conn_rate.unwrap_or(0));
    f.set_latency(Duration::from_millis(args.latency_ms));
    if let Some(dir) = &args.export_storage {
        sim.export_storage(dir)
            .with_context(|| format!("exporting storage to {}", dir.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "MASV_API_URL={}", sim.api_url())?;
    for p in sim.packages() {
        let mut note = String::new();
        if let Some(pw) = &p.password {
            note = format!("  (password: {pw})");
        }
        if p.expired {
            note = "  (expired)".into();
        }
        writeln!(out, "{}  {}{note}", p.link(), p.name)?;
    }
    writeln!(
        out,
        "Team: id {} with API key {} (the simulator's own); MASV_PUBNUB_ORIGIN={}",
        catalog::DEMO_TEAM_ID,
        catalog::DEMO_API_KEY,
        sim.pubnub_origin()
    )?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
