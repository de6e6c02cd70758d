//! Fan-out sinks: `Sink::broadcast`, `Sink::balance`, `Sink::partition`.
//!
//! The combined sink drives its inner sinks inline ([`Attached`]), each
//! through a one-element slot, so back-pressure is per output: `broadcast`
//! waits for every running output, `balance` for any, `partition` for the
//! chosen one. An output that finishes early is left out from then on (its
//! `partition` elements are dropped); when all have finished, upstream is
//! cancelled. Upstream's completion or failure reaches every running
//! output, and the combined sink finishes when they all have.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::attached::Attached;
use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};
use crate::runnable::StreamTask;
use crate::sink::Sink;

type Partitioner<T> = dyn Fn(&T) -> usize + Send + Sync;

/// Where an element goes.
enum Route<T> {
    /// To every running output (each gets a clone).
    All(fn(&T) -> T),
    /// To the first free running output, starting after the last one used.
    AnyFree { next: usize },
    /// To the output the function names.
    Chosen(Arc<Partitioner<T>>),
}

impl<T: Send + 'static, M: 'static> Sink<T, Vec<M>> {
    /// Sends every element to all of `sinks`; the slowest sets the pace.
    /// Materializes to the inner sinks' values, in order.
    pub fn broadcast(sinks: Vec<Sink<T, M>>) -> Self
    where
        T: Clone,
    {
        fan_out(sinks, || Route::All(T::clone))
    }

    /// Sends each element to one of `sinks` that is ready for it, so
    /// faster sinks take more.
    pub fn balance(sinks: Vec<Sink<T, M>>) -> Self {
        fan_out(sinks, || Route::AnyFree { next: 0 })
    }

    /// Sends each element to `sinks[choose(&element)]`. An index out of
    /// range fails the stream with [`StreamErrorKind::PartitionOutOfRange`].
    pub fn partition<F>(sinks: Vec<Sink<T, M>>, choose: F) -> Self
    where
        F: Fn(&T) -> usize + Send + Sync + 'static,
    {
        let choose: Arc<Partitioner<T>> = Arc::new(choose);
        fan_out(sinks, move || Route::Chosen(choose.clone()))
    }
}

fn fan_out<T, M, R>(sinks: Vec<Sink<T, M>>, route: R) -> Sink<T, Vec<M>>
where
    T: Send + 'static,
    M: 'static,
    R: Fn() -> Route<T> + Send + Sync + 'static,
{
    Sink::from_materializer(move |upstream| {
        let (outputs, mats): (Vec<_>, Vec<_>) = sinks.iter().map(Attached::new).unzip();
        let delivered = vec![false; outputs.len()];
        let task = StreamTask::new(FanOut {
            upstream: Some(upstream),
            outputs,
            route: route(),
            pending: None,
            ending: None,
            delivered,
        });
        (task, mats)
    })
}

struct FanOut<T> {
    upstream: Option<Elements<T>>,
    outputs: Vec<Attached<T>>,
    route: Route<T>,
    /// An element waiting for its output(s) to be free.
    pending: Option<T>,
    /// Upstream ended: `Some(None)` completed, `Some(Some(e))` failed.
    ending: Option<Option<StreamError>>,
    /// Which outputs have been told about the end.
    delivered: Vec<bool>,
}

// Elements are held by value and never pinned.
impl<T> Unpin for FanOut<T> {}

/// What placing an element did.
enum Placed<T> {
    Done,
    Wait(T),
    Fail(StreamError),
}

impl<T: Send + 'static> FanOut<T> {
    fn place(&mut self, item: T) -> Placed<T> {
        let outputs = &mut self.outputs;
        match &mut self.route {
            Route::All(clone) => {
                if outputs.iter().any(|o| o.is_running() && !o.is_free()) {
                    return Placed::Wait(item);
                }
                for output in outputs.iter().filter(|o| o.is_running()) {
                    output.hand(Ok(clone(&item)));
                }
                Placed::Done
            }
            Route::AnyFree { next } => {
                let n = outputs.len();
                let free = (0..n)
                    .map(|k| (*next + k) % n)
                    .find(|&i| outputs[i].is_running() && outputs[i].is_free());
                match free {
                    Some(i) => {
                        outputs[i].hand(Ok(item));
                        *next = (i + 1) % n;
                        Placed::Done
                    }
                    None => Placed::Wait(item),
                }
            }
            Route::Chosen(choose) => {
                let index = choose(&item);
                let Some(output) = outputs.get(index) else {
                    return Placed::Fail(
                        StreamErrorKind::PartitionOutOfRange {
                            index,
                            outputs: outputs.len(),
                        }
                        .into(),
                    );
                };
                if !output.is_running() {
                    // Its sink has finished: the element has nowhere to go.
                    Placed::Done
                } else if output.is_free() {
                    output.hand(Ok(item));
                    Placed::Done
                } else {
                    Placed::Wait(item)
                }
            }
        }
    }

    /// Tells every running output about the end, as slots free up.
    fn deliver_end(&mut self, end: &Option<StreamError>) {
        for (output, delivered) in self.outputs.iter().zip(self.delivered.iter_mut()) {
            if *delivered || !output.is_running() {
                continue;
            }
            match end {
                None => output.end(),
                Some(e) if output.is_free() => output.hand(Err(e.clone())),
                // Wait for the slot: the failure goes after the element.
                Some(_) => continue,
            }
            *delivered = true;
        }
    }
}

impl<T: Send + 'static> Future for FanOut<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let mut running = 0;
            for output in &mut this.outputs {
                if output.drive(cx) {
                    running += 1;
                }
            }
            if running == 0 {
                // Every output has finished: cancel upstream.
                this.upstream = None;
                return Poll::Ready(());
            }
            if let Some(end) = this.ending.clone() {
                // An output not told yet is busy with its slot's element;
                // it wakes this task when it takes it, and is told then.
                this.deliver_end(&end);
                return Poll::Pending;
            }
            if let Some(item) = this.pending.take() {
                match this.place(item) {
                    Placed::Done => continue,
                    Placed::Wait(item) => {
                        this.pending = Some(item);
                        return Poll::Pending;
                    }
                    Placed::Fail(e) => {
                        this.upstream = None;
                        this.ending = Some(Some(e));
                        continue;
                    }
                }
            }
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Pending;
            };
            match std::task::ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => this.pending = Some(item),
                Some(Err(e)) => {
                    this.upstream = None;
                    this.ending = Some(Some(e));
                }
                None => {
                    this.upstream = None;
                    this.ending = Some(None);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "fan_out_test.rs"]
mod tests;
