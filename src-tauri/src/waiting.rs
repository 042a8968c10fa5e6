//! Links that arrived while MASV could not be reached (no route, DNS, a VPN or Wi-Fi
//! change): kept by the shell instead of lost, tried again every little while, and handed
//! on as soon as MASV answers. A pasted link is then added; a link from outside is then
//! shown for the person to confirm, as it would have been.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use inbound_engine::{Destination, Engine, EngineError, PackagePreview, Secret};
use serde::Serialize;
use ts_rs::TS;

/// Between two tries of the links waiting for MASV.
pub const RETRY_EVERY: Duration = Duration::from_secs(15);

/// A link kept while MASV is out of reach. Holds its secret: never sent to the UI.
#[derive(Clone)]
pub struct WaitingLink {
    pub url: String,
    pub password: Option<Secret>,
    /// Where it goes, as the person chose when pasting (or the settings' folder).
    pub destination: Destination,
    /// Pasted by the person (added when MASV answers), or from outside (shown first).
    pub confirmed: bool,
    pub since: i64,
    /// What failed last, for the person.
    pub message: String,
}

/// A waiting link as the UI shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WaitingLinkView {
    #[ts(type = "number")]
    pub token: u64,
    /// The link with its secret replaced by `***`.
    pub link: String,
    /// Unix seconds it has been waiting since.
    #[ts(type = "number")]
    pub since: i64,
    /// Unix seconds of the next try.
    #[ts(type = "number")]
    pub next_try: i64,
    pub message: String,
}

/// What became of a waiting link once tried.
pub enum Outcome {
    /// MASV is still out of reach (this is why): it keeps waiting.
    StillWaiting(String),
    Added(String),
    /// From outside and now readable: ask the person.
    Preview(PackagePreview),
    Failed(EngineError),
}

/// The links waiting for MASV, by token.
#[derive(Default)]
pub struct WaitingLinks {
    links: Mutex<HashMap<u64, WaitingLink>>,
    next_try: Mutex<i64>,
}

impl WaitingLinks {
    /// Keeps a link; the same link kept again keeps its token.
    pub fn keep(&self, token: impl FnOnce() -> u64, link: WaitingLink) -> u64 {
        let mut links = crate::lock(&self.links);
        if let Some((&t, kept)) = links.iter_mut().find(|(_, l)| l.url == link.url) {
            kept.message = link.message;
            kept.confirmed |= link.confirmed;
            return t;
        }
        let t = token();
        links.insert(t, link);
        t
    }

    pub fn drop_link(&self, token: u64) -> bool {
        crate::lock(&self.links).remove(&token).is_some()
    }

    pub fn is_empty(&self) -> bool {
        crate::lock(&self.links).is_empty()
    }

    pub fn set_next_try(&self, at: i64) {
        *crate::lock(&self.next_try) = at;
    }

    pub fn views(&self) -> Vec<WaitingLinkView> {
        let next_try = *crate::lock(&self.next_try);
        let mut views: Vec<_> = crate::lock(&self.links)
            .iter()
            .map(|(&token, l)| WaitingLinkView {
                token,
                link: inbound_masv::LinkRef::parse(&l.url)
                    .map(|r| r.redacted())
                    .unwrap_or_default(),
                since: l.since,
                next_try,
                message: l.message.clone(),
            })
            .collect();
        views.sort_by_key(|v| (v.since, v.token));
        views
    }

    /// Tries every waiting link once; those MASV answered for leave the list and are
    /// returned with what became of them.
    pub async fn try_all(&self, engine: &Engine) -> Vec<(u64, WaitingLink, Outcome)> {
        let links: Vec<(u64, WaitingLink)> = crate::lock(&self.links)
            .iter()
            .map(|(&t, l)| (t, l.clone()))
            .collect();
        let mut settled = Vec::new();
        for (token, link) in links {
            match try_once(engine, &link).await {
                Outcome::StillWaiting(message) => {
                    if let Some(kept) = crate::lock(&self.links).get_mut(&token) {
                        kept.message = message;
                    }
                }
                outcome => {
                    // Dropped by the person meanwhile: nothing to hand on.
                    if crate::lock(&self.links).remove(&token).is_some() {
                        settled.push((token, link, outcome));
                    }
                }
            }
        }
        settled
    }
}

