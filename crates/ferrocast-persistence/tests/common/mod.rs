//! Shared test fixtures: a shopping-cart entity, a journal with injected
//! faults, and a supervisor that reports its children's failures.

#![allow(dead_code, unreachable_pub)]

pub mod cart;
pub mod faulty_journal;
pub mod supervisor;

use std::time::Duration;

/// Long enough for anything under paused time; a hang fails the test.
pub const TIMEOUT: Duration = Duration::from_secs(5);
