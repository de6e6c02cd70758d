//! `group_by`: one upstream demultiplexed into a bounded number of keyed
//! substreams.
//!
//! The stage materializes to a *groups* stream, emitting `(key, source)`
//! for each new key, and one substream per key. They share a [`Demux`]
//! that owns upstream. Whoever needs an element (the groups stream looking
//! for new keys, or a substream with an empty buffer) pulls upstream under
//! the demux's lock and routes what it gets: into its key's buffer (at
//! most `buffer` elements), or, when that buffer is full, into a single
//! `pending` slot that stops all pulling until that substream takes an
//! element. So a slow substream back-pressures upstream, and memory is
//! bounded by `max_substreams * buffer + 1` elements.
//!
//! Substreams may run in different tasks, so upstream is polled with a
//! waker that wakes *every* party waiting for it ([`Waiters`]), not just
//! the one that happened to poll last.
//!
//! A substream that is dropped closes its key: later elements with that
//! key are dropped (Akka's `allowClosedSubstreamRecreation = false`), and
//! the key no longer counts towards `max_substreams`. Upstream is
//! cancelled once the groups stream and every substream are gone.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::Stream;

use crate::elements::{self, Elements};
use crate::error::{StreamError, StreamErrorKind};
use crate::source::Source;
use crate::sub_flow::Substream;
use crate::waiters::Waiters;

pub(crate) type KeyFn<K, T> = dyn Fn(&T) -> K + Send + Sync;

struct Group<K, T> {
    key: K,
    items: VecDeque<T>,
    /// The substream's consumer, woken when an element or the end arrives.
    waker: Option<Waker>,
    /// The substream has reported upstream's end.
    finished: bool,
}

struct State<K, T> {
    /// `None` once upstream has ended or everyone has gone.
    upstream: Option<Elements<T>>,
    /// Every key seen, with its substream's id. A key whose id is no
    /// longer in `groups` is closed: its elements are dropped.
    keys: HashMap<K, u64>,
    /// Open substreams by id.
    groups: HashMap<u64, Group<K, T>>,
    next_id: u64,
    /// New substreams the groups stream has not emitted yet.
    announced: VecDeque<u64>,
    /// An element whose substream's buffer is full; nobody pulls upstream
    /// until that substream makes room.
    pending: Option<(u64, T)>,
    /// Upstream's end, once reached: `Some(None)` completed,
    /// `Some(Some(e))` failed (or too many substreams).
    end: Option<Option<StreamError>>,
    /// The groups stream is still there to announce new keys.
    groups_open: bool,
    /// The groups stream has reported the end.
    groups_finished: bool,
    groups_waker: Option<Waker>,
}

pub(crate) struct Demux<K, T> {
    state: Mutex<State<K, T>>,
    key: Arc<KeyFn<K, T>>,
    max_substreams: usize,
    buffer: usize,
    /// Every party waiting for upstream (or for the pending element's
    /// substream to make room).
    waiters: Arc<Waiters>,
    /// Wakes `waiters`; upstream is always polled with it, so whoever
    /// polled last is not the only one to hear from it.
    upstream_waker: Waker,
}

