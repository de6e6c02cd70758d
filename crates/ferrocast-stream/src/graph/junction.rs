//! Fan-out junctions of a graph: `broadcast` (every output gets every
//! element) and `balance` (each element goes to the output that asks).
//!
//! A [`Hub`] owns upstream; its outputs are streams that may be polled
//! from one task or several. An output that needs an element pulls
//! upstream itself, under the hub's lock, with a waker that wakes every
//! waiting output ([`Waiters`]). Broadcast keeps one slot per output and
//! pulls the next element only when every output still there has taken
//! the previous one, so the slowest output sets the pace. An output that
//! is dropped is left out; when all are gone, upstream is cancelled.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::waiters::Waiters;

/// How a hub hands out elements.
pub(crate) enum Mode<T> {
    /// A clone to every output.
    Broadcast(fn(&T) -> T),
    /// Each element to the output that pulled it.
    Balance,
}

struct Port<T> {
    /// Broadcast: the element this output has not taken yet.
    slot: Option<T>,
    /// The output stream still exists.
    open: bool,
    /// The output has reported upstream's end.
    finished: bool,
}

struct State<T> {
    upstream: Option<Elements<T>>,
    ports: Vec<Port<T>>,
    /// Upstream's end once reached: `Some(None)` completed.
    end: Option<Option<StreamError>>,
}

struct Hub<T> {
    state: Mutex<State<T>>,
    mode: Mode<T>,
    waiters: Arc<Waiters>,
    /// Wakes `waiters`; upstream is always polled with it.
    upstream_waker: Waker,
}

/// The `outputs` output streams of a junction over `upstream`.
pub(crate) fn outputs<T: Send + 'static>(
    upstream: Elements<T>,
    outputs: usize,
    mode: Mode<T>,
) -> Vec<Elements<T>> {
    let waiters = Arc::new(Waiters::default());
    let ports = (0..outputs)
        .map(|_| Port {
            slot: None,
            open: true,
            finished: false,
        })
        .collect();
    let hub = Arc::new(Hub {
        state: Mutex::new(State {
            upstream: Some(upstream),
            ports,
            end: None,
        }),
        mode,
        upstream_waker: Waker::from(waiters.clone()),
        waiters,
    });
    (0..outputs)
        .map(|index| {
            Box::pin(Output {
                hub: hub.clone(),
                index,
            }) as Elements<T>
        })
        .collect()
}

impl<T> Hub<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_output(
        &self,
        index: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T, StreamError>>> {
        let mut guard = self.lock();
        let state = &mut *guard;
        loop {
            let Some(port) = state.ports.get_mut(index) else {
                return Poll::Ready(None);
            };
            if let Some(item) = port.slot.take() {
                // The outputs waiting for this one to keep up can go on.
                self.waiters.wake_by_ref();
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(end) = &state.end {
                if port.finished {
                    return Poll::Ready(None);
                }
                port.finished = true;
                return Poll::Ready(end.clone().map(Err));
            }
            self.waiters.register(cx.waker());
            if matches!(self.mode, Mode::Broadcast(_))
                && state.ports.iter().any(|p| p.open && p.slot.is_some())
            {
                return Poll::Pending;
            }
            let Some(upstream) = state.upstream.as_mut() else {
                return Poll::Pending;
            };
            let mut upstream_cx = Context::from_waker(&self.upstream_waker);
            match std::task::ready!(upstream.as_mut().poll_next(&mut upstream_cx)) {
                Some(Ok(item)) => match self.mode {
                    Mode::Balance => return Poll::Ready(Some(Ok(item))),
                    Mode::Broadcast(clone) => {
                        for (i, port) in state.ports.iter_mut().enumerate() {
                            if port.open && i != index {
                                port.slot = Some(clone(&item));
                            }
                        }
                        self.waiters.wake_by_ref();
                        return Poll::Ready(Some(Ok(item)));
                    }
                },
                Some(Err(e)) => {
                    state.upstream = None;
                    state.end = Some(Some(e));
                    self.waiters.wake_by_ref();
                }
                None => {
                    state.upstream = None;
                    state.end = Some(None);
                    self.waiters.wake_by_ref();
                }
            }
        }
    }
}

struct Output<T> {
    hub: Arc<Hub<T>>,
    index: usize,
}

impl<T> Stream for Output<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.hub.poll_output(self.index, cx)
    }
}

impl<T> Drop for Output<T> {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        if let Some(port) = state.ports.get_mut(self.index) {
            port.open = false;
            port.slot = None;
        }
        if state.ports.iter().all(|p| !p.open) {
            state.upstream = None;
        }
        drop(state);
        // A broadcast waiting for this output to keep up waits no more.
        self.hub.waiters.wake_by_ref();
    }
}
