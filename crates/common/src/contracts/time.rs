//! Instants on the wire: RFC 3339 in UTC with exactly three fractional digits,
//! `2026-12-06T13:47:12.000Z`.
//!
//! One width, so that clients may order them as strings (the PWA did). chrono's own format
//! leaves the fraction out when it is zero: a message stored on an exact second was sent as
//! `…:12Z`, which sorts after `…:12.340Z`, so it showed below the rest of its second and the
//! chat list kept it as the last message. Reading accepts any RFC 3339 instant.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The wire form of `t` (sub-millisecond digits are dropped).
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(with = "time::millis")]` for a `DateTime<Utc>` field.
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d)
    }
}

/// `#[serde(with = "time::option_millis")]` for an `Option<DateTime<Utc>>` field.
pub mod option_millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}
