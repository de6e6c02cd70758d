//! [`Context`]: what a handler can do besides changing its own state.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::actor::{Actor, Props};
use crate::actor_ref::{ActorRef, AskError};
use crate::adapter::Adapter;
use crate::cell::{ActorCell, SpawnError};
use crate::path::ActorPath;
use crate::reply::ReplyTo;
use crate::supervision::RestartStats;
use crate::system::ActorSystem;
use crate::target::{ActorUid, AnyRef, SystemMessage};
use crate::timers::{TimerKey, Timers};

/// The actor's view of itself and the runtime, passed to every handler.
///
/// Spawn children, watch other actors, run timers, stash messages, adapt
/// other protocols into this actor's, and pipe futures back as messages.
pub struct Context<A: Actor> {
    /// The cell this context belongs to. The context lives inside that cell
    /// and is only reachable from the cell's own turn, so the pointer is
    /// valid whenever a method runs.
    cell: *const ActorCell<A>,
    stop_requested: bool,
    unstash_requested: bool,
    /// Rarely used state, allocated on first use to keep idle actors small.
    extra: Option<Box<Extra<A::Msg>>>,
}

// SAFETY: the raw pointer is only dereferenced by the turn that owns the
// context (see the field's comment); everything else is `Send` when the
// message type is.
unsafe impl<A: Actor> Send for Context<A> {}

struct Extra<M> {
    timers: Timers,
    stash: VecDeque<M>,
    /// Actors this one watches, with the message to deliver instead of the
    /// `terminated` hook (`watch_with`).
    watching: HashMap<ActorUid, (AnyRef, Option<M>)>,
    /// Actors watching this one.
    watchers: HashMap<ActorUid, AnyRef>,
    /// Terminations seen while suspended, delivered after resume/restart.
    deferred: Vec<(AnyRef, Option<M>)>,
    /// Restart counts of failed children.
    child_stats: HashMap<u64, RestartStats>,
    /// Children whose failures this actor escalated. They wait, suspended,
    /// for this actor's fate: resuming it resumes them (as in Akka); a
    /// restart or stop stops them with the other children.
    escalated: Vec<AnyRef>,
}

impl<M> Default for Extra<M> {
    fn default() -> Self {
        Extra {
            timers: Timers::default(),
            stash: VecDeque::new(),
            watching: HashMap::new(),
            watchers: HashMap::new(),
            deferred: Vec::new(),
            child_stats: HashMap::new(),
            escalated: Vec::new(),
        }
    }
}

/// The stash is full; the message comes back.
#[derive(thiserror::Error)]
#[error("stash full ({capacity} messages)")]
pub struct StashFull<M> {
    /// The message that was not stashed.
    pub msg: M,
    /// The stash's bound.
    pub capacity: usize,
}

