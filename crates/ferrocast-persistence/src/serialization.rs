//! [`Serialization`]: the explicit registry that maps one Rust type to and
//! from stored [`Payload`]s, with readers and upcasters for old versions.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::payload::{Manifest, Payload, SerializerId};
use crate::serializer::{CodecError, Serializer};

/// Upcasters applied to one payload at most, so a cycle fails instead of
/// looping.
const MAX_UPCASTS: usize = 16;

/// A value could not be serialized. The value was not stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialize as {manifest} (serializer {serializer}): {source}")]
pub struct SerializeError {
    /// The serializer that failed.
    pub serializer: SerializerId,
    /// The manifest it was writing.
    pub manifest: Manifest,
    /// The codec's error.
    #[source]
    pub source: CodecError,
}

/// Stored bytes could not be read back. Never skipped silently: recovery
/// fails with this error inside
/// [`RecoveryError`](crate::RecoveryError).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No registered reader uses this serializer id.
    #[error("unknown serializer id {serializer} (manifest {manifest})")]
    UnknownSerializer {
        /// The stored serializer id.
        serializer: SerializerId,
        /// The stored manifest.
        manifest: Manifest,
    },
    /// The serializer is known but neither a reader nor an upcaster is
    /// registered for this manifest.
    #[error("unknown manifest {manifest} for serializer {serializer}")]
    UnknownManifest {
        /// The stored serializer id.
        serializer: SerializerId,
        /// The stored manifest.
        manifest: Manifest,
    },
    /// The reader rejected the bytes.
    #[error("undecodable bytes for manifest {manifest} (serializer {serializer}): {source}")]
    Malformed {
        /// The stored serializer id.
        serializer: SerializerId,
        /// The stored manifest.
        manifest: Manifest,
        /// The codec's error.
        #[source]
        source: CodecError,
    },
    /// An upcaster failed.
    #[error("upcasting manifest {manifest} failed: {source}")]
    Upcast {
        /// The manifest the upcaster was given.
        manifest: Manifest,
        /// The upcaster's error.
        #[source]
        source: CodecError,
    },
    /// Upcasters kept producing manifests that need more upcasting.
    #[error("upcasting manifest {manifest} did not end after {MAX_UPCASTS} steps")]
    UpcastLoop {
        /// The manifest the chain started from.
        manifest: Manifest,
    },
}

/// Rewrites a payload of an old version into a newer one (whose manifest has
/// a reader or another upcaster). Registered per manifest.
pub trait Upcaster: Send + Sync + 'static {
    /// The newer payload.
    fn upcast(&self, old: Payload) -> Result<Payload, CodecError>;
}

impl<F> Upcaster for F
where
    F: Fn(Payload) -> Result<Payload, CodecError> + Send + Sync + 'static,
{
    fn upcast(&self, old: Payload) -> Result<Payload, CodecError> {
        self(old)
    }
}

/// An upcaster for JSON payloads: parses the old bytes, lets `rewrite` edit
/// the document, and stores it under `to`.
///
/// ```
/// use ferrocast_persistence::{json_upcaster, Payload, SerializerId, Upcaster};
///
/// // v1 called the field `qty`; v2 calls it `quantity`.
/// let up = json_upcaster("item-added.v2", |mut doc| {
///     if let Some(q) = doc.as_object_mut().and_then(|o| o.remove("qty")) {
///         doc["quantity"] = q;
///     }
///     Ok(doc)
/// });
/// let old = Payload::new(SerializerId::JSON, "item-added.v1", br#"{"qty":2}"#.to_vec());
/// let new = up.upcast(old).unwrap();
/// assert_eq!(new.manifest.as_str(), "item-added.v2");
/// assert_eq!(new.bytes, br#"{"quantity":2}"#);
/// ```
pub fn json_upcaster(
    to: impl Into<Manifest>,
    rewrite: impl Fn(serde_json::Value) -> Result<serde_json::Value, CodecError> + Send + Sync + 'static,
) -> impl Upcaster {
    let to = to.into();
    move |old: Payload| {
        let doc: serde_json::Value = serde_json::from_slice(&old.bytes).map_err(CodecError::new)?;
        let bytes = serde_json::to_vec(&rewrite(doc)?).map_err(CodecError::new)?;
        Ok(Payload::new(old.serializer, to.clone(), bytes))
    }
}

type Reader<T> = Arc<dyn Fn(&[u8]) -> Result<T, CodecError> + Send + Sync>;

