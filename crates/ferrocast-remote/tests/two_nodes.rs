//! Two and three nodes in one process over real loopback TCP.

mod common;

use std::time::Duration;

use common::*;
use ferrocast_actor::AskError;
use ferrocast_remote::{RemoteConfig, ResolveError};
use ferrocast_testkit::TestProbe;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tell_and_ask_across_nodes_keep_order() {
    let a = Node::start("orders", fast_config()).await;
    let b = Node::start("orders", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");

    let remote = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    assert!(
        remote
            .path()
            .as_str()
            .starts_with("ferrocast://orders@127.0.0.1:")
    );
    for i in 1..=1000 {
        remote.tell(CounterMsg::Add(i));
    }
    // Ordered per sender and receiver: the ask comes after every add.
    let total = remote.ask(CounterMsg::Get, WAIT).await.unwrap();
    assert_eq!(total, 500_500);
    remote.send(CounterMsg::Add(1)).await.unwrap();
    assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 500_501);
    assert!(b.remoting.metrics().sent >= 1002);
    assert!(a.remoting.metrics().received >= 1002);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_inside_messages_cross_three_nodes() {
    let a = Node::start("shop", fast_config()).await;
    let b = Node::start("shop", fast_config()).await;
    let c = Node::start("shop", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let on_b = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    on_b.tell(CounterMsg::Add(42));
    // Order holds per sender and receiver only: C's message below could
    // overtake B's add. B's ask, after its add, returns once A applied it.
    assert_eq!(on_b.ask(CounterMsg::Get, WAIT).await.unwrap(), 42);

    // C's probe travels inside a message to A; A answers C directly.
    let mut probe = TestProbe::<u64>::new(&c.system);
    let on_c = c.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    on_c.tell(CounterMsg::Report(probe.actor_ref()));
    assert_eq!(probe.expect_msg(WAIT).await, 42);

    // And a reference from B handed to A is answered on B.
    let mut probe_b = TestProbe::<u64>::new(&b.system);
    on_b.tell(CounterMsg::Report(probe_b.actor_ref()));
    assert_eq!(probe_b.expect_msg(WAIT).await, 42);
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_is_never_faked() {
    let a = Node::start("res", fast_config()).await;
    let b = Node::start("res", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let missing = format!("{}/user/nobody", a.remoting.address());
    assert!(matches!(
        b.remoting.resolve::<CounterMsg>(&missing, WAIT).await,
        Err(ResolveError::NotFound(_))
    ));
    // u64 is registered (a built-in) but the actor reads CounterMsg.
    match b.remoting.resolve::<u64>(&path, WAIT).await {
        Err(ResolveError::WrongType(why)) => assert!(why.contains("test.CounterMsg"), "{why}"),
        other => panic!("expected WrongType, got {other:?}"),
    }
    // A type without a serializer cannot be resolved at all.
    assert!(matches!(
        b.remoting.resolve::<i8>(&path, WAIT).await,
        Err(ResolveError::NotRegistered(_))
    ));
    assert!(matches!(
        b.remoting.resolve::<CounterMsg>("not a path", WAIT).await,
        Err(ResolveError::Address(_))
    ));
    // Local paths resolve to the local reference itself.
    let local = a.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    assert_eq!(local.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_death_watch_reports_a_stopped_actor() {
    let a = Node::start("dw", fast_config()).await;
    let b = Node::start("dw", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let remote = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    let mut probe = TestProbe::<u64>::new(&b.system);
    probe.watch(&remote);
    // The watch is delivered before the stop (both ordered from B to A).
    assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    remote.tell(CounterMsg::Stop);
    probe.expect_terminated(&remote, WAIT).await;
    // The export is gone: asks now time out or fail, never reach a ghost.
    assert!(
        remote
            .ask(CounterMsg::Get, Duration::from_millis(300))
            .await
            .is_err()
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_failure_terminates_watched_actors_and_quarantines() {
    let a = Node::start("fd", fast_config()).await;
    let b = Node::start("fd", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let remote = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    let mut probe = TestProbe::<u64>::new(&b.system);
    probe.watch(&remote);
    assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    let a_uid = a.remoting.unique_address().uid;
    // Wait until heartbeats flow, then kill A's node abruptly: remoting
    // goes silent (its actor is still alive, so no notification is sent).
    a.remoting.shutdown();
    probe.expect_terminated(&remote, WAIT).await;
    assert!(b.remoting.is_quarantined(a_uid));
    assert!(remote.is_terminated());
    assert!(matches!(
        remote.ask(CounterMsg::Get, WAIT).await,
        Err(AskError::Terminated)
    ));
    a.system.terminate().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_is_quarantined_and_a_fresh_association_forms() {
    let a = Node::start("rs", fast_config()).await;
    let port = a.remoting.address().port;
    let b = Node::start("rs", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let old = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    old.tell(CounterMsg::Add(5));
    assert_eq!(old.ask(CounterMsg::Get, WAIT).await.unwrap(), 5);
    let old_uid = a.remoting.unique_address().uid;
    a.stop().await;

    // The same address, a new incarnation.
    let mut config = fast_config();
    config.bind_port = port;
    let a2 = Node::start("rs", config).await;
    assert_ne!(a2.remoting.unique_address().uid, old_uid);
    let (_counter2, path2) = exposed_counter(&a2, "counter");
    assert_eq!(path, path2);
    let fresh = b
        .remoting
        .resolve::<CounterMsg>(&path2, WAIT)
        .await
        .unwrap();
    assert_eq!(fresh.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    assert!(b.remoting.is_quarantined(old_uid));
    assert_eq!(
        b.remoting.peer_uid(a2.remoting.address()),
        Some(a2.remoting.unique_address().uid)
    );
    // The old reference never reaches the new incarnation's actor.
    old.tell(CounterMsg::Add(100));
    assert!(old.is_terminated());
    assert_eq!(fresh.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    a2.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_secret_admits_friends_and_rejects_strangers() {
    let secret = |s: &str| RemoteConfig {
        secret: Some(s.to_owned()),
        ..fast_config()
    };
    let a = Node::start("sec", secret("open sesame")).await;
    let friend = Node::start("sec", secret("open sesame")).await;
    let stranger = Node::start("sec", secret("guess")).await;
    let anonymous = Node::start("sec", fast_config()).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let r = friend
        .remoting
        .resolve::<CounterMsg>(&path, WAIT)
        .await
        .unwrap();
    assert_eq!(r.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
    let short = Duration::from_millis(800);
    assert!(matches!(
        stranger.remoting.resolve::<CounterMsg>(&path, short).await,
        Err(ResolveError::Timeout(..))
    ));
    assert!(matches!(
        anonymous.remoting.resolve::<CounterMsg>(&path, short).await,
        Err(ResolveError::Timeout(..))
    ));
    assert!(a.remoting.metrics().handshakes_rejected >= 2);
    for n in [a, friend, stranger, anonymous] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_dropped_and_counted_and_large_lane_carries_them() {
    let mut cfg = fast_config();
    cfg.max_frame_size = 64 * 1024;
    cfg.max_large_frame_size = 1 << 20;
    cfg.outbound_lane_bytes = 2 << 20;
    cfg.large_message_destinations = vec!["/user/big*".into()];
    let a = Node::start("big", cfg.clone()).await;
    let b = Node::start("big", cfg).await;
    let (_small, small_path) = exposed_counter(&a, "small");
    let (_big, big_path) = exposed_counter(&a, "big");
    let small = b
        .remoting
        .resolve::<CounterMsg>(&small_path, WAIT)
        .await
        .unwrap();
    let big = b
        .remoting
        .resolve::<CounterMsg>(&big_path, WAIT)
        .await
        .unwrap();

    small.tell(CounterMsg::Blob(vec![1; 100 * 1024]));
    assert_eq!(b.remoting.metrics().dropped_oversized, 1);
    assert_eq!(small.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);

    big.tell(CounterMsg::Blob(vec![1; 500 * 1024]));
    assert_eq!(big.ask(CounterMsg::Get, WAIT).await.unwrap(), 500 * 1024);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_reached_by_name_across_incarnations() {
    let a = Node::start("svc", fast_config()).await;
    let port = a.remoting.address().port;
    let b = Node::start("svc", fast_config()).await;
    let counter = a.system.spawn("counter", Counter::default).unwrap();
    a.remoting.expose_service("counter", &counter).unwrap();
    // A second live actor cannot take the name.
    let other = a.system.spawn("other", Counter::default).unwrap();
    assert!(a.remoting.expose_service("counter", &other).is_err());

    let svc = b
        .remoting
        .service::<CounterMsg>(a.remoting.address(), "counter")
        .unwrap();
    svc.tell(CounterMsg::Add(7));
    assert_eq!(svc.ask(CounterMsg::Get, WAIT).await.unwrap(), 7);
    // Locally the name gives the actor itself.
    let local = a
        .remoting
        .service::<CounterMsg>(a.remoting.address(), "counter")
        .unwrap();
    assert_eq!(local.path(), counter.path());
    // A name nobody exposed is an unknown recipient, counted there.
    let nobody = b
        .remoting
        .service::<CounterMsg>(a.remoting.address(), "nobody")
        .unwrap();
    let probe = TestProbe::<u64>::new(&b.system);
    nobody.tell(CounterMsg::Report(probe.actor_ref()));
    assert_eq!(svc.ask(CounterMsg::Get, WAIT).await.unwrap(), 7);
    assert!(a.remoting.metrics().dropped_unknown_recipient >= 1);
    a.stop().await;

    // The same reference reaches the next incarnation at that address.
    let mut config = fast_config();
    config.bind_port = port;
    let a2 = Node::start("svc", config).await;
    let counter2 = a2.system.spawn("counter", Counter::default).unwrap();
    a2.remoting.expose_service("counter", &counter2).unwrap();
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(n) = svc.ask(CounterMsg::Get, Duration::from_millis(500)).await {
                return n;
            }
        }
    })
    .await
    .expect("the service answers from the new incarnation");
    assert_eq!(answer, 0);
    a2.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_paths_become_references_without_a_round_trip() {
    let a = Node::start("paths", fast_config()).await;
    let b = Node::start("paths", fast_config()).await;
    let counter = a.system.spawn("counter", Counter::default).unwrap();
    let path = a.remoting.expose(&counter).unwrap();
    assert!(path.incarnation.is_some());
    assert_eq!(
        b.remoting.manifest_of::<CounterMsg>(),
        Some("test.CounterMsg")
    );
    assert_eq!(b.remoting.manifest_of::<i8>(), None);

    // On another node: a remote reference to that incarnation.
    let remote = b.remoting.actor_ref::<CounterMsg>(&path).unwrap();
    assert_eq!(remote.uid(), counter.uid());
    remote.tell(CounterMsg::Add(5));
    assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 5);
    // On its own node: the local actor itself.
    let local = a.remoting.actor_ref::<CounterMsg>(&path).unwrap();
    assert_eq!(local.path(), counter.path());

    // Bad input is a typed error, never a fake reference.
    let mut bare = path.clone();
    bare.incarnation = None;
    assert!(matches!(
        b.remoting.actor_ref::<CounterMsg>(&bare),
        Err(ResolveError::Address(_))
    ));
    assert!(matches!(
        b.remoting.actor_ref::<i8>(&path),
        Err(ResolveError::NotRegistered(_))
    ));
    assert!(matches!(
        a.remoting.actor_ref::<u64>(&path),
        Err(ResolveError::WrongType(_))
    ));
    let mut gone = path.clone();
    gone.incarnation = Some((u64::MAX >> 2, a.system.uid()));
    assert!(matches!(
        a.remoting.actor_ref::<CounterMsg>(&gone),
        Err(ResolveError::NotFound(_))
    ));

    // A stopped incarnation: watchers hear of it.
    let mut probe = TestProbe::<u64>::new(&b.system);
    probe.watch(remote.as_any());
    counter.tell(CounterMsg::Stop);
    probe.expect_terminated(remote.as_any(), WAIT).await;
    a.stop().await;
    b.stop().await;
}
