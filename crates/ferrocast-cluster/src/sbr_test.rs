use super::*;
use crate::member::AppVersion;
use MemberStatus::*;
use ferrocast_remote::NodeAddress;

fn node(port: u16) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("s", "h", port),
        uid: 7,
    }
}

/// Members 1..=n, Up, member i has up number i (1 is the oldest).
fn cluster(n: u16) -> BTreeMap<UniqueAddress, Member> {
    (1..=n)
        .map(|p| {
            let mut m = Member::joining(node(p), BTreeSet::new(), AppVersion::default());
            m.status = Up;
            m.up_number = p as u32;
            (node(p), m)
        })
        .collect()
}

fn set(ports: &[u16]) -> BTreeSet<UniqueAddress> {
    ports.iter().map(|p| node(*p)).collect()
}

fn down(d: Decision) -> BTreeSet<UniqueAddress> {
    match d {
        Decision::Down(s) => s,
        other => panic!("expected Down, got {other:?}"),
    }
}

const MAJ: Strategy = Strategy::KeepMajority { role: None };

/// Runs the strategy on both sides of a clean partition and checks that at
/// most one side survives.
fn both_sides(strategy: &Strategy, n: u16, a: &[u16]) -> (bool, bool) {
    let members = cluster(n);
    let b: Vec<u16> = (1..=n).filter(|p| !a.contains(p)).collect();
    let a_survives =
        down(decide(strategy, &members, &set(&b), &BTreeSet::new())).is_disjoint(&set(a));
    let b_survives =
        down(decide(strategy, &members, &set(a), &BTreeSet::new())).is_disjoint(&set(&b));
    assert!(
        !(a_survives && b_survives),
        "{strategy:?} {a:?}: split brain"
    );
    (a_survives, b_survives)
}

#[test]
fn keep_majority_keeps_the_bigger_side_and_breaks_ties_by_lowest_address() {
    assert_eq!(both_sides(&MAJ, 5, &[1, 2]), (false, true));
    assert_eq!(both_sides(&MAJ, 5, &[3, 4, 5]), (true, false));
    assert_eq!(both_sides(&MAJ, 4, &[1, 4]), (true, false));
    assert_eq!(both_sides(&MAJ, 4, &[2, 3]), (false, true));
    let d = down(decide(&MAJ, &cluster(5), &set(&[5]), &BTreeSet::new()));
    assert_eq!(d, set(&[5]));
}

#[test]
fn keep_majority_downs_all_when_a_joiner_could_swing_the_vote() {
    // Node 5 joined; this side (1, 2) has not seen it move up, the other
    // side (3, 4, 5) may have. Counting it or not changes the verdict.
    let mut members = cluster(5);
    members.get_mut(&node(5)).unwrap().status = Joining;
    let d = down(decide(&MAJ, &members, &set(&[3, 4, 5]), &BTreeSet::new()));
    assert_eq!(d, set(&[1, 2, 3, 4, 5]));
}

#[test]
fn static_quorum_needs_the_quorum_and_downs_all_when_both_have_it() {
    let q = |n| Strategy::StaticQuorum {
        quorum_size: n,
        role: None,
    };
    assert_eq!(both_sides(&q(3), 5, &[1, 2, 3]), (true, false));
    assert_eq!(both_sides(&q(3), 4, &[1, 2]), (false, false));
    assert_eq!(
        both_sides(&q(2), 4, &[1, 2]),
        (false, false),
        "grew past 2q-1"
    );
}

#[test]
fn keep_oldest_follows_the_oldest_unless_it_is_alone() {
    let keep = |alone| Strategy::KeepOldest {
        down_if_alone: alone,
        role: None,
    };
    assert_eq!(both_sides(&keep(false), 5, &[1]), (true, false));
    assert_eq!(both_sides(&keep(true), 5, &[1]), (false, true));
    assert_eq!(both_sides(&keep(true), 5, &[1, 5]), (true, false));
    assert_eq!(both_sides(&keep(true), 2, &[1]), (false, true));
}

#[test]
fn roles_restrict_who_counts() {
    let mut members = cluster(5);
    for p in [4, 5] {
        members.get_mut(&node(p)).unwrap().roles.insert("db".into());
    }
    let s = Strategy::KeepMajority {
        role: Some("db".into()),
    };
    // Side {4, 5} is a minority overall but holds every "db" member.
    let d = down(decide(&s, &members, &set(&[1, 2, 3]), &BTreeSet::new()));
    assert_eq!(d, set(&[1, 2, 3]));
}

#[test]
fn down_all_downs_everybody() {
    assert_eq!(
        both_sides(&Strategy::DownAll, 5, &[1, 2, 3]),
        (false, false)
    );
}

