//! The team side against the simulator: listings and their filters, API key and rate
//! limit handling, downloads by access token, and watched portals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use inbound_e2e::inbound_engine::{DownloadState, MasvError, Origin, Secret};
use inbound_e2e::inbound_sim::{Sim, catalog};
use inbound_e2e::{Harness, assert_completes};
use inbound_inbox::{TeamApi, WatchedPortal, Watcher, WatcherConfig, WatcherEvent, to_download};
use inbound_masv::{MasvClient, PackageState, PubNubConfig};

fn api(sim: &Sim, key: &str) -> TeamApi {
    TeamApi::new(
        MasvClient::new(sim.api_url()).unwrap(),
        Secret::new(key),
        catalog::DEMO_TEAM_ID,
    )
    .with_first_delay(Duration::from_millis(50))
}

fn ids(packages: &[inbound_masv::TeamPackage]) -> BTreeSet<String> {
    packages.iter().map(|p| p.id.clone()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn each_filter_lists_exactly_the_packages_in_those_states() {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    let api = api(&sim, catalog::DEMO_API_KEY);
    use PackageState::*;
    let cases: [(&[PackageState], &[&str]); 6] = [
        (&[New], &["pkg-tupload"]),
        (&[Finalized], &["pkg-tfinal1", "pkg-tfinal2"]),
        (&[Expired], &["pkg-texpired"]),
        (&[Archived], &["pkg-tarchived"]),
        (&[New, Archived], &["pkg-tupload", "pkg-tarchived"]),
        (
            &[],
            &[
                "pkg-tfinal1",
                "pkg-tfinal2",
                "pkg-tupload",
                "pkg-texpired",
                "pkg-tarchived",
            ],
        ),
    ];
    for (filter, want) in cases {
        let got = api.packages(filter).await.unwrap();
        assert_eq!(ids(&got), set(want), "filter {filter:?}");
        for p in &got {
            assert!(filter.is_empty() || filter.contains(&p.state), "{p:?}");
        }
    }
    let portals = api.portals().await.unwrap();
    assert_eq!(
        portals.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Editorial", "VFX returns"]
    );
    let edit = api.portal_packages("portal-edit").await.unwrap();
    assert_eq!(ids(&edit), set(&["pkg-tfinal1", "pkg-tupload"]));
    let uploading = edit.iter().find(|p| p.id == "pkg-tupload").unwrap();
    assert!(
        uploading.upload_channel().is_some(),
        "a new package names its upload channel"
    );
}

#[tokio::test]
async fn a_bad_api_key_is_a_clear_error_without_the_key() {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    let err = api(&sim, "not-the-key-4242")
        .packages(&[])
        .await
        .unwrap_err();
    assert!(matches!(err, MasvError::ApiKeyRejected), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("API key"), "{msg}");
    assert!(!msg.contains("not-the-key-4242"), "{msg}");
    let err = api(&sim, catalog::DEMO_API_KEY)
        .portal_packages("no-such-portal")
        .await
        .unwrap_err();
    assert!(matches!(err, MasvError::TeamNotFound), "{err:?}");
    let err = api(&sim, catalog::DEMO_API_KEY)
        .portal_packages("../teams")
        .await
        .unwrap_err();
    assert!(matches!(err, MasvError::InvalidId(_)), "{err:?}");
}

#[tokio::test]
async fn a_rate_limited_listing_waits_as_told_then_succeeds() {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    // Every other API request answers 429 with Retry-After: 1.
    sim.faults().error_429_every.store(2, Relaxed);
    let api = api(&sim, catalog::DEMO_API_KEY);
    let started = Instant::now();
    for _ in 0..2 {
        assert_eq!(api.packages(&[]).await.unwrap().len(), 5);
    }
    let refused = sim.faults().injected.status_429.load(Relaxed);
    assert!(refused >= 1, "no 429 was injected");
    assert!(
        started.elapsed() >= Duration::from_secs(refused),
        "Retry-After was not honoured: {refused} refusals in {:?}",
        started.elapsed()
    );
    assert!(
        sim.team_requests() <= 2 + refused,
        "{} requests for 2 listings and {refused} refusals",
        sim.team_requests()
    );
}

/// The demo team on the simulator, its API, and its finalized package `pkg-tfinal1`
/// added as a download by its access token: the API, the harness, the listing, the
/// download's id.
async fn team_package_added() -> (TeamApi, Harness, inbound_masv::TeamPackage, String) {
    let sim = catalog::start_team(Duration::from_secs(3600))
        .await
        .unwrap();
    let api = api(&sim, catalog::DEMO_API_KEY);
    let h = Harness::on_sim(sim, |_| {}).await;
    let listed = api.package("pkg-tfinal1").await.unwrap();
    let id = h
        .engine
        .add_team_package(to_download(&listed, team_origin()).unwrap(), &h.dest())
        .await
        .unwrap();
    (api, h, listed, id)
}

fn team_origin() -> Origin {
    Origin::Team {
        team_id: catalog::DEMO_TEAM_ID.into(),
    }
}

#[tokio::test]
async fn a_listed_package_downloads_by_its_access_token() {
    let (api, h, _, id) = team_package_added().await;
    let origin = team_origin();
    let (detail, checked) =
        assert_completes(&h, &id, "tfinal1", &h.dest(), Duration::from_secs(30)).await;
    assert_eq!(checked, 2);
    assert_eq!(detail.summary.origin, origin);
    assert_eq!(h.sim.link_requests(), 0, "no link was used");
    // Asked again once complete (a fresher token): a new download in its place that
    // checks the files there and fetches nothing.
    let served = h.sim.package_bytes_served("pkg-tfinal1");
    let again = to_download(&api.package("pkg-tfinal1").await.unwrap(), origin).unwrap();
    let again = h.engine.add_team_package(again, &h.dest()).await.unwrap();
    assert_ne!(again, id);
    assert_completes(&h, &again, "tfinal1", &h.dest(), Duration::from_secs(30)).await;
    assert_eq!(h.engine.list().len(), 1);
    assert_eq!(h.sim.package_bytes_served("pkg-tfinal1"), served);
    // A package still uploading cannot be downloaded yet.
    let uploading = api.package("pkg-tupload").await.unwrap();
    let err = to_download(&uploading, Origin::Link).unwrap_err();
    assert!(err.to_string().contains("finalized"), "{err}");
    // It survives a restart as a team download.
    let h = h.restart(|_| {}).await;
    let d = h.engine.get(&again).unwrap();
    assert_eq!(d.summary.state, DownloadState::Complete);
    assert!(d.summary.link.is_empty());
}

#[tokio::test]
async fn a_watched_portal_downloads_an_uploaded_package_once_across_restarts() {
    let sim = catalog::start_team(Duration::from_secs(3)).await.unwrap();
    let pubnub = PubNubConfig {
        origin: sim.pubnub_origin(),
        subscribe_key: None,
    };
    let api = api(&sim, catalog::DEMO_API_KEY);
    let h = Harness::on_sim(sim, |_| {}).await;
    // Slow enough that the first package is still arriving when the uploaded one
    // starts: both use the same file names, each in its own folder in the portal's.
    h.sim.faults().set_conn_rate(256 * 1024);
    let config = WatcherConfig {
        interval: Duration::from_millis(300),
        max_backoff: Duration::from_secs(2),
        pubnub,
        package_folders: true,
        ..WatcherConfig::default()
    };
    let folder = h.dest();
    let watcher =
        Watcher::open(api.clone(), h.engine.clone(), h.data.path(), config.clone()).unwrap();
    watcher
        .set_portal(&WatchedPortal {
            portal_id: "portal-edit".into(),
            portal_name: "Editorial".into(),
            folder: folder.clone(),
            enabled: true,
            since: None,
        })
        .unwrap();
    let mut events = watcher.subscribe();
    let run = tokio::spawn({
        let w = watcher.clone();
        async move { w.run().await }
    });
    // Upload progress arrives before the package is downloaded.
    let mut progress = Vec::new();
    let mut downloading = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !downloading
        .iter()
        .any(|(p, _): &(String, String)| p == "pkg-tupload")
    {
        assert!(
            Instant::now() < deadline,
            "no download of the uploaded package; {progress:?}"
        );
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(WatcherEvent::Upload {
                package_id,
                fraction,
                ..
            })) => {
                assert_eq!(package_id, "pkg-tupload");
                assert!(
                    downloading.iter().all(|(p, _)| p != "pkg-tupload"),
                    "progress after the download started"
                );
                progress.push(fraction);
            }
            Ok(Ok(WatcherEvent::Downloading {
                package_id,
                download_id,
                ..
            })) => downloading.push((package_id, download_id)),
            Ok(Ok(WatcherEvent::PollFailed { message })) => panic!("poll failed: {message}"),
            other => panic!("watcher went quiet: {other:?}"),
        }
    }
    let (_, first) = downloading
        .iter()
        .find(|(p, _)| p == "pkg-tfinal1")
        .expect("the finalized package started first");
    assert_ne!(
        h.engine.get(first).unwrap().summary.state,
        inbound_e2e::inbound_engine::DownloadState::Complete,
        "both packages are in flight at once"
    );
    h.sim.faults().set_conn_rate(0);
    assert!(progress.len() >= 3, "upload progress seen: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().any(|f| *f < 1.0), "{progress:?}");
    assert_eq!(h.sim.team_package_state("tupload"), Some("finalized"));
    let mut package_folders = BTreeSet::new();
    for (package, id) in &downloading {
        let link_id = package.trim_start_matches("pkg-");
        let own = h.engine.get(id).unwrap().summary.dst_folder;
        assert_eq!(own.parent(), Some(folder.as_path()), "{own:?}");
        assert!(
            package_folders.insert(own.clone()),
            "two packages share {own:?}"
        );
        let (d, _) = assert_completes(&h, id, link_id, &own, Duration::from_secs(30)).await;
        let (ok, out) = inbound_e2e::ascmhl_verify(&own);
        assert!(ok, "ascmhl-debug verify {own:?}:\n{out}");
        assert!(
            matches!(d.summary.origin, Origin::Portal { ref portal_id, .. } if portal_id == "portal-edit")
        );
    }
    assert_eq!(
        downloading
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["pkg-tfinal1", "pkg-tupload"]),
        "exactly the portal's finalized packages"
    );
    // More polls change nothing.
    assert!(watcher.poll_once().await.unwrap().is_empty());
    watcher.stop();
    run.await.unwrap();
    drop(watcher);

    // After a restart, nothing is downloaded again.
    let h = h.restart(|_| {}).await;
    let watcher = Watcher::open(api, h.engine.clone(), h.data.path(), config).unwrap();
    assert_eq!(
        watcher.portals().unwrap().len(),
        1,
        "the watched portal is remembered"
    );
    assert!(watcher.poll_once().await.unwrap().is_empty());
    assert_eq!(h.engine.list().len(), 2);
}

