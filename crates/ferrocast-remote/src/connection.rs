//! TCP connections: the listener and inbound readers, the outbound lane
//! writers, and the handshake between them.
//!
//! The accepting side speaks first ([`Hello`]: its address, uid and a
//! random challenge); the connecting side answers with a [`Handshake`]
//! naming itself, the lane, and (with a shared secret) an HMAC-SHA256 of
//! the challenge; the accepting side checks system name, uid, secret and
//! quarantine and answers [`HandshakeRsp`]. After that, frames flow one way.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prost::Message;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

use crate::address::NodeAddress;
use crate::association::{Association, CONTROL, LANE_NAMES, LARGE};
use crate::frame::{self, FrameReader};
use crate::protocol::{self, Address, Handshake, HandshakeRsp, Hello, PROTOCOL_VERSION, kind};
use crate::shared::Shared;

/// A connection, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub(crate) type Conn = Box<dyn Io>;

/// Largest handshake frame.
const HANDSHAKE_MAX: usize = 64 * 1024;

fn wire_address(a: &NodeAddress) -> Address {
    Address {
        system: a.system.clone(),
        host: a.host.clone(),
        port: u32::from(a.port),
    }
}

fn mac(secret: &str, nonce: &[u8], from_uid: u64, lane: u32) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(nonce);
    ctx.update(&from_uid.to_be_bytes());
    ctx.update(&lane.to_be_bytes());
    ctx.sign().as_ref().to_vec()
}

fn frame_of(kind_: u8, msg: &impl Message) -> Vec<u8> {
    let mut out = Vec::new();
    frame::put_message(&mut out, kind_, msg);
    out
}

/// Accepts connections until remoting closes.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut closed = shared.closed.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.handle.spawn(inbound(shared.clone(), stream));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = closed.changed() => return,
        }
    }
}

/// Checks a handshake; `Err` is the reason sent back.
fn check_handshake(shared: &Shared, hs: &Handshake, nonce: &[u8]) -> Result<NodeAddress, String> {
    if hs.version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {} is not {PROTOCOL_VERSION}",
            hs.version
        ));
    }
    if hs.to_system != shared.local.address.system {
        return Err(format!(
            "this is system {}, not {}",
            shared.local.address.system, hs.to_system
        ));
    }
    if hs.to_uid != shared.local.uid {
        return Err("the handshake is for another incarnation of this node".into());
    }
    if let Some(secret) = &shared.config.secret {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut msg = nonce.to_vec();
        msg.extend_from_slice(&hs.from_uid.to_be_bytes());
        msg.extend_from_slice(&hs.lane.to_be_bytes());
        if hmac::verify(&key, &msg, &hs.mac).is_err() {
            return Err("wrong or missing shared secret".into());
        }
    }
    if hs.lane > LARGE as u32 {
        return Err(format!("unknown lane {}", hs.lane));
    }
    let from = hs.from.as_ref().ok_or("the handshake names no sender")?;
    let port = u16::try_from(from.port).map_err(|_| "the sender's port is out of range")?;
    let address = NodeAddress::new(from.system.clone(), from.host.clone(), port);
    // The sender's address must be one we could connect back to.
    address
        .to_string()
        .parse::<NodeAddress>()
        .map_err(|e| e.to_string())?;
    if hs.from_uid == 0 {
        return Err("the sender's uid is 0".into());
    }
    Ok(address)
}

