//! Scaffolding for backends' own tests: what the SQLite, PostgreSQL and
//! in-memory tests would otherwise each write again. A counter entity,
//! a supervisor that reports its child's failures, a journal wrapper that
//! counts and breaks page queries, and the two halves of a crash test (a
//! child that writes until it is killed, a check of what it
//! acknowledged).

mod counter;
mod crash;
mod probe;
mod supervisor;

pub use counter::{Added, Counter, CounterCmd, counter_setup};
pub use crash::{check_acknowledged, kill_child_after_acks, run_crash_child, write_until_killed};
pub use probe::QueryProbe;
pub use supervisor::{
    Describe, FailedChild, GetChild, Supervisor, describe_recovery_failure, first_failure,
};
