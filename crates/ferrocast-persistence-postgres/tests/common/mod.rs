//! The server the tests use, and a fresh schema per test.
//!
//! The server comes from `scripts/with-postgres.sh`, which exports
//! `FERROCAST_PG_URL`. Without it these tests fail (they do not pass
//! silently): run them as
//! `scripts/with-postgres.sh cargo test -p ferrocast-persistence-postgres`.

#![allow(dead_code, unreachable_pub)]

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};

use ferrocast_persistence::{
    Payload, PersistenceId, PersistentRepr, SequenceNr, SerializerId, Tag, WriterId,
};
use ferrocast_persistence_postgres::{PostgresConfig, PostgresStore, tokio_postgres};

pub const URL_ENV: &str = "FERROCAST_PG_URL";

/// The server's URL, or a failure saying how to get one.
pub fn url() -> String {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{URL_ENV} is not set: these tests need a PostgreSQL server; run them via \
             scripts/with-postgres.sh, e.g. \
             `scripts/with-postgres.sh cargo test -p ferrocast-persistence-postgres`"
        ),
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A schema of its own for one test (unique across processes), so tests
/// run in parallel against one server.
#[derive(Debug, Clone)]
pub struct TestSchema {
    pub name: String,
}

impl TestSchema {
    pub fn new(test: &str) -> Self {
        TestSchema {
            name: format!(
                "t_{test}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub fn config(&self) -> PostgresConfig {
        let mut c = PostgresConfig::from_url(&url())
            .unwrap()
            .with_schema(&self.name);
        // Tests open many stores at once: a lean connection count each.
        c.readers = NonZeroUsize::new(2).unwrap();
        c
    }

    pub async fn open(&self) -> PostgresStore {
        PostgresStore::open(self.config()).await.unwrap()
    }

    /// A plain client, to look at or tamper with the tables.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// A client in a transaction that holds the schema's advisory lock (the
    /// store's class, "fcst"), as another store's writer would: `COMMIT`
    /// (or `ROLLBACK`) on it frees the lock.
    pub async fn hold_lock(&self) -> tokio_postgres::Client {
        let other = self.client().await;
        other
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(1717793652, hashtext('{}'))",
                self.name
            ))
            .await
            .unwrap();
        other
    }

    /// Returns once the writer of a store on this schema waits for the
    /// lock (no sleep: each look is a round trip to the server).
    pub async fn until_the_writer_waits(&self) {
        self.until_the_writer_waits_on("advisory").await;
    }

    /// Returns once the writer of a store on this schema waits for a lock
    /// of `locktype` (as `pg_locks` names it: `transactionid` while its
    /// insert waits for another transaction's row with the same key).
    pub async fn until_the_writer_waits_on(&self, locktype: &str) {
        let admin = self.client().await;
        loop {
            let waiters: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                     WHERE l.locktype = $1 AND NOT l.granted \
                     AND a.application_name = $2",
                    &[&locktype, &format!("ferrocast writer {}", self.name)],
                )
                .await
                .unwrap()
                .get(0);
            if waiters > 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Makes every commit that inserted a journal row matching `when` (a
    /// trigger condition on `NEW`) fail at `COMMIT`, with a deferred
    /// trigger; returns the client that drops it ([`TestSchema::stop_failing`]).
    pub async fn fail_commits_when(&self, when: &str) -> tokio_postgres::Client {
        let s = &self.name;
        let admin = self.client().await;
        admin
            .batch_execute(&format!(
                r#"CREATE FUNCTION "{s}".boom() RETURNS trigger LANGUAGE plpgsql
                     AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
                   CREATE CONSTRAINT TRIGGER boom AFTER INSERT ON "{s}".journal
                     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                     WHEN ({when}) EXECUTE FUNCTION "{s}".boom();"#
            ))
            .await
            .unwrap();
        admin
    }

    /// Drops the trigger of [`TestSchema::fail_commits_when`].
    pub async fn stop_failing(&self, admin: &tokio_postgres::Client) {
        admin
            .batch_execute(&format!(r#"DROP TRIGGER boom ON "{}".journal"#, self.name))
            .await
            .unwrap();
    }

    /// A table of this schema, quoted for SQL.
    pub fn table(&self, name: &str) -> String {
        format!("\"{}\".{name}", self.name)
    }
}

/// A persistence id (valid by construction in tests).
pub fn pid(name: &str) -> PersistenceId {
    PersistenceId::new(name).unwrap()
}

/// Event `nr` of `pid`, tagged "orders".
pub fn event(pid: &PersistenceId, nr: u64) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid.clone(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: vec![Tag::new("orders").unwrap()],
        timestamp: std::time::SystemTime::UNIX_EPOCH,
        writer: WriterId::new("w").unwrap(),
    }
}
