//! Conversions between the contracts' types and PostgreSQL column values.

use std::time::{Duration, SystemTime};

use ferrocast_persistence::Tag;

use crate::error::PostgresError;

/// A `u64` as a `bigint`, refused past `i64::MAX`.
pub(crate) fn to_sql(value: u64, what: &'static str) -> Result<i64, PostgresError> {
    i64::try_from(value).map_err(|_| PostgresError::OutOfRange(what))
}

/// A `u64` bound of a range, clamped into `i64` (the rest is unreachable).
pub(crate) fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored `i64` back as `u64`; negative means the row is corrupt.
pub(crate) fn from_sql(value: i64, what: &str) -> Result<u64, PostgresError> {
    u64::try_from(value).map_err(|_| PostgresError::Corrupt(format!("negative {what}: {value}")))
}

/// Milliseconds since the Unix epoch (negative before it), saturating.
pub(crate) fn millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The inverse of [`millis`].
pub(crate) fn time(ms: i64) -> SystemTime {
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

/// Stored tags (a `text[]` column) back as [`Tag`]s.
pub(crate) fn tags(stored: Vec<String>) -> Result<Vec<Tag>, PostgresError> {
    stored
        .iter()
        .map(|t| Tag::new(t).map_err(|e| PostgresError::Corrupt(format!("tags column: {e}"))))
        .collect()
}

/// Whether PostgreSQL can store `text` in a `text` column: anything but NUL.
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tags_must_be_valid_tags() {
        let stored = vec!["a:b".to_owned(), "é".to_owned()];
        let back: Vec<String> = tags(stored.clone())
            .unwrap()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        assert_eq!(back, stored);
        assert!(tags(vec![String::new()]).is_err(), "empty tags are invalid");
    }

    #[test]
    fn nul_is_the_one_character_postgres_text_refuses() {
        assert!(storable("any ☃ \u{1} text"));
        assert!(!storable("a\0b"));
    }

    #[test]
    fn times_round_trip_to_the_millisecond() {
        for ms in [0, 1, 1_700_000_000_123, -5_000] {
            assert_eq!(millis(time(ms)), ms);
        }
    }

    #[test]
    fn integers_beyond_i64_are_refused() {
        assert!(to_sql(u64::MAX, "x").is_err());
        assert_eq!(clamp(u64::MAX), i64::MAX);
        assert!(from_sql(-1, "x").is_err());
    }
}
