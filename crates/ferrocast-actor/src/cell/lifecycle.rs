//! Lifecycle work of a turn: system messages, supervision of children,
//! stopping and restarting.

use super::*;

impl<A: Actor> Turn<'_, A> {
    pub(super) async fn system(&mut self, msg: SystemMessage) {
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

    pub(super) async fn terminated(&mut self, actor: AnyRef) {
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

    pub(super) async fn notify_watched(&mut self, actor: AnyRef, custom: Option<A::Msg>) {
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

    pub(super) async fn deliver_deferred(&mut self) {
        for (actor, custom) in self.runner.ctx.take_deferred() {
            if self.runner.lifecycle != Lifecycle::Running {
                self.runner.ctx.defer_terminated(actor, custom);
                continue;
            }
            self.notify_watched(actor, custom).await;
        }
    }

    pub(super) async fn child_failed(&mut self, child: AnyRef, failure: Failure) {
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

    pub(super) fn no_children(&self) -> bool {
        lock(&self.cell.inbox)
            .extra
            .as_ref()
            .is_none_or(|e| e.children.is_empty())
    }

    pub(super) fn stop_children(&self) -> bool {
        let children = self.cell.children();
        for c in &children {
            c.send_system(SystemMessage::Stop);
        }
        children.is_empty()
    }

    pub(super) async fn begin_stop(&mut self) {
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

    pub(super) async fn finish_stop(&mut self) {
        // The old instance is dropped only once the actor counts as
        // terminated: an asker whose `ReplyTo` it holds must see
        // `Terminated`, not `NoReply`, when that reply is dropped.
        let mut old = self.runner.actor.take();
        if let Some(actor) = old.as_mut() {
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
        drop(old);
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

    pub(super) async fn begin_restart(&mut self) {
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

    pub(super) fn finish_restart(&mut self) {
        tracing::info!(actor = %self.cell.any_ref(), "restarting");
        // The next loop iteration creates the new instance and starts it;
        // terminations seen while suspended are delivered to it.
        self.runner.lifecycle = Lifecycle::Created;
    }
}
