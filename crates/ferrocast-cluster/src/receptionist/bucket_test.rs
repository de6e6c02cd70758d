use super::*;
use ferrocast_remote::NodeAddress;

fn node(port: u16) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("app", "h", port),
        uid: u64::from(port) * 10,
    }
}

fn key(id: &str) -> RegistryKey {
    RegistryKey {
        kind: KeyKind::Service,
        id: id.into(),
        manifest: "m".into(),
    }
}

fn bucket(version: u64, entries: &[(&str, &str)]) -> Bucket {
    let mut b = Bucket {
        version,
        ..Bucket::default()
    };
    for (k, p) in entries {
        b.entries.entry(key(k)).or_default().insert((*p).to_owned());
    }
    b
}

/// Every (owner, bucket) pair some gossip may deliver, with conflicting
/// versions of the same owner.
fn deliveries() -> Vec<(UniqueAddress, Bucket)> {
    vec![
        (node(2), bucket(1, &[("a", "p1")])),
        (node(2), bucket(3, &[("a", "p2"), ("b", "p3")])),
        (node(3), bucket(2, &[("b", "p4")])),
        (node(2), bucket(2, &[])),
        (node(3), bucket(1, &[("a", "p5")])),
    ]
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

fn state(b: &Buckets) -> Vec<(UniqueAddress, Bucket)> {
    b.iter().map(|(o, b)| (o.clone(), b.clone())).collect()
}

#[test]
fn merge_is_order_insensitive_and_idempotent() {
    let ds = deliveries();
    let mut reference = None;
    for order in permutations(ds.len()) {
        let mut b = Buckets::new(node(1));
        for &i in &order {
            b.merge(&ds[i].0, ds[i].1.clone());
        }
        // Merging everything again changes nothing.
        for (o, x) in &ds {
            assert!(b.merge(o, x.clone()).is_empty());
        }
        let s = state(&b);
        match &reference {
            None => reference = Some(s),
            Some(r) => assert_eq!(r, &s, "order {order:?}"),
        }
    }
    let r = reference.unwrap_or_default();
    assert_eq!(r.len(), 3);
    assert_eq!(r[1].1.version, 3);
    assert_eq!(r[2].1.version, 2);
}

#[test]
fn merge_reports_the_keys_that_changed() {
    let mut b = Buckets::new(node(1));
    let changed = b.merge(&node(2), bucket(1, &[("a", "p1"), ("b", "p2")]));
    assert_eq!(changed, [key("a"), key("b")].into());
    // Same `b`, new `a`, gone `c`: only `a` changed.
    let changed = b.merge(&node(2), bucket(2, &[("a", "p9"), ("b", "p2")]));
    assert_eq!(changed, [key("a")].into());
    // Older or equal versions are ignored.
    assert!(b.merge(&node(2), bucket(2, &[])).is_empty());
    assert!(b.merge(&node(2), bucket(1, &[])).is_empty());
    // Nobody else writes the own bucket.
    assert!(b.merge(&node(1), bucket(9, &[("x", "p")])).is_empty());
    assert!(b.own().is_empty());
    assert_eq!(b.remove_node(&node(2)), [key("a"), key("b")].into());
    assert!(b.get(&node(2)).is_none());
    assert!(b.remove_node(&node(1)).is_empty());
}

#[test]
fn local_changes_bump_the_version_once_each() {
    let mut b = Buckets::new(node(1));
    assert!(b.add_local(key("a"), "x#1:10".into()));
    assert!(!b.add_local(key("a"), "x#1:10".into()));
    assert!(b.add_local(key("b"), "x#1:10".into()));
    assert!(b.add_local(key("b"), "y#2:10".into()));
    assert_eq!(b.own().version, 3);
    assert!(!b.remove_local(&key("c"), "x#1:10"));
    assert!(b.remove_local(&key("b"), "y#2:10"));
    assert_eq!(b.own().version, 4);
    // A stopped actor leaves every key in one version.
    let changed = b.remove_local_where(|p| p.ends_with("#1:10"));
    assert_eq!(changed, [key("a"), key("b")].into());
    assert_eq!(b.own().version, 5);
    assert!(b.own().is_empty());
    assert!(b.remove_local_where(|_| true).is_empty());
    assert_eq!(b.own().version, 5);
}

#[test]
fn deltas_carry_what_the_peer_lacks_within_a_bound() {
    let mut b = Buckets::new(node(1));
    b.add_local(key("a"), "p0".into());
    b.merge(&node(2), bucket(4, &[("a", "p1"), ("a", "p2")]));
    b.merge(&node(3), bucket(1, &[("a", "p3")]));
    let peer: BTreeMap<_, _> = [(node(2), 4), (node(3), 0)].into();
    let delta = b.newer_than(&peer, |_| true, 100);
    let owners: Vec<_> = delta.iter().map(|(o, _)| o.port()).collect();
    assert_eq!(owners, [1, 3]);
    // Not shared: filtered out.
    let delta = b.newer_than(&peer, |o| *o != node(3), 100);
    assert_eq!(delta.len(), 1);
    // The bound keeps at least one bucket.
    let delta = b.newer_than(&BTreeMap::new(), |_| true, 1);
    assert_eq!(delta.len(), 1);
    let delta = b.newer_than(&BTreeMap::new(), |_| true, 3);
    assert_eq!(delta.len(), 2);
    // Behind when the peer knows a newer bucket of an accepted owner.
    let ahead: BTreeMap<_, _> = [(node(3), 5), (node(1), 99)].into();
    assert!(b.behind(&ahead, |_| true));
    assert!(!b.behind(&ahead, |o| *o != node(3)));
    assert!(!b.behind(&peer, |_| true));
}

trait Port {
    fn port(&self) -> u16;
}

impl Port for UniqueAddress {
    fn port(&self) -> u16 {
        self.address.port
    }
}