async fn inbound(shared: Arc<Shared>, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let mut stream: Conn = match &shared.tls {
        None => Box::new(tcp),
        Some(tls) => match timeout(shared.config.handshake_timeout, tls.accept(tcp)).await {
            Ok(Ok(s)) => Box::new(s),
            failed => {
                shared
                    .counters
                    .handshakes_rejected
                    .fetch_add(1, Ordering::Relaxed);
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(%reason, "inbound TLS handshake failed");
                return;
            }
        },
    };
    let mut nonce = [0u8; 16];
    if SystemRandom::new().fill(&mut nonce).is_err() {
        tracing::error!("no system randomness for the handshake challenge");
        return;
    }
    let hello = Hello {
        version: PROTOCOL_VERSION,
        address: Some(wire_address(&shared.local.address)),
        uid: shared.local.uid,
        nonce: nonce.to_vec(),
    };
    let mut reader = FrameReader::new(HANDSHAKE_MAX);
    let handshake = timeout(shared.config.handshake_timeout, async {
        stream.write_all(&frame_of(kind::HELLO, &hello)).await?;
        reader.read_frame(&mut stream).await
    })
    .await;
    let (k, body) = match handshake {
        Ok(Ok(frame)) => frame,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "inbound connection closed before its handshake");
            return;
        }
        Err(_) => {
            shared
                .counters
                .handshakes_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!("inbound handshake timed out");
            return;
        }
    };
    let verdict = if k != kind::HANDSHAKE {
        Err(format!("expected a handshake frame, got kind {k}"))
    } else {
        match protocol::decode::<Handshake>(&body) {
            Ok(hs) => check_handshake(&shared, &hs, &nonce).and_then(|from| {
                let assoc = shared.association(&from);
                shared.on_peer_uid(&assoc, hs.from_uid)?;
                Ok((assoc, hs.from_uid, hs.lane as usize))
            }),
            Err(e) => Err(e.to_string()),
        }
    };
    let (assoc, peer_uid, lane) = match verdict {
        Ok(v) => v,
        Err(reason) => {
            shared
                .counters
                .handshakes_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = %reason, "inbound handshake refused");
            let rsp = HandshakeRsp {
                accepted: false,
                reason,
            };
            let _ = timeout(
                shared.config.handshake_timeout,
                stream.write_all(&frame_of(kind::HANDSHAKE_RSP, &rsp)),
            )
            .await;
            return;
        }
    };
    let ok = HandshakeRsp {
        accepted: true,
        reason: String::new(),
    };
    if stream
        .write_all(&frame_of(kind::HANDSHAKE_RSP, &ok))
        .await
        .is_err()
    {
        return;
    }
    reader.set_max(if lane == LARGE {
        shared.config.max_large_frame_size
    } else {
        shared.config.max_frame_size
    });
    read_frames(&shared, &assoc, peer_uid, lane, reader, stream).await;
}

async fn read_frames(
    shared: &Arc<Shared>,
    assoc: &Arc<Association>,
    peer_uid: u64,
    lane: usize,
    mut reader: FrameReader,
    mut stream: Conn,
) {
    let mut closed = shared.closed.subscribe();
    loop {
        loop {
            match reader.next_frame() {
                Ok(Some((k, body))) => {
                    if let Err(e) = shared.on_frame(assoc, peer_uid, k, body) {
                        shared
                            .counters
                            .malformed_frames
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(peer = %assoc.remote, lane = LANE_NAMES[lane], error = %e,
                            "malformed frame: closing the connection");
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared
                        .counters
                        .malformed_frames
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(peer = %assoc.remote, lane = LANE_NAMES[lane], error = %e,
                        "bad frame: closing the connection");
                    return;
                }
            }
        }
        if shared.is_quarantined(peer_uid) {
            return;
        }
        tokio::select! {
            more = reader.fill(&mut stream) => match more {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::debug!(peer = %assoc.remote, error = %e, "inbound connection lost");
                    return;
                }
            },
            _ = closed.changed() => return,
        }
    }
}

