//! Keyed single and periodic timers that send messages to their actor.
//!
//! Each timer is a task sleeping on tokio's clock (so tests can pause and
//! advance time). Its messages carry a generation; the actor drops a
//! message whose generation is no longer current, so a cancelled or
//! replaced timer never delivers, even if its message was already queued.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::actor::Actor;
use crate::cell::ActorCell;
use crate::mailbox::Envelope;
use crate::system::SystemInner;

/// Names a timer of one actor. Strings and numbers convert into it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TimerKey(KeyRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyRepr {
    Text(Cow<'static, str>),
    Number(u64),
}

impl From<&'static str> for TimerKey {
    fn from(s: &'static str) -> Self {
        TimerKey(KeyRepr::Text(Cow::Borrowed(s)))
    }
}

impl From<String> for TimerKey {
    fn from(s: String) -> Self {
        TimerKey(KeyRepr::Text(Cow::Owned(s)))
    }
}

impl From<u64> for TimerKey {
    fn from(n: u64) -> Self {
        TimerKey(KeyRepr::Number(n))
    }
}

impl fmt::Debug for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            KeyRepr::Text(s) => write!(f, "{s:?}"),
            KeyRepr::Number(n) => write!(f, "{n}"),
        }
    }
}

struct Entry {
    generation: u32,
    periodic: bool,
    /// `None` when the system has no executor (the synchronous harness):
    /// the timer is recorded but never fires.
    task: Option<AbortHandle>,
}

#[derive(Default)]
pub(crate) struct Timers {
    entries: HashMap<TimerKey, Entry>,
    next_generation: u32,
}

impl Timers {
    fn insert(
        &mut self,
        key: TimerKey,
        periodic: bool,
        task: impl FnOnce(u32) -> Option<AbortHandle>,
    ) {
        self.cancel(&key);
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let task = task(generation);
        self.entries.insert(
            key,
            Entry {
                generation,
                periodic,
                task,
            },
        );
    }

    pub(crate) fn start_single<A: Actor>(
        &mut self,
        system: &Arc<SystemInner>,
        key: TimerKey,
        me: Arc<ActorCell<A>>,
        msg: A::Msg,
        delay: Duration,
    ) {
        self.insert(key, false, |generation| {
            system.spawn_task(async move {
                tokio::time::sleep(delay).await;
                me.tell_envelope(Envelope::Timer { generation, msg });
            })
        });
    }

    pub(crate) fn start_periodic<A: Actor>(
        &mut self,
        system: &Arc<SystemInner>,
        key: TimerKey,
        me: Arc<ActorCell<A>>,
        msg: A::Msg,
        interval: Duration,
    ) where
        A::Msg: Clone,
    {
        let interval = interval.max(Duration::from_millis(1));
        self.insert(key, true, |generation| {
            system.spawn_task(async move {
                let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    me.tell_envelope(Envelope::Timer {
                        generation,
                        msg: msg.clone(),
                    });
                }
            })
        });
    }

    pub(crate) fn cancel(&mut self, key: &TimerKey) {
        if let Some(entry) = self.entries.remove(key) {
            if let Some(task) = entry.task {
                task.abort();
            }
        }
    }

    pub(crate) fn cancel_all(&mut self) {
        for (_, entry) in self.entries.drain() {
            if let Some(task) = entry.task {
                task.abort();
            }
        }
    }

    pub(crate) fn is_active(&self, key: &TimerKey) -> bool {
        self.entries.contains_key(key)
    }

    /// A timer message arrived: true if its timer is still current (a
    /// single timer is then done).
    pub(crate) fn fired(&mut self, generation: u32) -> bool {
        let Some(key) = self
            .entries
            .iter()
            .find(|(_, e)| e.generation == generation)
            .map(|(k, _)| k.clone())
        else {
            return false;
        };
        if !self.entries[&key].periodic {
            self.entries.remove(&key);
        }
        true
    }
}
