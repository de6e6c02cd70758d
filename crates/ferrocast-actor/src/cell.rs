//! The actor cell: mailbox, lifecycle and the turn that runs handlers.
//!
//! # Scheduling
//!
//! An idle actor owns no task. The cell holds the mailbox under a small lock
//! together with a `scheduled` flag. The sender that finds the flag clear
//! sets it and spawns a *turn* on the system's executor. The turn takes up to
//! `throughput` messages at a time, runs their handlers, yields to the
//! executor after `throughput` messages, and clears the flag under the lock
//! when the mailbox is empty. So at most one turn runs per actor, handlers
//! never run concurrently, and an idle actor costs only its cell.
//!
//! System messages (stop, watch, terminated, supervision) have their own
//! unbounded queue, checked before every user message.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll};

use futures_util::FutureExt;
use tracing::Instrument;

use crate::actor::{Actor, Props};
use crate::actor_ref::{ActorRef, SendError, TrySendError};
use crate::context::Context;
use crate::dead_letters::DeadLetterReason;
use crate::deadline::AskTimer;
use crate::mailbox::{Envelope, Inbox, OverflowPolicy, Phase};
use crate::path::{ActorPath, Name};
use crate::supervision::{Directive, Failure, SupervisorStrategy};
use crate::system::{BoxedTurn, FirstTurn, SystemInner};
use crate::target::{ActorTarget, ActorUid, AnyRef, MessageTarget, SystemMessage};

/// Why spawning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// A sibling already has this name.
    #[error("an actor named {0:?} already exists under this parent")]
    NameTaken(String),
    /// The name is not allowed.
    #[error(transparent)]
    InvalidName(#[from] crate::path::InvalidName),
    /// The parent (or the system) is stopping.
    #[error("the parent is stopping; no new children")]
    ParentStopping,
}

/// Fixed facts about a cell.
///
/// Field widths are chosen so an idle actor stays small: one cell is the
/// whole cost of an idle actor (see `docs/actors/semantics.md`).
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) name: Name,
    pub(crate) parent: Option<AnyRef>,
    pub(crate) system: Arc<SystemInner>,
    /// Mailbox bound (`u32::MAX`: unbounded).
    limit: u32,
    stash_capacity: u32,
    overflow: OverflowPolicy,
    /// Set (under the inbox lock) when a system message is queued, so the
    /// turn can notice between user messages without taking the lock.
    system_pending: AtomicBool,
}

/// Where the actor instance is in its life, as seen by its own turn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lifecycle {
    /// No instance yet (first start or restart pending): create and start it.
    Created,
    Running,
    /// Failed; waiting for the parent's decision or a restart backoff.
    Suspended,
    /// Waiting for children to stop before restarting.
    Restarting,
    /// Waiting for children to stop before stopping.
    Stopping,
    Terminated,
}

/// State only the running turn touches.
struct Runner<A: Actor> {
    actor: Option<A>,
    factory: Box<dyn FnMut() -> A + Send>,
    ctx: Context<A>,
    lifecycle: Lifecycle,
    /// No instance was ever created. The first start comes before any
    /// system message (as Akka's `Create`), so an actor stopped before its
    /// first turn still runs `started` and then `stopped`.
    fresh: bool,
}

pub(crate) struct ActorCell<A: Actor> {
    pub(crate) header: Header,
    inbox: Mutex<Inbox<A::Msg>>,
    runner: UnsafeCell<Runner<A>>,
}

