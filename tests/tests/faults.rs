//! The engine survives every fault the simulator can throw, without re-downloading
//! more than a bounded amount.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use inbound_e2e::inbound_engine::{DownloadState, Event, HeldBack, WaitReason};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{DONE, Harness, assert_completes, until, wait_for, wait_for_bytes};

const MIB: u64 = 1024 * 1024;

async fn run_with_faults(
    size: u64,
    setup: impl FnOnce(&inbound_e2e::inbound_sim::Faults),
) -> (Harness, u64) {
    let h = Harness::new(vec![catalog::large("big", size)]).await;
    setup(h.sim.faults());
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let (_, checked) = assert_completes(&h, &id, "big", &dest, Duration::from_secs(120)).await;
    assert_eq!(checked, 1);
    let served = h.sim.package_bytes_served("pkg-big");
    (h, served)
}

fn fired(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_mid_body_cost_almost_nothing() {
    let size = 48 * MIB;
    let (h, served) = run_with_faults(size, |f| f.drop_mid_body_every.store(2, Relaxed)).await;
    let drops = fired(&h.sim.faults().injected.drops);
    assert!(drops >= 3, "the fault fired ({drops} drops)");
    // Bytes received before a drop are kept: only what was in flight is fetched again.
    assert!(
        served <= size + drops * 512 * 1024,
        "served {served} for {size} with {drops} drops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limits_are_retried() {
    let size = 24 * MIB;
    let (h, served) = run_with_faults(size, |f| {
        f.error_503_every.store(2, Relaxed);
        f.error_429_every.store(3, Relaxed);
    })
    .await;
    let injected = &h.sim.faults().injected;
    assert!(fired(&injected.status_503) >= 3 && fired(&injected.status_429) >= 1);
    // A 503 or 429 carries no body, so nothing is fetched twice.
    assert_eq!(served, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_presigned_urls_and_tokens_are_renewed() {
    let size = 32 * MIB;
    let (h, served) = run_with_faults(size, |f| {
        f.set_url_lifetime(Duration::from_millis(300));
        f.set_token_lifetime(Duration::from_millis(400));
        // Slow connections that drop now and then: every retry starts with an
        // expired URL, and renewing it needs a fresh token.
        f.set_conn_rate(4 * MIB);
        f.drop_mid_body_every.store(2, Relaxed);
    })
    .await;
    let injected = &h.sim.faults().injected;
    let (urls, tokens, drops) = (
        fired(&injected.expired_urls),
        fired(&injected.expired_tokens),
        fired(&injected.drops),
    );
    eprintln!(
        "urls {urls} tokens {tokens} drops {drops} links {} url requests {}",
        h.sim.link_requests(),
        h.sim.download_url_requests()
    );
    assert!(urls >= 2, "expired URLs were refused ({urls})");
    assert!(tokens >= 1, "expired tokens were refused ({tokens})");
    assert!(h.sim.link_requests() >= 2, "the token was renewed");
    assert!(
        served <= size + drops * 512 * 1024,
        "a refused URL costs no body bytes ({served})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_abandoned_and_resumed() {
    let size = 16 * MIB;
    let (h, served) = run_with_faults(size, |f| f.stall_every.store(3, Relaxed)).await;
    let stalls = fired(&h.sim.faults().injected.stalls);
    assert!(stalls >= 2, "the fault fired ({stalls} stalls)");
    assert!(
        served <= size + stalls * 512 * 1024,
        "served {served} for {size} with {stalls} stalls"
    );
}

/// What the progress events said held the download back, from its start to its end.
async fn held_back_while_downloading(h: &Harness, link_id: &str) -> Vec<Option<HeldBack>> {
    let mut events = h.engine.subscribe();
    let id = h
        .engine
        .add(&h.link(link_id), &h.dest(), None)
        .await
        .unwrap();
    let mut said = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(120), events.recv()).await {
            Ok(Ok(Event::Progress { downloads })) => {
                said.extend(downloads.iter().filter(|p| p.id == id).map(|p| p.held_back));
            }
            Ok(Ok(Event::StateChanged {
                id: done, state, ..
            })) if done == id => {
                if state == DownloadState::Complete {
                    return said;
                }
                assert_ne!(state, DownloadState::Error, "the download failed");
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("no completion: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_asking_for_fewer_connections_is_said_to_hold_the_download_back() {
    // Slow connections, so the transfer lasts long enough to be sampled.
    let h = Harness::new(vec![catalog::large("big", 12 * MIB)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    h.sim.faults().error_429_every.store(4, Relaxed);
    let said = held_back_while_downloading(&h, "big").await;
    assert!(fired(&h.sim.faults().injected.status_429) >= 1);
    assert!(
        said.contains(&Some(HeldBack::StorageBusy)),
        "storage said too many, and progress never did: {said:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_the_network_paces_is_not_said_to_be_held_back() {
    let h = Harness::new(vec![catalog::large("big", 12 * MIB)]).await;
    h.sim.faults().set_conn_rate(2 * MIB);
    let said = held_back_while_downloading(&h, "big").await;
    assert!(said.len() >= 2, "sampled: {said:?}");
    assert!(said.iter().all(Option::is_none), "{said:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masv_asking_to_slow_down_is_waited_out_and_said_as_such() {
    let h = Harness::new(vec![catalog::large("big", 4 * MIB)]).await;
    let faults = h.sim.faults();
    // MASV and its storage answer every request "too many" (429, Retry-After: 1).
    faults.error_429_every.store(1, Relaxed);
    let dest = h.dest();
    let id = h
        .engine
        .add_or_wait(&h.link("big"), &dest, None)
        .await
        .unwrap();
    let waiting = h.engine.get(&id).unwrap().summary.waiting.unwrap();
    assert_eq!(waiting.reason, WaitReason::RateLimited, "{waiting:?}");
    // Tried again meanwhile, it still says why it waits.
    until(Duration::from_secs(30), "no second try", || {
        fired(&faults.injected.status_429) >= 4
    })
    .await;
    let waiting = h.engine.get(&id).unwrap().summary.waiting.unwrap();
    assert_eq!(waiting.reason, WaitReason::RateLimited, "{waiting:?}");
    // MASV lets it go on: it finishes by itself.
    faults.error_429_every.store(0, Relaxed);
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(90)).await;
}

/// A 403 from MASV's download-URL route for a file its listing calls clean is not a
/// virus: the bytes fetched so far stay, the download stops in Error saying MASV
/// refused the file (not that it is infected), and once MASV gives the file again a
/// retry continues from those bytes to a whole, verified file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_for_a_clean_file_keeps_its_bytes_and_is_not_called_a_virus() {
    let size = 32 * MIB;
    let lifetime = Duration::from_millis(300);
    let h = Harness::new(vec![catalog::large("big", size)]).await;
    let faults = h.sim.faults();
    faults.set_conn_rate(2 * MIB);
    faults.set_url_lifetime(lifetime);
    let dest = h.dest();

    // Refused from the first ask: Error, not "complete with a virus withheld".
    faults.refuse_download_urls.store(true, Relaxed);
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    let failed = wait_for(&h.engine, &id, DONE, Duration::from_secs(60)).await;
    assert_refused(&failed);

    // Given again: it downloads; refused again once some bytes are in (the paused
    // download's URL has run out, so the resume asks for a new one): they stay.
    faults.refuse_download_urls.store(false, Relaxed);
    h.engine.resume(&id).unwrap();
    wait_for_bytes(&h.engine, &id, 4 * MIB, Duration::from_secs(60)).await;
    h.engine.pause(&id).await.unwrap();
    faults.refuse_download_urls.store(true, Relaxed);
    // The URL in hand expires at a time the simulator set: nothing to wait on but it.
    tokio::time::sleep(lifetime * 2).await;
    h.engine.resume(&id).unwrap();
    let failed = wait_for(&h.engine, &id, DONE, Duration::from_secs(60)).await;
    assert_refused(&failed);
    let kept = failed.files[0].bytes_done;
    assert!(kept >= 4 * MIB, "the bytes so far are kept: {kept}");
    let on_disk = inbound_e2e::files_under(&dest);
    assert_eq!(
        on_disk.len(),
        1,
        "the part file is still there: {on_disk:?}"
    );
    assert!(std::fs::metadata(dest.join(&on_disk[0])).unwrap().len() >= kept);

    faults.refuse_download_urls.store(false, Relaxed);
    faults.set_conn_rate(0);
    h.engine.resume(&id).unwrap();
    let (_, checked) = assert_completes(&h, &id, "big", &dest, Duration::from_secs(60)).await;
    assert_eq!(checked, 1);
    // Only what was in flight at the pause is fetched again.
    let served = h.sim.package_bytes_served("pkg-big");
    assert!(served <= size + 8 * MIB, "served {served} for {size}");
    assert!(fired(&faults.injected.url_refusals) >= 2, "the fault fired");
}

/// The download stopped in Error for MASV's refusal of `big.bin`, said as such.
fn assert_refused(failed: &inbound_e2e::inbound_engine::DownloadDetail) {
    assert_eq!(
        failed.summary.state,
        DownloadState::Error,
        "not complete while a file is missing: {:?}",
        failed.summary
    );
    let error = failed.summary.error.clone().unwrap_or_default();
    assert!(
        error.contains("big.bin") && error.contains("refused"),
        "{error}"
    );
    assert!(
        !error.contains("infected") && !error.contains("virus"),
        "{error}"
    );
    assert!(failed.summary.virus_files.is_empty());
}
