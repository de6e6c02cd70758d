//! The tags column and what text PostgreSQL can store. The conversions
//! every SQL backend shares are in `ferrocast_persistence::backend`.

use ferrocast_persistence::Tag;

use crate::error::PostgresError;

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
}
