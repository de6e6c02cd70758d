//! The [`Serializer`] contract and the serde_json codec, [`Json`].

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::payload::SerializerId;

/// A value could not be turned into bytes (or bytes into a value); the
/// codec's own error inside.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl CodecError {
    /// A codec error from any error or message.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        CodecError(e.into())
    }
}

/// Turns values of type `T` into bytes and back. Its [`id`](Serializer::id)
/// is stored with every payload it writes and must never change.
pub trait Serializer<T>: Send + Sync + 'static {
    /// The stable id stored with the bytes.
    fn id(&self) -> SerializerId;
    /// Serializes `value`.
    fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError>;
    /// Deserializes bytes written by this serializer.
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// The serde_json codec, serializer id [`SerializerId::JSON`].
///
/// Readable and tolerant: new optional fields (`#[serde(default)]`) read old
/// events without an upcaster.
#[derive(Clone, Copy, Default)]
pub struct Json;

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Json")
    }
}

impl<T: Serialize + DeserializeOwned> Serializer<T> for Json {
    fn id(&self) -> SerializerId {
        SerializerId::JSON
    }

    fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(value).map_err(CodecError::new)
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}
