//! Watched portals left alone for a weekend: one package or one portal that cannot be
//! handled never holds up the rest, and watching a portal fetches only what is new.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use inbound_e2e::inbound_engine::{Secret, unix_now};
use inbound_e2e::inbound_sim::{Content, Sim, SimFile, SimPackage, SimTeam, SimTeamPackage};
use inbound_e2e::{Harness, assert_completes, until};
use inbound_inbox::{TeamApi, WatchedPortal, Watcher, WatcherConfig, WatcherEvent};
use inbound_masv::{MasvClient, PubNubConfig};

const TEAM: &str = "team-weekend";
const KEY: &str = "weekend-key";

fn package(link_id: &str, seed: u64) -> SimPackage {
    SimPackage::new(link_id, format!("Package {link_id}")).with_file(SimFile::new(
        format!("{link_id}-f"),
        "clip.mov",
        Content::generated(seed, 512 * 1024),
    ))
}

async fn sim() -> Sim {
    let packages = [
        "tokenless",
        "fresh-edit",
        "old-edit",
        "fresh-vfx",
        "arriving",
    ]
    .iter()
    .zip(1..)
    .map(|(id, seed)| package(id, seed))
    .collect();
    let team = SimTeam::new(TEAM, KEY)
        .with_portal("portal-edit", "Editorial")
        .with_portal("portal-vfx", "VFX returns")
        .with_portal("portal-live", "Live")
        .with_package(
            SimTeamPackage::new("tokenless", "finalized")
                .in_portal("portal-edit")
                .without_access_token(),
        )
        .with_package(SimTeamPackage::new("fresh-edit", "finalized").in_portal("portal-edit"))
        .with_package(
            SimTeamPackage::new("old-edit", "finalized")
                .in_portal("portal-edit")
                .created_at("2025-06-01T00:00:00Z"),
        )
        .with_package(SimTeamPackage::new("fresh-vfx", "finalized").in_portal("portal-vfx"))
        .with_package(
            SimTeamPackage::new("arriving", "new")
                .in_portal("portal-live")
                .created_at("2025-06-01T00:00:00Z")
                .uploading_for(Duration::from_secs(1)),
        );
    Sim::start_full(([127, 0, 0, 1], 0).into(), packages, None, Some(team))
        .await
        .unwrap()
}

fn team_api(sim: &Sim) -> TeamApi {
    TeamApi::new(
        MasvClient::new(sim.api_url()).unwrap(),
        Secret::new(KEY),
        TEAM,
    )
    .with_first_delay(Duration::from_millis(50))
}

/// A watcher with the default settings over the harness's engine.
fn watcher_for(h: &Harness, api: TeamApi) -> Watcher {
    Watcher::open(
        api,
        h.engine.clone(),
        h.data.path(),
        WatcherConfig::default(),
    )
    .unwrap()
}

