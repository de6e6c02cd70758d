//! The serialization registry: how user messages become bytes and back.
//!
//! Every message type that crosses the network is registered explicitly, in
//! code, on the [`Registry`] a node starts with: a [`Serializer`] with a
//! stable numeric id and a string manifest that names the type on the wire.
//! Nothing is derived from Rust type names (they change with refactorings
//! and compiler versions); the `TypeId` is only used locally to find the
//! entry of a type.
//!
//! Built in: [`Binary`] (postcard, serializer id 2), the compact default,
//! and [`Json`] (serde_json, id 1), readable for debugging. Ids below 100
//! are reserved for Ferrocast; applications pick 100 and above.
//!
//! Schema evolution: a serializer receives the manifest the bytes were
//! written with, and [`Registry::register_with`] can name older manifests
//! the same serializer still reads, so an upcaster lives inside the
//! serializer.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::refs;

/// A value could not be turned into bytes or bytes into a value.
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
/// travels with every message it writes and must never change.
pub trait Serializer<T>: Send + Sync + 'static {
    /// The stable id (reserved below 100).
    fn id(&self) -> u32;
    /// Appends `value`'s bytes to `out`.
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Reads bytes written under `manifest` (the current one or an older one
    /// this serializer still reads).
    fn decode(&self, manifest: &str, bytes: &[u8]) -> Result<T, CodecError>;
}

/// The compact binary codec (postcard), serializer id 2: varint integers,
/// no field names. Adding an enum variant at the end or a trailing field
/// read with a new manifest keeps old bytes readable.
#[derive(Clone, Copy, Debug, Default)]
pub struct Binary;

impl Binary {
    /// Its serializer id.
    pub const ID: u32 = 2;
}

impl<T: Serialize + DeserializeOwned> Serializer<T> for Binary {
    fn id(&self) -> u32 {
        Self::ID
    }

    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let taken = std::mem::take(out);
        match postcard::to_extend(value, taken) {
            Ok(v) => {
                *out = v;
                Ok(())
            }
            Err(e) => Err(CodecError::new(e)),
        }
    }

    fn decode(&self, _manifest: &str, bytes: &[u8]) -> Result<T, CodecError> {
        postcard::from_bytes(bytes).map_err(CodecError::new)
    }
}

/// The readable codec (serde_json), serializer id 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Json {
    /// Its serializer id.
    pub const ID: u32 = 1;
}

impl<T: Serialize + DeserializeOwned> Serializer<T> for Json {
    fn id(&self) -> u32 {
        Self::ID
    }

    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_json::to_writer(out, value).map_err(CodecError::new)
    }

    fn decode(&self, _manifest: &str, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}

/// A registration that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The type already has an entry.
    #[error("message type {0} is registered twice")]
    DuplicateType(&'static str),
    /// Another type already uses this serializer id and manifest.
    #[error("serializer {id} manifest {manifest:?} is already used by {other}")]
    DuplicateManifest {
        /// Serializer id.
        id: u32,
        /// Manifest.
        manifest: String,
        /// The type that has it.
        other: &'static str,
    },
    /// Manifests are 1 to 255 printable ASCII characters without spaces.
    #[error("invalid manifest {0:?}: use 1 to 255 printable ASCII characters, no spaces")]
    InvalidManifest(String),
}

/// The erased decode-and-tell of one exported actor.
pub(crate) type ExportFn = Box<dyn Fn(u32, &str, &[u8]) -> Result<(), InboundError> + Send + Sync>;
/// The erased completion of one pending remote ask.
pub(crate) type ReplyFn = Box<dyn FnOnce(u32, &str, &[u8]) -> Result<(), InboundError> + Send>;

/// A pending remote ask's completion and its gave-up probe.
pub(crate) type ReplySlot = (ReplyFn, refs::ClosedFn);

/// Why an inbound message was not delivered (logged and counted).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// The serializer id and manifest are not what the recipient reads.
    #[error(
        "recipient reads {expected} (serializer {expected_id}), got {manifest:?} (serializer {id})"
    )]
    WrongManifest {
        /// What the recipient reads.
        expected: Arc<str>,
        /// Its serializer.
        expected_id: u32,
        /// What arrived.
        manifest: String,
        /// Its serializer.
        id: u32,
    },
    /// The bytes did not decode.
    #[error("payload does not decode: {0}")]
    Decode(#[from] CodecError),
    /// The recipient is not (or no longer) known here.
    #[error("unknown recipient {0}")]
    UnknownRecipient(u64),
}

/// A registered type and its typed glue, built when it was registered.
pub(crate) struct TypeEntry {
    pub(crate) type_name: &'static str,
    pub(crate) manifest: Arc<str>,
    /// Older manifests the serializer still reads.
    pub(crate) reads: Vec<Arc<str>>,
    pub(crate) serializer_id: u32,
    /// `Arc<dyn Serializer<T>>`.
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    pub(crate) glue: Glue,
}

