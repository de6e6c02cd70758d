//! Singleton manager tests: membership states and messages in, the
//! outputs asserted, no network.

use std::time::Duration;

use ferrocast_remote::NodeAddress;

use super::*;
use crate::member::AppVersion;
use crate::sbr::Strategy;
use crate::settings::ClusterSettings;
use MemberStatus::*;

fn node(port: u16) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("s", "h", port),
        uid: port as u64 * 10,
    }
}

/// Member at `port` with `status`; its up number is its port (lower is
/// older).
fn member(port: u16, status: MemberStatus, roles: &[&str]) -> Member {
    let mut m = Member::joining(
        node(port),
        roles.iter().map(|r| r.to_string()).collect(),
        AppVersion::default(),
    );
    m.status = status;
    m.up_number = port as u32;
    m
}

fn gossip(members: &[(u16, MemberStatus)]) -> Gossip {
    Gossip::with_members(members.iter().map(|(p, s)| member(*p, *s, &[])))
}

fn removed(mut g: Gossip, port: u16) -> Gossip {
    g.remove(&node(port));
    g
}

const MARGIN: Duration = Duration::from_secs(10);

fn manager(port: u16) -> SingletonManager {
    let settings = SingletonSettings {
        removal_margin: MARGIN,
        ..SingletonSettings::default()
    };
    SingletonManager::new(node(port), settings).unwrap()
}

