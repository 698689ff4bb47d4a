//! Typed contracts of every REST body and Socket.IO event payload. JSON is camelCase throughout.
//!
//! Request types derive `Deserialize + Validate`; handlers call `validate()` (REST through the
//! services' `ValidJson` extractor, sockets before acting) so one rule serves both transports.

pub mod account;
pub mod auth;
pub mod chat;
pub mod events;
pub mod time;

/// Counts characters (Unicode scalar values), which is what users mean by "length".
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// A field that is present, `null` included (`Some(None)`); `#[serde(default)]` makes an absent
/// one `None`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A request body or event payload, which must be a JSON object. serde reads a struct from a
/// JSON array too, field by field in order (and an internally tagged enum from an array whose
/// first element is the tag), so `["direct", "<id>"]` would have been taken as
/// `{"type": "direct", "userId": "<id>"}`; a client sending that has a bug that should not pass
/// unseen, and the contract documents objects only. Anything but an object is refused with
/// "invalid type: …, expected a JSON object", which the services answer as `invalid_json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

struct ObjectVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
    }
}
