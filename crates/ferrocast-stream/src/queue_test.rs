//! The bounded queue under real concurrency: producers and the consumer on
//! different worker threads (no timers, so no paused time needed).

use std::num::NonZeroUsize;

use crate::{Keep, OverflowStrategy, QueueOfferResult, Sink, Source, StreamOps};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_lose_nothing_and_keep_their_order() {
    const PRODUCERS: u32 = 4;
    const EACH: u32 = 2_000;
    let capacity = NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN);
    let (queue, all) = Source::queue(capacity, OverflowStrategy::Backpressure)
        .buffer(
            NonZeroUsize::MIN.saturating_add(3),
            OverflowStrategy::Backpressure,
        )
        .map_async(capacity, |x: (u32, u32)| async move {
            tokio::task::yield_now().await;
            x
        })
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let queue = queue.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let offered = queue.offer((p, i)).await;
                assert!(matches!(offered, QueueOfferResult::Enqueued));
            }
        }));
    }
    drop(queue);
    for producer in producers {
        assert!(producer.await.is_ok());
    }
    let all = all.await.unwrap_or_default();
    assert_eq!(all.len(), (PRODUCERS * EACH) as usize);
    for p in 0..PRODUCERS {
        let mine: Vec<u32> = all
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(
            mine,
            (0..EACH).collect::<Vec<_>>(),
            "producer {p} out of order"
        );
    }
}
