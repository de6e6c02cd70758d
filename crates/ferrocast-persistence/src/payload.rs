//! [`Payload`]: serialized bytes with what it takes to read them back.

use std::fmt;
use std::sync::Arc;

/// The stable number of a serializer. Stored with every event and snapshot:
/// changing a serializer's id makes old data unreadable, so ids are assigned
/// by hand, never derived from a type name.
///
/// Ids below 100 are reserved for Ferrocast ([`SerializerId::JSON`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SerializerId(u32);

impl SerializerId {
    /// The serde_json codec ([`Json`](crate::Json)).
    pub const JSON: SerializerId = SerializerId(1);

    /// A serializer id. Applications pick ids of 100 and above.
    pub const fn new(id: u32) -> Self {
        SerializerId(id)
    }

    /// The number.
    pub const fn value(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SerializerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What the bytes are, within their serializer: a name and version chosen
/// when the type is registered (say `"cart.event.v2"`), never a Rust type
/// name, so types can be renamed and moved freely.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Manifest(Arc<str>);

impl Manifest {
    /// A manifest (any text, including empty).
    pub fn new(manifest: &str) -> Self {
        Manifest(Arc::from(manifest))
    }

    /// The manifest as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Manifest {
    fn from(s: &str) -> Self {
        Manifest::new(s)
    }
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Manifest({:?})", &*self.0)
    }
}

/// Serialized bytes, the serializer that wrote them and their manifest: the
/// stored form of an event, a snapshot or a durable-state value.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    /// Which serializer wrote `bytes`.
    pub serializer: SerializerId,
    /// Which type (and version) `bytes` hold.
    pub manifest: Manifest,
    /// The serialized value.
    pub bytes: Vec<u8>,
}

impl Payload {
    /// A payload.
    pub fn new(serializer: SerializerId, manifest: impl Into<Manifest>, bytes: Vec<u8>) -> Self {
        Payload {
            serializer,
            manifest: manifest.into(),
            bytes,
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("serializer", &self.serializer)
            .field("manifest", &self.manifest)
            .field("len", &self.bytes.len())
            .finish()
    }
}