// SAFETY: `runner` is only accessed by the single turn that holds the
// `scheduled` flag (set and cleared under `inbox`'s lock), like a mutex
// whose lock is held across the turn; `A: Send` is all that requires.
// Everything else is `Sync` on its own.
unsafe impl<A: Actor> Sync for ActorCell<A> {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while this lock is held (no user code runs under
    // it), but if one did, the inbox is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<A: Actor> ActorCell<A> {
    pub(crate) fn stash_capacity(&self) -> usize {
        self.header.stash_capacity as usize
    }

    /// Creates a child cell under `parent` and registers it there. The new
    /// cell starts scheduled: its first turn creates and starts the actor.
    pub(crate) fn spawn<P: Actor>(
        parent: &ActorCell<P>,
        name: Option<&str>,
        props: Props<A>,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        let system = parent.header.system.clone();
        let id = system.next_actor_id();
        let name = match name {
            Some(n) => Name::parse(n)?,
            None => Name::Anonymous(id),
        };
        let cell = Self::new(id, name.clone(), Some(parent.any_ref()), system, props);
        let child = AnyRef(cell.clone());
        {
            let mut inbox = lock(&parent.inbox);
            if inbox.phase != Phase::Alive {
                return Err(SpawnError::ParentStopping);
            }
            if !inbox.extra().children.reserve(&name, child) {
                return Err(SpawnError::NameTaken(name.to_string()));
            }
        }
        let r = ActorRef::from_target(cell.clone());
        let system = cell.header.system.clone();
        system.start_actor(cell);
        Ok(r)
    }

    pub(crate) fn new(
        id: u64,
        name: Name,
        parent: Option<AnyRef>,
        system: Arc<SystemInner>,
        props: Props<A>,
    ) -> Arc<Self> {
        let mailbox = props.mailbox.unwrap_or(system.config.mailbox);
        let stash_capacity = props.stash_capacity.unwrap_or(system.config.stash_capacity);
        let stash_capacity = u32::try_from(stash_capacity).unwrap_or(u32::MAX);
        Arc::new_cyclic(|weak| ActorCell {
            header: Header {
                id,
                name,
                parent,
                system,
                limit: mailbox.limit(),
                stash_capacity,
                overflow: mailbox.overflow,
                system_pending: AtomicBool::new(false),
            },
            inbox: Mutex::new(Inbox::new()),
            runner: UnsafeCell::new(Runner {
                actor: None,
                factory: props.factory,
                ctx: Context::new(weak.as_ptr()),
                lifecycle: Lifecycle::Created,
                fresh: true,
            }),
        })
    }

    /// A counted reference to this cell.
    pub(crate) fn arc(&self) -> Arc<Self> {
        // SAFETY: every `ActorCell` is created by `new` inside an `Arc` and
        // never moved out of it, and `&self` proves a strong count >= 1.
        unsafe {
            let ptr = self as *const Self;
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    pub(crate) fn any_ref(&self) -> AnyRef {
        AnyRef(self.arc())
    }

    pub(crate) fn actor_ref(&self) -> ActorRef<A::Msg> {
        ActorRef::from_target(self.arc())
    }

    pub(crate) fn build_path(&self) -> ActorPath {
        match &self.header.parent {
            Some(p) => ActorPath::new(format!("{}/{}", p.path(), self.header.name)),
            None => ActorPath::new(format!("/{}", self.header.name)),
        }
    }

    fn schedule(self: Arc<Self>) {
        self.header.system.clone().spawn_turn(run_turn(self));
    }

    pub(crate) fn children(&self) -> Vec<AnyRef> {
        lock(&self.inbox)
            .extra
            .as_ref()
            .map(|e| e.children.all())
            .unwrap_or_default()
    }

    pub(crate) fn child(&self, name: &str) -> Option<AnyRef> {
        lock(&self.inbox)
            .extra
            .as_ref()
            .and_then(|e| e.children.get(name).cloned())
    }

    /// Enqueues a user envelope under the mailbox policy. `Err` gives back
    /// what could not be enqueued with the reason.
    fn push(&self, env: Envelope<A::Msg>) -> Result<(), (Envelope<A::Msg>, DeadLetterReason)> {
        let mut inbox = lock(&self.inbox);
        if inbox.phase != Phase::Alive {
            return Err((env, DeadLetterReason::Terminated));
        }
        if inbox.user.len() >= self.header.limit as usize {
            match self.header.overflow {
                OverflowPolicy::DropNewest => {
                    drop(inbox);
                    self.dead_letter(env.into_msg(), DeadLetterReason::MailboxFull);
                    return Ok(());
                }
                OverflowPolicy::DropOldest => {
                    let oldest = inbox.user.pop_front();
                    inbox.user.push_back(env);
                    drop(inbox);
                    if let Some(old) = oldest {
                        self.dead_letter(old.into_msg(), DeadLetterReason::MailboxFull);
                    }
                    return Ok(());
                }
                OverflowPolicy::Backpressure | OverflowPolicy::Fail => {
                    return Err((env, DeadLetterReason::MailboxFull));
                }
            }
        }
        inbox.user.push_back(env);
        // A suspended actor (failed, waiting for its parent) takes no user
        // messages; its next turn comes from the system message that
        // resumes or restarts it.
        if !inbox.scheduled && !inbox.suspended {
            inbox.scheduled = true;
            drop(inbox);
            self.arc().schedule();
        } else if let Some(turn) = inbox.parked.take() {
            drop(inbox);
            turn.wake();
        }
        Ok(())
    }

    pub(crate) fn tell_envelope(&self, env: Envelope<A::Msg>) {
        if let Err((env, reason)) = self.push(env) {
            self.dead_letter(env.into_msg(), reason);
        }
    }

    fn dead_letter(&self, msg: A::Msg, reason: DeadLetterReason) {
        self.header
            .system
            .dead_letter(|| self.any_ref(), std::any::type_name::<A::Msg>(), reason);
        drop(msg);
    }

    fn phase(&self) -> Phase {
        lock(&self.inbox).phase
    }
}

impl<A: Actor> ActorTarget for ActorCell<A> {
    fn uid(&self) -> ActorUid {
        ActorUid {
            system: self.header.system.uid,
            actor: self.header.id,
        }
    }

    fn path(&self) -> ActorPath {
        self.build_path()
    }

    fn send_system(&self, msg: SystemMessage) {
        let mut inbox = lock(&self.inbox);
        if inbox.phase == Phase::Terminated {
            drop(inbox);
            // Answer for the dead: a watch of a stopped actor is told at once.
            if let SystemMessage::Watch { watcher } = msg {
                watcher.send_system(SystemMessage::Terminated {
                    actor: self.any_ref(),
                });
            }
            return;
        }
        inbox.extra().system.push_back(msg);
        self.header.system_pending.store(true, Ordering::Release);
        if !inbox.scheduled {
            inbox.scheduled = true;
            drop(inbox);
            self.arc().schedule();
        } else if let Some(turn) = inbox.parked.take() {
            drop(inbox);
            turn.wake();
        }
    }

    fn is_terminated(&self) -> bool {
        self.phase() == Phase::Terminated
    }

    fn ask_timer(&self) -> Option<&AskTimer> {
        self.header.system.ask_timer()
    }
}

impl<A: Actor> MessageTarget<A::Msg> for ActorCell<A> {
    #[inline]
    fn tell(&self, msg: A::Msg) {
        self.tell_envelope(Envelope::User(msg))
    }

    fn try_tell(&self, msg: A::Msg) -> Result<(), TrySendError<A::Msg>> {
        self.push(Envelope::User(msg))
            .map_err(|(env, reason)| match reason {
                DeadLetterReason::MailboxFull => TrySendError::Full(env.into_msg()),
                _ => TrySendError::Closed(env.into_msg()),
            })
    }

    fn poll_send(
        &self,
        slot: &mut Option<A::Msg>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), SendError<A::Msg>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        match self.push(Envelope::User(msg)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err((env, DeadLetterReason::MailboxFull)) => {
                if self.header.overflow == OverflowPolicy::Fail {
                    return Poll::Ready(Err(SendError::Full(env.into_msg())));
                }
                let mut inbox = lock(&self.inbox);
                // Re-check under the lock so a turn that drained meanwhile
                // cannot miss this waker.
                if inbox.phase == Phase::Alive && inbox.user.len() >= self.header.limit as usize {
                    let waiters = &mut inbox.extra().waiting_senders;
                    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        waiters.push(cx.waker().clone());
                    }
                    *slot = Some(env.into_msg());
                    return Poll::Pending;
                }
                drop(inbox);
                *slot = Some(env.into_msg());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err((env, _)) => Poll::Ready(Err(SendError::Closed(env.into_msg()))),
        }
    }
}

impl<A: Actor> FirstTurn for ActorCell<A> {
    fn first_turn(self: Arc<Self>) -> BoxedTurn {
        Box::pin(turn(self, true))
    }
}

/// One turn of an actor: runs until the mailbox is empty (or the actor
/// terminates), yielding to the executor every `throughput` messages.
pub(crate) async fn run_turn<A: Actor>(cell: Arc<ActorCell<A>>) {
    turn(cell, false).await
}

/// A turn; with `start_only` it ends once the actor is started (and its
/// system messages are handled), handing any waiting user messages to a
/// regular turn on a task of its own (see `SystemInner::start_actor`).
async fn turn<A: Actor>(cell: Arc<ActorCell<A>>, start_only: bool) {
    let span = tracing::debug_span!("actor", path = %cell.build_path());
    Turn {
        cell: &cell,
        // SAFETY: this turn holds the `scheduled` flag, so no other turn
        // exists; only turns touch the runner (see `unsafe impl Sync`).
        runner: unsafe { &mut *cell.runner.get() },
        batch: VecDeque::new(),
    }
    .run(start_only)
    .instrument(span)
    .await
}

struct Turn<'a, A: Actor> {
    cell: &'a ActorCell<A>,
    runner: &'a mut Runner<A>,
    /// Messages taken from the mailbox for this turn, in order.
    batch: VecDeque<Envelope<A::Msg>>,
}

impl<A: Actor> Turn<'_, A> {
    async fn run(mut self, start_only: bool) {
        let throughput = self.cell.header.system.config.throughput.max(1);
        let mut handled = 0usize;
        let mut linger = false;
        loop {
            if self.runner.fresh {
                self.start().await;
                continue;
            }
            if self
                .cell
                .header
                .system_pending
                .swap(false, Ordering::Acquire)
            {
                let msgs = lock(&self.cell.inbox)
                    .extra
                    .as_mut()
                    .map(|e| std::mem::take(&mut e.system))
                    .unwrap_or_default();
                for msg in msgs {
                    // Lifecycle work (stop, restart, supervision) is rare and
                    // its future is large: boxing it keeps every turn's
                    // future, allocated per turn, small.
                    Box::pin(self.system(msg)).await;
                }
                if self.runner.lifecycle == Lifecycle::Terminated {
                    return;
                }
                continue;
            }
            if self.runner.lifecycle == Lifecycle::Created {
                self.start().await;
                continue;
            }
            if self.runner.lifecycle != Lifecycle::Running {
                self.return_batch();
                let mut inbox = lock(&self.cell.inbox);
                if !inbox.has_system() {
                    inbox.suspended = true;
                    inbox.scheduled = false;
                    return;
                }
                continue;
            }
            if start_only {
                let mut inbox = lock(&self.cell.inbox);
                if inbox.user.is_empty() && !inbox.has_system() {
                    inbox.scheduled = false;
                } else {
                    drop(inbox);
                    self.cell.arc().schedule();
                }
                return;
            }
            if self.batch.is_empty() && !self.refill(throughput, !linger) {
                if linger {
                    linger = false;
                    self.linger().await;
                    continue;
                }
                return;
            }
            while let Some(env) = self.batch.pop_front() {
                self.deliver(env).await;
                handled += 1;
                linger = true;
                if self.runner.lifecycle != Lifecycle::Running
                    || self.cell.header.system_pending.load(Ordering::Relaxed)
                {
                    break;
                }
                if handled >= throughput {
                    handled = 0;
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    /// Takes the next messages; false when the mailbox is empty, after
    /// clearing `scheduled` (ending the turn) if `end`.
    fn refill(&mut self, throughput: usize, end: bool) -> bool {
        let mut inbox = lock(&self.cell.inbox);
        inbox.suspended = false;
        if inbox.has_system() {
            // `system_pending` is already set; the loop will see it.
            return true;
        }
        if inbox.user.is_empty() {
            if !end {
                return false;
            }
            // Keep one buffer's capacity in the mailbox so a steady trickle
            // of messages does not allocate, but do not hoard a large one.
            if inbox.user.capacity() == 0 && self.batch.capacity() <= 64 {
                std::mem::swap(&mut inbox.user, &mut self.batch);
            }
            inbox.scheduled = false;
            return false;
        }
        let was_full = inbox.user.len() >= self.cell.header.limit as usize;
        if inbox.user.len() <= throughput {
            std::mem::swap(&mut inbox.user, &mut self.batch);
        } else {
            self.batch.extend(inbox.user.drain(..throughput));
        }
        if was_full {
            inbox.wake_senders();
        }
        true
    }

    /// The mailbox just ran dry. In request-response traffic the next
    /// message is typically one scheduler hop away, so before ending the
    /// turn it parks once: a sender (or a system message) wakes it directly,
    /// which is cheaper than starting a new turn and, unlike yielding, does
    /// not wake other worker threads to steal it. The system bounds how many
    /// turns linger (`SystemInner::linger`): the oldest is woken, finds
    /// nothing, and ends, so idle actors still cost no task.
    async fn linger(&mut self) {
        let mut parked = false;
        std::future::poll_fn(|cx| {
            let mut inbox = lock(&self.cell.inbox);
            if parked || !inbox.user.is_empty() || inbox.has_system() {
                inbox.parked = None;
                return Poll::Ready(());
            }
            inbox.parked = Some(cx.waker().clone());
            drop(inbox);
            parked = true;
            self.cell.header.system.linger(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Puts messages taken for this turn back at the front of the mailbox
    /// (the actor failed and waits for its parent), keeping their order.
    fn return_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut inbox = lock(&self.cell.inbox);
        while let Some(env) = self.batch.pop_back() {
            inbox.user.push_front(env);
        }
    }

    async fn deliver(&mut self, env: Envelope<A::Msg>) {
        let msg = match env {
            Envelope::User(m) => m,
            Envelope::Timer { generation, msg } => {
                if !self.runner.ctx.timer_fired(generation) {
                    return;
                }
                msg
            }
        };
        self.handle(msg).await;
    }

    async fn handle(&mut self, msg: A::Msg) {
        let Some(actor) = self.runner.actor.as_mut() else {
            return;
        };
        let ctx = &mut self.runner.ctx;
        let span = tracing::trace_span!("message", r#type = std::any::type_name::<A::Msg>());
        let result = AssertUnwindSafe(actor.handle(msg, ctx))
            .catch_unwind()
            .instrument(span)
            .await;
        self.after_handler(result).await;
    }

    async fn after_handler(
        &mut self,
        result: Result<Result<(), crate::actor::ActorError>, Box<dyn std::any::Any + Send>>,
    ) {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(Failure::Error(e)),
            Err(panic) => self.fail(Failure::from_panic(panic)),
        }
        if self.runner.ctx.take_unstash() {
            let stashed = self.runner.ctx.drain_stash();
            for msg in stashed.into_iter().rev() {
                self.batch.push_front(Envelope::User(msg));
            }
        }
        if self.runner.ctx.take_stop_request() {
            // Boxed: rare, and its future (with `stopped`) is large.
            Box::pin(self.begin_stop()).await;
        }
    }

    /// Creates the instance (first start or restart) and runs `started`.
    async fn start(&mut self) {
        self.runner.fresh = false;
        let factory = &mut self.runner.factory;
        match std::panic::catch_unwind(AssertUnwindSafe(factory)) {
            Ok(actor) => self.runner.actor = Some(actor),
            Err(panic) => {
                self.runner.lifecycle = Lifecycle::Running;
                self.fail(Failure::from_panic(panic));
                return;
            }
        }
        self.runner.lifecycle = Lifecycle::Running;
        let Some(actor) = self.runner.actor.as_mut() else {
            return;
        };
        let result = AssertUnwindSafe(actor.started(&mut self.runner.ctx))
            .catch_unwind()
            .await;
        self.after_handler(result).await;
        if self.runner.lifecycle == Lifecycle::Running && self.runner.ctx.has_deferred() {
            Box::pin(self.deliver_deferred()).await;
        }
    }

    /// The actor failed: stop taking user messages and ask the parent.
    fn fail(&mut self, failure: Failure) {
        if self.runner.lifecycle != Lifecycle::Running {
            return;
        }
        self.runner.lifecycle = Lifecycle::Suspended;
        let me = self.cell.any_ref();
        tracing::error!(actor = %me, %failure, "actor failed");
        match &self.cell.header.parent {
            Some(parent) => parent.send_system(SystemMessage::Failed { child: me, failure }),
            // The root guardian has nobody to ask: it stops, which
            // terminates the system.
            None => self.cell.send_system(SystemMessage::Stop),
        }
    }

    async fn system(&mut self, msg: SystemMessage) {
        if self.runner.lifecycle == Lifecycle::Terminated {
            // Taken in the same batch as the stop that just finished: answer
            // a watch for the dead, as `send_system` does from now on.
            if let SystemMessage::Watch { watcher } = msg {
                watcher.send_system(SystemMessage::Terminated {
                    actor: self.cell.any_ref(),
                });
            }
            return;
        }
        match msg {
            SystemMessage::Stop => self.begin_stop().await,
            SystemMessage::Watch { watcher } => {
                if watcher.uid() != self.cell.any_ref().uid() {
                    self.runner.ctx.add_watcher(watcher);
                }
            }
            SystemMessage::Unwatch { watcher } => self.runner.ctx.remove_watcher(&watcher),
            SystemMessage::Terminated { actor } => self.terminated(actor).await,
            SystemMessage::Failed { child, failure } => self.child_failed(child, failure).await,
            SystemMessage::Resume => {
                if self.runner.lifecycle == Lifecycle::Suspended {
                    for child in self.runner.ctx.take_escalated() {
                        child.send_system(SystemMessage::Resume);
                    }
                    if self.runner.actor.is_none() {
                        // Failed before an instance existed: resuming means
                        // trying to create it again.
                        self.runner.lifecycle = Lifecycle::Created;
                        return;
                    }
                    self.runner.lifecycle = Lifecycle::Running;
                    self.deliver_deferred().await;
                }
            }
            SystemMessage::Restart { delay } => {
                if self.runner.lifecycle != Lifecycle::Suspended {
                    return;
                }
                if delay.is_zero() {
                    self.begin_restart().await;
                } else {
                    let me = self.cell.any_ref();
                    self.cell.header.system.spawn_task(async move {
                        tokio::time::sleep(delay).await;
                        me.send_system(SystemMessage::RestartNow);
                    });
                }
            }
            SystemMessage::RestartNow => {
                if self.runner.lifecycle == Lifecycle::Suspended {
                    self.begin_restart().await;
                }
            }
        }
    }

    async fn terminated(&mut self, actor: AnyRef) {
        let was_child = lock(&self.cell.inbox)
            .extra
            .as_mut()
            .is_some_and(|e| e.children.remove(&actor));
        // Even if no longer a child (its name was reused after it
        // terminated), its restart statistics are obsolete.
        self.runner.ctx.forget_child_stats(actor.uid().actor);
        let watched = self.runner.ctx.take_watched(&actor);
        match self.runner.lifecycle {
            Lifecycle::Stopping | Lifecycle::Restarting => {
                if self.runner.lifecycle == Lifecycle::Restarting && !was_child {
                    // Watches outlive a restart (as in Akka): the new
                    // instance hears of it. Children stopped by the restart
                    // are forgotten, as Akka's default `preRestart` unwatches
                    // them.
                    if let Some(watched) = watched {
                        self.runner.ctx.defer_terminated(actor, watched);
                    }
                }
                if self.no_children() {
                    if self.runner.lifecycle == Lifecycle::Stopping {
                        self.finish_stop().await;
                    } else {
                        self.finish_restart();
                    }
                }
            }
            Lifecycle::Running => {
                if let Some(watched) = watched {
                    self.notify_watched(actor, watched).await;
                }
            }
            Lifecycle::Suspended | Lifecycle::Created => {
                if let Some(watched) = watched {
                    self.runner.ctx.defer_terminated(actor, watched);
                }
            }
            Lifecycle::Terminated => {}
        }
    }

    async fn notify_watched(&mut self, actor: AnyRef, custom: Option<A::Msg>) {
        match custom {
            Some(msg) => self.handle(msg).await,
            None => {
                let Some(a) = self.runner.actor.as_mut() else {
                    return;
                };
                let result = AssertUnwindSafe(a.terminated(actor, &mut self.runner.ctx))
                    .catch_unwind()
                    .await;
                self.after_handler(result).await;
            }
        }
    }

    async fn deliver_deferred(&mut self) {
        for (actor, custom) in self.runner.ctx.take_deferred() {
            if self.runner.lifecycle != Lifecycle::Running {
                self.runner.ctx.defer_terminated(actor, custom);
                continue;
            }
            self.notify_watched(actor, custom).await;
        }
    }

    async fn child_failed(&mut self, child: AnyRef, failure: Failure) {
        let is_child = lock(&self.cell.inbox)
            .extra
            .as_ref()
            .is_some_and(|e| e.children.contains(&child));
        if !is_child
            || matches!(
                self.runner.lifecycle,
                Lifecycle::Stopping | Lifecycle::Terminated | Lifecycle::Restarting
            )
        {
            // A stale report, or the child is being stopped anyway.
            return;
        }
        let strategy = match &self.runner.actor {
            Some(a) => a.supervisor_strategy(),
            None => SupervisorStrategy::default(),
        };
        let directive = strategy.decide(&failure);
        tracing::debug!(%child, ?directive, "supervisor decided");
        match directive {
            Directive::Resume => child.send_system(SystemMessage::Resume),
            Directive::Stop => child.send_system(SystemMessage::Stop),
            Directive::Restart => {
                let now = tokio::time::Instant::now();
                let stats = self.runner.ctx.child_stats(child.uid().actor, now);
                match stats.record(&strategy, now) {
                    Some(n) => {
                        let unit = self.cell.header.system.random_unit();
                        let delay = strategy.backoff().delay(n, unit);
                        child.send_system(SystemMessage::Restart { delay });
                    }
                    None => {
                        tracing::warn!(%child, "restart limit reached; stopping the child");
                        child.send_system(SystemMessage::Stop);
                    }
                }
            }
            Directive::Escalate => {
                self.runner.ctx.escalated(child.clone());
                self.fail(Failure::Escalated {
                    child: child.path(),
                    cause: Box::new(failure),
                });
            }
        }
    }

    fn no_children(&self) -> bool {
        lock(&self.cell.inbox)
            .extra
            .as_ref()
            .is_none_or(|e| e.children.is_empty())
    }

    fn stop_children(&self) -> bool {
        let children = self.cell.children();
        for c in &children {
            c.send_system(SystemMessage::Stop);
        }
        children.is_empty()
    }

    async fn begin_stop(&mut self) {
        if matches!(
            self.runner.lifecycle,
            Lifecycle::Stopping | Lifecycle::Terminated
        ) {
            return;
        }
        lock(&self.cell.inbox).phase = Phase::Stopping;
        self.runner.lifecycle = Lifecycle::Stopping;
        self.runner.ctx.take_escalated();
        self.runner.ctx.cancel_all_timers();
        if self.stop_children() {
            self.finish_stop().await;
        }
    }

    async fn finish_stop(&mut self) {
        if let Some(mut actor) = self.runner.actor.take() {
            let stopped = AssertUnwindSafe(actor.stopped(&mut self.runner.ctx))
                .catch_unwind()
                .await;
            if let Err(panic) = stopped {
                tracing::error!(failure = %Failure::from_panic(panic), "stopped hook panicked");
            }
        }
        // Timers the `stopped` hook may have started die with the actor.
        self.runner.ctx.cancel_all_timers();
        self.runner.lifecycle = Lifecycle::Terminated;
        let (mailbox, system) = {
            let mut inbox = lock(&self.cell.inbox);
            inbox.phase = Phase::Terminated;
            inbox.scheduled = false;
            inbox.wake_senders();
            let system = inbox
                .extra
                .as_mut()
                .map(|e| std::mem::take(&mut e.system))
                .unwrap_or_default();
            (std::mem::take(&mut inbox.user), system)
        };
        let me = self.cell.any_ref();
        let undelivered: Vec<_> = self.batch.drain(..).chain(mailbox).collect();
        for env in undelivered {
            self.cell
                .dead_letter(env.into_msg(), DeadLetterReason::Terminated);
        }
        for msg in self.runner.ctx.drain_stash() {
            self.cell.dead_letter(msg, DeadLetterReason::Terminated);
        }
        for msg in system {
            if let SystemMessage::Watch { watcher } = msg {
                watcher.send_system(SystemMessage::Terminated { actor: me.clone() });
            }
        }
        for watcher in self.runner.ctx.take_watchers() {
            watcher.send_system(SystemMessage::Terminated { actor: me.clone() });
        }
        for watched in self.runner.ctx.take_all_watched() {
            watched.send_system(SystemMessage::Unwatch {
                watcher: me.clone(),
            });
        }
        match &self.cell.header.parent {
            Some(parent) => parent.send_system(SystemMessage::Terminated { actor: me }),
            None => self.cell.header.system.root_terminated(),
        }
    }

    async fn begin_restart(&mut self) {
        self.runner.lifecycle = Lifecycle::Restarting;
        self.runner.ctx.take_escalated();
        self.runner.ctx.cancel_all_timers();
        if let Some(mut actor) = self.runner.actor.take() {
            let stopped = AssertUnwindSafe(actor.stopped(&mut self.runner.ctx))
                .catch_unwind()
                .await;
            if let Err(panic) = stopped {
                tracing::error!(failure = %Failure::from_panic(panic), "stopped hook panicked");
            }
        }
        // Timers the `stopped` hook may have started belong to the old
        // instance; stashed messages go back to the front of the mailbox for
        // the new one, which knows nothing of the old stash (as Akka's
        // `Stash` does on restart).
        self.runner.ctx.cancel_all_timers();
        let stashed = self.runner.ctx.drain_stash();
        if !stashed.is_empty() {
            let mut inbox = lock(&self.cell.inbox);
            for msg in stashed.into_iter().rev() {
                inbox.user.push_front(Envelope::User(msg));
            }
        }
        if self.stop_children() {
            self.finish_restart();
        }
    }

    fn finish_restart(&mut self) {
        tracing::info!(actor = %self.cell.any_ref(), "restarting");
        // The next loop iteration creates the new instance and starts it;
        // terminations seen while suspended are delivered to it.
        self.runner.lifecycle = Lifecycle::Created;
    }
}

// ---- Driving a cell by hand: the synchronous harness (`harness.rs`) ----

/// What the synchronous harness asks a hand-driven actor to do.
pub(crate) enum ManualStep<M> {
    /// Nothing beyond what is pending: a first start, system messages.
    Pending,
    /// Handle one user message (the caller checks the actor is running).
    Message(M),
    /// Process one system message as a turn would.
    System(SystemMessage),
}

/// Where a hand-driven actor stands between steps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ManualState {
    Running,
    /// Failed; waits for its parent's decision (resume, restart, stop).
    Suspended,
    /// Stopping or restarting: waits for its children to terminate.
    AwaitingChildren,
    Terminated,
}

impl<A: Actor> ActorCell<A> {
    /// Runs `step` on the caller's task, then what a turn would run next:
    /// system messages the step produced, a pending (re)start, unstashed
    /// messages. Messages waiting in the mailbox are left there.
    ///
    /// # Safety
    ///
    /// No turn of this cell may ever run: the cell belongs to a detached
    /// system (which never spawns turns) and the caller is its only driver,
    /// one step at a time, with no borrow from [`Self::manual_parts`] alive.
    pub(crate) async unsafe fn manual_step(&self, step: ManualStep<A::Msg>) -> ManualState {
        let mut turn = Turn {
            cell: self,
            // SAFETY: the caller drives this cell alone (see above), like a
            // turn holding the `scheduled` flag.
            runner: unsafe { &mut *self.runner.get() },
            batch: VecDeque::new(),
        };
        match step {
            ManualStep::Pending => {}
            ManualStep::Message(msg) => turn.handle(msg).await,
            ManualStep::System(msg) => turn.system(msg).await,
        }
        loop {
            if self.header.system_pending.swap(false, Ordering::Acquire) {
                let msgs = lock(&self.inbox)
                    .extra
                    .as_mut()
                    .map(|e| std::mem::take(&mut e.system))
                    .unwrap_or_default();
                for msg in msgs {
                    turn.system(msg).await;
                }
                continue;
            }
            match turn.runner.lifecycle {
                Lifecycle::Created => turn.start().await,
                Lifecycle::Running => match turn.batch.pop_front() {
                    Some(env) => turn.deliver(env).await,
                    None => break,
                },
                _ => break,
            }
        }
        turn.return_batch();
        // SAFETY: `turn` (the only other borrow of the runner) is gone.
        unsafe { self.manual_state() }
    }

    /// # Safety
    ///
    /// As for [`Self::manual_step`].
    pub(crate) unsafe fn manual_state(&self) -> ManualState {
        // SAFETY: the caller drives this cell alone and holds no other
        // borrow of the runner.
        match unsafe { (*self.runner.get()).lifecycle } {
            Lifecycle::Created | Lifecycle::Running => ManualState::Running,
            Lifecycle::Suspended => ManualState::Suspended,
            Lifecycle::Restarting | Lifecycle::Stopping => ManualState::AwaitingChildren,
            Lifecycle::Terminated => ManualState::Terminated,
        }
    }

    /// The instance (none before the first start, after a stop, or after a
    /// failed creation) and the context.
    ///
    /// # Safety
    ///
    /// As for [`Self::manual_step`]; the borrows end before the next step
    /// or [`Self::manual_actor_mut`].
    pub(crate) unsafe fn manual_parts(&self) -> (Option<&A>, &Context<A>) {
        // SAFETY: the caller drives this cell alone and holds no mutable
        // borrow of the runner.
        let runner = unsafe { &*self.runner.get() };
        (runner.actor.as_ref(), &runner.ctx)
    }

    /// The instance, to change between steps.
    ///
    /// # Safety
    ///
    /// As for [`Self::manual_step`]; the borrow ends before any other use
    /// of the runner.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn manual_actor_mut(&self) -> Option<&mut A> {
        // SAFETY: the caller drives this cell alone and holds no other
        // borrow of the runner.
        unsafe { (*self.runner.get()).actor.as_mut() }
    }

    /// Takes the oldest message waiting in the mailbox.
    pub(crate) fn manual_pop(&self) -> Option<A::Msg> {
        lock(&self.inbox).user.pop_front().map(Envelope::into_msg)
    }

    /// Messages waiting in the mailbox.
    pub(crate) fn mailbox_len(&self) -> usize {
        lock(&self.inbox).user.len()
    }
}
