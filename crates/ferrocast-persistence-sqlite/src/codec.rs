//! The tags column. The conversions every SQL backend shares are in
//! `ferrocast_persistence::backend`.

use ferrocast_persistence::Tag;

use crate::error::SqliteError;

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
}