fn portal(id: &str, name: &str, h: &Harness, since: Option<i64>) -> WatchedPortal {
    WatchedPortal {
        portal_id: id.into(),
        portal_name: name.into(),
        folder: h.root.path().join(name),
        enabled: true,
        since,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_or_portal_that_fails_never_holds_up_the_others() {
    let h = Harness::on_sim(sim().await, |_| {}).await;
    let api = team_api(&h.sim);
    let config = WatcherConfig {
        pubnub: PubNubConfig {
            origin: h.sim.pubnub_origin(),
            subscribe_key: None,
        },
        ..WatcherConfig::default()
    };
    let watcher = Watcher::open(api, h.engine.clone(), h.data.path(), config).unwrap();
    // Watched since the start of 2026: the package sent in 2025 is the portal's past.
    let since = Some(1_767_225_600);
    for p in [
        portal("portal-edit", "Editorial", &h, since),
        portal("portal-vfx", "VFX returns", &h, since),
        // Deleted on MASV since it was ticked: it cannot be listed.
        portal("portal-gone", "Old portal", &h, since),
    ] {
        watcher.set_portal(&p).unwrap();
    }
    let mut events = watcher.subscribe();

    let started = watcher
        .poll_once()
        .await
        .expect("two portals could be listed");
    assert_eq!(started.len(), 2, "{started:?}");

    let (mut failed_packages, mut failed_portals) = (Vec::new(), Vec::new());
    while let Ok(e) = events.try_recv() {
        match e {
            WatcherEvent::PackageFailed(f) => failed_packages.push(f),
            WatcherEvent::PortalFailed { portal_id, .. } => failed_portals.push(portal_id),
            _ => {}
        }
    }
    assert_eq!(failed_portals, ["portal-gone"]);
    let [failure] = failed_packages.as_slice() else {
        panic!("one package failed: {failed_packages:?}");
    };
    assert_eq!(failure.package_id, "pkg-tokenless");
    assert_eq!(failure.package_name, "Package tokenless");
    assert!(
        failure.reason.contains("access token"),
        "{}",
        failure.reason
    );
    assert_eq!(failure.attempts, 1);
    assert_eq!(watcher.failures().unwrap(), failed_packages, "remembered");

    // The other packages download; the old one is left alone.
    let mut names = BTreeSet::new();
    for id in &started {
        let d = h.engine.get(id).unwrap();
        let link = d.summary.name.trim_start_matches("Package ").to_owned();
        let own = d.summary.dst_folder.clone();
        assert_completes(&h, id, &link, &own, Duration::from_secs(30)).await;
        names.insert(link);
    }
    assert_eq!(
        names,
        BTreeSet::from(["fresh-edit".into(), "fresh-vfx".into()])
    );

    // The failed package waits out its backoff instead of being asked for every poll.
    assert!(watcher.poll_once().await.unwrap().is_empty());
    assert_eq!(watcher.failures().unwrap()[0].attempts, 1);
    assert_eq!(h.engine.list().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_watched_without_a_start_date_takes_its_whole_past() {
    let h = Harness::on_sim(sim().await, |_| {}).await;
    let watcher = watcher_for(&h, team_api(&h.sim));
    watcher
        .set_portal(&portal("portal-edit", "Editorial", &h, None))
        .unwrap();
    let started = watcher.poll_once().await.unwrap();
    assert_eq!(
        started.len(),
        2,
        "the fresh and the old package: {started:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_still_uploading_when_the_portal_was_ticked_counts_as_new() {
    let h = Harness::on_sim(sim().await, |_| {}).await;
    let watcher = watcher_for(&h, team_api(&h.sim));
    // Ticked now. The package still arriving began long ago, but the person is
    // waiting for it.
    watcher
        .set_portal(&portal("portal-live", "Live", &h, Some(unix_now())))
        .unwrap();
    assert!(watcher.poll_once().await.unwrap().is_empty());
    until(Duration::from_secs(20), "the upload did not end", || {
        h.sim.team_package_state("arriving") == Some("finalized")
    })
    .await;
    let started = watcher.poll_once().await.unwrap();
    let [id] = started.as_slice() else {
        panic!("only the package that was arriving: {started:?}");
    };
    assert_eq!(h.engine.get(id).unwrap().summary.name, "Package arriving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_watcher_ends_a_wait_between_listing_retries_at_once() {
    let h = Harness::on_sim(sim().await, |_| {}).await;
    // Half a minute between tries, as a real outage would have it.
    let api = team_api(&h.sim).with_first_delay(Duration::from_secs(30));
    let watcher = watcher_for(&h, api);
    watcher
        .set_portal(&portal("portal-edit", "Editorial", &h, Some(unix_now())))
        .unwrap();
    h.sim.faults().set_outage(Duration::from_secs(300));
    let running = watcher.clone();
    let run = tokio::spawn(async move { running.run().await });
    until(Duration::from_secs(20), "the first listing failed", || {
        h.sim
            .faults()
            .injected
            .outage_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    })
    .await;
    // Logging out or quitting stops the watcher: it ends now, not after the wait.
    watcher.stop();
    tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .expect("the watcher stopped within a second")
        .unwrap();
}

/// An upload its sender gave up on stays `new` forever or is deleted: its progress is
/// no longer followed once a listing stops showing it uploading, nor past the longest
/// time allowed, so followers do not pile up over weeks of abandoned uploads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_are_no_longer_followed() {
    let packages = vec![package("gone", 1), package("stuck", 2)];
    let team = SimTeam::new(TEAM, KEY)
        .with_portal("portal-live", "Live")
        .with_package(
            SimTeamPackage::new("gone", "new")
                .in_portal("portal-live")
                .uploading_for(Duration::from_secs(3600)),
        )
        .with_package(
            SimTeamPackage::new("stuck", "new")
                .in_portal("portal-live")
                .uploading_for(Duration::from_secs(3600)),
        );
    let sim = Sim::start_full(([127, 0, 0, 1], 0).into(), packages, None, Some(team))
        .await
        .unwrap();
    let h = Harness::on_sim(sim, |_| {}).await;
    let config = WatcherConfig {
        pubnub: PubNubConfig {
            origin: h.sim.pubnub_origin(),
            subscribe_key: None,
        },
        upload_follow_limit: Duration::from_secs(3),
        ..WatcherConfig::default()
    };
    let watcher = Watcher::open(team_api(&h.sim), h.engine.clone(), h.data.path(), config).unwrap();
    watcher
        .set_portal(&portal("portal-live", "Live", &h, None))
        .unwrap();
    watcher.poll_once().await.unwrap();
    let pkg_ids: Vec<String> = ["gone", "stuck"]
        .iter()
        .map(|l| {
            h.sim
                .packages()
                .iter()
                .find(|p| p.link_id == *l)
                .unwrap()
                .package_id
                .clone()
        })
        .collect();
    assert_eq!(watcher.uploads_followed(), pkg_ids, "both uploads followed");

    // One is deleted on MASV: the next listing no longer shows it uploading.
    h.sim.set_team_package_state("gone", "deleted");
    watcher.poll_once().await.unwrap();
    assert_eq!(watcher.uploads_followed(), [pkg_ids[1].clone()]);

    // The other never moves: given up after the longest time allowed, and not taken up
    // again by the polls that still list it.
    until(
        Duration::from_secs(20),
        "the stuck upload is let go",
        || watcher.uploads_followed().is_empty(),
    )
    .await;
    watcher.poll_once().await.unwrap();
    assert!(watcher.uploads_followed().is_empty());
    watcher.stop();
}