impl<K, T> Demux<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    /// The groups stream of a fresh demux over `upstream`.
    pub(crate) fn groups(
        upstream: Elements<T>,
        key: Arc<KeyFn<K, T>>,
        max_substreams: usize,
        buffer: usize,
    ) -> Elements<Substream<K, T>> {
        let waiters = Arc::new(Waiters::default());
        let demux = Arc::new(Demux {
            state: Mutex::new(State {
                upstream: Some(upstream),
                keys: HashMap::new(),
                groups: HashMap::new(),
                next_id: 0,
                announced: VecDeque::new(),
                pending: None,
                end: None,
                groups_open: true,
                groups_finished: false,
                groups_waker: None,
            }),
            key,
            max_substreams,
            buffer,
            upstream_waker: Waker::from(waiters.clone()),
            waiters,
        });
        Box::pin(Groups { demux })
    }

    fn lock(&self) -> MutexGuard<'_, State<K, T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One attempt to pull upstream and route the element: `Ready` when
    /// something changed, `Pending` (with `cx` registered) when upstream
    /// has nothing or a full substream blocks it.
    fn step(&self, state: &mut State<K, T>, cx: &mut Context<'_>) -> Poll<()> {
        self.waiters.register(cx.waker());
        if state.pending.is_some() {
            return Poll::Pending;
        }
        let Some(upstream) = state.upstream.as_mut() else {
            return Poll::Pending;
        };
        let mut upstream_cx = Context::from_waker(&self.upstream_waker);
        match upstream.as_mut().poll_next(&mut upstream_cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(item))) => self.route(state, item),
            Poll::Ready(Some(Err(e))) => finish(state, Some(e)),
            Poll::Ready(None) => finish(state, None),
        }
        Poll::Ready(())
    }

    fn route(&self, state: &mut State<K, T>, item: T) {
        let key = (self.key)(&item);
        match state.keys.get(&key) {
            Some(id) => {
                let id = *id;
                // A closed key's group is gone: the element is dropped.
                if let Some(group) = state.groups.get_mut(&id) {
                    if group.items.len() < self.buffer {
                        group.items.push_back(item);
                        wake(&mut group.waker);
                    } else {
                        state.pending = Some((id, item));
                    }
                }
            }
            // Nobody is left to take a new substream.
            None if !state.groups_open => {}
            None if state.groups.len() >= self.max_substreams => {
                let max = self.max_substreams;
                finish(
                    state,
                    Some(StreamErrorKind::TooManySubstreams { max }.into()),
                );
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.keys.insert(key.clone(), id);
                state.groups.insert(
                    id,
                    Group {
                        key,
                        items: VecDeque::from([item]),
                        waker: None,
                        finished: false,
                    },
                );
                state.announced.push_back(id);
                wake(&mut state.groups_waker);
            }
        }
    }

    fn poll_group(&self, id: u64, cx: &mut Context<'_>) -> Poll<Option<Result<T, StreamError>>> {
        let mut state = self.lock();
        loop {
            let state = &mut *state;
            let Some(group) = state.groups.get_mut(&id) else {
                return Poll::Ready(None);
            };
            if let Some(item) = group.items.pop_front() {
                if let Some((pending_id, _)) = &state.pending {
                    if *pending_id == id {
                        if let Some((_, next)) = state.pending.take() {
                            group.items.push_back(next);
                        }
                        // Upstream is free to be pulled again.
                        self.waiters.wake_by_ref();
                    }
                }
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(end) = &state.end {
                if group.finished {
                    return Poll::Ready(None);
                }
                group.finished = true;
                return Poll::Ready(end.clone().map(Err));
            }
            group.waker = Some(cx.waker().clone());
            std::task::ready!(self.step(state, cx));
        }
    }

    fn poll_groups(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Substream<K, T>, StreamError>>> {
        let mut state = self.lock();
        loop {
            let state = &mut *state;
            if let Some(id) = state.announced.pop_front() {
                if let Some(group) = state.groups.get(&id) {
                    let substream = SubstreamStage {
                        demux: self.clone(),
                        id,
                    };
                    return Poll::Ready(Some(Ok((group.key.clone(), one_shot(substream)))));
                }
                continue;
            }
            if let Some(end) = &state.end {
                if state.groups_finished {
                    return Poll::Ready(None);
                }
                state.groups_finished = true;
                return Poll::Ready(end.clone().map(Err));
            }
            state.groups_waker = Some(cx.waker().clone());
            std::task::ready!(self.step(state, cx));
        }
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// Upstream has ended: every substream and the groups stream report it
/// after what they hold.
fn finish<K, T>(state: &mut State<K, T>, end: Option<StreamError>) {
    state.upstream = None;
    state.end = Some(end);
    for group in state.groups.values_mut() {
        wake(&mut group.waker);
    }
    wake(&mut state.groups_waker);
}

/// Closes a substream's key: its consumer is gone, or it was never handed
/// out. Releases upstream if the pending element was waiting for it, and
/// cancels upstream when nobody is left.
fn close<K, T>(state: &mut State<K, T>, id: u64) {
    state.groups.remove(&id);
    if state.pending.as_ref().is_some_and(|(p, _)| *p == id) {
        state.pending = None;
    }
    if !state.groups_open && state.groups.is_empty() {
        state.upstream = None;
    }
}

/// A substream's source: materializes once (it is a view of one live
/// stream); a second run fails with `AlreadyMaterialized`. Dropping it
/// unrun closes its key.
fn one_shot<K, T>(substream: SubstreamStage<K, T>) -> Source<T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    let slot = Mutex::new(Some(substream));
    Source::from_materializer(move || {
        let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let elements: Elements<T> = match taken {
            Some(substream) => Box::pin(substream),
            None => elements::failed(StreamErrorKind::AlreadyMaterialized.into()),
        };
        (elements, ())
    })
}

/// The groups stream.
struct Groups<K, T> {
    demux: Arc<Demux<K, T>>,
}

impl<K, T> Stream for Groups<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    type Item = Result<Substream<K, T>, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.demux.poll_groups(cx)
    }
}

impl<K, T> Drop for Groups<K, T> {
    fn drop(&mut self) {
        let mut state = self.demux.state.lock().unwrap_or_else(|e| e.into_inner());
        state.groups_open = false;
        // Announced substreams nobody will ever see are closed.
        let unseen: Vec<u64> = state.announced.drain(..).collect();
        for id in unseen {
            close(&mut state, id);
        }
        if state.groups.is_empty() {
            state.upstream = None;
        }
        drop(state);
        self.demux.waiters.wake_by_ref();
    }
}

/// One key's substream.
struct SubstreamStage<K, T> {
    demux: Arc<Demux<K, T>>,
    id: u64,
}

impl<K, T> Stream for SubstreamStage<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.demux.poll_group(self.id, cx)
    }
}

impl<K, T> Drop for SubstreamStage<K, T> {
    fn drop(&mut self) {
        let mut state = self.demux.state.lock().unwrap_or_else(|e| e.into_inner());
        close(&mut state, self.id);
        drop(state);
        // Whoever waited for this substream to make room can pull again.
        self.demux.waiters.wake_by_ref();
    }
}

/// The `via_fn` stage of `group_by`: the groups stream.
pub(crate) fn group_by<K, T>(
    max_substreams: usize,
    buffer: usize,
    key: Arc<KeyFn<K, T>>,
) -> impl Fn(Elements<T>) -> Elements<Substream<K, T>> + Send + Sync + 'static
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    move |upstream| Demux::groups(upstream, key.clone(), max_substreams, buffer)
}

#[cfg(test)]
#[path = "group_by_test.rs"]
mod tests;
