//! Keeps the machine from going to sleep while anything transfers, so a package started
//! on Friday evening is there on Monday: logind's `sleep` inhibitor on Linux (held as a
//! file descriptor; closing it releases the lock), a power assertion on macOS,
//! `SetThreadExecutionState` on Windows, all through `keepawake`.
//!
//! Only sleep is held off, not the screen: a screen left unlocked all weekend would be
//! worse than a late package. A download waiting for the network still counts as
//! transferring (a Wi-Fi change is not a reason to sleep).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;

/// Asks for the inhibitor to be held or released; a thread of its own talks to the
/// system (the calls block, and D-Bus may be slow or absent).
pub(crate) struct Awake {
    enabled: AtomicBool,
    busy: AtomicBool,
    wanted: mpsc::Sender<bool>,
}

impl Awake {
    pub fn new(enabled: bool) -> Self {
        let (wanted, requests) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("inbound-keep-awake".into())
            .spawn(move || hold_while_wanted(requests));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot keep the machine awake while downloading");
        }
        Self {
            enabled: AtomicBool::new(enabled),
            busy: AtomicBool::new(false),
            wanted,
        }
    }

    /// Whether anything is transferring now.
    pub fn set_busy(&self, busy: bool) {
        if self.busy.swap(busy, Relaxed) != busy {
            self.update();
        }
    }

    /// The person's setting: off lets the machine sleep whatever happens.
    pub fn set_enabled(&self, enabled: bool) {
        if self.enabled.swap(enabled, Relaxed) != enabled {
            self.update();
        }
    }

    fn update(&self) {
        let want = self.enabled.load(Relaxed) && self.busy.load(Relaxed);
        // The thread is gone only if it could not start; that was logged.
        let _ = self.wanted.send(want);
    }
}

/// Holds the inhibitor while the latest request says so; releases it when the engine
/// goes (the sender is dropped) or asks.
fn hold_while_wanted(requests: mpsc::Receiver<bool>) {
    let mut held: Option<keepawake::KeepAwake> = None;
    let mut warned = false;
    while let Ok(mut want) = requests.recv() {
        // Only the latest of a burst matters.
        while let Ok(later) = requests.try_recv() {
            want = later;
        }
        match (want, held.is_some()) {
            (true, false) => match inhibit() {
                Ok(lock) => {
                    tracing::info!("keeping the machine awake while downloading");
                    held = Some(lock);
                }
                // Info, not a warning: a server without D-Bus has no sleep to prevent.
                Err(e) if !warned => {
                    warned = true;
                    tracing::info!(error = %e, "cannot keep the machine awake while downloading; it may sleep");
                }
                Err(e) => tracing::debug!(error = %e, "cannot keep the machine awake"),
            },
            (false, true) => {
                held = None;
                tracing::info!("nothing transferring: the machine may sleep again");
            }
            _ => {}
        }
    }
}

fn inhibit() -> keepawake::Result<keepawake::KeepAwake> {
    keepawake::Builder::default()
        .sleep(true)
        .reason("Downloading MASV packages")
        .app_name("Inbound")
        .app_reverse_domain("app.inbound.Inbound")
        .create()
}

#[cfg(test)]
mod tests {
    /// Windows: `SetThreadExecutionState` on the thread that holds it (Linux needs
    /// logind on D-Bus, which a test machine may not have; macOS is not run here).
    #[cfg(windows)]
    #[test]
    fn windows_holds_off_sleep_while_asked() {
        let held = super::inhibit();
        assert!(held.is_ok(), "{:?}", held.err());
        drop(held);
    }
}
