//! Length-delimited frames: a 4-byte big-endian length, a kind byte, the
//! body. The length counts the kind byte and the body.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes before the body.
pub(crate) const HEADER: usize = 5;

/// Starts a frame of `kind` in `out`; returns where it starts, for
/// [`end_frame`].
pub(crate) fn begin_frame(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, kind]);
    start
}

/// Writes the length of the frame that starts at `start`; returns the
/// frame's total size.
pub(crate) fn end_frame(out: &mut [u8], start: usize) -> usize {
    let len = out.len() - start - 4;
    // Callers bound frames far below 4 GiB (max frame size is a u32 config).
    let n = u32::try_from(len).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&n.to_be_bytes());
    len + 4
}

/// Appends a whole frame with a prost body.
pub(crate) fn put_message(out: &mut Vec<u8>, kind: u8, msg: &impl prost::Message) {
    let start = begin_frame(out, kind);
    // Encoding into a Vec cannot run out of space.
    let _ = msg.encode(out);
    end_frame(out, start);
}

/// A frame that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The declared length exceeds the lane's maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Declared size.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// A zero length (no kind byte).
    #[error("empty frame")]
    Empty,
    /// The connection failed or closed mid-frame.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

/// Splits a byte stream into frames, reading in large chunks.
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

impl FrameReader {
    pub(crate) fn new(max_frame: usize) -> Self {
        FrameReader {
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            max: max_frame,
        }
    }

    /// Changes the largest frame accepted from now on.
    pub(crate) fn set_max(&mut self, max_frame: usize) {
        self.max = max_frame;
    }

    /// The next complete frame in the buffer, if any: `(kind, body)`.
    /// Never panics on any input.
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, &[u8])>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if len > self.max {
            return Err(FrameError::TooLarge {
                size: len,
                max: self.max,
            });
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let at = self.start;
        self.start += 4 + len;
        Ok(Some((
            self.buf[at + 4],
            &self.buf[at + HEADER..at + 4 + len],
        )))
    }

    /// Appends bytes (for tests and the fuzz target).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads more bytes; `Ok(false)` at a clean end of stream.
    pub(crate) async fn fill(
        &mut self,
        io: &mut (impl AsyncRead + Unpin),
    ) -> Result<bool, FrameError> {
        self.compact();
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let n = io.read_buf(&mut self.buf).await?;
        if n == 0 {
            if self.buf.is_empty() {
                return Ok(false);
            }
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(true)
    }

    /// Reads until one whole frame is there and returns it (handshakes).
    pub(crate) async fn read_frame(
        &mut self,
        io: &mut (impl AsyncRead + Unpin),
    ) -> Result<(u8, Vec<u8>), FrameError> {
        loop {
            if let Some((kind, body)) = self.next_frame()? {
                return Ok((kind, body.to_vec()));
            }
            if !self.fill(io).await? {
                return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_any_boundary() {
        let mut wire = Vec::new();
        for (kind, body) in [(1u8, &b"hello"[..]), (2, b""), (3, b"xyz")] {
            let s = begin_frame(&mut wire, kind);
            wire.extend_from_slice(body);
            end_frame(&mut wire, s);
        }
        for split in 0..wire.len() {
            let mut r = FrameReader::new(1024);
            let mut got = Vec::new();
            r.push(&wire[..split]);
            while let Some((k, b)) = r.next_frame().unwrap() {
                got.push((k, b.to_vec()));
            }
            r.push(&wire[split..]);
            while let Some((k, b)) = r.next_frame().unwrap() {
                got.push((k, b.to_vec()));
            }
            assert_eq!(
                got,
                vec![(1, b"hello".to_vec()), (2, vec![]), (3, b"xyz".to_vec())]
            );
        }
    }

    #[test]
    fn oversized_and_empty_frames_are_errors() {
        let mut r = FrameReader::new(10);
        r.push(&[0, 0, 0, 11, 1]);
        assert!(matches!(
            r.next_frame(),
            Err(FrameError::TooLarge { size: 11, max: 10 })
        ));
        let mut r = FrameReader::new(10);
        r.push(&[0, 0, 0, 0]);
        assert!(matches!(r.next_frame(), Err(FrameError::Empty)));
    }
}
