use super::*;

fn n(port: u16, uid: u64) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("app", "10.0.0.1", port),
        uid,
    }
}

fn sample_gossip() -> Gossip {
    let roles: BTreeSet<String> = ["backend".to_owned()].into();
    let mut a = Member::joining(n(1, 11), roles, AppVersion::new("1.2.0"));
    a.status = MemberStatus::Up;
    a.up_number = 1;
    let b = Member::joining(n(2, 22), BTreeSet::new(), AppVersion::new("1.3"));
    let mut c = Member::joining(n(3, 33), BTreeSet::new(), AppVersion::default());
    c.status = MemberStatus::Down;
    let mut g = Gossip::with_members([a, b, c]);
    g.version.increment(&n(1, 11));
    g.version.increment(&n(1, 11));
    g.version.increment(&n(2, 22));
    g.mark_seen(&n(1, 11));
    g.overview.reachability.unreachable(&n(1, 11), &n(3, 33));
    g.overview.reachability.terminated(&n(2, 22), &n(3, 33));
    g.tombstones.insert(n(4, 44));
    g
}

fn round_trip(msg: ClusterMessage) {
    let mut bytes = Vec::new();
    ClusterCodec.encode(&msg, &mut bytes).unwrap();
    let back = ClusterCodec.decode(MANIFEST, &bytes).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn every_message_survives_the_wire() {
    let g = sample_gossip();
    round_trip(ClusterMessage::InitJoin { from: n(1, 11) });
    round_trip(ClusterMessage::InitJoinAck { from: n(2, 22) });
    round_trip(ClusterMessage::InitJoinNack {
        from: n(3, 0).address,
    });
    round_trip(ClusterMessage::Join {
        node: n(5, 55),
        roles: ["a".to_owned(), "b".to_owned()].into(),
        app_version: AppVersion::new("2.0.1"),
    });
    round_trip(ClusterMessage::Welcome {
        from: n(1, 11),
        gossip: g.clone(),
    });
    round_trip(ClusterMessage::Gossip {
        from: n(1, 11),
        to: n(2, 22),
        gossip: g.clone(),
    });
    round_trip(ClusterMessage::GossipStatus {
        from: n(2, 22),
        version: g.version.clone(),
        seen: g.overview.seen.clone(),
    });
    round_trip(ClusterMessage::Heartbeat {
        from: n(1, 11),
        sequence: 7,
    });
    round_trip(ClusterMessage::HeartbeatResponse {
        from: n(2, 22),
        sequence: u64::MAX,
    });
}

#[test]
fn a_gossip_names_each_incarnation_once() {
    let mut bytes = Vec::new();
    let msg = ClusterMessage::Gossip {
        from: n(1, 11),
        to: n(2, 22),
        gossip: sample_gossip(),
    };
    ClusterCodec.encode(&msg, &mut bytes).unwrap();
    let wire = WireMessage::decode(&bytes[..]).unwrap();
    let Some(WireKind::Gossip(env)) = wire.kind else {
        panic!("not a gossip")
    };
    // Three members and one tombstone: four incarnations in the table.
    assert_eq!(env.gossip.unwrap().nodes.len(), 4);
}

#[test]
fn bad_bytes_are_typed_errors() {
    assert!(ClusterCodec.decode(MANIFEST, &[0xff, 0xff, 0xff]).is_err());
    assert!(ClusterCodec.decode("other.Manifest", &[]).is_err());
    // Parses as protobuf but carries no message.
    let err = ClusterCodec.decode(MANIFEST, &[]).unwrap_err();
    assert!(err.to_string().contains("without kind"), "{err}");

    // An index past the node table.
    let mut g = gossip(&sample_gossip());
    g.seen.push(99);
    let bad = WireMessage {
        kind: Some(WireKind::Welcome(WireWelcome {
            from: Some(node(&n(1, 11))),
            gossip: Some(g),
        })),
    };
    let err = ClusterCodec
        .decode(MANIFEST, &bad.encode_to_vec())
        .unwrap_err();
    assert!(err.to_string().contains("node index 99"), "{err}");

    // A status this version does not know.
    let mut g = gossip(&sample_gossip());
    g.members[0].status = 42;
    let bad = WireMessage {
        kind: Some(WireKind::Welcome(WireWelcome {
            from: Some(node(&n(1, 11))),
            gossip: Some(g),
        })),
    };
    let err = ClusterCodec
        .decode(MANIFEST, &bad.encode_to_vec())
        .unwrap_err();
    assert!(err.to_string().contains("member status"), "{err}");

    // A port out of range.
    let bad = WireMessage {
        kind: Some(WireKind::InitJoinNack(WireAddress {
            system: "app".into(),
            host: "h".into(),
            port: 70_000,
        })),
    };
    assert!(ClusterCodec.decode(MANIFEST, &bad.encode_to_vec()).is_err());
}

#[test]
fn singleton_messages_survive_the_wire() {
    use crate::singleton::SingletonMessage as S;
    for msg in [
        S::HandOverToMe {
            from: n(1, 11),
            to: n(2, 22),
        },
        S::HandOverInProgress {
            from: n(2, 22),
            to: n(1, 11),
        },
        S::HandOverDone {
            from: n(2, 22),
            to: n(1, 11),
        },
        S::TakeOverFromMe {
            from: n(1, 11),
            to: n(3, 33),
        },
    ] {
        let env = SingletonEnvelope {
            name: "counter".into(),
            msg,
        };
        let mut bytes = Vec::new();
        SingletonCodec.encode(&env, &mut bytes).unwrap();
        assert_eq!(
            SingletonCodec.decode(SINGLETON_MANIFEST, &bytes).unwrap(),
            env
        );
    }
    let bad = WireSingleton {
        name: "x".into(),
        kind: 9,
        from: Some(node(&n(1, 11))),
        to: Some(node(&n(2, 22))),
    };
    assert!(
        SingletonCodec
            .decode(SINGLETON_MANIFEST, &bad.encode_to_vec())
            .is_err()
    );
}
