//! The wire form of [`ClusterMessage`]: protobuf (prost derives, no
//! protoc), so other implementations and later versions can read it.
//!
//! A gossip names every node incarnation once, in a table, and refers to
//! them by index everywhere else (members, seen-set, reachability rows,
//! vector clock, tombstones), as Akka's cluster protobuf does: a gossip
//! of 25 members stays a few kilobytes. Decoding checks every index and
//! every enum value; a bad message is a typed [`CodecError`], counted and
//! dropped by remoting like any undecodable message.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::{CodecError, NodeAddress, Serializer, UniqueAddress};
use prost::Message;

use crate::gossip::{Gossip, GossipOverview};
use crate::member::{AppVersion, Member, MemberStatus};
use crate::protocol::ClusterMessage;
use crate::reachability::{ObserverRow, Reachability, ReachabilityStatus};
use crate::vclock::VectorClock;

/// The manifest cluster messages are registered under.
pub const MANIFEST: &str = "ferrocast.cluster.ClusterMessage";

/// Serializer id of the cluster protocol (ids below 100 are Ferrocast's).
pub const SERIALIZER_ID: u32 = 10;

/// The prost codec for [`ClusterMessage`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterCodec;

impl Serializer<ClusterMessage> for ClusterCodec {
    fn id(&self) -> u32 {
        SERIALIZER_ID
    }

    fn encode(&self, value: &ClusterMessage, out: &mut Vec<u8>) -> Result<(), CodecError> {
        to_wire(value).encode(out).map_err(CodecError::new)
    }

    fn decode(&self, manifest: &str, bytes: &[u8]) -> Result<ClusterMessage, CodecError> {
        if manifest != MANIFEST {
            return Err(CodecError::new(format!("unknown manifest {manifest}")));
        }
        let wire = WireMessage::decode(bytes).map_err(CodecError::new)?;
        from_wire(wire).map_err(CodecError::new)
    }
}

