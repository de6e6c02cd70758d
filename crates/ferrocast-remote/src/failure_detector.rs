//! The phi-accrual failure detector (Hayashibara et al.), sans IO.
//!
//! It is fed the arrival times of heartbeats and answers, for a given
//! moment, how suspicious the silence is: `phi = -log10(P(a heartbeat
//! arrives later than now))` under a normal distribution fitted to the last
//! intervals, whose mean is padded by an acceptable pause. A node is
//! available while `phi < threshold`. The caller passes every timestamp;
//! nothing here reads a clock, so tests drive it with made-up times.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Tuning of a [`PhiAccrualDetector`] (Akka's names and defaults for remote
/// death watch).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    /// Suspicion level at which a node is considered unavailable.
    pub threshold: f64,
    /// Number of intervals remembered.
    pub max_sample_size: usize,
    /// Floor of the standard deviation, so a very regular history does not
    /// make the detector jumpy.
    pub min_std_deviation: Duration,
    /// Extra silence tolerated on top of the mean interval (GC pauses,
    /// network hiccups).
    pub acceptable_heartbeat_pause: Duration,
    /// The interval assumed before real ones are known.
    pub first_heartbeat_estimate: Duration,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            threshold: 10.0,
            max_sample_size: 200,
            min_std_deviation: Duration::from_millis(100),
            acceptable_heartbeat_pause: Duration::from_secs(10),
            first_heartbeat_estimate: Duration::from_secs(1),
        }
    }
}

/// One monitored node's detector.
#[derive(Debug, Clone)]
pub struct PhiAccrualDetector {
    settings: DetectorSettings,
    intervals: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
    last: Option<Instant>,
}

impl PhiAccrualDetector {
    /// A detector that has seen no heartbeat yet (and so reports the node
    /// available until the first one starts the clock).
    pub fn new(settings: DetectorSettings) -> Self {
        PhiAccrualDetector {
            settings,
            intervals: VecDeque::new(),
            sum: 0.0,
            sum_sq: 0.0,
            last: None,
        }
    }

    fn push(&mut self, ms: f64) {
        if self.intervals.len() >= self.settings.max_sample_size.max(1) {
            if let Some(old) = self.intervals.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        self.intervals.push_back(ms);
        self.sum += ms;
        self.sum_sq += ms * ms;
    }

    /// Records a heartbeat that arrived at `now`.
    pub fn heartbeat(&mut self, now: Instant) {
        match self.last {
            None => {
                // Seed the history with the estimate: mean m, deviation m/4.
                let m = self.settings.first_heartbeat_estimate.as_secs_f64() * 1000.0;
                let d = m / 4.0;
                self.push(m - d);
                self.push(m + d);
            }
            Some(last) => {
                let interval = now.saturating_duration_since(last).as_secs_f64() * 1000.0;
                self.push(interval);
            }
        }
        self.last = Some(now);
    }

    /// True once any heartbeat was recorded.
    pub fn is_monitoring(&self) -> bool {
        self.last.is_some()
    }

    /// The suspicion level at `now` (0 before the first heartbeat).
    pub fn phi(&self, now: Instant) -> f64 {
        let Some(last) = self.last else {
            return 0.0;
        };
        let n = self.intervals.len().max(1) as f64;
        let mean = self.sum / n;
        let variance = (self.sum_sq / n - mean * mean).max(0.0);
        let min_std = self.settings.min_std_deviation.as_secs_f64() * 1000.0;
        let std = variance.sqrt().max(min_std).max(f64::MIN_POSITIVE);
        let mean = mean + self.settings.acceptable_heartbeat_pause.as_secs_f64() * 1000.0;
        let elapsed = now.saturating_duration_since(last).as_secs_f64() * 1000.0;
        phi(elapsed, mean, std)
    }

    /// True while the suspicion level is below the threshold.
    pub fn is_available(&self, now: Instant) -> bool {
        self.phi(now) < self.settings.threshold
    }
}

/// `-log10` of the probability that a normally distributed interval with
/// this mean and deviation exceeds `elapsed`, by the logistic approximation
/// of the normal CDF (as Akka and Cassandra compute it).
fn phi(elapsed: f64, mean: f64, std: f64) -> f64 {
    let y = (elapsed - mean) / std;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    if elapsed > mean {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pause_ms: u64) -> DetectorSettings {
        DetectorSettings {
            threshold: 8.0,
            acceptable_heartbeat_pause: Duration::from_millis(pause_ms),
            min_std_deviation: Duration::from_millis(10),
            first_heartbeat_estimate: Duration::from_millis(100),
            ..DetectorSettings::default()
        }
    }

    #[test]
    fn regular_heartbeats_keep_the_node_available() {
        let t0 = Instant::now();
        let mut d = PhiAccrualDetector::new(settings(0));
        assert!(d.is_available(t0) && !d.is_monitoring());
        for i in 0..100 {
            d.heartbeat(t0 + Duration::from_millis(100 * i));
        }
        let last = t0 + Duration::from_millis(9_900);
        assert!(d.phi(last + Duration::from_millis(100)) < 1.0);
        assert!(d.is_available(last + Duration::from_millis(120)));
    }

    #[test]
    fn phi_grows_with_silence_and_crosses_the_threshold() {
        let t0 = Instant::now();
        let mut d = PhiAccrualDetector::new(settings(0));
        for i in 0..50 {
            d.heartbeat(t0 + Duration::from_millis(100 * i));
        }
        let last = t0 + Duration::from_millis(4_900);
        let mut prev = 0.0;
        for ms in [50, 100, 150, 200, 300, 500] {
            let p = d.phi(last + Duration::from_millis(ms));
            assert!(p >= prev, "phi is monotone: {p} after {prev}");
            prev = p;
        }
        assert!(!d.is_available(last + Duration::from_millis(500)));
    }

    #[test]
    fn acceptable_pause_delays_suspicion() {
        let t0 = Instant::now();
        let mut strict = PhiAccrualDetector::new(settings(0));
        let mut lenient = PhiAccrualDetector::new(settings(3_000));
        for i in 0..20 {
            strict.heartbeat(t0 + Duration::from_millis(100 * i));
            lenient.heartbeat(t0 + Duration::from_millis(100 * i));
        }
        let probe = t0 + Duration::from_millis(1_900 + 1_000);
        assert!(!strict.is_available(probe));
        assert!(lenient.is_available(probe));
        assert!(!lenient.is_available(t0 + Duration::from_millis(1_900 + 5_000)));
    }

    #[test]
    fn irregular_history_is_more_tolerant() {
        let t0 = Instant::now();
        let mut regular = PhiAccrualDetector::new(settings(0));
        let mut jittery = PhiAccrualDetector::new(settings(0));
        let mut t = 0;
        for i in 0..60u64 {
            regular.heartbeat(t0 + Duration::from_millis(100 * i));
            t += if i % 2 == 0 { 40 } else { 160 };
            jittery.heartbeat(t0 + Duration::from_millis(t));
        }
        let r = regular.phi(t0 + Duration::from_millis(5_900 + 250));
        let j = jittery.phi(t0 + Duration::from_millis(t + 250));
        assert!(j < r, "jittery {j} < regular {r}");
    }

    #[test]
    fn sample_window_is_bounded() {
        let t0 = Instant::now();
        let mut d = PhiAccrualDetector::new(DetectorSettings {
            max_sample_size: 5,
            ..settings(0)
        });
        for i in 0..100 {
            d.heartbeat(t0 + Duration::from_millis(100 * i));
        }
        assert_eq!(d.intervals.len(), 5);
    }
}
