//! What one run of a download may use of the engine around it, and nothing more: the
//! settings, the record, the clients, the limits shared by every download, and the
//! event stream. The engine implements it; a run never sees the engine itself, so the
//! run's code cannot reach the queue or the other downloads except through these.

use std::sync::{Arc, Mutex};

use inbound_masv::MasvClient;
use tokio::sync::{Notify, Semaphore};

use crate::config::EngineConfig;
use crate::download::Download;
use crate::download::ledger::Journal;
use crate::download::session::RetryPolicy;
use crate::model::Waiting;
use crate::transfer::bandwidth::Bandwidth;
use crate::transfer::storage_client::StorageClient;

use super::scale::HostCeilings;

/// The record and the event stream come with [`Journal`], what the ledger writes to.
pub(crate) trait RunServices: Journal {
    fn config(&self) -> &EngineConfig;
    /// The MASV API client for a link (the demo's link has its own).
    fn client_for(&self, link_id: &str) -> MasvClient;
    /// For storage: no overall timeout (stalls are detected per read instead).
    fn storage(&self) -> &StorageClient;
    /// The limit in force now, over every download.
    fn bandwidth(&self) -> &Bandwidth;
    /// Connections open at once, over every download.
    fn connections(&self) -> &Arc<Semaphore>;
    fn connections_per_download(&self) -> usize;
    fn adaptive_connections(&self) -> bool;
    /// Storage hosts that said "too many connections" this session.
    fn host_ceilings(&self) -> &HostCeilings;
    /// What files that start hashing now use.
    fn hash_algorithm(&self) -> inbound_mhl::HashAlgorithm;
    /// Held while a package's ASC MHL generation is written.
    fn sealing(&self) -> &Mutex<()>;
    /// Told when a transfer gets through to storage.
    fn network_back(&self) -> &Notify;
    /// A few quick tries, for calls a longer outage is waited out around.
    fn quick_retry_policy(&self) -> RetryPolicy;
    fn retry_policy(&self) -> RetryPolicy;
    /// Says what a download waits for (or that it no longer waits).
    fn set_waiting(&self, dl: &Download, waiting: Option<Waiting>);
    /// Bytes the other downloads still have to write on this device.
    fn remaining_of_others_on(&self, dl: &Download, device: Option<u64>) -> u64;
    /// A point where a unit test may hold this thread; nothing outside tests.
    fn seam(&self, point: &'static str);
}
