//! Mailbox configuration and the queue an actor cell keeps under its lock.

use std::collections::{HashMap, VecDeque};

use hashbrown::HashTable;
use std::task::Waker;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::path::Name;
use crate::target::{AnyRef, SystemMessage};

/// What a full bounded mailbox does with one more message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowPolicy {
    /// `send` and `ask` wait for capacity; `try_tell` gets the message back;
    /// a fire-and-forget `tell` goes to dead letters.
    #[default]
    Backpressure,
    /// Every way of sending fails at once (`tell` goes to dead letters).
    Fail,
    /// The new message goes to dead letters; senders see success.
    DropNewest,
    /// The oldest waiting message goes to dead letters to make room.
    DropOldest,
}

/// How an actor's mailbox is bounded.
///
/// `capacity` counts the messages waiting in the mailbox; the actor may in
/// addition hold up to its `throughput` messages taken for the turn it is
/// running, so the most a mailbox ever holds is `capacity + throughput`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// Waiting messages at most, unless `unbounded`. Must be at least 1.
    pub capacity: usize,
    /// What a full mailbox does.
    pub overflow: OverflowPolicy,
    /// No bound at all: an explicit opt-in, because a producer faster than
    /// the actor then grows memory without limit.
    pub unbounded: bool,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig {
            capacity: 1024,
            overflow: OverflowPolicy::Backpressure,
            unbounded: false,
        }
    }
}

impl MailboxConfig {
    /// A bounded mailbox with the given capacity and policy.
    pub fn bounded(capacity: usize, overflow: OverflowPolicy) -> Self {
        MailboxConfig {
            capacity,
            overflow,
            unbounded: false,
        }
    }

    /// An unbounded mailbox (explicit opt-in).
    pub fn unbounded() -> Self {
        MailboxConfig {
            unbounded: true,
            ..MailboxConfig::default()
        }
    }

    /// Checks the values; `field` prefixes the field names in errors.
    pub fn validate_at(&self, field: &str) -> Result<(), ConfigError> {
        if !self.unbounded && self.capacity == 0 {
            return Err(ConfigError::invalid(
                format!("{field}.capacity"),
                "must be at least 1 (or set unbounded = true)",
            ));
        }
        if !self.unbounded && self.capacity >= u32::MAX as usize {
            return Err(ConfigError::invalid(
                format!("{field}.capacity"),
                "must be below 4294967295 (or set unbounded = true)",
            ));
        }
        Ok(())
    }

    /// The bound as stored in a cell (`u32::MAX` for unbounded).
    pub(crate) fn limit(&self) -> u32 {
        if self.unbounded {
            u32::MAX
        } else {
            u32::try_from(self.capacity.max(1)).unwrap_or(u32::MAX - 1)
        }
    }
}

/// A queued user message. Timer messages carry their generation (32 bits,
/// wrapping: it only has to differ from the generations of timers started
/// while the message waits) so that a
/// message from a cancelled or replaced timer is discarded even if it was
/// already enqueued.
pub(crate) enum Envelope<M> {
    User(M),
    Timer { generation: u32, msg: M },
}

impl<M> Envelope<M> {
    pub(crate) fn into_msg(self) -> M {
        match self {
            Envelope::User(m) | Envelope::Timer { msg: m, .. } => m,
        }
    }
}

/// Lifecycle as seen by senders.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// Accepting user messages.
    Alive,
    /// Stopping: user messages go to dead letters, system messages still run.
    Stopping,
    /// Gone: everything goes to dead letters; watch answers at once.
    Terminated,
}

/// The state every sender and the running turn share, under the cell's lock.
pub(crate) struct Inbox<M> {
    pub(crate) user: VecDeque<Envelope<M>>,
    /// A turn is running or queued on the executor: senders must not start
    /// another one.
    pub(crate) scheduled: bool,
    /// The actor is not taking user messages (failed, restarting or
    /// stopping): enqueueing one must not start a turn.
    pub(crate) suspended: bool,
    pub(crate) phase: Phase,
    /// The running turn found the mailbox empty and waits briefly for more
    /// (see `Turn::linger`): a sender wakes it instead of starting a turn.
    pub(crate) parked: Option<Waker>,
    /// The actor has an entry in the system's list of lingering turns.
    pub(crate) lingering: bool,
    /// Rarely used parts, allocated on first use to keep idle actors small.
    pub(crate) extra: Option<Box<InboxExtra>>,
}

