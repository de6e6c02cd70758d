//! The turn: takes messages from the mailbox and runs handlers.

use super::*;

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

impl<A: Actor> Turn<'_, A> {
    pub(super) async fn run(mut self, start_only: bool) {
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
    pub(super) fn refill(&mut self, throughput: usize, end: bool) -> bool {
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
    /// actors linger (`SystemInner::linger`): past the bound the one that
    /// started lingering longest ago is woken, finds nothing, and ends, so
    /// idle actors still cost no task.
    pub(super) async fn linger(&mut self) {
        let mut parked = false;
        std::future::poll_fn(|cx| {
            let mut inbox = lock(&self.cell.inbox);
            if parked || !inbox.user.is_empty() || inbox.has_system() {
                inbox.parked = None;
                return Poll::Ready(());
            }
            inbox.parked = Some(cx.waker().clone());
            // One entry per actor in the system's list of lingering turns:
            // an actor that parks again and again (request-response) costs
            // the list nothing after the first time.
            let enlist = !inbox.lingering;
            inbox.lingering = true;
            drop(inbox);
            parked = true;
            if enlist {
                self.cell.header.system.linger(self.cell.arc());
            }
            Poll::Pending
        })
        .await
    }

    /// Puts messages taken for this turn back at the front of the mailbox
    /// (the actor failed and waits for its parent), keeping their order.
    pub(super) fn return_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut inbox = lock(&self.cell.inbox);
        while let Some(env) = self.batch.pop_back() {
            inbox.user.push_front(env);
        }
    }

    pub(super) async fn deliver(&mut self, env: Envelope<A::Msg>) {
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

    pub(super) async fn handle(&mut self, msg: A::Msg) {
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

    pub(super) async fn after_handler(
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
    pub(super) async fn start(&mut self) {
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
    pub(super) fn fail(&mut self, failure: Failure) {
        if self.runner.lifecycle != Lifecycle::Running {
            return;
        }
        self.runner.lifecycle = Lifecycle::Suspended;
        let me = self.cell.any_ref();
        tracing::error!(actor = %me, %failure, "actor failed");
        let events = &self.cell.header.system.event_stream;
        if events.has_subscribers::<ActorFailed>() {
            events.publish(ActorFailed {
                actor: me.clone(),
                reason: failure.to_string(),
                panic: failure.is_panic(),
            });
        }
        match &self.cell.header.parent {
            Some(parent) => parent.send_system(SystemMessage::Failed { child: me, failure }),
            // The root guardian has nobody to ask: it stops, which
            // terminates the system.
            None => self.cell.send_system(SystemMessage::Stop),
        }
    }
}
