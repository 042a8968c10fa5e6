//! Links from outside (a web page, a second launch) that arrived while MASV could not be
//! reached (no route, DNS, a VPN or Wi-Fi change): kept by the shell instead of lost,
//! tried again every little while, and shown for the person to confirm as soon as MASV
//! answers, as they would have been. (A link the person pasted or accepted needs no
//! question: it becomes a download waiting for the network, see `Engine::add_or_wait`.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use inbound_engine::{Engine, EngineError, PackagePreview};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::incoming::LinkOrigin;

/// Between two tries of the links waiting for MASV.
pub const RETRY_EVERY: Duration = Duration::from_secs(15);

/// A link kept while MASV is out of reach. Holds its secret: never sent to the UI.
#[derive(Clone, Serialize, Deserialize)]
pub struct WaitingLink {
    pub url: String,
    pub since: i64,
    /// What failed last, for the person.
    pub message: String,
    /// Opened from outside or copied: once MASV answers, it is asked about as such.
    #[serde(default)]
    pub origin: LinkOrigin,
}

impl WaitingLink {
    /// A link MASV could not be reached for (`error` says how), waiting from now.
    pub fn unreachable(url: String, error: &EngineError, origin: LinkOrigin) -> Self {
        Self {
            url,
            since: inbound_engine::unix_now(),
            message: unreachable_message(error),
            origin,
        }
    }
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
    /// Readable now: ask the person.
    Preview(PackagePreview),
    Failed(EngineError),
}

/// The links waiting for MASV, by token; kept in a file too (in the data folder,
/// readable by the person only, as the download database that holds links is), so
/// quitting (or a crash) while MASV is out of reach loses none.
#[derive(Default)]
pub struct WaitingLinks {
    links: Mutex<HashMap<u64, WaitingLink>>,
    next_try: Mutex<i64>,
    file: Option<PathBuf>,
}

impl WaitingLinks {
    /// The links kept in `file` by an earlier run (none if it is missing or unreadable,
    /// which is logged), each with a token from `token`.
    pub fn open(file: PathBuf, mut token: impl FnMut() -> u64) -> Self {
        let stored: Vec<WaitingLink> = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, path = %file.display(), "links waiting for MASV unreadable; starting without them");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let links = stored.into_iter().map(|link| (token(), link)).collect();
        Self {
            links: Mutex::new(links),
            next_try: Mutex::new(0),
            file: Some(file),
        }
    }

    /// Writes the list to its file; a failure is logged (the links stay in memory).
    fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let stored: Vec<WaitingLink> = crate::lock(&self.links).values().cloned().collect();
        let written = serde_json::to_vec(&stored)
            .map_err(std::io::Error::other)
            .and_then(|json| inbound_engine::write_private(file, &json));
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %file.display(), "could not keep the links waiting for MASV on disk");
        }
    }

    /// Keeps a link; the same link kept again keeps its token.
    pub fn keep(&self, token: impl FnOnce() -> u64, link: WaitingLink) -> u64 {
        let t = {
            let mut links = crate::lock(&self.links);
            if let Some((&t, kept)) = links.iter_mut().find(|(_, l)| l.url == link.url) {
                kept.message = link.message;
                t
            } else {
                let t = token();
                links.insert(t, link);
                t
            }
        };
        self.save();
        t
    }

    pub fn drop_link(&self, token: u64) -> bool {
        let dropped = crate::lock(&self.links).remove(&token).is_some();
        self.save();
        dropped
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
        if !settled.is_empty() {
            self.save();
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
        EngineError::Masv(m) => m.unreachable_sentence(),
        other => other.to_string(),
    }
}

async fn try_once(engine: &Engine, link: &WaitingLink) -> Outcome {
    match engine.preview(&link.url, None).await {
        Ok(preview) => Outcome::Preview(preview),
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

    fn kept(url: String) -> WaitingLink {
        WaitingLink {
            url,
            since: 0,
            message: "MASV cannot be reached".into(),
            origin: LinkOrigin::Outside,
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
    async fn a_link_from_outside_kept_through_an_outage_is_shown_once_masv_answers() {
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
        let opened = waiting.keep(|| 1, kept(link.clone()));
        // The same link opened again waits once.
        assert_eq!(waiting.keep(|| 2, kept(link.clone())), opened);
        let view = &waiting.views()[0];
        assert!(view.link.ends_with("secret=***"), "{}", view.link);
        assert!(!format!("{:?}", waiting.views()).contains(&sim.packages()[0].secret));

        assert!(waiting.try_all(&engine).await.is_empty());
        assert!(!waiting.is_empty(), "still kept while MASV is out of reach");

        sim.faults().set_outage(Duration::ZERO);
        let tried = waiting.try_all(&engine).await;
        assert!(matches!(&tried[0].2, Outcome::Preview(p) if p.file_count == 1));
        assert!(waiting.is_empty());
        assert!(engine.list().is_empty(), "asked, not started");
    }

    #[test]
    fn links_are_kept_across_a_restart_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("waiting-links.json");
        let first = WaitingLinks::open(file.clone(), || 0);
        first.keep(
            || 1,
            kept("https://get.massive.app/kept?secret=s3cret".into()),
        );
        first.keep(|| 2, kept("https://get.massive.app/other?secret=x".into()));
        first.drop_link(2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        drop(first);
        // The app is started again: the link is still waiting.
        let again = WaitingLinks::open(file, || 9);
        let views = again.views();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].token, 9);
        assert_eq!(views[0].link, "https://get.massive.app/kept?secret=***");
        let link = crate::lock(&again.links).get(&9).cloned().unwrap();
        assert_eq!(link.url, "https://get.massive.app/kept?secret=s3cret");
    }
}
