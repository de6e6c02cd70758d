//! Kill switches: stop a running stream from outside.
//!
//! A kill switch stage passes elements through until its switch is
//! triggered; then it cancels its upstream and either completes
//! (`shutdown`) or fails (`abort`) downstream. A [`UniqueKillSwitch`] is
//! materialized by one stage; a [`SharedKillSwitch`] controls every stage
//! made from its [`flow`](SharedKillSwitch::flow), in any number of streams.

use std::error::Error;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};
use crate::flow::Flow;

#[derive(Debug, Default)]
struct Switch {
    /// Fast check on every pull.
    triggered: AtomicBool,
    state: Mutex<SwitchState>,
    next_stage: AtomicU64,
}

#[derive(Debug, Default)]
struct SwitchState {
    /// `None`: shutdown; `Some`: abort with this error. Set once.
    signal: Option<Option<StreamError>>,
    /// Stages waiting on upstream, by stage id.
    waiting: Vec<(u64, Waker)>,
}

impl Switch {
    fn state(&self) -> MutexGuard<'_, SwitchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn trigger(&self, signal: Option<StreamError>) {
        let mut state = self.state();
        if state.signal.is_some() {
            return;
        }
        state.signal = Some(signal);
        self.triggered.store(true, Ordering::Release);
        for (_, waker) in state.waiting.drain(..) {
            waker.wake();
        }
    }

    fn signal(&self) -> Option<Option<StreamError>> {
        if !self.triggered.load(Ordering::Acquire) {
            return None;
        }
        self.state().signal.clone()
    }

    /// Registers a waiting stage; `false` if the switch fired meanwhile.
    fn wait(&self, stage: u64, waker: &Waker) -> bool {
        let mut state = self.state();
        if state.signal.is_some() {
            return false;
        }
        match state.waiting.iter_mut().find(|(id, _)| *id == stage) {
            Some((_, w)) => w.clone_from(waker),
            None => state.waiting.push((stage, waker.clone())),
        }
        true
    }

    fn forget(&self, stage: u64) {
        self.state().waiting.retain(|(id, _)| *id != stage);
    }
}

/// Controls the one stream stage it was materialized by
/// (`Flow::kill_switch`).
#[derive(Debug, Clone)]
pub struct UniqueKillSwitch {
    switch: Arc<Switch>,
}

impl UniqueKillSwitch {
    /// Completes downstream and cancels upstream.
    pub fn shutdown(&self) {
        self.switch.trigger(None);
    }

    /// Fails downstream with [`StreamErrorKind::Aborted`] and cancels upstream.
    pub fn abort(&self, error: impl Error + Send + Sync + 'static) {
        self.switch
            .trigger(Some(StreamErrorKind::Aborted(Arc::new(error)).into()));
    }
}

/// Controls every stage made from its [`flow`](SharedKillSwitch::flow).
/// Stages materialized after it was triggered end at once.
#[derive(Debug, Clone, Default)]
pub struct SharedKillSwitch {
    switch: Arc<Switch>,
}

impl SharedKillSwitch {
    /// A switch that has not fired.
    pub fn new() -> Self {
        SharedKillSwitch::default()
    }

    /// A pass-through flow controlled by this switch.
    pub fn flow<T: Send + 'static>(&self) -> Flow<T, T, ()> {
        let switch = self.switch.clone();
        Flow::from_materializer(move |upstream| (KillStage::boxed(upstream, switch.clone()), ()))
    }

    /// Completes downstream and cancels upstream, in every stage.
    pub fn shutdown(&self) {
        self.switch.trigger(None);
    }

    /// Fails every stage with [`StreamErrorKind::Aborted`] and cancels upstream.
    pub fn abort(&self, error: impl Error + Send + Sync + 'static) {
        self.switch
            .trigger(Some(StreamErrorKind::Aborted(Arc::new(error)).into()));
    }
}

impl<T: Send + 'static> Flow<T, T, UniqueKillSwitch> {
    /// A pass-through stage that materializes a [`UniqueKillSwitch`]; keep it
    /// with `via_mat(Flow::kill_switch(), Keep::right)`.
    pub fn kill_switch() -> Self {
        Flow::from_materializer(|upstream| {
            let switch = Arc::new(Switch::default());
            (
                KillStage::boxed(upstream, switch.clone()),
                UniqueKillSwitch { switch },
            )
        })
    }
}

struct KillStage<T> {
    upstream: Option<Elements<T>>,
    switch: Arc<Switch>,
    id: u64,
}

impl<T: Send + 'static> KillStage<T> {
    fn boxed(upstream: Elements<T>, switch: Arc<Switch>) -> Elements<T> {
        let id = switch.next_stage.fetch_add(1, Ordering::Relaxed);
        Box::pin(KillStage {
            upstream: Some(upstream),
            switch,
            id,
        })
    }

    fn fire(&mut self, signal: Option<StreamError>) -> Poll<Option<Result<T, StreamError>>> {
        self.upstream = None;
        self.switch.forget(self.id);
        Poll::Ready(signal.map(Err))
    }
}

impl<T: Send + 'static> Stream for KillStage<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(signal) = this.switch.signal() {
            return this.fire(signal);
        }
        match upstream.as_mut().poll_next(cx) {
            Poll::Ready(item) => {
                if !matches!(item, Some(Ok(_))) {
                    this.upstream = None;
                    this.switch.forget(this.id);
                }
                Poll::Ready(item)
            }
            Poll::Pending => {
                if this.switch.wait(this.id, cx.waker()) {
                    Poll::Pending
                } else {
                    let signal = this.switch.signal().unwrap_or(None);
                    this.fire(signal)
                }
            }
        }
    }
}

impl<T> Drop for KillStage<T> {
    fn drop(&mut self) {
        self.switch.forget(self.id);
    }
}
