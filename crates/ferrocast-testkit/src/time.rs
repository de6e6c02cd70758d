//! Paused-time helpers: tests that control tokio's clock instead of
//! sleeping on the wall clock.
//!
//! Start tests with paused time, `#[tokio::test(start_paused = true)]`:
//!
//! ```
//! # use std::time::Duration;
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() { ticks_once_a_second().await }
//! // #[tokio::test(start_paused = true)]
//! async fn ticks_once_a_second() {
//!     let start = tokio::time::Instant::now();
//!     ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
//!     assert_eq!(start.elapsed(), Duration::from_secs(1));
//! }
//! ```
//!
//! With the clock paused, time moves only when the test calls [`advance`],
//! or by itself when every task is idle and one waits on a timer: the clock
//! then jumps straight to that timer ("auto-advance"). So a probe that waits
//! three seconds for a message that never comes returns at once, and a
//! sequence of timers fires in order regardless of the machine's load.
//!
//! Paused time needs tokio's `current_thread` runtime (the default of
//! `#[tokio::test]`) and the `test-util` feature.

use std::time::Duration;

use tokio::time::Instant;

/// Rounds of [`settle`]. Each round lets the scheduler poll the tasks
/// that are ready, up to tokio's event interval (61 polls on
/// `current_thread`), so 64 rounds cover a few thousand hand-offs.
pub const SETTLE_ROUNDS: usize = 64;

/// Pauses tokio's clock (prefer `#[tokio::test(start_paused = true)]`).
///
/// # Panics
///
/// Outside a `current_thread` runtime, or if time is already paused.
pub fn pause() {
    tokio::time::pause();
}

/// Lets tokio's clock run again.
///
/// # Panics
///
/// Outside a `current_thread` runtime, or if time is not paused.
pub fn resume() {
    tokio::time::resume();
}

/// Moves the paused clock forward by `duration`, timer by timer, then
/// [`settle`]s.
///
/// Every timer due meanwhile fires at its own deadline, with the work it
/// wakes (actor turns, timer messages) run before the clock moves on, as if
/// the time had passed. (`tokio::time::advance` instead jumps once, so a
/// periodic timer due three times in the span fires once.) This relies on
/// auto-advance: it returns once every other task is idle or waits on a
/// later timer, so a task that never stops being busy keeps it waiting.
///
/// # Panics
///
/// If time is not paused.
pub async fn advance(duration: Duration) {
    // Panics unless time is paused, so the sleep below never waits on the
    // wall clock.
    tokio::time::advance(Duration::ZERO).await;
    let target = Instant::now() + duration;
    // Timers have millisecond resolution and round up, so sleep to within a
    // millisecond of the target and jump the rest: the clock ends exactly
    // at `target`.
    tokio::time::sleep(duration.saturating_sub(Duration::from_millis(1))).await;
    tokio::time::advance(target.saturating_duration_since(Instant::now())).await;
    settle().await;
}

/// Lets spawned work that is ready, run: yields to the scheduler
/// [`SETTLE_ROUNDS`] times without moving the clock.
///
/// On a `current_thread` runtime a round runs the tasks that are ready,
/// including those they wake (a tell, the turn it schedules, the tell that
/// handler makes, ...), up to tokio's event interval, so after `settle` a
/// few thousand such hand-offs have run. It does not wait for work that
/// waits on anything else: a timer (use [`advance`]), I/O, a blocking
/// thread, another runtime, or (on a `multi_thread` runtime) other worker
/// threads. Prefer waiting for the effect itself (a probe's `expect_msg`)
/// when there is one; `settle` is for checking that something did *not*
/// happen, or for state outside actors.
pub async fn settle() {
    settle_rounds(SETTLE_ROUNDS).await;
}

/// [`settle`] with a chosen number of rounds.
pub async fn settle_rounds(rounds: usize) {
    for _ in 0..rounds {
        tokio::task::yield_now().await;
    }
}
