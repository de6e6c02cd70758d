//! A global allocator that wraps `System` and, while switched on, counts live bytes and
//! allocation calls. Off by default: the check is one relaxed load of a read-mostly flag,
//! so timed message loops pay nothing measurable; the counters (contended atomics) are
//! touched only while a probe runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// The counting allocator; installed as `#[global_allocator]` in `main.rs`.
#[derive(Debug)]
pub(crate) struct Counting;

/// What the allocator saw between [`start`] and [`stop`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    /// Bytes allocated minus bytes freed (frees of older blocks included: a true delta).
    pub(crate) live_bytes: isize,
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub(crate) calls: usize,
}

/// Zeroes the counters and starts counting.
pub(crate) fn start() {
    LIVE_BYTES.store(0, Relaxed);
    CALLS.store(0, Relaxed);
    ENABLED.store(true, Relaxed);
}

/// Stops counting and returns what was counted since [`start`].
pub(crate) fn stop() -> Counted {
    ENABLED.store(false, Relaxed);
    Counted {
        live_bytes: LIVE_BYTES.load(Relaxed),
        calls: CALLS.load(Relaxed),
    }
}

#[inline]
fn record(grow: isize, call: bool) {
    if ENABLED.load(Relaxed) {
        LIVE_BYTES.fetch_add(grow, Relaxed);
        if call {
            CALLS.fetch_add(1, Relaxed);
        }
    }
}

#[inline]
fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping around it neither allocates nor touches the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract of `GlobalAlloc::alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(signed(layout.size()), true);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract of `GlobalAlloc::alloc_zeroed`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(signed(layout.size()), true);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract of `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) };
        record(-signed(layout.size()), false);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract of `GlobalAlloc::realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(signed(new_size) - signed(layout.size()), true);
        }
        p
    }
}
