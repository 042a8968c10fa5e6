use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use inbound_engine::{Engine, PackagePreview};
use tokio::sync::SetOnce;
use tokio::sync::oneshot;

use crate::settings::Settings;

/// Everything the commands share.
pub struct AppState {
    /// The engine and the demo, opened off the window's thread after the window is up
    /// (reading a long history takes a moment); a command that needs them waits.
    pub opened: SetOnce<Opened>,
    /// The data folder could not be opened (held by the agent or the CLI, say): the app
    /// only says so and leaves; the window stays hidden.
    pub refused: AtomicBool,
    pub settings: Mutex<Settings>,
    pub settings_path: PathBuf,
    pub data_dir: PathBuf,
    /// The logged-in team, when there is one.
    /// Shared with the agent API, which runs the session's automations.
    pub inbox: Arc<Mutex<Option<crate::inbox::InboxSession>>>,
    /// Links from outside that arrived before the UI was listening.
    pub early_links: Mutex<Vec<String>>,
    /// Links being added right now, so one arriving twice is added once.
    pub links_in_flight: Mutex<HashSet<String>>,
    pub ui_ready: AtomicBool,
    /// Links from outside waiting for the person (to confirm, or to give a password),
    /// by a token the UI sends back: the link itself, which holds a secret, never goes
    /// to the UI.
    pub parked: Mutex<HashMap<u64, ParkedLink>>,
    pub next_token: AtomicU64,
    /// Links kept while MASV cannot be reached.
    pub waiting: crate::waiting::WaitingLinks,
    /// Wakes the waiting links' retry loop ("Try now").
    pub retry_waiting_now: tokio::sync::Notify,
    /// Stops the agent API when it runs.
    pub agent_stop: Mutex<Option<oneshot::Sender<()>>>,
    /// Why clipboard capture cannot work on this desktop, once found out.
    pub clipboard_unavailable: Mutex<Option<String>>,
}

/// What opening the data folder gives.
pub struct Opened {
    pub engine: Engine,
    /// The embedded simulator behind "Try a demo package"; alive as long as the app.
    pub demo: inbound_sim::Sim,
}

impl AppState {
    /// The shell's state before the engine is open, with these settings and the links
    /// an earlier run kept waiting for MASV.
    pub fn new(settings: Settings, settings_path: PathBuf, data_dir: PathBuf) -> Self {
        let mut tokens_taken = 0;
        let waiting =
            crate::waiting::WaitingLinks::open(data_dir.join("waiting-links.json"), || {
                tokens_taken += 1;
                tokens_taken
            });
        Self {
            opened: SetOnce::new(),
            refused: AtomicBool::new(false),
            settings: Mutex::new(settings),
            settings_path,
            data_dir,
            inbox: Arc::default(),
            early_links: Mutex::new(Vec::new()),
            links_in_flight: Mutex::new(HashSet::new()),
            ui_ready: AtomicBool::new(false),
            parked: Mutex::new(HashMap::new()),
            // Tokens go on from those the kept links took.
            next_token: AtomicU64::new(tokens_taken),
            waiting,
            retry_waiting_now: tokio::sync::Notify::new(),
            agent_stop: Mutex::new(None),
            clipboard_unavailable: Mutex::new(None),
        }
    }

    /// The engine, once open.
    pub async fn engine(&self) -> &Engine {
        &self.opened.wait().await.engine
    }

    /// The engine if it is open already (for what has nothing to do before).
    pub fn engine_now(&self) -> Option<&Engine> {
        self.opened.get().map(|o| &o.engine)
    }

    pub fn settings(&self) -> Settings {
        crate::lock(&self.settings).clone()
    }

    /// Keeps a link until the person answers; the same link parked again keeps its
    /// token, so a link that arrives twice asks once.
    pub fn park_link(&self, url: String, preview: Option<PackagePreview>) -> u64 {
        let mut parked = crate::lock(&self.parked);
        if let Some((&token, link)) = parked.iter_mut().find(|(_, l)| l.url == url) {
            if preview.is_some() {
                link.preview = preview;
            }
            return token;
        }
        let token = self.new_token();
        parked.insert(token, ParkedLink { url, preview });
        token
    }

    /// A token for a link the UI may refer to (parked or waiting), never reused.
    pub fn new_token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The parked link with this token, if it is still waiting.
    pub fn parked(&self, token: u64) -> Option<ParkedLink> {
        crate::lock(&self.parked).get(&token).cloned()
    }
}

/// A link from outside that has not started.
#[derive(Clone)]
pub struct ParkedLink {
    pub url: String,
    /// What it points to, once read (a password-protected link cannot be read first).
    pub preview: Option<PackagePreview>,
}