impl TypeEntry {
    /// The typed serializer, if this entry is `T`'s.
    pub(crate) fn serializer<T: 'static>(&self) -> Option<&Arc<dyn Serializer<T>>> {
        self.typed.downcast_ref()
    }

    pub(crate) fn accepts(&self, id: u32, manifest: &str) -> bool {
        id == self.serializer_id
            && (*self.manifest == *manifest || self.reads.iter().any(|m| **m == *manifest))
    }

    pub(crate) fn wrong_manifest(&self, id: u32, manifest: &str) -> InboundError {
        InboundError::WrongManifest {
            expected: self.manifest.clone(),
            expected_id: self.serializer_id,
            manifest: manifest.to_owned(),
            id,
        }
    }
}

impl fmt::Debug for TypeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeEntry")
            .field("type", &self.type_name)
            .field("manifest", &self.manifest)
            .field("serializer_id", &self.serializer_id)
            .finish()
    }
}

/// Monomorphized constructors for one type, so that code which only knows
/// a `TypeId` (references inside messages) can still build typed values.
pub(crate) struct Glue {
    /// An `ActorRef<T>` over a remote target.
    pub(crate) make_ref: fn(refs::RefParts) -> Box<dyn Any + Send>,
    /// A clone of an exported `ActorRef<T>` (boxed), boxed again.
    pub(crate) clone_ref: fn(&(dyn Any + Send + Sync)) -> Option<Box<dyn Any + Send>>,
    /// A `ReplyTo<T>` that answers over the network.
    pub(crate) make_reply: fn(refs::ReplyParts) -> Box<dyn Any + Send>,
    /// Decode-and-tell for an exported `ActorRef<T>` (boxed).
    pub(crate) make_export: fn(&Arc<TypeEntry>, &(dyn Any + Send + Sync)) -> Option<ExportFn>,
    /// Decode-and-complete for a pending `ReplyTo<T>` (boxed), and whether
    /// its asker gave up.
    pub(crate) make_reply_slot: fn(&Arc<TypeEntry>, Box<dyn Any + Send>) -> Option<ReplySlot>,
}

/// The message types a node can send and receive; see the module docs.
#[derive(Default)]
pub struct Registry {
    by_type: HashMap<TypeId, Arc<TypeEntry>>,
    by_manifest: HashMap<(u32, Arc<str>), Arc<TypeEntry>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.by_type.len())
            .finish()
    }
}

fn check_manifest(manifest: &str) -> Result<Arc<str>, RegistryError> {
    let ok = !manifest.is_empty()
        && manifest.len() <= 255
        && manifest.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(manifest.into())
    } else {
        Err(RegistryError::InvalidManifest(manifest.to_owned()))
    }
}

impl Registry {
    /// An empty registry with the built-in reply types registered (see
    /// [`Registry::with_builtins`]).
    pub fn new() -> Self {
        Self::with_builtins()
    }