fn sent(out: &[SingletonOutput]) -> Vec<SingletonMessage> {
    out.iter()
        .filter_map(|o| match o {
            SingletonOutput::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn hand_over_to_me(from: u16, to: u16) -> SingletonMessage {
    SingletonMessage::HandOverToMe {
        from: node(from),
        to: node(to),
    }
}

fn hand_over_done(from: u16, to: u16) -> SingletonMessage {
    SingletonMessage::HandOverDone {
        from: node(from),
        to: node(to),
    }
}

#[test]
fn the_oldest_up_member_starts_at_once_and_younger_ones_do_not() {
    let t0 = Instant::now();
    let g = gossip(&[(1, Up), (2, Up), (3, Joining)]);
    let mut oldest = manager(1);
    let out = oldest.handle(SingletonInput::Membership(&g), t0);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
    assert_eq!(oldest.state(), SingletonState::Oldest);
    for p in [2, 3] {
        let mut m = manager(p);
        assert!(m.handle(SingletonInput::Membership(&g), t0).is_empty());
        assert_eq!(m.state(), SingletonState::Younger);
        assert_eq!(m.oldest(), Some(node(1)));
    }
    // Feeding the same state again changes nothing.
    assert!(oldest.handle(SingletonInput::Membership(&g), t0).is_empty());
}

#[test]
fn graceful_leave_hands_over_with_the_akka_messages() {
    let t0 = Instant::now();
    let g = gossip(&[(1, Up), (2, Up), (3, Up)]);
    let (mut a, mut b) = (manager(1), manager(2));
    a.handle(SingletonInput::Membership(&g), t0);
    b.handle(SingletonInput::Membership(&g), t0);
    assert!(a.instance_running());

    // The oldest sees itself Leaving: it stops at once.
    let leaving = gossip(&[(1, Leaving), (2, Up), (3, Up)]);
    let out = a.handle(SingletonInput::Membership(&leaving), t0);
    assert_eq!(out, vec![SingletonOutput::StopInstance]);
    assert_eq!(a.state(), SingletonState::HandingOver);
    let out = a.handle(SingletonInput::InstanceStopped, t0);
    let take_over = SingletonMessage::TakeOverFromMe {
        from: node(1),
        to: node(2),
    };
    assert_eq!(sent(&out), vec![take_over.clone()]);
    assert_eq!(a.state(), SingletonState::Retired);

    // The next oldest asks for the hand-over (even before it sees the
    // Leaving itself), gets it, and starts.
    let out = b.handle(SingletonInput::Receive(take_over), t0);
    assert_eq!(sent(&out), vec![hand_over_to_me(2, 1)]);
    assert_eq!(b.state(), SingletonState::BecomingOldest);
    let out = a.handle(SingletonInput::Receive(hand_over_to_me(2, 1)), t0);
    assert_eq!(sent(&out), vec![hand_over_done(1, 2)]);
    let out = b.handle(SingletonInput::Receive(hand_over_done(1, 2)), t0);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);

    // A retired member never starts again, whatever it sees.
    let later = t0 + Duration::from_secs(60);
    let g = removed(gossip(&[(1, Exiting), (2, Up), (3, Up)]), 1);
    assert!(
        a.handle(SingletonInput::Membership(&g), later)
            .iter()
            .all(|o| *o != SingletonOutput::StartInstance)
    );
    assert!(!a.instance_running());
}

#[test]
fn after_a_crash_the_next_oldest_waits_for_removal_and_the_margin() {
    let t0 = Instant::now();
    let mut b = manager(2);
    b.handle(SingletonInput::Membership(&gossip(&[(1, Up), (2, Up)])), t0);
    // Downed but not removed: still in the way.
    let down = gossip(&[(1, Down), (2, Up)]);
    let out = b.handle(SingletonInput::Membership(&down), t0);
    assert_eq!(sent(&out), vec![hand_over_to_me(2, 1)]);
    let t1 = t0 + Duration::from_secs(30);
    b.handle(SingletonInput::Tick, t1);
    assert!(!b.instance_running(), "a Down member blocks until removed");
    let gone = removed(down, 1);
    b.handle(SingletonInput::Membership(&gone), t1);
    let mut t = t1;
    while t < t1 + MARGIN {
        let out = b.handle(SingletonInput::Tick, t);
        assert!(!out.contains(&SingletonOutput::StartInstance), "at {t:?}");
        t += Duration::from_millis(100);
    }
    let out = b.handle(SingletonInput::Tick, t1 + MARGIN);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
}

#[test]
fn a_confirmation_replaces_the_margin() {
    let t0 = Instant::now();
    let mut b = manager(2);
    b.handle(SingletonInput::Membership(&gossip(&[(1, Up), (2, Up)])), t0);
    let gone = removed(gossip(&[(1, Down), (2, Up)]), 1);
    b.handle(SingletonInput::Membership(&gone), t0);
    let out = b.handle(SingletonInput::Receive(hand_over_done(1, 2)), t0);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
}

#[test]
fn a_running_oldest_ignores_a_hand_over_request_from_a_stale_view() {
    let t0 = Instant::now();
    let mut a = manager(1);
    a.handle(SingletonInput::Membership(&gossip(&[(1, Up), (2, Up)])), t0);
    let out = a.handle(SingletonInput::Receive(hand_over_to_me(2, 1)), t0);
    assert!(out.is_empty(), "{out:?}");
    assert!(a.instance_running());
}

#[test]
fn a_member_that_confirmed_waits_for_the_requester() {
    let t0 = Instant::now();
    // Node 2 is younger than 1, so it confirms at once when 1 asks ...
    let mut b = manager(2);
    b.handle(SingletonInput::Membership(&gossip(&[(1, Up), (2, Up)])), t0);
    let out = b.handle(SingletonInput::Receive(hand_over_to_me(1, 2)), t0);
    assert_eq!(sent(&out), vec![hand_over_done(2, 1)]);
    // ... and when it becomes the oldest, it first asks 1 back.
    let g = removed(gossip(&[(1, Down), (2, Up)]), 1);
    let out = b.handle(SingletonInput::Membership(&g), t0);
    assert_eq!(sent(&out), vec![hand_over_to_me(2, 1)]);
    let out = b.handle(SingletonInput::Receive(hand_over_done(1, 2)), t0);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
}

#[test]
fn a_restarted_node_answers_for_its_earlier_incarnation() {
    let t0 = Instant::now();
    let new = UniqueAddress {
        address: node(1).address,
        uid: 99,
    };
    let mut m = SingletonManager::new(new.clone(), SingletonSettings::default()).unwrap();
    let out = m.handle(SingletonInput::Receive(hand_over_to_me(2, 1)), t0);
    assert_eq!(sent(&out), vec![hand_over_done(1, 2)]);
    // Messages for another address are not for this node at all.
    let out = m.handle(SingletonInput::Receive(hand_over_to_me(2, 3)), t0);
    assert!(out.is_empty());
}

#[test]
fn an_unknown_removed_member_blocks_for_the_margin() {
    let t0 = Instant::now();
    let mut c = manager(3);
    let g = removed(gossip(&[(1, Down), (3, Up)]), 1);
    let g = Gossip {
        members: g
            .members
            .into_iter()
            .filter(|(n, _)| *n == node(3))
            .collect(),
        ..g
    };
    let out = c.handle(SingletonInput::Membership(&g), t0);
    assert_eq!(sent(&out), vec![hand_over_to_me(3, 1)]);
    assert!(!c.instance_running());
    let out = c.handle(SingletonInput::Tick, t0 + MARGIN);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
}

#[test]
fn only_members_with_the_role_count() {
    let t0 = Instant::now();
    let g = Gossip::with_members([
        member(1, Up, &[]),
        member(2, Up, &["backend"]),
        member(3, Up, &["backend"]),
    ]);
    let settings = SingletonSettings {
        role: Some("backend".into()),
        ..SingletonSettings::default()
    };
    let mut b = SingletonManager::new(node(2), settings.clone()).unwrap();
    let out = b.handle(SingletonInput::Membership(&g), t0);
    assert_eq!(out, vec![SingletonOutput::StartInstance]);
    let mut a = SingletonManager::new(node(1), settings).unwrap();
    assert!(a.handle(SingletonInput::Membership(&g), t0).is_empty());
    assert_eq!(a.oldest(), Some(node(2)));
}

#[test]
fn settings_derive_the_margin_from_the_resolver_and_validate() {
    let cluster = ClusterSettings::default();
    let s = SingletonSettings::for_cluster(&cluster);
    assert_eq!(s.removal_margin, Duration::from_secs(7), "3 s + 4 s");
    assert_eq!(s, SingletonSettings::default());
    let no_sbr = ClusterSettings {
        downing: None,
        ..ClusterSettings::default()
    };
    assert_eq!(
        SingletonSettings::removal_margin_for(&no_sbr),
        Duration::from_secs(20)
    );
    let mut lease = ClusterSettings::default();
    let sbr = lease.downing.as_mut().unwrap();
    sbr.down_all_when_unstable = None;
    sbr.strategy = Strategy::LeaseMajority {
        role: None,
        acquire_lease_delay_for_minority: Duration::from_secs(2),
    };
    assert_eq!(
        SingletonSettings::removal_margin_for(&lease),
        Duration::from_secs(8),
        "3 s + 3 s + 2 s"
    );
    let bad = SingletonSettings {
        hand_over_retry_interval: Duration::ZERO,
        ..SingletonSettings::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().field,
        "singleton.hand_over_retry_interval"
    );
    assert!(SingletonManager::new(node(1), bad).is_err());
}

#[test]
fn long_gone_members_are_forgotten_once_their_tombstone_is_pruned() {
    let t0 = Instant::now();
    let mut b = manager(2);
    b.handle(SingletonInput::Membership(&gossip(&[(1, Up), (2, Up)])), t0);
    let gone = removed(gossip(&[(1, Down), (2, Up)]), 1);
    b.handle(SingletonInput::Membership(&gone), t0);
    assert!(b.ages.contains_key(&node(1)));
    let later = t0 + MARGIN;
    b.handle(SingletonInput::Membership(&gone), later);
    assert!(b.ages.contains_key(&node(1)), "tombstone still there");
    let pruned = Gossip {
        tombstones: BTreeSet::new(),
        ..gone
    };
    b.handle(SingletonInput::Membership(&pruned), later);
    assert!(!b.ages.contains_key(&node(1)) && b.removed_at.is_empty());
    assert!(b.instance_running());
}
