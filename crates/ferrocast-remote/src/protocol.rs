//! The wire protocol: frame kinds and the protobuf messages inside them.
//!
//! Everything but the user envelope is a `prost` derive, so fields can be
//! added in later versions (unknown fields are skipped by older nodes). The
//! user [`Envelope`] is protobuf too, but encoded and decoded by hand on the
//! hot path: the payload is written straight into the lane buffer and read
//! as a borrowed slice, with no intermediate allocation. A test checks the
//! hand-written codec against the derived one.

use prost::Message;

/// Protocol version sent in [`Hello`]; a peer with another major version is
/// refused with a reason.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// Frame kinds (the byte after the length).
pub(crate) mod kind {
    pub(crate) const ENVELOPE: u8 = 1;
    pub(crate) const SYSTEM: u8 = 2;
    pub(crate) const SYSTEM_ACK: u8 = 3;
    pub(crate) const HEARTBEAT: u8 = 4;
    pub(crate) const HEARTBEAT_RSP: u8 = 5;
    pub(crate) const IDENTIFY: u8 = 6;
    pub(crate) const ACTOR_IDENTITY: u8 = 7;
    pub(crate) const QUARANTINED: u8 = 8;
    pub(crate) const HELLO: u8 = 20;
    pub(crate) const HANDSHAKE: u8 = 21;
    pub(crate) const HANDSHAKE_RSP: u8 = 22;
}

/// A node address on the wire.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Address {
    #[prost(string, tag = "1")]
    pub(crate) system: String,
    #[prost(string, tag = "2")]
    pub(crate) host: String,
    #[prost(uint32, tag = "3")]
    pub(crate) port: u32,
}

/// First frame of every connection, from the accepting node: who it is and
/// the challenge for the shared secret.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Hello {
    #[prost(uint32, tag = "1")]
    pub(crate) version: u32,
    #[prost(message, optional, tag = "2")]
    pub(crate) address: Option<Address>,
    #[prost(uint64, tag = "3")]
    pub(crate) uid: u64,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) nonce: Vec<u8>,
}

/// The connecting node's answer to [`Hello`].
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Handshake {
    #[prost(message, optional, tag = "1")]
    pub(crate) from: Option<Address>,
    #[prost(uint64, tag = "2")]
    pub(crate) from_uid: u64,
    /// The system name the connecting node expects to reach.
    #[prost(string, tag = "3")]
    pub(crate) to_system: String,
    /// The uid from [`Hello`], echoed.
    #[prost(uint64, tag = "4")]
    pub(crate) to_uid: u64,
    #[prost(uint32, tag = "5")]
    pub(crate) lane: u32,
    /// HMAC-SHA256 of the challenge under the shared secret (empty without).
    #[prost(bytes = "vec", tag = "6")]
    pub(crate) mac: Vec<u8>,
    #[prost(uint32, tag = "7")]
    pub(crate) version: u32,
}

/// The accepting node's verdict.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct HandshakeRsp {
    #[prost(bool, tag = "1")]
    pub(crate) accepted: bool,
    #[prost(string, tag = "2")]
    pub(crate) reason: String,
}

/// A system message, numbered per association for reliable delivery.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct SystemEnvelope {
    #[prost(uint64, tag = "1")]
    pub(crate) seq: u64,
    #[prost(oneof = "SystemKind", tags = "2, 3, 4")]
    pub(crate) kind: Option<SystemKind>,
    /// The incarnation it is for: a receiver with another uid drops it (a
    /// message queued for a node that restarted in the meantime).
    #[prost(uint64, tag = "5")]
    pub(crate) to_uid: u64,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum SystemKind {
    #[prost(message, tag = "2")]
    Watch(Watch),
    #[prost(message, tag = "3")]
    Unwatch(Watch),
    #[prost(message, tag = "4")]
    DeathWatchNotification(DeathWatchNotification),
}

/// The sender's node watches (or stops watching) actor `watchee` of the
/// receiver.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Watch {
    #[prost(uint64, tag = "1")]
    pub(crate) watchee: u64,
}

/// Actor `actor` of the sender, watched by the receiver, has stopped (or
/// never existed, when `existence_confirmed` is false).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeathWatchNotification {
    #[prost(uint64, tag = "1")]
    pub(crate) actor: u64,
    #[prost(bool, tag = "2")]
    pub(crate) existence_confirmed: bool,
}

