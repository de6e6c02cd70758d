//! Entry points for the fuzz target (`fuzz/`) and the decoder soak test:
//! not part of the API.

use crate::frame::FrameReader;
use crate::protocol::{self, Envelope, kind};

/// What decoding arbitrary bytes produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Frames that decoded.
    pub ok: usize,
    /// Frames whose body did not decode.
    pub bad_bodies: usize,
    /// True if the frame layer itself rejected the stream.
    pub bad_stream: bool,
}

/// Splits `bytes` into frames and decodes every body by its kind, as an
/// inbound connection would. Must never panic, whatever the input.
pub fn decode_frames(bytes: &[u8]) -> Decoded {
    let mut reader = FrameReader::new(1 << 20);
    reader.push(bytes);
    let mut out = Decoded::default();
    loop {
        match reader.next_frame() {
            Ok(Some((k, body))) => {
                let ok = match k {
                    kind::ENVELOPE => Envelope::decode(body).is_ok(),
                    kind::SYSTEM => protocol::decode::<protocol::SystemEnvelope>(body).is_ok(),
                    kind::SYSTEM_ACK => protocol::decode::<protocol::SystemAck>(body).is_ok(),
                    kind::HEARTBEAT | kind::HEARTBEAT_RSP => {
                        protocol::decode::<protocol::Heartbeat>(body).is_ok()
                    }
                    kind::IDENTIFY => protocol::decode::<protocol::Identify>(body).is_ok(),
                    kind::ACTOR_IDENTITY => {
                        protocol::decode::<protocol::ActorIdentity>(body).is_ok()
                    }
                    kind::QUARANTINED => protocol::decode::<protocol::Quarantined>(body).is_ok(),
                    kind::HELLO => protocol::decode::<protocol::Hello>(body).is_ok(),
                    kind::HANDSHAKE => protocol::decode::<protocol::Handshake>(body).is_ok(),
                    kind::HANDSHAKE_RSP => protocol::decode::<protocol::HandshakeRsp>(body).is_ok(),
                    _ => false,
                };
                if ok {
                    out.ok += 1;
                } else {
                    out.bad_bodies += 1;
                }
            }
            Ok(None) => return out,
            Err(_) => {
                out.bad_stream = true;
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    /// A deterministic soak of the decoders: random bytes, and valid frames
    /// with random corruption. CI runs this; `cargo fuzz` goes further.
    #[test]
    fn decoders_survive_random_and_corrupted_input() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut valid = Vec::new();
        let s = frame::begin_frame(&mut valid, kind::ENVELOPE);
        Envelope::encode_head(&mut valid, 7, 2, "app.Cmd", 3);
        valid.extend_from_slice(b"abc");
        frame::end_frame(&mut valid, s);
        frame::put_message(
            &mut valid,
            kind::IDENTIFY,
            &protocol::Identify {
                correlation: 1,
                path: "/user/x".into(),
                serializer_id: 2,
                manifest: "m".into(),
            },
        );
        assert_eq!(decode_frames(&valid).ok, 2);
        for round in 0..20_000 {
            let mut input = if round % 2 == 0 {
                valid.clone()
            } else {
                let n = (next() % 64) as usize;
                (0..n).map(|_| next() as u8).collect()
            };
            let flips = next() % 4;
            for _ in 0..flips {
                if !input.is_empty() {
                    let i = (next() as usize) % input.len();
                    input[i] = next() as u8;
                }
            }
            let cut = if input.is_empty() {
                0
            } else {
                (next() as usize) % (input.len() + 1)
            };
            let _ = decode_frames(&input[..cut]);
        }
    }
}
