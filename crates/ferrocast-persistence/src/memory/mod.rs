//! The in-memory backend: the reference implementation of every contract,
//! for tests and single-process use. Nothing survives the process.

mod durable_state;
mod journal;
mod snapshot_store;

pub use durable_state::InMemoryDurableState;
pub use journal::InMemoryJournal;
pub use snapshot_store::InMemorySnapshotStore;

/// Locks a mutex, going on if a panicking holder poisoned it: every
/// critical section here leaves the data consistent before it can panic.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
