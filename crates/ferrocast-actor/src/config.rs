//! System configuration: a serde struct with defaults and `validate()`,
//! loaded from TOML with environment-variable overrides.
//!
//! ```
//! use ferrocast_actor::ActorSystemConfig;
//!
//! let toml = "throughput = 32\n[mailbox]\ncapacity = 64\noverflow = \"drop-oldest\"\n";
//! let env = [("FERROCAST_MAILBOX__CAPACITY".to_string(), "128".to_string())];
//! let config = ActorSystemConfig::load_from(Some(toml), env).unwrap();
//! assert_eq!(config.throughput, 32);
//! assert_eq!(config.mailbox.capacity, 128);
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::mailbox::MailboxConfig;
use crate::supervision::Backoff;

/// Prefix of environment variables that override configuration values:
/// `FERROCAST_` followed by the key path with `__` between levels, e.g.
/// `FERROCAST_MAILBOX__CAPACITY=64` or `FERROCAST_THROUGHPUT=10`.
pub const ENV_PREFIX: &str = "FERROCAST_";

/// A configuration problem, naming the field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value is out of range.
    #[error("invalid value for `{field}`: {reason}")]
    Invalid {
        /// Dotted path of the field, such as `mailbox.capacity`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TOML (after environment overrides) does not fit the schema.
    #[error("cannot parse configuration: {0}")]
    Parse(String),
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field at fault, for `Invalid`.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Configuration of an [`ActorSystem`](crate::ActorSystem).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorSystemConfig {
    /// The default mailbox of actors whose `Props` do not set one.
    pub mailbox: MailboxConfig,
    /// Messages an actor handles per turn before it yields the thread, so
    /// one busy actor cannot starve the others. At least 1.
    pub throughput: usize,
    /// Default bound of an actor's stash.
    pub stash_capacity: usize,
    /// How the user guardian supervises top-level actors.
    pub supervision: SupervisionConfig,
    /// Dead-letter logging.
    pub dead_letters: DeadLettersConfig,
    /// Coordinated shutdown.
    pub shutdown: ShutdownConfig,
    /// Seeds the system's random numbers (restart jitter). `None` picks a
    /// random seed; tests set one to be deterministic.
    pub random_seed: Option<u64>,
}

impl Default for ActorSystemConfig {
    fn default() -> Self {
        ActorSystemConfig {
            mailbox: MailboxConfig::default(),
            throughput: 64,
            stash_capacity: 1000,
            supervision: SupervisionConfig::default(),
            dead_letters: DeadLettersConfig::default(),
            shutdown: ShutdownConfig::default(),
            random_seed: None,
        }
    }
}

/// How top-level actors are supervised by the user guardian.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Restarts allowed within `within`; one more stops the actor.
    pub max_restarts: u32,
    /// The window for `max_restarts`.
    #[serde(with = "humantime_serde")]
    pub within: Duration,
    /// Spacing between restarts.
    pub backoff: Backoff,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig {
            max_restarts: 10,
            within: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }
}

/// Dead-letter logging: counted always, logged at most
/// `max_logged_per_interval` times per `interval`, then summarized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLettersConfig {
    /// Log dead letters at all.
    pub log: bool,
    /// Lines per interval before suppression.
    pub max_logged_per_interval: u32,
    /// The rate-limit interval.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for DeadLettersConfig {
    fn default() -> Self {
        DeadLettersConfig {
            log: true,
            max_logged_per_interval: 10,
            interval: Duration::from_secs(10),
        }
    }
}

/// Coordinated shutdown timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Timeout of a phase not listed in `phase_timeouts`.
    #[serde(with = "humantime_serde")]
    pub default_phase_timeout: Duration,
    /// Per-phase timeouts by phase name.
    pub phase_timeouts: BTreeMap<String, humantime_serde::Serde<Duration>>,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            default_phase_timeout: Duration::from_secs(5),
            phase_timeouts: BTreeMap::from([(
                "actor-system-terminate".to_owned(),
                Duration::from_secs(10).into(),
            )]),
        }
    }
}

impl ShutdownConfig {
    /// The timeout of a phase.
    pub fn timeout_of(&self, phase: &str) -> Duration {
        self.phase_timeouts
            .get(phase)
            .map_or(self.default_phase_timeout, |d| **d)
    }
}

