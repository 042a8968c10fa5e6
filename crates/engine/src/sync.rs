//! Locks that outlive a panic. Every critical section in the engine leaves its data
//! consistent, so a lock poisoned by a panicking holder is still usable: one download's
//! bug must not stop the queue, the agent or the window.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking it over when a panicking holder poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
