//! Tell, ask, ordering, paths and names.

use std::time::Duration;

use ferrocast_actor::*;

#[derive(Default)]
struct Counter {
    count: u64,
    seen: Vec<u64>,
}

enum Msg {
    Add(u64),
    Get(ReplyTo<u64>),
    Seen(ReplyTo<Vec<u64>>),
    Ignore(#[allow(dead_code)] ReplyTo<u64>),
}

impl Actor for Counter {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Msg::Add(n) => {
                self.count += n;
                self.seen.push(n);
            }
            Msg::Get(r) => {
                let _ = r.send(self.count);
            }
            Msg::Seen(r) => {
                let _ = r.send(self.seen.clone());
            }
            Msg::Ignore(_) => {}
        }
        Ok(())
    }
}

fn system() -> ActorSystem {
    ActorSystem::new("test", ActorSystemConfig::default()).unwrap()
}

#[tokio::test]
async fn tell_then_ask_sees_all_messages_in_order() {
    let system = system();
    let c = system.spawn("counter", Counter::default).unwrap();
    for i in 0..1000 {
        c.tell(Msg::Add(i));
    }
    let seen = c.ask(Msg::Seen, Duration::from_secs(5)).await.unwrap();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert_eq!(
        c.ask(Msg::Get, Duration::from_secs(5)).await.unwrap(),
        499_500
    );
    system.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_many_actors_lose_nothing() {
    let system = system();
    let actors: Vec<_> = (0..50)
        .map(|_| {
            system
                .spawn_anonymous(
                    Props::new(Counter::default).with_mailbox(MailboxConfig::unbounded()),
                )
                .unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for s in 0..4 {
        let actors = actors.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000u64 {
                actors[((i + s) % 50) as usize].tell(Msg::Add(1));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut total = 0;
    for a in &actors {
        total += a.ask(Msg::Get, Duration::from_secs(5)).await.unwrap();
    }
    assert_eq!(total, 40_000);
    system.terminate().await;
}

#[tokio::test]
async fn paths_names_and_equality() {
    let system = system();
    let a = system.spawn("a", Counter::default).unwrap();
    assert_eq!(a.path().as_str(), "/user/a");
    assert_eq!(a.to_string(), "/user/a");
    assert_eq!(a.clone(), a);
    let err = system.spawn("a", Counter::default).unwrap_err();
    assert_eq!(err, SpawnError::NameTaken("a".into()));
    let err = system.spawn("a/b", Counter::default).unwrap_err();
    assert!(matches!(err, SpawnError::InvalidName(_)));
    let anon = system.spawn_anonymous(Counter::default).unwrap();
    assert!(anon.path().as_str().starts_with("/user/$"));
    assert_ne!(anon.as_any(), a.as_any());
    let set: std::collections::HashSet<_> =
        [a.clone(), a.clone(), anon.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn ask_times_out_and_dropped_reply_fails_fast() {
    let system = system();
    let c = system.spawn("c", Counter::default).unwrap();
    let err = c
        .ask(Msg::Ignore, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert_eq!(err, AskError::NoReply);
    system.stop(&c);
    system.terminate().await;
    let err = c.ask(Msg::Get, Duration::from_secs(3)).await.unwrap_err();
    assert_eq!(err, AskError::Terminated);
}

/// Keeps every request without answering, so asks can only time out.
#[derive(Default)]
struct Hoarder {
    kept: Vec<ReplyTo<u64>>,
}

impl Actor for Hoarder {
    type Msg = ReplyTo<u64>;
    async fn handle(
        &mut self,
        r: ReplyTo<u64>,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        self.kept.push(r);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn asks_time_out_at_their_own_deadlines() {
    let system = system();
    let h = system.spawn("hoarder", Hoarder::default).unwrap();
    let start = tokio::time::Instant::now();
    // A long ask armed first, then a shorter one that must re-arm the sweeper.
    let long = tokio::spawn({
        let h = h.clone();
        async move {
            (
                h.ask(|r| r, Duration::from_secs(10)).await,
                tokio::time::Instant::now(),
            )
        }
    });
    tokio::task::yield_now().await;
    let short = h.ask(|r| r, Duration::from_secs(2)).await;
    assert_eq!(short, Err(AskError::Timeout(Duration::from_secs(2))));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let (long, at) = long.await.unwrap();
    assert_eq!(long, Err(AskError::Timeout(Duration::from_secs(10))));
    assert_eq!(at - start, Duration::from_secs(10));
    system.terminate().await;
}
