//! The queue's order and pace: each download's priority (higher starts first), set one
//! at a time (the agent's `priority`) or as a whole order (a person moving packages up
//! and down), and each download's own speed limit.

use super::Engine;
use crate::download::ledger;
use crate::error::EngineError;
use crate::model::Event;

impl Engine {
    /// Sets a download's priority: higher starts first, and a queued download takes
    /// the slot of a running one of lower priority (which goes back to the queue).
    pub fn set_priority(&self, id: &str, priority: i64) -> Result<(), EngineError> {
        self.store_priority(id, priority)?;
        self.schedule();
        Ok(())
    }

    /// Ranks these downloads in this order, first highest: they get priorities
    /// `ids.len()` down to 1 (downloads not named keep theirs). Checked whole before
    /// anything changes: an unknown id changes nothing.
    pub fn reorder(&self, ids: &[String]) -> Result<(), EngineError> {
        for id in ids {
            self.find(id)?;
        }
        let top = ids.len() as i64;
        for (i, id) in ids.iter().enumerate() {
            self.store_priority(id, top - i as i64)?;
        }
        self.schedule();
        Ok(())
    }

    /// Sets a download's own speed limit (bytes per second; `None` or 0: none), within
    /// the global limit and the schedule. Kept with the download.
    pub fn set_download_limit(&self, id: &str, limit: Option<u64>) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        let limit = limit.filter(|&b| b > 0);
        let db = self.shared.store.path().to_owned();
        ledger::set_limit(&*self.shared, &dl, limit).map_err(EngineError::db(&db))?;
        // The list shows it: `added` updates a known download in place.
        self.shared.emit(Event::Added {
            download: Box::new(dl.summary()),
        });
        Ok(())
    }

    fn store_priority(&self, id: &str, priority: i64) -> Result<(), EngineError> {
        let dl = self.find(id)?;
        let db = self.shared.store.path().to_owned();
        ledger::set_priority(&*self.shared, &dl, priority).map_err(EngineError::db(&db))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use inbound_sim::{Sim, catalog};

    use crate::config::EngineConfig;
    use crate::engine::Engine;
    use crate::model::Event;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_order_ranks_first_highest_and_an_unknown_id_changes_nothing() {
        let sim = Sim::start(vec![
            catalog::large("a", 1 << 20),
            catalog::large("b", 1 << 20),
            catalog::large("c", 1 << 20),
        ])
        .await
        .unwrap();
        let (data, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut config = EngineConfig::new(data.path());
        config.api_url = sim.api_url();
        let engine = Engine::open(config).await.unwrap();
        let mut ids = Vec::new();
        for p in sim.packages() {
            let id = engine
                .add(&p.link(), &dest.path().join(&p.link_id), None)
                .await
                .unwrap();
            engine.pause(&id).await.unwrap();
            ids.push(id);
        }
        let mut events = engine.subscribe();
        let order = vec![ids[2].clone(), ids[0].clone(), ids[1].clone()];
        engine.reorder(&order).unwrap();
        let rank = |id: &str| engine.get(id).unwrap().summary.priority;
        assert_eq!((rank(&ids[2]), rank(&ids[0]), rank(&ids[1])), (3, 2, 1));
        let mut told = Vec::new();
        while let Ok(e) = events.try_recv() {
            if let Event::PriorityChanged { id, priority } = e {
                told.push((id, priority));
            }
        }
        assert_eq!(told.len(), 3, "each change is told: {told:?}");
        let err = engine
            .reorder(&[ids[1].clone(), "nope".into()])
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert_eq!(rank(&ids[1]), 1, "nothing changed");
    }
}