/// The inbox's other filters, as MASV's v1.1 takes them (`teamspaces`, `tags`,
/// `expiry_start`, `expiry_end`); a server without v1.1 (or one that ignores a filter)
/// is filtered here all the same.
#[tokio::test]
async fn teamspace_tag_and_expiry_filters_list_exactly_what_they_ask_for() {
    use inbound_e2e::inbound_sim::{Content, SimFile, SimPackage, SimTeam, SimTeamPackage};
    use inbound_masv::TeamFilter;
    let day = chrono::Duration::days(1);
    let package = |id: &str, days: i32| {
        SimPackage::new(id, format!("Package {id}"))
            .with_file(SimFile::new(
                format!("{id}-f"),
                "f.mov",
                Content::generated(1, 1024),
            ))
            .expiring_in(day * days)
    };
    let team = SimTeam::new("team-f", "key-f")
        .with_package(
            SimTeamPackage::new("a", "finalized")
                .in_teamspace("ts-a")
                .tagged("t1", "Dailies"),
        )
        .with_package(
            SimTeamPackage::new("b", "finalized")
                .in_teamspace("ts-b")
                .tagged("t2", "Finals"),
        )
        .with_package(SimTeamPackage::new("c", "finalized").in_teamspace("ts-a"));
    let sim = Sim::start_full(
        ([127, 0, 0, 1], 0).into(),
        vec![package("a", 2), package("b", 9), package("c", 9)],
        None,
        Some(team),
    )
    .await
    .unwrap();
    let api = TeamApi::new(
        MasvClient::new(sim.api_url()).unwrap(),
        Secret::new("key-f"),
        "team-f",
    );
    let soon = chrono::Utc::now() + day * 3;
    let cases = [
        (
            TeamFilter {
                teamspaces: vec!["ts-a".into()],
                ..TeamFilter::default()
            },
            &["pkg-a", "pkg-c"][..],
        ),
        (
            TeamFilter {
                tags: vec!["t2".into()],
                ..TeamFilter::default()
            },
            &["pkg-b"],
        ),
        (
            TeamFilter {
                expiry_until: Some(soon),
                ..TeamFilter::default()
            },
            &["pkg-a"],
        ),
        (
            TeamFilter {
                teamspaces: vec!["ts-a".into()],
                expiry_from: Some(soon),
                ..TeamFilter::default()
            },
            &["pkg-c"],
        ),
    ];
    for legacy in [false, true] {
        sim.set_team_legacy_only(legacy);
        for (filter, want) in &cases {
            let got = api.packages_where(filter).await.unwrap();
            assert_eq!(ids(&got), set(want), "{filter:?}, legacy only: {legacy}");
        }
    }
    let requests = sim.team_v11_requests();
    assert!(requests >= cases.len() as u64, "v1.1 asked: {requests}");
}