    /// Registers the common answer types with the binary codec under
    /// `ferrocast.*` manifests: `()`, `bool`, `u32`, `u64`, `i64`, `f64`,
    /// `String`, `Vec<u8>`, `Option<u64>`, `Result<(), String>`.
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        // The manifests are valid and distinct: registration cannot fail.
        let _ = r.register::<()>("ferrocast.unit");
        let _ = r.register::<bool>("ferrocast.bool");
        let _ = r.register::<u32>("ferrocast.u32");
        let _ = r.register::<u64>("ferrocast.u64");
        let _ = r.register::<i64>("ferrocast.i64");
        let _ = r.register::<f64>("ferrocast.f64");
        let _ = r.register::<String>("ferrocast.string");
        let _ = r.register::<Vec<u8>>("ferrocast.bytes");
        let _ = r.register::<Option<u64>>("ferrocast.option-u64");
        let _ = r.register::<Result<(), String>>("ferrocast.result-unit-string");
        r
    }

    /// Registers `T` with the compact [`Binary`] codec under `manifest`.
    pub fn register<T>(&mut self, manifest: &str) -> Result<&mut Self, RegistryError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        self.register_with::<T>(manifest, &[], Binary)
    }

    /// Registers `T` with the [`Json`] codec under `manifest`.
    pub fn register_json<T>(&mut self, manifest: &str) -> Result<&mut Self, RegistryError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        self.register_with::<T>(manifest, &[], Json)
    }

    /// Registers `T` with any serializer under `manifest`; `also_reads`
    /// lists older manifests whose bytes the serializer still decodes.
    pub fn register_with<T: Send + 'static>(
        &mut self,
        manifest: &str,
        also_reads: &[&str],
        serializer: impl Serializer<T>,
    ) -> Result<&mut Self, RegistryError> {
        let type_name = std::any::type_name::<T>();
        if self.by_type.contains_key(&TypeId::of::<T>()) {
            return Err(RegistryError::DuplicateType(type_name));
        }
        let manifest = check_manifest(manifest)?;
        let reads = also_reads
            .iter()
            .map(|m| check_manifest(m))
            .collect::<Result<Vec<_>, _>>()?;
        let id = serializer.id();
        for m in std::iter::once(&manifest).chain(&reads) {
            if let Some(other) = self.by_manifest.get(&(id, m.clone())) {
                return Err(RegistryError::DuplicateManifest {
                    id,
                    manifest: m.to_string(),
                    other: other.type_name,
                });
            }
        }
        let typed: Arc<dyn Serializer<T>> = Arc::new(serializer);
        let entry = Arc::new(TypeEntry {
            type_name,
            manifest: manifest.clone(),
            reads: reads.clone(),
            serializer_id: id,
            typed: Box::new(typed),
            glue: Glue {
                make_ref: refs::make_ref::<T>,
                clone_ref: refs::clone_ref::<T>,
                make_reply: refs::make_reply::<T>,
                make_export: refs::make_export::<T>,
                make_reply_slot: refs::make_reply_slot::<T>,
            },
        });
        self.by_type.insert(TypeId::of::<T>(), entry.clone());
        for m in std::iter::once(manifest).chain(reads) {
            self.by_manifest.insert((id, m), entry.clone());
        }
        Ok(self)
    }

    /// True if `T` is registered.
    pub fn contains<T: 'static>(&self) -> bool {
        self.by_type.contains_key(&TypeId::of::<T>())
    }

    /// The manifest `T` is sent with.
    pub fn manifest_of<T: 'static>(&self) -> Option<&str> {
        self.by_type.get(&TypeId::of::<T>()).map(|e| &*e.manifest)
    }

    pub(crate) fn entry(&self, type_id: TypeId) -> Option<&Arc<TypeEntry>> {
        self.by_type.get(&type_id)
    }

    pub(crate) fn entry_of<T: 'static>(&self) -> Option<&Arc<TypeEntry>> {
        self.by_type.get(&TypeId::of::<T>())
    }

    /// The entry that reads `(id, manifest)`.
    #[cfg(test)]
    pub(crate) fn by_manifest(&self, id: u32, manifest: &str) -> Option<&Arc<TypeEntry>> {
        self.by_manifest.get(&(id, Arc::<str>::from(manifest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Cmd {
        Add(u64),
        Name(String),
    }

    #[test]
    fn codecs_round_trip() {
        let mut out = vec![9];
        Serializer::<Cmd>::encode(&Binary, &Cmd::Add(300), &mut out).unwrap();
        assert_eq!(out[0], 9, "encode appends");
        let back: Cmd = Binary.decode("m", &out[1..]).unwrap();
        assert_eq!(back, Cmd::Add(300));
        let mut json = Vec::new();
        Json.encode(&Cmd::Name("x".into()), &mut json).unwrap();
        assert_eq!(json, br#"{"Name":"x"}"#);
        let back: Cmd = Json.decode("m", &json).unwrap();
        assert_eq!(back, Cmd::Name("x".into()));
        assert!(Serializer::<Cmd>::decode(&Binary, "m", &[7, 7, 7]).is_err());
    }

    #[test]
    fn registrations_are_checked() {
        let mut r = Registry::new();
        r.register::<Cmd>("app.Cmd").unwrap();
        assert_eq!(r.manifest_of::<Cmd>(), Some("app.Cmd"));
        assert!(matches!(
            r.register::<Cmd>("app.Cmd2"),
            Err(RegistryError::DuplicateType(_))
        ));
        assert!(matches!(
            r.register::<i8>("app.Cmd"),
            Err(RegistryError::DuplicateManifest { id: 2, .. })
        ));
        // The same manifest under another serializer id is a different key.
        r.register_json::<i8>("app.Cmd").unwrap();
        for bad in ["", "a b", "é"] {
            assert!(matches!(
                r.register::<i16>(bad),
                Err(RegistryError::InvalidManifest(_))
            ));
        }
        assert!(r.by_manifest(Binary::ID, "app.Cmd").is_some());
        assert!(r.by_manifest(Binary::ID, "app.Other").is_none());
    }

    #[test]
    fn older_manifests_are_read_by_the_same_entry() {
        let mut r = Registry::new();
        r.register_with::<Cmd>("app.Cmd.v2", &["app.Cmd.v1"], Binary)
            .unwrap();
        let e = r.entry_of::<Cmd>().unwrap();
        assert!(e.accepts(2, "app.Cmd.v2"));
        assert!(e.accepts(2, "app.Cmd.v1"));
        assert!(!e.accepts(1, "app.Cmd.v2"));
        assert!(!e.accepts(2, "app.Cmd.v3"));
    }
}
