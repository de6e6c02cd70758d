//! Dead letters: messages that could not be delivered.
//!
//! Each is counted, logged with a rate limit, and published on the event
//! stream as a [`DeadLetter`] for whoever subscribes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use crate::config::DeadLettersConfig;
use crate::target::AnyRef;

/// Why a message became a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The recipient had stopped (or was stopping).
    Terminated,
    /// The recipient's bounded mailbox was full and its policy dropped it.
    MailboxFull,
}

/// A message that could not be delivered, as published on the event stream.
/// The message itself is dropped (so a `ReplyTo` inside fails its asker at
/// once); its type name is kept.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// The intended recipient.
    pub recipient: AnyRef,
    /// `std::any::type_name` of the message.
    pub message_type: &'static str,
    /// Why it was not delivered.
    pub reason: DeadLetterReason,
}

#[derive(Default)]
struct Window {
    start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

pub(crate) struct DeadLetters {
    count: AtomicU64,
    config: DeadLettersConfig,
    window: Mutex<Window>,
}

impl DeadLetters {
    pub(crate) fn new(config: DeadLettersConfig) -> Self {
        DeadLetters {
            count: AtomicU64::new(0),
            config,
            window: Mutex::new(Window::default()),
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Counts one dead letter; returns whether it should be logged now.
    pub(crate) fn count_and_should_log(&self) -> bool {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.config.log
    }

    pub(crate) fn log(&self, letter: &DeadLetter) {
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let expired = w
            .start
            .is_none_or(|s| now.saturating_duration_since(s) >= self.config.interval);
        if expired {
            if w.suppressed > 0 {
                tracing::info!(
                    suppressed = w.suppressed,
                    "{} dead letters were not logged in the last {:?}",
                    w.suppressed,
                    self.config.interval
                );
            }
            *w = Window {
                start: Some(now),
                logged: 0,
                suppressed: 0,
            };
        }
        if w.logged < self.config.max_logged_per_interval {
            w.logged += 1;
            drop(w);
            tracing::info!(
                recipient = %letter.recipient,
                message_type = letter.message_type,
                reason = ?letter.reason,
                "dead letter"
            );
        } else {
            w.suppressed += 1;
        }
    }
}
