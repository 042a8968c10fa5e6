use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use inbound_engine::Engine;
use tokio::sync::oneshot;

use crate::settings::Settings;

/// Everything the commands share.
pub struct AppState {
    pub engine: Engine,
    pub settings: Mutex<Settings>,
    pub settings_path: PathBuf,
    pub data_dir: PathBuf,
    /// The logged-in team, when there is one.
    pub inbox: Mutex<Option<crate::inbox::InboxSession>>,
    /// The embedded simulator behind "Try a demo package"; alive as long as the app.
    pub demo: inbound_sim::Sim,
    /// Links from outside that arrived before the UI was listening.
    pub early_links: Mutex<Vec<String>>,
    /// Links being added right now, so one arriving twice is added once.
    pub links_in_flight: Mutex<HashSet<String>>,
    pub ui_ready: AtomicBool,
    /// Links waiting for a password, by a token the UI sends back (the link itself,
    /// which holds a secret, never goes to the UI).
    pub waiting_for_password: Mutex<HashMap<u64, String>>,
    pub next_token: AtomicU64,
    /// Stops the agent API when it runs.
    pub agent_stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl AppState {
    pub fn settings(&self) -> Settings {
        crate::lock(&self.settings).clone()
    }

    pub fn park_link(&self, url: String) -> u64 {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed) + 1;
        crate::lock(&self.waiting_for_password).insert(token, url);
        token
    }
}