impl ActorSystemConfig {
    /// Checks every value; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.mailbox.validate_at("mailbox")?;
        if self.throughput == 0 {
            return Err(ConfigError::invalid("throughput", "must be at least 1"));
        }
        if self.stash_capacity == 0 {
            return Err(ConfigError::invalid("stash_capacity", "must be at least 1"));
        }
        if self.supervision.within.is_zero() {
            return Err(ConfigError::invalid(
                "supervision.within",
                "must be positive",
            ));
        }
        self.supervision
            .backoff
            .validate_at("supervision.backoff")?;
        if self.dead_letters.interval.is_zero() {
            return Err(ConfigError::invalid(
                "dead_letters.interval",
                "must be positive",
            ));
        }
        if self.shutdown.default_phase_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "shutdown.default_phase_timeout",
                "must be positive",
            ));
        }
        for name in self.shutdown.phase_timeouts.keys() {
            if !crate::shutdown::PHASES.contains(&name.as_str()) {
                return Err(ConfigError::invalid(
                    format!("shutdown.phase_timeouts.{name}"),
                    "no such phase",
                ));
            }
        }
        Ok(())
    }

    /// Parses TOML text (missing fields take defaults) and validates.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::load_from(Some(text), std::iter::empty())
    }

    /// Loads an optional TOML file, then applies `FERROCAST_*` variables
    /// from the process environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = path
            .map(|p| {
                std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    path: p.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Self::load_from(text.as_deref(), std::env::vars())
    }

    /// Like [`load`](Self::load) with the TOML text and the environment
    /// given explicitly (variables without the prefix are ignored).
    pub fn load_from(
        toml_text: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = match toml_text {
            Some(t) => t
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?,
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some(path) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
            set_path(&mut table, &keys, parse_env_value(&value)).map_err(|reason| {
                ConfigError::invalid(keys.join("."), format!("from {var}: {reason}"))
            })?;
        }
        let config: ActorSystemConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// An environment value is read as a TOML value when it is one (numbers,
/// booleans, quoted strings, arrays), else as a bare string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ActorSystemConfig::default().validate().unwrap();
    }

    #[test]
    fn invalid_values_name_the_field() {
        let err = ActorSystemConfig::from_toml_str("[mailbox]\ncapacity = 0").unwrap_err();
        assert_eq!(err.field(), Some("mailbox.capacity"));
        let err = ActorSystemConfig::from_toml_str("throughput = 0").unwrap_err();
        assert_eq!(err.field(), Some("throughput"));
        let err = ActorSystemConfig::from_toml_str("[supervision.backoff]\nrandom_factor = 2.0")
            .unwrap_err();
        assert_eq!(err.field(), Some("supervision.backoff.random_factor"));
        let err = ActorSystemConfig::from_toml_str("[shutdown.phase_timeouts]\nnope = \"1s\"")
            .unwrap_err();
        assert_eq!(err.field(), Some("shutdown.phase_timeouts.nope"));
    }

    #[test]
    fn unknown_and_mistyped_fields_are_parse_errors_naming_the_key() {
        let err = ActorSystemConfig::from_toml_str("[mailbox]\ncapacit = 3").unwrap_err();
        assert!(err.to_string().contains("capacit"), "{err}");
        let err = ActorSystemConfig::from_toml_str("throughput = \"fast\"").unwrap_err();
        assert!(err.to_string().contains("throughput"), "{err}");
    }

    #[test]
    fn environment_overrides_file() {
        let env = [
            ("FERROCAST_THROUGHPUT".to_owned(), "7".to_owned()),
            (
                "FERROCAST_MAILBOX__OVERFLOW".to_owned(),
                "drop-newest".to_owned(),
            ),
            (
                "FERROCAST_DEAD_LETTERS__INTERVAL".to_owned(),
                "2s".to_owned(),
            ),
            ("OTHER".to_owned(), "ignored".to_owned()),
        ];
        let c = ActorSystemConfig::load_from(Some("throughput = 3"), env).unwrap();
        assert_eq!(c.throughput, 7);
        assert_eq!(c.mailbox.overflow, crate::OverflowPolicy::DropNewest);
        assert_eq!(c.dead_letters.interval, Duration::from_secs(2));
    }

    #[test]
    fn environment_errors_name_the_field() {
        let env = [("FERROCAST_THROUGHPUT__X".to_owned(), "1".to_owned())];
        let err = ActorSystemConfig::load_from(Some("throughput = 3"), env).unwrap_err();
        assert_eq!(err.field(), Some("throughput.x"));
    }

    #[test]
    fn round_trips_through_toml() {
        let c = ActorSystemConfig::default();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(ActorSystemConfig::from_toml_str(&text).unwrap(), c);
    }
}