impl<M> fmt::Debug for StashFull<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StashFull {{ capacity: {} }}", self.capacity)
    }
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(cell: *const ActorCell<A>) -> Self {
        Context {
            cell,
            stop_requested: false,
            unstash_requested: false,
            extra: None,
        }
    }

    fn cell(&self) -> &ActorCell<A> {
        // SAFETY: see the `cell` field: the context is only used from the
        // cell's own turn, which keeps the cell alive.
        unsafe { &*self.cell }
    }

    fn extra(&mut self) -> &mut Extra<A::Msg> {
        self.extra.get_or_insert_with(Default::default)
    }

    /// A reference to this actor.
    pub fn myself(&self) -> ActorRef<A::Msg> {
        self.cell().actor_ref()
    }

    /// This actor's path.
    pub fn path(&self) -> ActorPath {
        self.cell().build_path()
    }

    /// The system this actor lives in.
    pub fn system(&self) -> ActorSystem {
        ActorSystem::from_inner(self.cell().header.system.clone())
    }

    /// The parent, or `None` for the root guardian.
    pub fn parent(&self) -> Option<AnyRef> {
        self.cell().header.parent.clone()
    }

    /// Spawns a named child. Names are unique among siblings.
    pub fn spawn<B: Actor>(
        &mut self,
        name: &str,
        props: impl Into<Props<B>>,
    ) -> Result<ActorRef<B::Msg>, SpawnError> {
        ActorCell::spawn(self.cell(), Some(name), props.into())
    }

    /// Spawns a child with a generated name (`$` and a number).
    pub fn spawn_anonymous<B: Actor>(
        &mut self,
        props: impl Into<Props<B>>,
    ) -> Result<ActorRef<B::Msg>, SpawnError> {
        ActorCell::spawn(self.cell(), None, props.into())
    }

    /// The children currently alive (or stopping).
    pub fn children(&self) -> Vec<AnyRef> {
        self.cell().children()
    }

    /// The child with this name, if any.
    pub fn child(&self, name: &str) -> Option<AnyRef> {
        self.cell().child(name)
    }

    /// Stops this actor once the current handler returns: children stop
    /// first, then `stopped` runs; queued messages go to dead letters.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Stops a child. Returns false (and does nothing) if `child` is not a
    /// child of this actor.
    pub fn stop_child(&self, child: impl Into<AnyRef>) -> bool {
        let child = child.into();
        if !self.cell().children().contains(&child) {
            return false;
        }
        child.send_system(SystemMessage::Stop);
        true
    }

    /// Watches `target`: when it stops, this actor's [`Actor::terminated`]
    /// runs with its reference. Watching a stopped actor reports at once.
    pub fn watch(&mut self, target: impl Into<AnyRef>) {
        self.watch_inner(target.into(), None);
    }

    /// Watches `target`, delivering `msg` (as an ordinary message) when it
    /// stops instead of calling [`Actor::terminated`].
    pub fn watch_with(&mut self, target: impl Into<AnyRef>, msg: A::Msg) {
        self.watch_inner(target.into(), Some(msg));
    }

    fn watch_inner(&mut self, target: AnyRef, msg: Option<A::Msg>) {
        let me = self.cell().any_ref();
        if target == me {
            return;
        }
        let fresh = self
            .extra()
            .watching
            .insert(target.uid(), (target.clone(), msg))
            .is_none();
        if fresh {
            target.send_system(SystemMessage::Watch { watcher: me });
        }
    }

    /// Stops watching `target`; a termination already on its way is dropped.
    pub fn unwatch(&mut self, target: impl Into<AnyRef>) {
        let target = target.into();
        let me = self.cell().any_ref();
        if let Some(extra) = self.extra.as_mut() {
            if extra.watching.remove(&target.uid()).is_some() {
                target.send_system(SystemMessage::Unwatch { watcher: me });
            }
        }
    }

    /// Sends `msg` to this actor once after `delay`, replacing any timer
    /// with the same key. A replaced or cancelled timer's message is never
    /// delivered, even if it was already queued.
    pub fn start_single_timer(&mut self, key: impl Into<TimerKey>, msg: A::Msg, delay: Duration) {
        let me = self.cell().arc();
        let system = self.cell().header.system.clone();
        self.extra()
            .timers
            .start_single(&system, key.into(), me, msg, delay);
    }

    /// Sends a clone of `msg` to this actor every `interval` (the first
    /// after one interval), replacing any timer with the same key.
    pub fn start_periodic_timer(
        &mut self,
        key: impl Into<TimerKey>,
        msg: A::Msg,
        interval: Duration,
    ) where
        A::Msg: Clone,
    {
        let me = self.cell().arc();
        let system = self.cell().header.system.clone();
        self.extra()
            .timers
            .start_periodic(&system, key.into(), me, msg, interval);
    }

    /// Cancels the timer with this key, if any.
    pub fn cancel_timer(&mut self, key: impl Into<TimerKey>) {
        if let Some(extra) = self.extra.as_mut() {
            extra.timers.cancel(&key.into());
        }
    }

    /// True while the timer with this key may still fire.
    pub fn is_timer_active(&self, key: impl Into<TimerKey>) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|e| e.timers.is_active(&key.into()))
    }

    pub(crate) fn cancel_all_timers(&mut self) {
        if let Some(extra) = self.extra.as_mut() {
            extra.timers.cancel_all();
        }
    }

    pub(crate) fn timer_fired(&mut self, generation: u32) -> bool {
        self.extra
            .as_mut()
            .is_some_and(|e| e.timers.fired(generation))
    }

    /// Keeps `msg` to handle later (after [`Context::unstash_all`]). The
    /// stash is bounded; a full stash gives the message back.
    pub fn stash(&mut self, msg: A::Msg) -> Result<(), StashFull<A::Msg>> {
        let capacity = self.cell().stash_capacity();
        let stash = &mut self.extra().stash;
        if stash.len() >= capacity {
            return Err(StashFull { msg, capacity });
        }
        stash.push_back(msg);
        Ok(())
    }

    /// Once the current handler returns, handles every stashed message, in
    /// the order stashed, before anything else in the mailbox.
    pub fn unstash_all(&mut self) {
        self.unstash_requested = true;
    }

    /// Messages in the stash.
    pub fn stash_len(&self) -> usize {
        self.extra.as_ref().map_or(0, |e| e.stash.len())
    }

    /// Makes a reference of another message type whose messages are mapped
    /// into this actor's protocol, for talking to actors that speak another
    /// protocol. Adapters are fire-and-forget: a full mailbox applies its
    /// overflow policy, and `send`/`try_tell` on the adapter never wait.
    pub fn message_adapter<N: Send + 'static>(
        &self,
        map: impl Fn(N) -> A::Msg + Send + Sync + 'static,
    ) -> ActorRef<N> {
        Adapter::new_ref(self.myself(), map)
    }

    /// Runs `future` on the executor and sends `map(output)` to this actor.
    /// The handler does not wait for it; if the actor stopped meanwhile the
    /// message goes to dead letters.
    pub fn pipe_to_self<F, T>(&self, future: F, map: impl FnOnce(T) -> A::Msg + Send + 'static)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let me = self.myself();
        self.cell().header.system.spawn_task(async move {
            me.tell(map(future.await));
        });
    }

    /// Asks `target` and delivers the answer (or the failure) to this actor
    /// as `map(result)`, without blocking the handler.
    pub fn ask<M, R>(
        &self,
        target: &ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M + Send + 'static,
        timeout: Duration,
        map: impl FnOnce(Result<R, AskError>) -> A::Msg + Send + 'static,
    ) where
        M: Send + 'static,
        R: Send + 'static,
    {
        let target = target.clone();
        self.pipe_to_self(async move { target.ask(make, timeout).await }, map);
    }

    // ---- used by the cell's turn ----

    pub(crate) fn take_stop_request(&mut self) -> bool {
        std::mem::take(&mut self.stop_requested)
    }

    pub(crate) fn take_unstash(&mut self) -> bool {
        std::mem::take(&mut self.unstash_requested)
    }

    pub(crate) fn drain_stash(&mut self) -> Vec<A::Msg> {
        self.extra
            .as_mut()
            .map(|e| e.stash.drain(..).collect())
            .unwrap_or_default()
    }

    pub(crate) fn add_watcher(&mut self, watcher: AnyRef) {
        self.extra().watchers.insert(watcher.uid(), watcher);
    }

    pub(crate) fn remove_watcher(&mut self, watcher: &AnyRef) {
        if let Some(extra) = self.extra.as_mut() {
            extra.watchers.remove(&watcher.uid());
        }
    }

    pub(crate) fn take_watchers(&mut self) -> Vec<AnyRef> {
        self.extra
            .as_mut()
            .map(|e| e.watchers.drain().map(|(_, w)| w).collect())
            .unwrap_or_default()
    }

    pub(crate) fn take_all_watched(&mut self) -> Vec<AnyRef> {
        self.extra
            .as_mut()
            .map(|e| e.watching.drain().map(|(_, (w, _))| w).collect())
            .unwrap_or_default()
    }

    /// `Some(custom message)` if `actor` was watched (and forgets it).
    pub(crate) fn take_watched(&mut self, actor: &AnyRef) -> Option<Option<A::Msg>> {
        self.extra
            .as_mut()?
            .watching
            .remove(&actor.uid())
            .map(|(_, msg)| msg)
    }

    pub(crate) fn defer_terminated(&mut self, actor: AnyRef, msg: Option<A::Msg>) {
        self.extra().deferred.push((actor, msg));
    }

    pub(crate) fn has_deferred(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| !e.deferred.is_empty())
    }

    pub(crate) fn take_deferred(&mut self) -> Vec<(AnyRef, Option<A::Msg>)> {
        self.extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.deferred))
            .unwrap_or_default()
    }

    pub(crate) fn child_stats(
        &mut self,
        child: u64,
        now: tokio::time::Instant,
    ) -> &mut RestartStats {
        self.extra()
            .child_stats
            .entry(child)
            .or_insert(RestartStats {
                count: 0,
                window_start: now,
            })
    }

    pub(crate) fn escalated(&mut self, child: AnyRef) {
        self.extra().escalated.push(child);
    }

    pub(crate) fn take_escalated(&mut self) -> Vec<AnyRef> {
        self.extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.escalated))
            .unwrap_or_default()
    }

    pub(crate) fn forget_child_stats(&mut self, child: u64) {
        if let Some(extra) = self.extra.as_mut() {
            extra.child_stats.remove(&child);
        }
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path())
            .field("stash_len", &self.stash_len())
            .finish_non_exhaustive()
    }
}
