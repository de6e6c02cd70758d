//! The receptionist (register, find, subscribe, removal on stop) and the
//! event stream (publish, subscribe, unsubscribe).

mod common;

use std::time::Duration;

use common::{WAIT, nothing_within, probe, recv, system, terminated};
use ferrocast_actor::*;

/// A service speaking `u32`.
struct Svc;

impl Actor for Svc {
    type Msg = u32;
    async fn handle(&mut self, _msg: u32, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }
}

fn key() -> ServiceKey<u32> {
    ServiceKey::new("svc")
}

fn names(listing: &Listing<u32>) -> Vec<String> {
    listing
        .services
        .iter()
        .map(|s| s.path().name().to_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn register_and_find_in_registration_order() {
    let system = system();
    let r = system.receptionist();
    assert!(r.find(&key()).services.is_empty());
    let a = system.spawn("a", || Svc).unwrap();
    let b = system.spawn("b", || Svc).unwrap();
    r.register(&key(), a.clone());
    r.register(&key(), b.clone());
    r.register(&key(), a.clone());
    let listing = r.find(&key());
    assert_eq!(listing.key, "svc");
    assert_eq!(listing.services, [a.clone(), b.clone()]);
    // Same id, other message type: another service.
    assert!(
        r.find(&ServiceKey::<String>::new("svc"))
            .services
            .is_empty()
    );
    r.deregister(&key(), &a);
    assert_eq!(r.find(&key()).services, [b]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn subscribers_get_the_listing_now_and_on_every_change() {
    let system = system();
    let r = system.receptionist();
    let (sub, mut listings) = probe::<Listing<u32>>(&system);
    r.subscribe(&key(), sub);
    assert!(names(&recv(&mut listings).await).is_empty());
    let a = system.spawn("a", || Svc).unwrap();
    let b = system.spawn("b", || Svc).unwrap();
    r.register(&key(), a.clone());
    assert_eq!(names(&recv(&mut listings).await), ["a"]);
    r.register(&key(), b.clone());
    assert_eq!(names(&recv(&mut listings).await), ["a", "b"]);
    // A repeated registration changes nothing and notifies nobody.
    r.register(&key(), b.clone());
    r.deregister(&key(), &a);
    assert_eq!(names(&recv(&mut listings).await), ["b"]);
    assert!(nothing_within(&mut listings, Duration::from_secs(10)).await);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_registered_actor_that_stops_is_removed_and_subscribers_told() {
    let system = system();
    let r = system.receptionist();
    let a = system.spawn("a", || Svc).unwrap();
    let b = system.spawn("b", || Svc).unwrap();
    r.register(&key(), a.clone());
    r.register(&key(), b.clone());
    let (sub, mut listings) = probe::<Listing<u32>>(&system);
    r.subscribe(&key(), sub);
    assert_eq!(names(&recv(&mut listings).await), ["a", "b"]);
    system.stop(&a);
    assert_eq!(names(&recv(&mut listings).await), ["b"]);
    assert_eq!(r.find(&key()).services, [b]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn registering_a_dead_actor_removes_it_at_once() {
    let system = system();
    let r = system.receptionist();
    let a = system.spawn("a", || Svc).unwrap();
    system.stop(&a);
    terminated(&system, &a).await;
    r.register(&key(), a);
    assert!(r.find(&key()).services.is_empty());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn an_actor_under_two_keys_leaves_both_when_it_stops() {
    let system = system();
    let r = system.receptionist();
    let other = ServiceKey::<u32>::new("other");
    let a = system.spawn("a", || Svc).unwrap();
    r.register(&key(), a.clone());
    r.register(&other, a.clone());
    system.stop(&a);
    terminated(&system, &a).await;
    assert!(r.find(&key()).services.is_empty());
    assert!(r.find(&other).services.is_empty());
    system.terminate().await;
}

#[derive(Clone, Debug, PartialEq)]
struct Ping(u32);

#[derive(Clone, Debug, PartialEq)]
struct Pong(u32);

#[tokio::test(start_paused = true)]
async fn event_stream_delivers_by_type_to_current_subscribers() {
    let system = system();
    let events = system.event_stream();
    assert_eq!(events.publish(Ping(0)), 0, "nobody listens yet");
    let (s1, mut r1) = probe::<Ping>(&system);
    let (s2, mut r2) = probe::<Ping>(&system);
    let (p, mut pongs) = probe::<Pong>(&system);
    events.subscribe(s1.clone());
    events.subscribe(s1.clone());
    events.subscribe(s2.clone());
    events.subscribe(p);
    assert!(events.has_subscribers::<Ping>());
    assert_eq!(
        events.publish(Ping(1)),
        2,
        "a double subscription counts once"
    );
    assert_eq!(recv(&mut r1).await, Ping(1));
    assert_eq!(recv(&mut r2).await, Ping(1));
    events.unsubscribe(&s1);
    assert_eq!(events.publish(Ping(2)), 1);
    assert_eq!(recv(&mut r2).await, Ping(2));
    assert!(r1.try_recv().is_err());
    assert!(pongs.try_recv().is_err(), "other types are not delivered");
    assert_eq!(events.publish(Pong(3)), 1);
    assert_eq!(recv(&mut pongs).await, Pong(3));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_subscriber_is_dropped_from_the_stream() {
    let system = system();
    let events = system.event_stream();
    let (s, _rx) = probe::<Ping>(&system);
    events.subscribe(s.clone());
    system.stop(&s);
    terminated(&system, &s).await;
    assert_eq!(events.publish(Ping(1)), 0);
    assert!(!events.has_subscribers::<Ping>());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_subscriber_misses_events_and_they_are_counted() {
    struct Stuck;
    impl Actor for Stuck {
        type Msg = Ping;
        async fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
            std::future::pending::<()>().await;
            Ok(())
        }
    }
    let system = system();
    let events = system.event_stream();
    let s = system
        .spawn(
            "stuck",
            Props::new(|| Stuck).with_mailbox(MailboxConfig::bounded(1, OverflowPolicy::Fail)),
        )
        .unwrap();
    events.subscribe(s.clone());
    // The first is taken into the (forever) handler, the second waits.
    assert_eq!(events.publish(Ping(1)), 1);
    ferrocast_testkit::time::advance(WAIT).await;
    assert_eq!(events.publish(Ping(2)), 1);
    assert_eq!(events.publish(Ping(3)), 0);
    assert_eq!(events.dropped(), 1);
}
