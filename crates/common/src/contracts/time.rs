//! Instants on the wire: RFC 3339 in UTC with exactly three fractional digits,
//! `2026-12-06T13:47:12.000Z`.
//!
//! One width, so that clients may order them as strings (the PWA did). chrono's own format
//! leaves the fraction out when it is zero: a message stored on an exact second was sent as
//! `…:12Z`, which sorts after `…:12.340Z`, so it showed below the rest of its second and the
//! chat list kept it as the last message. Reading accepts any RFC 3339 instant.

use chrono::format::{DelayedFormat, Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `%Y-%m-%dT%H:%M:%S%.3fZ`, parsed once.
const WIRE: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
    Item::Literal("T"),
    Item::Numeric(Numeric::Hour, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Minute, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Second, Pad::Zero),
    Item::Fixed(Fixed::Nanosecond3),
    Item::Literal("Z"),
];

/// The wire form of `t` (sub-millisecond digits are dropped), written where it goes: no
/// intermediate string on the send path.
pub fn format(t: &DateTime<Utc>) -> DelayedFormat<std::slice::Iter<'static, Item<'static>>> {
    t.format_with_items(WIRE.iter())
}

/// An instant serialized in its wire form.
struct Wire<'a>(&'a DateTime<Utc>);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format(self.0))
    }
}

/// `#[serde(with = "time::millis")]` for a `DateTime<Utc>` field.
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        Wire(t).serialize(s)
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
            Some(t) => s.serialize_some(&Wire(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}
