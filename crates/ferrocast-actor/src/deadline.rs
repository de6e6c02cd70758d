//! Ask deadlines without a tokio timer per ask.
//!
//! `tokio::time::timeout` registers a timer per call; when that timer is the
//! earliest one, tokio wakes the thread parked on its driver to re-arm it (a
//! syscall and a context switch), which made every ask several times slower
//! than the message round trip itself. Instead, each system keeps its
//! pending ask deadlines in one ordered map, and a single sweeper task sleeps
//! until the earliest one. An ask registers its deadline and waker (a short
//! critical section), removes them when answered, and is woken by the
//! sweeper only if it times out. With asks of one timeout, new deadlines are
//! never earlier than the armed one, so the sweeper is not disturbed.
//!
//! Time comes from tokio's clock, so paused-time tests see asks time out
//! deterministically.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;
use tokio::time::Instant;

/// A slot index and the generation it had when registered, so a stale key
/// (its ask already swept) never removes a newer registration.
type Key = (u32, u32);

struct Slot {
    generation: u32,
    entry: Option<(Instant, Waker)>,
}

/// Pending deadlines in a slab: registering and removing (the hot path)
/// neither allocate nor search; the sweeper, which runs about once per
/// timeout period, scans.
#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The deadline the sweeper sleeps until, if it sleeps on one.
    armed: Option<Instant>,
    closed: bool,
}

/// The pending ask deadlines of one actor system (opaque: references hand
/// it to `ask` through [`ActorTarget::ask_timer`](crate::ActorTarget::ask_timer)).
#[derive(Default)]
pub struct AskTimer {
    state: Mutex<State>,
    rearm: Notify,
}

impl AskTimer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `None` once the system is gone (the sweeper has stopped).
    fn register(&self, deadline: Instant, waker: Waker) -> Option<Key> {
        let mut s = self.lock();
        if s.closed {
            return None;
        }
        let index = match s.free.pop() {
            Some(i) => i,
            None => {
                s.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                (s.slots.len() - 1) as u32
            }
        };
        let slot = &mut s.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.entry = Some((deadline, waker));
        let key = (index, slot.generation);
        let earlier = s.armed.is_none_or(|armed| deadline < armed);
        if earlier {
            s.armed = Some(deadline);
        }
        drop(s);
        if earlier {
            self.rearm.notify_one();
        }
        Some(key)
    }

    fn update(&self, (index, generation): Key, waker: &Waker) {
        let mut s = self.lock();
        if let Some(slot) = s.slots.get_mut(index as usize) {
            if let (true, Some((_, w))) = (slot.generation == generation, slot.entry.as_mut()) {
                w.clone_from(waker);
            }
        }
    }

    fn remove(&self, (index, generation): Key) {
        let mut s = self.lock();
        let freed = s
            .slots
            .get_mut(index as usize)
            .is_some_and(|slot| slot.generation == generation && slot.entry.take().is_some());
        if freed {
            s.free.push(index);
        }
    }

    /// Stops the sweeper; pending asks then fall back to polling their own
    /// deadline when next woken (the system is going away).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.rearm.notify_one();
    }

    /// The sweeper: wakes asks whose deadline passed.
    pub(crate) async fn sweep(self: Arc<Self>) {
        loop {
            let (expired, next) = {
                let mut s = self.lock();
                if s.closed {
                    s.free.clear();
                    let all: Vec<Waker> = std::mem::take(&mut s.slots)
                        .into_iter()
                        .filter_map(|slot| slot.entry.map(|(_, w)| w))
                        .collect();
                    drop(s);
                    all.into_iter().for_each(Waker::wake);
                    return;
                }
                let now = Instant::now();
                let mut expired = Vec::new();
                let mut next: Option<Instant> = None;
                let State { slots, free, .. } = &mut *s;
                for (index, slot) in slots.iter_mut().enumerate() {
                    match &slot.entry {
                        Some((deadline, _)) if *deadline <= now => {
                            if let Some((_, waker)) = slot.entry.take() {
                                expired.push(waker);
                                free.push(index as u32);
                            }
                        }
                        Some((deadline, _)) => {
                            next = Some(next.map_or(*deadline, |n| n.min(*deadline)));
                        }
                        None => {}
                    }
                }
                s.armed = next;
                (expired, next)
            };
            expired.into_iter().for_each(Waker::wake);
            match next {
                Some(at) => {
                    let sleep = std::pin::pin!(tokio::time::sleep_until(at));
                    let rearm = std::pin::pin!(self.rearm.notified());
                    futures_util::future::select(sleep, rearm).await;
                }
                None => self.rearm.notified().await,
            }
        }
    }
}