/// How values of one type `T` (an event enum, a state) are stored: the
/// serializer and manifest that write them, plus readers and upcasters for
/// every older form still in storage.
///
/// Registration is explicit: the manifest is a name you choose and keep,
/// never a Rust type name.
///
/// ```
/// use ferrocast_persistence::{Json, Serialization};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// enum CounterEvent { Added(u64) }
///
/// let ser = Serialization::new("counter.event.v1", Json);
/// let payload = ser.encode(&CounterEvent::Added(2)).unwrap();
/// assert_eq!(ser.decode(&payload).unwrap(), CounterEvent::Added(2));
/// ```
pub struct Serialization<T> {
    writer: Arc<dyn Serializer<T>>,
    manifest: Manifest,
    readers: HashMap<(SerializerId, Manifest), Reader<T>>,
    /// Serializer ids some reader uses: tells an unknown serializer from an
    /// unknown manifest in errors.
    known: HashSet<SerializerId>,
    upcasters: HashMap<Manifest, Arc<dyn Upcaster>>,
}

impl<T: 'static> Serialization<T> {
    /// Writes (and reads) `T` with `serializer` under `manifest`.
    pub fn new(manifest: impl Into<Manifest>, serializer: impl Serializer<T>) -> Self {
        let manifest = manifest.into();
        let writer: Arc<dyn Serializer<T>> = Arc::new(serializer);
        let mut this = Serialization {
            writer: writer.clone(),
            manifest: manifest.clone(),
            readers: HashMap::new(),
            known: HashSet::new(),
            upcasters: HashMap::new(),
        };
        this.add_reader(writer.id(), manifest, move |b| writer.decode(b));
        this
    }

    fn add_reader(
        &mut self,
        id: SerializerId,
        manifest: Manifest,
        read: impl Fn(&[u8]) -> Result<T, CodecError> + Send + Sync + 'static,
    ) {
        self.known.insert(id);
        self.readers.insert((id, manifest), Arc::new(read));
    }

    /// Also reads payloads written by `serializer` under `manifest` (say,
    /// after moving from one codec to another).
    pub fn with_reader(
        mut self,
        manifest: impl Into<Manifest>,
        serializer: impl Serializer<T>,
    ) -> Self {
        self.add_reader(serializer.id(), manifest.into(), move |b| {
            serializer.decode(b)
        });
        self
    }

    /// Reads payloads of an older type `Old` (its own serializer and
    /// manifest) and converts them: a typed upcaster.
    pub fn with_legacy<Old: 'static>(
        mut self,
        manifest: impl Into<Manifest>,
        serializer: impl Serializer<Old>,
        convert: impl Fn(Old) -> T + Send + Sync + 'static,
    ) -> Self {
        self.add_reader(serializer.id(), manifest.into(), move |b| {
            serializer.decode(b).map(&convert)
        });
        self
    }

    /// Rewrites payloads with manifest `from` before reading them.
    pub fn with_upcaster(mut self, from: impl Into<Manifest>, upcaster: impl Upcaster) -> Self {
        self.upcasters.insert(from.into(), Arc::new(upcaster));
        self
    }

    /// The manifest new payloads are written under.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Serializes `value` with the current serializer and manifest.
    pub fn encode(&self, value: &T) -> Result<Payload, SerializeError> {
        match self.writer.encode(value) {
            Ok(bytes) => Ok(Payload::new(self.writer.id(), self.manifest.clone(), bytes)),
            Err(source) => Err(SerializeError {
                serializer: self.writer.id(),
                manifest: self.manifest.clone(),
                source,
            }),
        }
    }

    /// Reads a stored payload, upcasting old versions first.
    pub fn decode(&self, payload: &Payload) -> Result<T, DecodeError> {
        let start = payload.manifest.clone();
        let mut current: Option<Payload> = None;
        for _ in 0..=MAX_UPCASTS {
            let p = current.as_ref().unwrap_or(payload);
            let key = (p.serializer, p.manifest.clone());
            if let Some(read) = self.readers.get(&key) {
                return read(&p.bytes).map_err(|source| DecodeError::Malformed {
                    serializer: p.serializer,
                    manifest: p.manifest.clone(),
                    source,
                });
            }
            let Some(up) = self.upcasters.get(&p.manifest) else {
                return Err(if self.known.contains(&p.serializer) {
                    DecodeError::UnknownManifest {
                        serializer: p.serializer,
                        manifest: p.manifest.clone(),
                    }
                } else {
                    DecodeError::UnknownSerializer {
                        serializer: p.serializer,
                        manifest: p.manifest.clone(),
                    }
                });
            };
            let manifest = p.manifest.clone();
            let next = up
                .upcast(p.clone())
                .map_err(|source| DecodeError::Upcast { manifest, source })?;
            current = Some(next);
        }
        Err(DecodeError::UpcastLoop { manifest: start })
    }
}

impl<T: 'static> fmt::Debug for Serialization<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serialization")
            .field("serializer", &self.writer.id())
            .field("manifest", &self.manifest)
            .field("readers", &self.readers.len())
            .field("upcasters", &self.upcasters.len())
            .finish()
    }
}

#[cfg(test)]
#[path = "serialization_test.rs"]
mod tests;
