//! Timestamps as the API writes them: RFC 3339, UTC, milliseconds, `Z`
//! (`2025-01-15T12:00:00.000Z`). Reading accepts any RFC 3339 offset, because a real server
//! or a future one may write `+00:00`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
    pub fn parse(s: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|d| Timestamp(d.with_timezone(&Utc)))
    }
}

/// An RFC 3339 time with any offset, as a person types it (`--now`), in UTC; the error
/// shows what a good one looks like.
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 time (like 2026-03-28T12:00:00+01:00): {e}")
        })
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("bad timestamp {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_millis_and_z() {
        let t = Timestamp::from_millis(1_736_942_400_000);
        assert_eq!(t.to_string(), "2025-01-15T12:00:00.000Z");
        assert_eq!(Timestamp::parse("2025-01-15T13:00:00+01:00").unwrap(), t);
    }
}