#[test]
fn lease_majority_asks_for_the_lease_with_a_head_start_for_the_majority() {
    let s = Strategy::LeaseMajority {
        role: None,
        acquire_lease_delay_for_minority: Duration::from_secs(2),
    };
    match decide(&s, &cluster(5), &set(&[4, 5]), &BTreeSet::new()) {
        Decision::AcquireLease {
            delay,
            on_acquired,
            on_denied,
        } => {
            assert_eq!(delay, Duration::ZERO);
            assert_eq!(on_acquired, set(&[4, 5]));
            assert_eq!(on_denied, set(&[1, 2, 3]));
        }
        d => panic!("{d:?}"),
    }
    match decide(&s, &cluster(5), &set(&[1, 2, 3]), &BTreeSet::new()) {
        Decision::AcquireLease { delay, .. } => assert_eq!(delay, Duration::from_secs(2)),
        d => panic!("{d:?}"),
    }
}

#[test]
fn indirectly_connected_members_are_downed() {
    let unreachable = set(&[2, 3]);
    let observers = set(&[2, 3, 4]);
    let ic = indirectly_connected(&unreachable, &observers);
    assert_eq!(ic, set(&[2, 3]));
    // 1, 4, 5 against 2, 3: the majority downs the flaky pair.
    let d = down(decide(&MAJ, &cluster(5), &unreachable, &ic));
    assert_eq!(d, set(&[2, 3]));
    // Indirectly connected count against this side: 1 and 4 (2) against
    // 5 plus 2, 3 (3): this side goes, and the flaky pair with it.
    let d = down(decide(&MAJ, &cluster(5), &set(&[2, 3, 5]), &ic));
    assert_eq!(d, set(&[1, 2, 3, 4]));
    // Seen from node 2 itself (reported unreachable, so on the "other"
    // side of its own view), the verdict is the same: 2 and 3 go.
    let d = down(decide(&MAJ, &cluster(5), &set(&[2, 3]), &ic));
    assert!(d.contains(&node(2)) && d.contains(&node(3)));
}

#[test]
fn stability_tracker_waits_for_stable_after_and_gives_up_when_unstable() {
    let settings = SbrSettings {
        strategy: MAJ,
        stable_after: Duration::from_secs(10),
        down_all_when_unstable: Some(Duration::from_secs(5)),
    };
    let t0 = Instant::now();
    let at = |s| t0 + Duration::from_secs(s);
    let members = set(&[1, 2, 3]);
    let mut t = StabilityTracker::new(t0);
    t.observe(&BTreeSet::new(), &members, t0);
    assert_eq!(
        t.verdict(&settings, at(100)),
        Verdict::Wait,
        "all reachable"
    );
    t.observe(&set(&[3]), &members, at(1));
    assert_eq!(t.verdict(&settings, at(10)), Verdict::Wait);
    assert_eq!(t.verdict(&settings, at(11)), Verdict::Decide);
    t.decided(at(11));
    assert_eq!(t.verdict(&settings, at(12)), Verdict::Wait);
    // Flapping: the set changes every 8 s, never stable for 10 s.
    let mut t = StabilityTracker::new(t0);
    for (i, s) in [1u64, 9, 17].iter().enumerate() {
        let u = if i % 2 == 0 { set(&[3]) } else { set(&[2, 3]) };
        t.observe(&u, &members, at(*s));
        assert_eq!(
            t.verdict(&settings, at(*s + 7)),
            if *s + 7 >= 16 {
                Verdict::DownAll
            } else {
                Verdict::Wait
            }
        );
    }
    t.observe(&BTreeSet::new(), &members, at(30));
    assert_eq!(t.verdict(&settings, at(60)), Verdict::Wait);
}

#[test]
fn settings_default_to_keep_majority_and_validate() {
    let s = SbrSettings::default();
    assert!(matches!(s.strategy, Strategy::KeepMajority { role: None }));
    // Shorter than Akka's 20 s (docs/cluster/algorithm.md).
    assert_eq!(s.stable_after, Duration::from_secs(3));
    assert_eq!(s.down_all_when_unstable, Some(Duration::from_secs(4)));
    assert_eq!(
        SbrSettings::down_all_when_unstable_for(Duration::from_secs(20)),
        Duration::from_secs(15)
    );
    assert_eq!(
        SbrSettings::down_all_when_unstable_for(Duration::from_secs(2)),
        Duration::from_secs(4)
    );
    let bad = SbrSettings {
        strategy: Strategy::StaticQuorum {
            quorum_size: 0,
            role: None,
        },
        ..SbrSettings::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().field,
        "downing.strategy.quorum_size"
    );
}

#[test]
fn lease_majority_a_side_of_leavers_downs_itself_without_the_lease() {
    let s = Strategy::LeaseMajority {
        role: None,
        acquire_lease_delay_for_minority: Duration::from_secs(2),
    };
    let mut members = cluster(3);
    members.get_mut(&node(1)).unwrap().status = MemberStatus::Leaving;
    // Node 1, leaving, is cut off from 2 and 3: it must not take the lease.
    match decide(&s, &members, &set(&[2, 3]), &BTreeSet::new()) {
        Decision::Down(d) => assert_eq!(d, set(&[1])),
        other => panic!("expected Down of the leaver, got {other:?}"),
    }
    // A side with one member that stays still asks for the lease.
    members.get_mut(&node(2)).unwrap().status = MemberStatus::Up;
    assert!(matches!(
        decide(&s, &members, &set(&[3]), &BTreeSet::new()),
        Decision::AcquireLease { .. }
    ));
}