/// A team member keeps a package longer: MASV is asked as its own clients ask (the
/// package's token, `PUT /v1/packages/{id}/expiry`), and the package's download shows
/// the new time at once. A package still uploading cannot be kept longer yet.
#[tokio::test]
async fn keeping_a_package_longer_asks_masv_and_its_download_follows() {
    let (api, h, listed, id) = team_package_added().await;
    let was = listed.expiry.unwrap();
    assert_eq!(
        h.engine.get(&id).unwrap().summary.expires_at,
        Some(was.timestamp()),
        "the listing's expiry"
    );

    let until = api.extend_expiry("pkg-tfinal1", 7).await.unwrap();
    assert!(until >= was + chrono::Duration::days(7) - chrono::Duration::seconds(5));
    assert_eq!(h.sim.expiry_requests(), 1);
    assert_eq!(
        h.sim.expiry("pkg-tfinal1").map(|t| t.timestamp()),
        Some(until.timestamp()),
        "MASV keeps it until then"
    );
    let mut events = h.engine.subscribe();
    h.engine
        .package_expiry_changed("pkg-tfinal1", until.timestamp());
    assert!(
        std::iter::from_fn(|| events.try_recv().ok()).any(|e| matches!(
            e,
            inbound_e2e::inbound_engine::Event::ExpiryChanged { id: ref i, expires_at }
                if *i == id && expires_at == Some(until.timestamp())
        )),
        "the window is told"
    );
    assert_eq!(
        h.engine.get(&id).unwrap().summary.expires_at,
        Some(until.timestamp())
    );
    let refused = api.extend_expiry("pkg-tupload", 7).await.unwrap_err();
    assert!(refused.to_string().contains("new"), "{refused}");
    assert_eq!(h.sim.expiry_requests(), 1, "nothing asked for it");
}