impl std::fmt::Debug for AskTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AskTimer")
            .field(
                "pending",
                &self
                    .lock()
                    .slots
                    .iter()
                    .filter(|s| s.entry.is_some())
                    .count(),
            )
            .finish()
    }
}

/// Waits for `inner` until `deadline`, registered with `deadlines`.
pub(crate) struct WithDeadline<'a, F> {
    inner: F,
    deadline: Instant,
    deadlines: &'a AskTimer,
    key: Option<Key>,
    waker: Option<Waker>,
    /// A plain timer, used only if the keeper has stopped (its system is
    /// gone) while something still asks through it.
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<'a, F> WithDeadline<'a, F> {
    pub(crate) fn new(inner: F, deadline: Instant, deadlines: &'a AskTimer) -> Self {
        WithDeadline {
            inner,
            deadline,
            deadlines,
            key: None,
            waker: None,
            fallback: None,
        }
    }
}

/// The deadline passed first.
pub(crate) struct Elapsed;

impl<F: Future + Unpin> Future for WithDeadline<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.inner).poll(cx) {
            if let Some(key) = this.key.take() {
                this.deadlines.remove(key);
            }
            return Poll::Ready(Ok(out));
        }
        // On the first poll the deadline was just computed from `now`; skip
        // the clock read there.
        if this.key.is_some() && Instant::now() >= this.deadline {
            if let Some(key) = this.key.take() {
                this.deadlines.remove(key);
            }
            return Poll::Ready(Err(Elapsed));
        }
        if let Some(sleep) = this.fallback.as_mut() {
            return match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
                Poll::Pending => Poll::Pending,
            };
        }
        match (this.key, &this.waker) {
            (None, _) => match this.deadlines.register(this.deadline, cx.waker().clone()) {
                Some(key) => {
                    this.key = Some(key);
                    this.waker = Some(cx.waker().clone());
                }
                None => {
                    let mut sleep = Box::pin(tokio::time::sleep_until(this.deadline));
                    if sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(Elapsed));
                    }
                    this.fallback = Some(sleep);
                }
            },
            (Some(key), Some(w)) if !w.will_wake(cx.waker()) => {
                this.deadlines.update(key, cx.waker());
                this.waker = Some(cx.waker().clone());
            }
            _ => {}
        }
        Poll::Pending
    }
}

impl<F> Drop for WithDeadline<'_, F> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.deadlines.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines_expire_through_the_sweeper() {
        let timer = Arc::new(AskTimer::default());
        tokio::spawn(timer.clone().sweep());
        let start = Instant::now();
        let never = std::future::pending::<()>();
        let out = WithDeadline::new(Box::pin(never), start + Duration::from_secs(3), &timer).await;
        assert!(out.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        timer.close();
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_keeper_falls_back_to_a_plain_timer() {
        let timer = AskTimer::default();
        timer.close();
        let start = Instant::now();
        let never = std::future::pending::<()>();
        let out = WithDeadline::new(Box::pin(never), start + Duration::from_secs(2), &timer).await;
        assert!(out.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_before_the_deadline_frees_the_slot() {
        let timer = Arc::new(AskTimer::default());
        tokio::spawn(timer.clone().sweep());
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = tx.send(7);
        });
        let out = WithDeadline::new(rx, Instant::now() + Duration::from_secs(5), &timer).await;
        assert!(matches!(out, Ok(Ok(7))));
        assert!(timer.lock().slots.iter().all(|s| s.entry.is_none()));
        timer.close();
    }
}
