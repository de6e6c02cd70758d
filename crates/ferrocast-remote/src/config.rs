//! [`RemoteConfig`]: where a node listens and how its associations behave.

use std::time::Duration;

use crate::failure_detector::DetectorSettings;
use crate::tls::TlsConfig;

/// How a node's remoting runs. Defaults follow Akka Artery's where a
/// counterpart exists.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Interface to listen on.
    pub bind_host: String,
    /// Port to listen on; 0 picks a free one (see [`crate::Remoting::address`]).
    pub bind_port: u16,
    /// The host other nodes use to reach this one, if not `bind_host`
    /// (for example the pod IP when binding `0.0.0.0`).
    pub canonical_host: Option<String>,
    /// A shared secret: connections must prove they know it (an HMAC of
    /// a per-connection challenge), or the handshake is refused.
    pub secret: Option<String>,
    /// TLS for every connection (optionally mutual); `None` is plain TCP.
    pub tls: Option<TlsConfig>,
    /// Bound of each outbound lane's queue, in encoded bytes. A full queue
    /// drops `tell`s (dead letters, counted) and makes `send` wait.
    pub outbound_lane_bytes: usize,
    /// Largest frame on the control and ordinary lanes.
    pub max_frame_size: usize,
    /// Largest frame on the large-message lane.
    pub max_large_frame_size: usize,
    /// Actor paths (exact, or a prefix ending in `*`) whose messages travel
    /// on the large-message lane, so they never hold up ordinary traffic.
    /// Chosen per recipient, which keeps per-pair ordering.
    pub large_message_destinations: Vec<String>,
    /// Time allowed for connecting plus the handshake.
    pub handshake_timeout: Duration,
    /// First delay before reconnecting a failed lane; doubles up to
    /// `reconnect_backoff_max`.
    pub reconnect_backoff_min: Duration,
    /// Longest delay between reconnect attempts.
    pub reconnect_backoff_max: Duration,
    /// Unacknowledged system messages kept per association; beyond it the
    /// association is quarantined (watch state could no longer be kept).
    pub system_message_buffer: usize,
    /// Unacknowledged system messages are sent again after this long.
    pub system_message_resend_interval: Duration,
    /// A system message unacknowledged this long quarantines the peer.
    pub give_up_system_message_after: Duration,
    /// Heartbeats to nodes with watched actors, and failure checks.
    pub heartbeat_interval: Duration,
    /// Phi-accrual settings for remote death watch.
    pub failure_detector: DetectorSettings,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            bind_host: "127.0.0.1".into(),
            bind_port: 2552,
            canonical_host: None,
            secret: None,
            tls: None,
            outbound_lane_bytes: 8 << 20,
            max_frame_size: 256 << 10,
            max_large_frame_size: 4 << 20,
            large_message_destinations: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            reconnect_backoff_min: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_secs(5),
            system_message_buffer: 20_000,
            system_message_resend_interval: Duration::from_secs(1),
            give_up_system_message_after: Duration::from_secs(6 * 3600),
            heartbeat_interval: Duration::from_secs(1),
            failure_detector: DetectorSettings::default(),
        }
    }
}

/// A configuration value that cannot work, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid remote config `{field}`: {reason}")]
pub struct RemoteConfigError {
    /// The field.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl RemoteConfig {
    /// Listens on `host:port` (port 0: any free port).
    pub fn bind(host: impl Into<String>, port: u16) -> Self {
        RemoteConfig {
            bind_host: host.into(),
            bind_port: port,
            ..RemoteConfig::default()
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), RemoteConfigError> {
        let err = |field, reason| Err(RemoteConfigError { field, reason });
        if self.bind_host.is_empty() {
            return err("bind_host", "must not be empty");
        }
        if self.canonical_host.as_deref() == Some("") {
            return err("canonical_host", "must not be empty when set");
        }
        if self.secret.as_deref() == Some("") {
            return err("secret", "must not be empty when set");
        }
        if self.max_frame_size < 1024 || self.max_frame_size > (1 << 30) {
            return err("max_frame_size", "must be between 1 KiB and 1 GiB");
        }
        if self.max_large_frame_size < self.max_frame_size || self.max_large_frame_size > (1 << 30)
        {
            return err(
                "max_large_frame_size",
                "must be at least max_frame_size and at most 1 GiB",
            );
        }
        if self.outbound_lane_bytes < self.max_large_frame_size {
            return err(
                "outbound_lane_bytes",
                "must hold at least one frame of max_large_frame_size",
            );
        }
        if self.handshake_timeout.is_zero() {
            return err("handshake_timeout", "must be positive");
        }
        if self.reconnect_backoff_min.is_zero()
            || self.reconnect_backoff_max < self.reconnect_backoff_min
        {
            return err(
                "reconnect_backoff_min",
                "must be positive and not above reconnect_backoff_max",
            );
        }
        if self.system_message_buffer == 0 {
            return err("system_message_buffer", "must be positive");
        }
        if self.system_message_resend_interval.is_zero() {
            return err("system_message_resend_interval", "must be positive");
        }
        if self.heartbeat_interval.is_zero() {
            return err("heartbeat_interval", "must be positive");
        }
        let fd = &self.failure_detector;
        if !(fd.threshold.is_finite() && fd.threshold > 0.0) {
            return err("failure_detector.threshold", "must be a positive number");
        }
        if fd.max_sample_size == 0 {
            return err("failure_detector.max_sample_size", "must be positive");
        }
        if fd.min_std_deviation.is_zero() || fd.first_heartbeat_estimate.is_zero() {
            return err(
                "failure_detector.min_std_deviation",
                "min_std_deviation and first_heartbeat_estimate must be positive",
            );
        }
        for d in &self.large_message_destinations {
            if !d.starts_with('/') {
                return err(
                    "large_message_destinations",
                    "entries are actor paths starting with '/'",
                );
            }
        }
        Ok(())
    }

    /// True if messages to `path` use the large-message lane.
    pub(crate) fn is_large_destination(&self, path: &str) -> bool {
        self.large_message_destinations
            .iter()
            .any(|d| match d.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => d == path,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_field() {
        RemoteConfig::default().validate().unwrap();
        let bad = RemoteConfig {
            max_frame_size: 10,
            ..RemoteConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "max_frame_size");
        let bad = RemoteConfig {
            secret: Some(String::new()),
            ..RemoteConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "secret");
        let mut bad = RemoteConfig::default();
        bad.failure_detector.threshold = f64::NAN;
        assert_eq!(
            bad.validate().unwrap_err().field,
            "failure_detector.threshold"
        );
    }

    #[test]
    fn large_destinations_match_exactly_or_by_prefix() {
        let c = RemoteConfig {
            large_message_destinations: vec!["/user/big".into(), "/user/files/*".into()],
            ..RemoteConfig::default()
        };
        assert!(c.is_large_destination("/user/big"));
        assert!(!c.is_large_destination("/user/bigger"));
        assert!(c.is_large_destination("/user/files/a"));
        assert!(!c.is_large_destination("/user/other"));
    }
}
