//! Shared test fixtures: a shopping-cart entity and a journal with injected
//! faults. (The supervisor that reports its children's failures is
//! `ferrocast_persistence::tck::scaffold::Supervisor`.)

#![allow(dead_code, unreachable_pub)]

pub mod cart;
pub mod faulty_journal;

use std::time::Duration;

/// Long enough for anything under paused time; a hang fails the test.
pub const TIMEOUT: Duration = Duration::from_secs(5);
