//! Column conversions: signed 64-bit integers, milliseconds, serializer
//! ids.

use std::time::{Duration, SystemTime};

use crate::payload::SerializerId;

/// A value does not fit the store's signed 64-bit integers. Nothing was
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is beyond the signed 64-bit integer range")]
pub struct OutOfRange(pub &'static str);

/// A stored value cannot be read back: a corrupt or foreign row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Corrupt(pub String);

/// A `u64` as a signed 64-bit column, refused past `i64::MAX`.
pub fn to_i64(value: u64, what: &'static str) -> Result<i64, OutOfRange> {
    i64::try_from(value).map_err(|_| OutOfRange(what))
}

/// A `u64` bound of a range, clamped into `i64` (what lies above is never
/// stored, so the range means the same).
pub fn clamp_to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored `i64` back as `u64`; a negative value means the row is
/// corrupt.
pub fn from_i64(value: i64, what: &str) -> Result<u64, Corrupt> {
    u64::try_from(value).map_err(|_| Corrupt(format!("negative {what}: {value}")))
}

/// A stored serializer id, which must fit `u32`.
pub fn serializer_id(id: i64) -> Result<SerializerId, Corrupt> {
    u32::try_from(id)
        .map(SerializerId::new)
        .map_err(|_| Corrupt(format!("serializer id {id}")))
}

/// Milliseconds since the Unix epoch (negative before it), saturating.
pub fn millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The inverse of [`millis`].
pub fn time_from_millis(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        SystemTime::UNIX_EPOCH
            .checked_add(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_to_the_millisecond() {
        for ms in [0, 1, 1_700_000_000_123, -5_000, i64::MAX, i64::MIN + 1] {
            assert_eq!(millis(time_from_millis(ms)), ms);
        }
    }

    #[test]
    fn integers_beyond_i64_are_refused_or_clamped() {
        assert_eq!(to_i64(u64::MAX, "x"), Err(OutOfRange("x")));
        assert_eq!(to_i64(7, "x"), Ok(7));
        assert_eq!(clamp_to_i64(u64::MAX), i64::MAX);
        assert_eq!(from_i64(-1, "x").unwrap_err().0, "negative x: -1");
        assert_eq!(from_i64(i64::MAX, "x"), Ok(i64::MAX as u64));
    }

    #[test]
    fn serializer_ids_must_fit_u32() {
        assert_eq!(serializer_id(1).unwrap(), SerializerId::new(1));
        assert!(
            serializer_id(-1)
                .unwrap_err()
                .0
                .contains("serializer id -1")
        );
        assert!(serializer_id(i64::from(u32::MAX) + 1).is_err());
    }
}