/// Connects one lane and runs the handshake; returns the stream.
async fn connect(shared: &Shared, assoc: &Arc<Association>, lane: usize) -> Result<Conn, String> {
    let tcp = TcpStream::connect(assoc.remote.host_port())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Conn = match &shared.tls {
        None => Box::new(tcp),
        Some(tls) => Box::new(
            tls.connect(&assoc.remote.host, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?,
        ),
    };
    let mut reader = FrameReader::new(HANDSHAKE_MAX);
    let (k, body) = reader
        .read_frame(&mut stream)
        .await
        .map_err(|e| format!("no hello: {e}"))?;
    if k != kind::HELLO {
        return Err(format!("expected hello, got frame kind {k}"));
    }
    let hello: Hello = protocol::decode(&body).map_err(|e| e.to_string())?;
    if hello.version != PROTOCOL_VERSION {
        return Err(format!("peer speaks protocol version {}", hello.version));
    }
    let peer_system = hello.address.as_ref().map(|a| a.system.as_str());
    if peer_system != Some(assoc.remote.system.as_str()) {
        return Err(format!(
            "the node at {} is system {:?}, not {}",
            assoc.remote.host_port(),
            peer_system,
            assoc.remote.system
        ));
    }
    if shared.is_quarantined(hello.uid) {
        return Err(format!("incarnation {} is quarantined", hello.uid));
    }
    let lane32 = lane as u32;
    let hs = Handshake {
        from: Some(wire_address(&shared.local.address)),
        from_uid: shared.local.uid,
        to_system: assoc.remote.system.clone(),
        to_uid: hello.uid,
        lane: lane32,
        mac: shared
            .config
            .secret
            .as_deref()
            .map(|s| mac(s, &hello.nonce, shared.local.uid, lane32))
            .unwrap_or_default(),
        version: PROTOCOL_VERSION,
    };
    stream
        .write_all(&frame_of(kind::HANDSHAKE, &hs))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (k, body) = reader
        .read_frame(&mut stream)
        .await
        .map_err(|e| format!("no handshake answer: {e}"))?;
    let rsp: HandshakeRsp = if k == kind::HANDSHAKE_RSP {
        protocol::decode(&body).map_err(|e| e.to_string())?
    } else {
        return Err(format!("expected a handshake answer, got frame kind {k}"));
    };
    if !rsp.accepted {
        return Err(format!("refused: {}", rsp.reason));
    }
    shared.on_peer_uid(assoc, hello.uid)?;
    Ok(stream)
}

/// Drains one lane into its connection, reconnecting with backoff.
pub(crate) async fn lane_writer(shared: Arc<Shared>, assoc: Arc<Association>, lane: usize) {
    let cfg_min = shared.config.reconnect_backoff_min;
    let cfg_max = shared.config.reconnect_backoff_max;
    let mut backoff = cfg_min;
    let mut closed = shared.closed.subscribe();
    let mut batch: Vec<u8> = Vec::new();
    let mut failures: u32 = 0;
    loop {
        if shared.is_closed() {
            return;
        }
        let connected = timeout(
            shared.config.handshake_timeout,
            connect(&shared, &assoc, lane),
        )
        .await;
        let stream = match connected {
            Ok(Ok(s)) => s,
            failed => {
                let reason = match failed {
                    Ok(Err(reason)) => reason,
                    _ => "timed out".to_owned(),
                };
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(peer = %assoc.remote, lane = LANE_NAMES[lane], %reason, failures,
                        "cannot connect; retrying with backoff");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = closed.changed() => return,
                }
                backoff = (backoff * 2).min(cfg_max);
                continue;
            }
        };
        failures = 0;
        backoff = cfg_min;
        shared.counters.connects.fetch_add(1, Ordering::Relaxed);
        let generation = assoc.generation.load(Ordering::Acquire);
        if lane == CONTROL {
            assoc.resend_unacked(Instant::now());
        }
        // Nothing is read after the handshake: a read that completes means
        // the peer closed (or reset) the connection, noticed at once
        // rather than at the next failing write.
        let (mut rd, mut stream) = tokio::io::split(stream);
        let mut probe = [0u8; 1];
        loop {
            if assoc.generation.load(Ordering::Acquire) != generation || shared.is_closed() {
                break;
            }
            assoc.lanes[lane].take(&mut batch);
            if batch.is_empty() {
                tokio::select! {
                    _ = assoc.lanes[lane].notify.notified() => {}
                    _ = rd.read(&mut probe) => {
                        tracing::debug!(peer = %assoc.remote, lane = LANE_NAMES[lane],
                            "peer closed the connection; reconnecting");
                        break;
                    }
                    _ = closed.changed() => return,
                }
                continue;
            }
            if let Err(e) = stream.write_all(&batch).await {
                // At most once: a batch that may be partly written is not
                // sent again (system messages are, from their own buffer).
                tracing::debug!(peer = %assoc.remote, lane = LANE_NAMES[lane], error = %e,
                    "connection lost; reconnecting");
                break;
            }
        }
    }
}
