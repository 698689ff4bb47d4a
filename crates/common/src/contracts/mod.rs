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