/// Cumulative acknowledgement: every system message up to `seq` arrived.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct SystemAck {
    #[prost(uint64, tag = "1")]
    pub(crate) seq: u64,
}

/// Failure detector heartbeat and its response.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Heartbeat {
    #[prost(uint64, tag = "1")]
    pub(crate) uid: u64,
}

/// Resolve a path: is there an actor there that reads this manifest?
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Identify {
    #[prost(uint64, tag = "1")]
    pub(crate) correlation: u64,
    #[prost(string, tag = "2")]
    pub(crate) path: String,
    #[prost(uint32, tag = "3")]
    pub(crate) serializer_id: u32,
    #[prost(string, tag = "4")]
    pub(crate) manifest: String,
}

/// The answer to [`Identify`]: an actor id, or why not.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ActorIdentity {
    #[prost(uint64, tag = "1")]
    pub(crate) correlation: u64,
    #[prost(uint64, tag = "2")]
    pub(crate) actor_id: u64,
    #[prost(string, tag = "3")]
    pub(crate) error: String,
}

/// The sender has quarantined the receiver's incarnation `uid`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Quarantined {
    #[prost(uint64, tag = "1")]
    pub(crate) uid: u64,
    #[prost(string, tag = "2")]
    pub(crate) reason: String,
}

/// A user message (or the answer to an ask), as decoded from a frame; the
/// manifest and payload borrow from the frame.
///
/// Protobuf fields: 1 recipient (uint64), 2 serializer id (uint32),
/// 3 manifest (string), 4 payload (bytes). Field order is free and unknown
/// fields are skipped, as protobuf requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    pub(crate) recipient: u64,
    pub(crate) serializer_id: u32,
    pub(crate) manifest: &'a str,
    pub(crate) payload: &'a [u8],
}

/// A frame body that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Truncated or malformed protobuf.
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    /// A prost-derived message did not decode.
    #[error("malformed protobuf: {0}")]
    Prost(String),
}