/// Why bytes that parsed as protobuf are still not a cluster message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A required field is missing.
    #[error("cluster message without {0}")]
    Missing(&'static str),
    /// An index points outside the node table.
    #[error("node index {0} outside the gossip's table of {1}")]
    BadIndex(u32, usize),
    /// An enum value this version does not know.
    #[error("unknown {0} value {1}")]
    BadEnum(&'static str, u32),
    /// A port above 65535.
    #[error("port {0} out of range")]
    BadPort(u32),
}

#[derive(Clone, PartialEq, Message)]
struct WireAddress {
    #[prost(string, tag = "1")]
    system: String,
    #[prost(string, tag = "2")]
    host: String,
    #[prost(uint32, tag = "3")]
    port: u32,
}

#[derive(Clone, PartialEq, Message)]
struct WireNode {
    #[prost(message, optional, tag = "1")]
    address: Option<WireAddress>,
    #[prost(uint64, tag = "2")]
    uid: u64,
}

#[derive(Clone, PartialEq, Message)]
struct WireMember {
    #[prost(uint32, tag = "1")]
    node: u32,
    #[prost(uint32, tag = "2")]
    status: u32,
    #[prost(string, repeated, tag = "3")]
    roles: Vec<String>,
    #[prost(string, tag = "4")]
    app_version: String,
    #[prost(uint32, tag = "5")]
    up_number: u32,
}

#[derive(Clone, PartialEq, Message)]
struct WireSubject {
    #[prost(uint32, tag = "1")]
    node: u32,
    #[prost(uint32, tag = "2")]
    status: u32,
}

#[derive(Clone, PartialEq, Message)]
struct WireRow {
    #[prost(uint32, tag = "1")]
    observer: u32,
    #[prost(uint64, tag = "2")]
    version: u64,
    #[prost(message, repeated, tag = "3")]
    subjects: Vec<WireSubject>,
}

#[derive(Clone, PartialEq, Message)]
struct WireVersion {
    #[prost(uint32, tag = "1")]
    node: u32,
    #[prost(uint64, tag = "2")]
    counter: u64,
}

#[derive(Clone, PartialEq, Message)]
struct WireGossip {
    #[prost(message, repeated, tag = "1")]
    nodes: Vec<WireNode>,
    #[prost(message, repeated, tag = "2")]
    members: Vec<WireMember>,
    #[prost(uint32, repeated, tag = "3")]
    seen: Vec<u32>,
    #[prost(message, repeated, tag = "4")]
    reachability: Vec<WireRow>,
    #[prost(message, repeated, tag = "5")]
    version: Vec<WireVersion>,
    #[prost(uint32, repeated, tag = "6")]
    tombstones: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
struct WireJoin {
    #[prost(message, optional, tag = "1")]
    node: Option<WireNode>,
    #[prost(string, repeated, tag = "2")]
    roles: Vec<String>,
    #[prost(string, tag = "3")]
    app_version: String,
}

#[derive(Clone, PartialEq, Message)]
struct WireWelcome {
    #[prost(message, optional, tag = "1")]
    from: Option<WireNode>,
    #[prost(message, optional, tag = "2")]
    gossip: Option<WireGossip>,
}

#[derive(Clone, PartialEq, Message)]
struct WireGossipEnvelope {
    #[prost(message, optional, tag = "1")]
    from: Option<WireNode>,
    #[prost(message, optional, tag = "2")]
    to: Option<WireNode>,
    #[prost(message, optional, tag = "3")]
    gossip: Option<WireGossip>,
}

#[derive(Clone, PartialEq, Message)]
struct WireGossipStatus {
    #[prost(message, optional, tag = "1")]
    from: Option<WireNode>,
    /// The version and the seen digest share one node table.
    #[prost(message, repeated, tag = "2")]
    nodes: Vec<WireNode>,
    #[prost(message, repeated, tag = "3")]
    version: Vec<WireVersion>,
    #[prost(uint32, repeated, tag = "4")]
    seen: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
struct WireHeartbeat {
    #[prost(message, optional, tag = "1")]
    from: Option<WireNode>,
    #[prost(uint64, tag = "2")]
    sequence: u64,
}

#[derive(Clone, PartialEq, Message)]
struct WireMessage {
    #[prost(oneof = "WireKind", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    kind: Option<WireKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum WireKind {
    #[prost(message, tag = "1")]
    InitJoin(WireNode),
    #[prost(message, tag = "2")]
    InitJoinAck(WireNode),
    #[prost(message, tag = "3")]
    InitJoinNack(WireAddress),
    #[prost(message, tag = "4")]
    Join(WireJoin),
    #[prost(message, tag = "5")]
    Welcome(WireWelcome),
    #[prost(message, tag = "6")]
    Gossip(WireGossipEnvelope),
    #[prost(message, tag = "7")]
    GossipStatus(WireGossipStatus),
    #[prost(message, tag = "8")]
    Heartbeat(WireHeartbeat),
    #[prost(message, tag = "9")]
    HeartbeatResponse(WireHeartbeat),
}

fn address(a: &NodeAddress) -> WireAddress {
    WireAddress {
        system: a.system.clone(),
        host: a.host.clone(),
        port: u32::from(a.port),
    }
}

fn node(n: &UniqueAddress) -> WireNode {
    WireNode {
        address: Some(address(&n.address)),
        uid: n.uid,
    }
}

fn status_code(s: MemberStatus) -> u32 {
    match s {
        MemberStatus::Joining => 0,
        MemberStatus::WeaklyUp => 1,
        MemberStatus::Up => 2,
        MemberStatus::Leaving => 3,
        MemberStatus::Exiting => 4,
        MemberStatus::Down => 5,
        MemberStatus::Removed => 6,
    }
}

fn reachability_code(s: ReachabilityStatus) -> u32 {
    match s {
        ReachabilityStatus::Reachable => 0,
        ReachabilityStatus::Unreachable => 1,
        ReachabilityStatus::Terminated => 2,
    }
}

/// Collects incarnations into a table, handing out indexes.
#[derive(Default)]
struct Table {
    nodes: Vec<WireNode>,
    index: BTreeMap<UniqueAddress, u32>,
}

impl Table {
    fn of(&mut self, n: &UniqueAddress) -> u32 {
        if let Some(i) = self.index.get(n) {
            return *i;
        }
        // A gossip with more than u32::MAX incarnations cannot exist.
        let i = self.nodes.len() as u32;
        self.nodes.push(node(n));
        self.index.insert(n.clone(), i);
        i
    }

    fn versions(&mut self, clock: &VectorClock) -> Vec<WireVersion> {
        clock
            .entries()
            .map(|(n, counter)| WireVersion {
                node: self.of(n),
                counter,
            })
            .collect()
    }
}

fn gossip(g: &Gossip) -> WireGossip {
    let mut t = Table::default();
    let members = g
        .members
        .values()
        .map(|m| WireMember {
            node: t.of(&m.unique_address),
            status: status_code(m.status),
            roles: m.roles.iter().cloned().collect(),
            app_version: m.app_version.0.clone(),
            up_number: m.up_number,
        })
        .collect();
    let seen = g.overview.seen.iter().map(|n| t.of(n)).collect();
    let reachability = g
        .overview
        .reachability
        .rows()
        .iter()
        .map(|(observer, row)| WireRow {
            observer: t.of(observer),
            version: row.version,
            subjects: row
                .subjects
                .iter()
                .map(|(s, st)| WireSubject {
                    node: t.of(s),
                    status: reachability_code(*st),
                })
                .collect(),
        })
        .collect();
    let version = t.versions(&g.version);
    let tombstones = g.tombstones.iter().map(|n| t.of(n)).collect();
    WireGossip {
        nodes: t.nodes,
        members,
        seen,
        reachability,
        version,
        tombstones,
    }
}

fn to_wire(msg: &ClusterMessage) -> WireMessage {
    let kind = match msg {
        ClusterMessage::InitJoin { from } => WireKind::InitJoin(node(from)),
        ClusterMessage::InitJoinAck { from } => WireKind::InitJoinAck(node(from)),
        ClusterMessage::InitJoinNack { from } => WireKind::InitJoinNack(address(from)),
        ClusterMessage::Join {
            node: n,
            roles,
            app_version,
        } => WireKind::Join(WireJoin {
            node: Some(node(n)),
            roles: roles.iter().cloned().collect(),
            app_version: app_version.0.clone(),
        }),
        ClusterMessage::Welcome { from, gossip: g } => WireKind::Welcome(WireWelcome {
            from: Some(node(from)),
            gossip: Some(gossip(g)),
        }),
        ClusterMessage::Gossip {
            from,
            to,
            gossip: g,
        } => WireKind::Gossip(WireGossipEnvelope {
            from: Some(node(from)),
            to: Some(node(to)),
            gossip: Some(gossip(g)),
        }),
        ClusterMessage::GossipStatus {
            from,
            version,
            seen,
        } => {
            let mut t = Table::default();
            let version = t.versions(version);
            let seen = seen.iter().map(|n| t.of(n)).collect();
            WireKind::GossipStatus(WireGossipStatus {
                from: Some(node(from)),
                nodes: t.nodes,
                version,
                seen,
            })
        }
        ClusterMessage::Heartbeat { from, sequence } => WireKind::Heartbeat(WireHeartbeat {
            from: Some(node(from)),
            sequence: *sequence,
        }),
        ClusterMessage::HeartbeatResponse { from, sequence } => {
            WireKind::HeartbeatResponse(WireHeartbeat {
                from: Some(node(from)),
                sequence: *sequence,
            })
        }
    };
    WireMessage { kind: Some(kind) }
}

fn from_address(a: Option<WireAddress>) -> Result<NodeAddress, WireError> {
    let a = a.ok_or(WireError::Missing("address"))?;
    let port = u16::try_from(a.port).map_err(|_| WireError::BadPort(a.port))?;
    Ok(NodeAddress::new(a.system, a.host, port))
}

fn from_node(n: Option<WireNode>) -> Result<UniqueAddress, WireError> {
    let n = n.ok_or(WireError::Missing("node"))?;
    Ok(UniqueAddress {
        address: from_address(n.address)?,
        uid: n.uid,
    })
}

fn from_status(code: u32) -> Result<MemberStatus, WireError> {
    MemberStatus::ALL
        .get(code as usize)
        .copied()
        .ok_or(WireError::BadEnum("member status", code))
}

fn from_reachability(code: u32) -> Result<ReachabilityStatus, WireError> {
    match code {
        0 => Ok(ReachabilityStatus::Reachable),
        1 => Ok(ReachabilityStatus::Unreachable),
        2 => Ok(ReachabilityStatus::Terminated),
        other => Err(WireError::BadEnum("reachability status", other)),
    }
}

/// A decoded node table.
struct Nodes(Vec<UniqueAddress>);

impl Nodes {
    fn decode(nodes: Vec<WireNode>) -> Result<Self, WireError> {
        nodes
            .into_iter()
            .map(|n| from_node(Some(n)))
            .collect::<Result<_, _>>()
            .map(Nodes)
    }

    fn get(&self, i: u32) -> Result<UniqueAddress, WireError> {
        self.0
            .get(i as usize)
            .cloned()
            .ok_or(WireError::BadIndex(i, self.0.len()))
    }

    fn set(&self, indexes: Vec<u32>) -> Result<BTreeSet<UniqueAddress>, WireError> {
        indexes.into_iter().map(|i| self.get(i)).collect()
    }

    fn clock(&self, versions: Vec<WireVersion>) -> Result<VectorClock, WireError> {
        let entries = versions
            .into_iter()
            .map(|v| Ok((self.get(v.node)?, v.counter)))
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(VectorClock::from_entries(entries))
    }
}

fn from_gossip(g: Option<WireGossip>) -> Result<Gossip, WireError> {
    let g = g.ok_or(WireError::Missing("gossip"))?;
    let nodes = Nodes::decode(g.nodes)?;
    let mut members = BTreeMap::new();
    for m in g.members {
        let unique_address = nodes.get(m.node)?;
        members.insert(
            unique_address.clone(),
            Member {
                unique_address,
                status: from_status(m.status)?,
                roles: m.roles.into_iter().collect(),
                app_version: AppVersion(m.app_version),
                up_number: m.up_number,
            },
        );
    }
    let mut rows = BTreeMap::new();
    for r in g.reachability {
        let mut subjects = BTreeMap::new();
        for s in r.subjects {
            subjects.insert(nodes.get(s.node)?, from_reachability(s.status)?);
        }
        rows.insert(
            nodes.get(r.observer)?,
            ObserverRow {
                version: r.version,
                subjects,
            },
        );
    }
    Ok(Gossip {
        members,
        overview: GossipOverview {
            seen: nodes.set(g.seen)?,
            reachability: Reachability::from_rows(rows),
        },
        version: nodes.clock(g.version)?,
        tombstones: nodes.set(g.tombstones)?,
    })
}

fn from_wire(msg: WireMessage) -> Result<ClusterMessage, WireError> {
    Ok(match msg.kind.ok_or(WireError::Missing("kind"))? {
        WireKind::InitJoin(n) => ClusterMessage::InitJoin {
            from: from_node(Some(n))?,
        },
        WireKind::InitJoinAck(n) => ClusterMessage::InitJoinAck {
            from: from_node(Some(n))?,
        },
        WireKind::InitJoinNack(a) => ClusterMessage::InitJoinNack {
            from: from_address(Some(a))?,
        },
        WireKind::Join(j) => ClusterMessage::Join {
            node: from_node(j.node)?,
            roles: j.roles.into_iter().collect(),
            app_version: AppVersion(j.app_version),
        },
        WireKind::Welcome(w) => ClusterMessage::Welcome {
            from: from_node(w.from)?,
            gossip: from_gossip(w.gossip)?,
        },
        WireKind::Gossip(g) => ClusterMessage::Gossip {
            from: from_node(g.from)?,
            to: from_node(g.to)?,
            gossip: from_gossip(g.gossip)?,
        },
        WireKind::GossipStatus(s) => {
            let nodes = Nodes::decode(s.nodes)?;
            ClusterMessage::GossipStatus {
                from: from_node(s.from)?,
                version: nodes.clock(s.version)?,
                seen: nodes.set(s.seen)?,
            }
        }
        WireKind::Heartbeat(h) => ClusterMessage::Heartbeat {
            from: from_node(h.from)?,
            sequence: h.sequence,
        },
        WireKind::HeartbeatResponse(h) => ClusterMessage::HeartbeatResponse {
            from: from_node(h.from)?,
            sequence: h.sequence,
        },
    })
}

/// The manifest singleton managers' messages are registered under.
pub const SINGLETON_MANIFEST: &str = "ferrocast.cluster.SingletonMessage";

/// A singleton manager's message on the wire, with the singleton's name
/// (one service per node serves every singleton).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingletonEnvelope {
    /// The singleton.
    pub name: String,
    /// The message.
    pub msg: crate::singleton::SingletonMessage,
}

/// The prost codec for [`SingletonEnvelope`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SingletonCodec;

#[derive(Clone, PartialEq, Message)]
struct WireSingleton {
    #[prost(string, tag = "1")]
    name: String,
    /// 0 HandOverToMe, 1 HandOverInProgress, 2 HandOverDone, 3 TakeOverFromMe.
    #[prost(uint32, tag = "2")]
    kind: u32,
    #[prost(message, optional, tag = "3")]
    from: Option<WireNode>,
    #[prost(message, optional, tag = "4")]
    to: Option<WireNode>,
}

impl Serializer<SingletonEnvelope> for SingletonCodec {
    fn id(&self) -> u32 {
        SERIALIZER_ID
    }

    fn encode(&self, value: &SingletonEnvelope, out: &mut Vec<u8>) -> Result<(), CodecError> {
        use crate::singleton::SingletonMessage as S;
        let kind = match &value.msg {
            S::HandOverToMe { .. } => 0,
            S::HandOverInProgress { .. } => 1,
            S::HandOverDone { .. } => 2,
            S::TakeOverFromMe { .. } => 3,
        };
        WireSingleton {
            name: value.name.clone(),
            kind,
            from: Some(node(value.msg.from())),
            to: Some(node(value.msg.to())),
        }
        .encode(out)
        .map_err(CodecError::new)
    }

    fn decode(&self, manifest: &str, bytes: &[u8]) -> Result<SingletonEnvelope, CodecError> {
        use crate::singleton::SingletonMessage as S;
        if manifest != SINGLETON_MANIFEST {
            return Err(CodecError::new(format!("unknown manifest {manifest}")));
        }
        let w = WireSingleton::decode(bytes).map_err(CodecError::new)?;
        let from = from_node(w.from).map_err(CodecError::new)?;
        let to = from_node(w.to).map_err(CodecError::new)?;
        let msg = match w.kind {
            0 => S::HandOverToMe { from, to },
            1 => S::HandOverInProgress { from, to },
            2 => S::HandOverDone { from, to },
            3 => S::TakeOverFromMe { from, to },
            other => {
                return Err(CodecError::new(WireError::BadEnum(
                    "singleton message",
                    other,
                )));
            }
        };
        Ok(SingletonEnvelope { name: w.name, msg })
    }
}

#[cfg(test)]
#[path = "codec_test.rs"]
mod tests;
