//! Conversions between the contracts' types and SQLite column values.

use std::time::{Duration, SystemTime};

use ferrocast_persistence::Tag;

use crate::error::SqliteError;

/// A `u64` as SQLite's `i64`, refused past `i64::MAX`.
pub(crate) fn to_sql(value: u64, what: &'static str) -> Result<i64, SqliteError> {
    i64::try_from(value).map_err(|_| SqliteError::OutOfRange(what))
}

/// A `u64` bound of a range, clamped into `i64` (the rest is unreachable).
pub(crate) fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored `i64` back as `u64`; negative means the row is corrupt.
pub(crate) fn from_sql(value: i64, what: &str) -> Result<u64, SqliteError> {
    u64::try_from(value).map_err(|_| SqliteError::Corrupt(format!("negative {what}: {value}")))
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

/// Tags as one text column: each as `<byte length>:<tag>`. Any character may
/// appear in a tag, so a separator would not do.
pub(crate) fn encode_tags(tags: &[Tag]) -> String {
    let mut out = String::new();
    for t in tags {
        out.push_str(&t.as_str().len().to_string());
        out.push(':');
        out.push_str(t.as_str());
    }
    out
}

/// The inverse of [`encode_tags`].
pub(crate) fn decode_tags(mut text: &str) -> Result<Vec<Tag>, SqliteError> {
    let corrupt = |why: &str| SqliteError::Corrupt(format!("tags column: {why}"));
    let mut tags = Vec::new();
    while !text.is_empty() {
        let (len, rest) = text.split_once(':').ok_or_else(|| corrupt("missing ':'"))?;
        let len: usize = len.parse().map_err(|_| corrupt("bad length"))?;
        let tag = rest.get(..len).ok_or_else(|| corrupt("short tag"))?;
        tags.push(Tag::new(tag).map_err(|e| corrupt(&e.to_string()))?);
        text = rest.get(len..).unwrap_or_default();
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_with_any_characters() {
        let tags = vec![
            Tag::new("a:b").unwrap(),
            Tag::new("12:").unwrap(),
            Tag::new("é").unwrap(),
        ];
        assert_eq!(decode_tags(&encode_tags(&tags)).unwrap(), tags);
        assert_eq!(decode_tags("").unwrap(), Vec::<Tag>::new());
        assert!(decode_tags("5:ab").is_err());
        assert!(decode_tags("x:ab").is_err());
        assert!(decode_tags("0:").is_err(), "empty tags are invalid");
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
