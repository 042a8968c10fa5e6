//! Team listings through MASV's paginated v1.1 routes (at most 50 a page, walked to the
//! end), and through the legacy v1 routes where v1.1 answers 404.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use inbound_e2e::inbound_engine::Secret;
use inbound_e2e::inbound_sim::{Content, Sim, SimFile, SimPackage, SimTeam, SimTeamPackage};
use inbound_inbox::TeamApi;
use inbound_masv::{MasvClient, TeamPackage};

const TEAM: &str = "team-pages";
const KEY: &str = "pages-key";

/// 120 finalized packages, the first 60 sent through a portal.
async fn sim() -> Sim {
    let ids: Vec<String> = (0..120).map(|i| format!("p{i:03}")).collect();
    let packages = ids
        .iter()
        .map(|id| {
            SimPackage::new(id, format!("Package {id}")).with_file(SimFile::new(
                format!("{id}-f"),
                "a.txt",
                Content::bytes(id.as_bytes().to_vec()),
            ))
        })
        .collect();
    let mut team = SimTeam::new(TEAM, KEY).with_portal("portal-a", "A");
    for (i, id) in ids.iter().enumerate() {
        let p = SimTeamPackage::new(id, "finalized");
        team = team.with_package(if i < 60 { p.in_portal("portal-a") } else { p });
    }
    Sim::start_full(([127, 0, 0, 1], 0).into(), packages, None, Some(team))
        .await
        .unwrap()
}

fn api(sim: &Sim) -> TeamApi {
    TeamApi::new(
        MasvClient::new(sim.api_url()).unwrap(),
        Secret::new(KEY),
        TEAM,
    )
    .with_first_delay(Duration::from_millis(50))
}

fn ids(p: &[TeamPackage]) -> BTreeSet<String> {
    p.iter().map(|p| p.id.clone()).collect()
}

#[tokio::test]
async fn every_page_of_the_v1_1_listings_is_walked_fifty_at_a_time() {
    let sim = sim().await;
    let api = api(&sim);
    let all = api.packages(&[]).await.unwrap();
    assert_eq!(all.len(), 120);
    assert_eq!(ids(&all).len(), 120, "no package twice");
    assert_eq!(sim.team_v11_requests(), 3, "pages of 50, 50 and 20");
    assert_eq!(sim.team_requests(), 3, "the legacy route was not asked");

    let portal = api.portal_packages("portal-a").await.unwrap();
    assert_eq!(portal.len(), 60);
    assert!(
        portal
            .iter()
            .all(|p| p.portal_id.as_deref() == Some("portal-a"))
    );
    assert_eq!(
        sim.team_v11_requests(),
        5,
        "the inbox in pages of 50 and 10"
    );
}

#[tokio::test]
async fn where_v1_1_answers_404_the_legacy_routes_serve_and_it_is_not_asked_again() {
    let sim = sim().await;
    sim.set_team_legacy_only(true);
    let api = api(&sim);
    assert_eq!(api.packages(&[]).await.unwrap().len(), 120);
    assert_eq!(api.portal_packages("portal-a").await.unwrap().len(), 60);
    assert_eq!(sim.team_v11_requests(), 1, "one 404, remembered");
    // An unknown portal is still an error, not an empty list.
    assert!(api.portal_packages("portal-zz").await.is_err());
}
