use super::*;
use crate::member::AppVersion;
use MemberStatus::*;
use ferrocast_remote::NodeAddress;

fn node(port: u16) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("s", "h", port),
        uid: port as u64 * 100,
    }
}

fn member(port: u16, status: MemberStatus) -> Member {
    let mut m = Member::joining(node(port), BTreeSet::new(), AppVersion::default());
    m.status = status;
    if status != Joining {
        m.up_number = port as u32;
    }
    m
}

#[test]
fn merge_picks_higher_status_and_clears_seen() {
    let mut a = Gossip::with_members([member(1, Up), member(2, Up)]);
    a.changed_by(&node(1));
    let mut b = a.clone();
    a.set_status(&node(2), Leaving);
    a.changed_by(&node(1));
    b.set_status(&node(2), Down);
    b.changed_by(&node(2));
    assert_eq!(a.compare(&b), ClockOrdering::Concurrent);
    let m = a.merge(&b);
    assert_eq!(m.member(&node(2)).unwrap().status, Down);
    assert!(m.overview.seen.is_empty());
    assert_eq!(m.compare(&a), ClockOrdering::After);
    assert_eq!(m, b.merge(&a), "merge commutes");
}

#[test]
fn merge_respects_tombstones_and_one_sided_exits() {
    let base = Gossip::with_members([member(1, Up), member(2, Exiting), member(3, Down)]);
    let mut removed = base.clone();
    removed.remove(&node(2));
    removed.remove(&node(3));
    let m = base.merge(&removed);
    assert!(m.member(&node(2)).is_none() && m.member(&node(3)).is_none());
    // Without tombstones, a Down member known to one side only is dropped,
    // but a joiner known to one side only is kept.
    let other = Gossip::with_members([member(1, Up), member(4, Joining)]);
    let m = base.merge(&other);
    assert!(m.member(&node(2)).is_none() && m.member(&node(3)).is_none());
    assert_eq!(m.member(&node(4)).unwrap().status, Joining);
}

#[test]
fn convergence_needs_all_up_members_to_have_seen() {
    let mut g = Gossip::with_members([member(1, Up), member(2, Up), member(3, Joining)]);
    g.changed_by(&node(1));
    assert!(!g.convergence(&node(1)));
    g.mark_seen(&node(2));
    assert!(
        g.convergence(&node(1)),
        "joining members need not have seen"
    );
}

#[test]
fn unreachable_members_block_convergence_unless_down_or_exiting() {
    let mut g = Gossip::with_members([member(1, Up), member(2, Up), member(3, Up)]);
    g.overview.reachability.unreachable(&node(1), &node(3));
    g.changed_by(&node(1));
    g.mark_seen(&node(2));
    g.mark_seen(&node(3));
    assert!(!g.convergence(&node(1)));
    g.set_status(&node(3), Down);
    assert!(g.convergence(&node(1)));
    // A downed observer's opinion does not count.
    let mut g = Gossip::with_members([member(1, Up), member(2, Down), member(3, Up)]);
    g.overview.reachability.unreachable(&node(2), &node(3));
    g.mark_seen(&node(1));
    g.mark_seen(&node(3));
    assert!(g.convergence(&node(1)));
}

#[test]
fn leader_is_first_reachable_up_member() {
    let mut g = Gossip::with_members([member(1, Joining), member(2, Up), member(3, Up)]);
    assert_eq!(g.leader(&node(3)), Some(node(2)));
    g.overview.reachability.unreachable(&node(3), &node(2));
    assert_eq!(g.leader(&node(3)), Some(node(3)));
    assert_eq!(
        g.leader(&node(2)),
        Some(node(2)),
        "self always counts as reachable"
    );
    let lone = Gossip::with_members([member(5, Joining)]);
    assert_eq!(lone.leader(&node(5)), Some(node(5)), "a lone joiner leads");
    let down = Gossip::with_members([member(1, Down), member(2, Joining)]);
    assert_eq!(down.leader(&node(2)), Some(node(2)));
}

#[test]
fn role_leader_considers_only_members_with_the_role() {
    let mut a = member(1, Up);
    a.roles.insert("backend".into());
    let mut c = member(3, Up);
    c.roles.insert("backend".into());
    c.roles.insert("frontend".into());
    let g = Gossip::with_members([a, member(2, Up), c]);
    assert_eq!(g.role_leader("backend", &node(2)), Some(node(1)));
    assert_eq!(g.role_leader("frontend", &node(2)), Some(node(3)));
    assert_eq!(g.role_leader("nope", &node(2)), None);
    assert_eq!(g.all_roles().len(), 2);
}
