//! [`PostgresConfig`].

use std::num::NonZeroUsize;
use std::time::Duration;

/// Which server, which schema, and how writes are grouped.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    /// How to reach the server (host, port, user, database, timeouts).
    /// Build it from a URL with [`PostgresConfig::from_url`] or by hand.
    pub connection: tokio_postgres::Config,
    /// The PostgreSQL schema that holds the tables, created on open if
    /// missing. Distinct schemas are distinct stores on one database (the
    /// tests give each test its own). Lowercase ASCII letters, digits and
    /// `_`, starting with a letter or `_`, at most 63 bytes.
    pub schema: String,
    /// Most write requests (from any number of entities) committed in one
    /// transaction by the writer task. Requests are never held back to fill
    /// a batch: a batch is whatever queued while the previous commit ran,
    /// so the added latency is at most one commit.
    pub max_batch: NonZeroUsize,
    /// Write requests waiting for the writer task at most; past that,
    /// writers wait (asynchronously) for room.
    pub write_queue: NonZeroUsize,
    /// Read connections the store keeps open (each pipelines any number of
    /// concurrent queries). The writer has one more of its own.
    pub readers: NonZeroUsize,
}

/// A configuration value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid postgres config {field}: {reason}")]
pub struct InvalidConfig {
    /// Which field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

/// How long a connect may take when the connection config does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PostgresConfig {
    /// Defaults (schema `public`) for the server `connection` names.
    pub fn new(mut connection: tokio_postgres::Config) -> Self {
        if connection.get_connect_timeout().is_none() {
            connection.connect_timeout(CONNECT_TIMEOUT);
        }
        PostgresConfig {
            connection,
            schema: "public".to_owned(),
            max_batch: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            write_queue: NonZeroUsize::new(8192).unwrap_or(NonZeroUsize::MIN),
            readers: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// Defaults for a `postgres://user@host:port/database` URL (or a
    /// `key=value` connection string).
    pub fn from_url(url: &str) -> Result<Self, InvalidConfig> {
        let connection = url.parse().map_err(|_| InvalidConfig {
            field: "connection",
            reason: "not a postgres connection URL or string",
        })?;
        Ok(PostgresConfig::new(connection))
    }

    /// The same, with the tables in `schema`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let s = self.schema.as_bytes();
        let starts_well = s
            .first()
            .is_some_and(|c| c.is_ascii_lowercase() || *c == b'_');
        let rest_ok = s
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
        // Checked, the name can go into SQL text unquoted-safe.
        if !starts_well || !rest_ok || s.len() > 63 {
            return Err(InvalidConfig {
                field: "schema",
                reason: "must be 1 to 63 of [a-z0-9_], not starting with a digit",
            });
        }
        if self.connection.get_hosts().is_empty() {
            return Err(InvalidConfig {
                field: "connection",
                reason: "names no host",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schema: &str) -> PostgresConfig {
        PostgresConfig::from_url("postgres://u@127.0.0.1:5432/db")
            .unwrap()
            .with_schema(schema)
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(config("public").validate().is_ok());
        assert!(config("_t_1").validate().is_ok());
        for bad in ["", "1a", "A", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert_eq!(config(bad).validate().unwrap_err().field, "schema", "{bad}");
        }
    }

    #[test]
    fn urls_parse_and_get_a_connect_timeout() {
        let c = config("public");
        assert_eq!(c.connection.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.connection.get_ports(), [5432]);
        assert!(PostgresConfig::from_url("postgres://h:notaport/db").is_err());
    }
}
