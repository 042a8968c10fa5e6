//! The benchmark's WAN. This kernel has no netem, so a real round-trip time comes from
//! here: two TUN devices, and every packet read from one is written to the other half
//! the round trip later (a share of them dropped, if asked). `bench/bench.py` creates a
//! client and a server network namespace, moves one device into each, and routes the
//! two namespaces' addresses through them, so TCP between them sees the delay and the
//! loss as it would on a long path. See `bench/README.md`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tun::Tun;

#[derive(Parser)]
#[command(about = "Joins two TUN devices with a fixed delay each way, for benchmarks")]
struct Args {
    /// The two TUN devices to create and join.
    #[arg(long, num_args = 2, required = true)]
    devices: Vec<String>,
    /// Round-trip time to add, in milliseconds (half each way).
    #[arg(long)]
    rtt_ms: u64,
    /// Share of packets dropped in each direction (0.005 for 0.5 %).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// MTU of both devices. Jumbo frames by default: the line copies every packet
    /// through user space, and at 1500 bytes its own CPU time, not the path, would
    /// bound a 2-core machine.
    #[arg(long, default_value_t = 9000)]
    mtu: i32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        (0.0..1.0).contains(&args.loss),
        "--loss is a share below 1, e.g. 0.005 for 0.5 %"
    );
    let a = open(&args.devices[0], args.mtu)?;
    let b = open(&args.devices[1], args.mtu)?;
    // The caller moves the devices into their namespaces once they exist.
    writeln!(std::io::stdout(), "ready")?;
    std::io::stdout().flush()?;
    let one_way = Duration::from_micros(args.rtt_ms * 500);
    tokio::try_join!(
        pipe(a.clone(), b.clone(), one_way, args.loss),
        pipe(b, a, one_way, args.loss)
    )?;
    Ok(())
}

fn open(name: &str, mtu: i32) -> anyhow::Result<Arc<Tun>> {
    let tun = Tun::builder()
        .name(name)
        .mtu(mtu)
        .up()
        .build()
        .with_context(|| format!("creating TUN device {name} (needs root)"))?
        .pop()
        .context("no TUN device was created")?;
    Ok(Arc::new(tun))
}

/// Writes every packet read from `from` to `to`, `delay` later, except a share `loss`
/// dropped at random. The delay is the same for every packet, so their order is kept.
async fn pipe(from: Arc<Tun>, to: Arc<Tun>, delay: Duration, loss: f64) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::try_join!(take_in(from, tx, delay, loss), hand_out(rx, to))?;
    Ok(())
}

/// Reads packets and queues each with the moment it is due.
async fn take_in(
    from: Arc<Tun>,
    queue: mpsc::UnboundedSender<(Instant, Vec<u8>)>,
    delay: Duration,
    loss: f64,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 65_536];
    loop {
        let n = match from.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) if is_down(&e) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if loss > 0.0 && rand::random::<f64>() < loss {
            continue;
        }
        queue.send((Instant::now() + delay, buf[..n].to_vec()))?;
    }
}

/// Writes each queued packet when it is due.
async fn hand_out(
    mut queue: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    to: Arc<Tun>,
) -> anyhow::Result<()> {
    while let Some((due, packet)) = queue.recv().await {
        tokio::time::sleep_until(due).await;
        match to.send(&packet).await {
            Ok(_) => {}
            // Lost, as on a link that is down.
            Err(e) if is_down(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A TUN device answers EIO while its link is down, as it is for a moment when it is
/// moved into its namespace: not a reason to stop.
fn is_down(e: &std::io::Error) -> bool {
    const EIO: i32 = 5;
    e.raw_os_error() == Some(EIO)
}