/// Whether an error means MASV could not be reached (worth keeping the link for).
pub fn unreachable(e: &EngineError) -> bool {
    matches!(e, EngineError::Masv(m) if m.is_transient())
}

/// "MASV cannot be reached (could not connect to the server)": each thing said once.
pub fn unreachable_message(e: &EngineError) -> String {
    match e {
        EngineError::Masv(m) => format!("MASV cannot be reached ({})", m.reason()),
        other => other.to_string(),
    }
}

async fn try_once(engine: &Engine, link: &WaitingLink) -> Outcome {
    let result = if link.confirmed {
        engine
            .add(&link.url, link.destination.clone(), link.password.clone())
            .await
            .map(Outcome::Added)
    } else {
        engine
            .preview(&link.url, link.password.clone())
            .await
            .map(Outcome::Preview)
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) if unreachable(&e) => Outcome::StillWaiting(unreachable_message(&e)),
        Err(e) => Outcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use inbound_engine::{Destination, Engine, EngineConfig};
    use inbound_sim::{Sim, catalog};

    use super::*;

    fn kept(url: String, folder: &std::path::Path, confirmed: bool) -> WaitingLink {
        WaitingLink {
            url,
            password: None,
            destination: Destination::straight(folder),
            confirmed,
            since: 0,
            message: "MASV cannot be reached".into(),
        }
    }

    /// A simulator with one 1 MiB package and an engine on it.
    async fn one_package(link_id: &str) -> (Sim, tempfile::TempDir, Engine) {
        let sim = Sim::start(vec![catalog::large(link_id, 1024 * 1024)])
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(dir.path().join("data"));
        config.api_url = sim.api_url();
        config.retry_base_delay = Duration::from_millis(10);
        let engine = Engine::open(config).await.unwrap();
        (sim, dir, engine)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_link_kept_through_an_outage_is_added_once_masv_answers() {
        let (sim, dir, engine) = one_package("offline").await;
        let link = sim.packages()[0].link();
        sim.faults().set_outage(Duration::from_secs(3600));
        let first = engine
            .add(&link, Destination::straight(dir.path().join("dl")), None)
            .await
            .unwrap_err();
        assert!(unreachable(&first), "{first}");
        let message = unreachable_message(&first);
        // Said once, in words: "could not connect" or "the connection was cut" (the
        // simulator closes connections as they arrive), not a chain of causes.
        assert!(
            message == "MASV cannot be reached (could not connect to the server)"
                || message == "MASV cannot be reached (the connection was cut)",
            "{message}"
        );

        let waiting = WaitingLinks::default();
        let pasted = waiting.keep(|| 1, kept(link.clone(), &dir.path().join("dl"), true));
        // The same link pasted again waits once.
        assert_eq!(
            waiting.keep(|| 2, kept(link.clone(), &dir.path().join("dl"), true)),
            pasted
        );
        let view = &waiting.views()[0];
        assert!(view.link.ends_with("secret=***"), "{}", view.link);
        assert!(!format!("{:?}", waiting.views()).contains(&sim.packages()[0].secret));

        assert!(waiting.try_all(&engine).await.is_empty());
        assert!(!waiting.is_empty(), "still kept while MASV is out of reach");
        assert!(engine.list().is_empty());

        sim.faults().set_outage(Duration::ZERO);
        let tried = waiting.try_all(&engine).await;
        let Outcome::Added(id) = &tried[0].2 else {
            panic!("added once MASV answers");
        };
        assert!(waiting.is_empty());
        assert_eq!(engine.list()[0].id, *id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_link_from_outside_is_shown_not_added_once_masv_answers() {
        let (sim, dir, engine) = one_package("outside").await;
        let waiting = WaitingLinks::default();
        waiting.keep(|| 7, kept(sim.packages()[0].link(), dir.path(), false));
        let tried = waiting.try_all(&engine).await;
        assert!(matches!(&tried[0].2, Outcome::Preview(p) if p.file_count == 1));
        assert!(engine.list().is_empty(), "asked, not started");
    }
}