impl From<prost::DecodeError> for DecodeError {
    fn from(e: prost::DecodeError) -> Self {
        DecodeError::Prost(e.to_string())
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = buf
            .split_first()
            .ok_or(DecodeError::Malformed("truncated varint"))?;
        *buf = rest;
        if i == 9 && b > 1 {
            return Err(DecodeError::Malformed("varint overflows 64 bits"));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(DecodeError::Malformed("varint too long"))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], DecodeError> {
    let n = usize::try_from(n).map_err(|_| DecodeError::Malformed("length too large"))?;
    if n > buf.len() {
        return Err(DecodeError::Malformed("truncated field"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

impl<'a> Envelope<'a> {
    /// Appends the envelope's fields up to the payload's length prefix;
    /// the caller appends the payload itself (tests and the soak test; the
    /// send path uses [`Envelope::encode_head_reserved`]).
    #[cfg(test)]
    pub(crate) fn encode_head(
        out: &mut Vec<u8>,
        recipient: u64,
        serializer_id: u32,
        manifest: &str,
        payload_len: usize,
    ) {
        out.push(1 << 3);
        put_varint(out, recipient);
        out.push(2 << 3);
        put_varint(out, u64::from(serializer_id));
        out.push((3 << 3) | 2);
        put_varint(out, manifest.len() as u64);
        out.extend_from_slice(manifest.as_bytes());
        out.push((4 << 3) | 2);
        put_varint(out, payload_len as u64);
    }

    /// Like [`Envelope::encode_head`] for a payload of unknown length:
    /// reserves a fixed-width (padded) length varint and returns where it
    /// is, for [`Envelope::patch_len`] once the payload is appended.
    /// Padded varints are valid protobuf (decoders accept up to 10 bytes).
    pub(crate) fn encode_head_reserved(
        out: &mut Vec<u8>,
        recipient: u64,
        serializer_id: u32,
        manifest: &str,
    ) -> usize {
        out.push(1 << 3);
        put_varint(out, recipient);
        out.push(2 << 3);
        put_varint(out, u64::from(serializer_id));
        out.push((3 << 3) | 2);
        put_varint(out, manifest.len() as u64);
        out.extend_from_slice(manifest.as_bytes());
        out.push((4 << 3) | 2);
        let at = out.len();
        out.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x00]);
        at
    }

    /// Writes `len` into the 5-byte length reserved at `at`.
    pub(crate) fn patch_len(out: &mut [u8], at: usize, len: usize) -> Result<(), String> {
        if len >= 1 << 35 {
            return Err(format!("payload of {len} bytes is too large"));
        }
        let mut v = len as u64;
        for i in 0..5 {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            out[at + i] = if i < 4 { byte | 0x80 } else { byte };
        }
        Ok(())
    }

    /// Decodes a frame body; never panics on any input.
    pub(crate) fn decode(mut buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut env = Envelope {
            recipient: 0,
            serializer_id: 0,
            manifest: "",
            payload: &[],
        };
        while !buf.is_empty() {
            let key = get_varint(&mut buf)?;
            let (field, wire) = (key >> 3, key & 7);
            match (field, wire) {
                (1, 0) => env.recipient = get_varint(&mut buf)?,
                (2, 0) => {
                    env.serializer_id = u32::try_from(get_varint(&mut buf)?)
                        .map_err(|_| DecodeError::Malformed("serializer id exceeds 32 bits"))?
                }
                (3, 2) => {
                    let n = get_varint(&mut buf)?;
                    env.manifest = std::str::from_utf8(take(&mut buf, n)?)
                        .map_err(|_| DecodeError::Malformed("manifest is not UTF-8"))?;
                }
                (4, 2) => {
                    let n = get_varint(&mut buf)?;
                    env.payload = take(&mut buf, n)?;
                }
                (0, _) => return Err(DecodeError::Malformed("field number 0")),
                (_, 0) => {
                    get_varint(&mut buf)?;
                }
                (_, 1) => {
                    take(&mut buf, 8)?;
                }
                (_, 2) => {
                    let n = get_varint(&mut buf)?;
                    take(&mut buf, n)?;
                }
                (_, 5) => {
                    take(&mut buf, 4)?;
                }
                _ => return Err(DecodeError::Malformed("unsupported wire type")),
            }
        }
        Ok(env)
    }
}

/// Decodes a prost message from a frame body.
pub(crate) fn decode<M: Message + Default>(body: &[u8]) -> Result<M, DecodeError> {
    Ok(M::decode(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived twin of [`Envelope`], to check the hand-written codec.
    #[derive(Clone, PartialEq, Message)]
    struct EnvelopeProto {
        #[prost(uint64, tag = "1")]
        recipient: u64,
        #[prost(uint32, tag = "2")]
        serializer_id: u32,
        #[prost(string, tag = "3")]
        manifest: String,
        #[prost(bytes = "vec", tag = "4")]
        payload: Vec<u8>,
        #[prost(string, tag = "9")]
        future_field: String,
    }

    #[test]
    fn hand_written_envelope_matches_prost() {
        let mut out = Vec::new();
        Envelope::encode_head(&mut out, 1 << 63 | 5, 300, "app.Cmd", 3);
        out.extend_from_slice(b"abc");
        let p = EnvelopeProto::decode(&out[..]).unwrap();
        assert_eq!(p.recipient, 1 << 63 | 5);
        assert_eq!(p.serializer_id, 300);
        assert_eq!(p.manifest, "app.Cmd");
        assert_eq!(p.payload, b"abc");

        // A newer node's extra field is skipped.
        let newer = EnvelopeProto {
            recipient: 7,
            serializer_id: 2,
            manifest: "m".into(),
            payload: vec![1, 2],
            future_field: "later".into(),
        }
        .encode_to_vec();
        let e = Envelope::decode(&newer).unwrap();
        assert_eq!(
            e,
            Envelope {
                recipient: 7,
                serializer_id: 2,
                manifest: "m",
                payload: &[1, 2]
            }
        );
    }

    #[test]
    fn padded_payload_lengths_decode_everywhere() {
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let mut out = Vec::new();
            let at = Envelope::encode_head_reserved(&mut out, 9, 2, "m");
            out.extend(std::iter::repeat_n(7u8, len));
            Envelope::patch_len(&mut out, at, len).unwrap();
            let p = EnvelopeProto::decode(&out[..]).unwrap();
            assert_eq!(p.payload.len(), len);
            let e = Envelope::decode(&out).unwrap();
            assert_eq!((e.recipient, e.manifest, e.payload.len()), (9, "m", len));
        }
    }

    #[test]
    fn malformed_envelopes_are_errors_not_panics() {
        for bad in [
            &[0x08][..],
            &[0x1a, 0x05, b'a'],
            &[0x1a, 0x01, 0xff],
            &[0x00, 0x01],
            &[0x0b],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            &[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f],
            &[0x22, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert!(Envelope::decode(bad).is_err(), "{bad:?}");
        }
    }
}