#[derive(Default)]
pub(crate) struct InboxExtra {
    pub(crate) system: VecDeque<SystemMessage>,
    /// Senders waiting for capacity (policy `Backpressure`).
    pub(crate) waiting_senders: Vec<Waker>,
    pub(crate) children: Children,
}

impl<M> Inbox<M> {
    pub(crate) fn new() -> Self {
        Inbox {
            user: VecDeque::new(),
            scheduled: true,
            suspended: false,
            phase: Phase::Alive,
            parked: None,
            lingering: false,
            extra: None,
        }
    }

    pub(crate) fn extra(&mut self) -> &mut InboxExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    pub(crate) fn has_system(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| !e.system.is_empty())
    }

    /// Wakes senders waiting for capacity; called when messages leave.
    pub(crate) fn wake_senders(&mut self) {
        if let Some(extra) = self.extra.as_mut() {
            for w in extra.waiting_senders.drain(..) {
                w.wake();
            }
        }
    }
}

/// The children of one actor. Each child costs one 16-byte slot: the
/// reference itself, hashed by the address of what it points at (a child
/// is in the table by a strong reference, so that address cannot be reused
/// while it is there, and hashing it needs no call through the reference —
/// which matters when a table of a million children grows). Named children
/// also have an entry in `names`, which keeps names unique among siblings.
#[derive(Default)]
pub(crate) struct Children {
    all: HashTable<AnyRef>,
    names: HashMap<Box<str>, AnyRef>,
}

fn address(child: &AnyRef) -> usize {
    std::sync::Arc::as_ptr(&child.0) as *const () as usize
}

fn hash_of(child: &AnyRef) -> u64 {
    ((address(child) >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Children {
    fn find(&self, child: &AnyRef) -> Option<&AnyRef> {
        let at = address(child);
        self.all.find(hash_of(child), |c| address(c) == at)
    }

    fn take(&mut self, child: &AnyRef) -> Option<AnyRef> {
        let at = address(child);
        self.all
            .find_entry(hash_of(child), |c| address(c) == at)
            .ok()
            .map(|e| e.remove().0)
    }

    /// Inserts unless the name is taken. A name whose holder has already
    /// terminated is free even before the parent has processed that
    /// termination: a watcher may hear of it first and reuse the name.
    ///
    /// Called under the parent's inbox lock; `is_terminated` takes the
    /// child's. Locks nest only parent before child, never the reverse.
    pub(crate) fn reserve(&mut self, name: &Name, child: AnyRef) -> bool {
        if let Name::Named(n) = name {
            if let Some(holder) = self.names.get(n).cloned() {
                if !holder.is_terminated() {
                    return false;
                }
                // The holder's own `Terminated` still reaches the parent
                // later; `remove` then finds it gone and does nothing.
                self.take(&holder);
            }
            self.names.insert(n.clone(), child.clone());
        }
        let hash = hash_of(&child);
        self.all.insert_unique(hash, child, hash_of);
        true
    }

    /// Removes a child; false if it was not (or no longer) a child.
    pub(crate) fn remove(&mut self, child: &AnyRef) -> bool {
        if self.take(child).is_none() {
            return false;
        }
        if !self.names.is_empty() {
            let path = child.path();
            if self.names.get(path.name()) == Some(child) {
                self.names.remove(path.name());
            }
        }
        true
    }

    /// The child with this name; anonymous names (`$` and the id) are
    /// looked up by scanning, as nobody is expected to do that often.
    pub(crate) fn get(&self, name: &str) -> Option<&AnyRef> {
        match name.strip_prefix('$') {
            Some(anon) => {
                let id = u64::from_str_radix(anon, 36).ok()?;
                self.all.iter().find(|c| c.uid().actor == id)
            }
            None => self.names.get(name),
        }
    }

    /// True if `child` (a reference to the child's cell itself, not an
    /// adapter of it) is a child.
    pub(crate) fn contains(&self, child: &AnyRef) -> bool {
        self.find(child).is_some()
    }

    pub(crate) fn all(&self) -> Vec<AnyRef> {
        self.all.iter().cloned().collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}
