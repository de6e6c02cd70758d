use serde::{Deserialize, Serialize};

use super::*;
use crate::serializer::Json;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct ItemAdded {
    item: String,
    quantity: u32,
}

#[derive(Serialize, Deserialize)]
struct ItemAddedV0 {
    item: String,
}

fn ser() -> Serialization<ItemAdded> {
    Serialization::new("item-added.v2", Json)
}

#[test]
fn round_trips() {
    let s = ser();
    let v = ItemAdded {
        item: "apple".into(),
        quantity: 3,
    };
    let p = s.encode(&v).unwrap();
    assert_eq!(p.serializer, SerializerId::JSON);
    assert_eq!(p.manifest.as_str(), "item-added.v2");
    assert_eq!(s.decode(&p).unwrap(), v);
}

#[test]
fn unknown_serializer_and_manifest_are_typed() {
    let s = ser();
    let p = Payload::new(SerializerId::new(999), "item-added.v2", b"{}".to_vec());
    assert!(matches!(
        s.decode(&p),
        Err(DecodeError::UnknownSerializer { serializer, .. }) if serializer.value() == 999
    ));
    let p = Payload::new(SerializerId::JSON, "other", b"{}".to_vec());
    assert!(matches!(
        s.decode(&p),
        Err(DecodeError::UnknownManifest { .. })
    ));
    let p = Payload::new(SerializerId::JSON, "item-added.v2", b"{not json".to_vec());
    assert!(matches!(s.decode(&p), Err(DecodeError::Malformed { .. })));
}

#[test]
fn upcasters_chain_to_the_current_manifest() {
    let s = ser()
        .with_upcaster(
            "item-added.v1",
            json_upcaster("item-added.v2", |mut doc| {
                if let Some(q) = doc.as_object_mut().and_then(|o| o.remove("qty")) {
                    doc["quantity"] = q;
                }
                Ok(doc)
            }),
        )
        .with_legacy("item-added.v0", Json, |old: ItemAddedV0| ItemAdded {
            item: old.item,
            quantity: 1,
        });
    let v1 = Payload::new(
        SerializerId::JSON,
        "item-added.v1",
        br#"{"item":"pear","qty":2}"#.to_vec(),
    );
    assert_eq!(
        s.decode(&v1).unwrap(),
        ItemAdded {
            item: "pear".into(),
            quantity: 2
        }
    );
    let v0 = Payload::new(
        SerializerId::JSON,
        "item-added.v0",
        br#"{"item":"fig"}"#.to_vec(),
    );
    assert_eq!(s.decode(&v0).unwrap().quantity, 1);
}

#[test]
fn upcast_cycles_and_failures_are_typed() {
    let s = ser()
        .with_upcaster("a", json_upcaster("b", Ok))
        .with_upcaster("b", json_upcaster("a", Ok))
        .with_upcaster("bad", |_p: Payload| Err(CodecError::new("no")));
    let p = Payload::new(SerializerId::JSON, "a", b"{}".to_vec());
    assert!(matches!(s.decode(&p), Err(DecodeError::UpcastLoop { .. })));
    let p = Payload::new(SerializerId::JSON, "bad", b"{}".to_vec());
    assert!(matches!(s.decode(&p), Err(DecodeError::Upcast { .. })));
}

#[test]
fn serialize_failures_are_typed() {
    struct Unserializable;
    impl Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
    impl<'de> Deserialize<'de> for Unserializable {
        fn deserialize<D: serde::Deserializer<'de>>(_d: D) -> Result<Self, D::Error> {
            Err(serde::de::Error::custom("refused"))
        }
    }
    let s = Serialization::new("u", Json);
    let err = s.encode(&Unserializable).unwrap_err();
    assert_eq!(err.manifest.as_str(), "u");
}
