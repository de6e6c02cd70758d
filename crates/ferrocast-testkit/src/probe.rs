//! [`TestProbe`]: an actor reference whose messages a test inspects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{ActorPath, ActorRef, ActorSystem, AnyRef, SystemMessage};
use tokio::time::Instant;

use crate::probe_target::{ProbeTarget, Receivers};

/// How long the waits that take no timeout argument wait, unless
/// [`TestProbe::default_timeout`] is changed. Under paused time a wait
/// costs nothing, so this is about giving up, not about speed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// What [`TestProbe::fish_for_message`] should do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FishingOutcome {
    /// This is the message fished for: stop.
    Complete,
    /// Skip this one and wait for the next.
    Continue,
    /// This message must not arrive: fail the test with this reason.
    Fail(String),
}

/// Stands in for an actor: hand its [`ActorRef`] to the code under test,
/// then assert on what arrives (like Akka's `TestProbe`).
///
/// Every wait runs on tokio's clock, so tests can (and should) run with
/// paused time (`#[tokio::test(start_paused = true)]`): waiting out a
/// timeout then takes no wall-clock time, and the result does not depend on
/// the machine's speed.
///
/// The `expect_*` methods panic with a message naming the probe when the
/// expectation fails: that is how a test fails.
///
/// ```
/// use std::time::Duration;
/// use ferrocast_actor::{ActorSystem, ActorSystemConfig};
/// use ferrocast_testkit::TestProbe;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let system = ActorSystem::new("probe-doc", ActorSystemConfig::default()).unwrap();
/// let mut probe = TestProbe::<u32>::new(&system);
/// probe.actor_ref().tell(7);
/// assert_eq!(probe.expect_msg(Duration::from_secs(1)).await, 7);
/// probe.expect_no_msg(Duration::from_millis(100)).await;
/// # }
/// ```
pub struct TestProbe<M: Send + 'static> {
    target: Arc<ProbeTarget<M>>,
    receivers: Receivers<M>,
    /// How long [`TestProbe::expect_msg_eq`] and [`TestProbe::next_msg`]
    /// wait; [`DEFAULT_TIMEOUT`] unless set.
    pub default_timeout: Duration,
}

impl<M: Send + 'static> TestProbe<M> {
    /// A probe with a fresh identity in `system`, at
    /// `/system/testProbe-<id>`.
    pub fn new(system: &ActorSystem) -> Self {
        let uid = system.next_uid();
        let path = ActorPath::new(format!("/system/testProbe-{}", uid.actor));
        let (target, receivers) = ProbeTarget::new(uid, path);
        TestProbe {
            target,
            receivers,
            default_timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A reference whose messages arrive at this probe.
    pub fn actor_ref(&self) -> ActorRef<M> {
        ActorRef::from_target(self.target.clone())
    }

    /// The same reference, untyped (what watchers and listings use).
    pub fn any_ref(&self) -> AnyRef {
        AnyRef::from_target(self.target.clone())
    }

    /// The probe's path.
    pub fn path(&self) -> ActorPath {
        self.any_ref().path()
    }

    /// Waits up to `timeout` for the next message.
    ///
    /// # Panics
    ///
    /// If none arrives in time.
    pub async fn expect_msg(&mut self, timeout: Duration) -> M {
        match self.recv_until(Instant::now() + timeout).await {
            Some(msg) => msg,
            None => panic!(
                "{}: timeout ({timeout:?}) while waiting for a message of type {}",
                self.path(),
                type_name::<M>()
            ),
        }
    }

    /// Waits up to the default timeout for the next message.
    ///
    /// # Panics
    ///
    /// If none arrives in time.
    pub async fn next_msg(&mut self) -> M {
        self.expect_msg(self.default_timeout).await
    }

    /// Waits for the next message, which must arrive after at least `min`
    /// and at most `max` from now.
    ///
    /// # Panics
    ///
    /// If none arrives within `max`, or one arrives before `min`.
    pub async fn expect_msg_within(&mut self, min: Duration, max: Duration) -> M {
        let start = Instant::now();
        let msg = self.expect_msg(max).await;
        let elapsed = start.elapsed();
        assert!(
            elapsed >= min,
            "{}: message arrived after {elapsed:?}, before the minimum {min:?}",
            self.path()
        );
        msg
    }

    /// Waits `duration` and checks that no message arrived meanwhile.
    ///
    /// # Panics
    ///
    /// If a message arrives.
    pub async fn expect_no_msg(&mut self, duration: Duration) {
        let start = Instant::now();
        if self.recv_until(start + duration).await.is_some() {
            panic!(
                "{}: expected no message for {duration:?}, got a {} after {:?}",
                self.path(),
                type_name::<M>(),
                start.elapsed()
            );
        }
    }

    /// Receives exactly `n` messages, all within `timeout`.
    ///
    /// # Panics
    ///
    /// If fewer than `n` arrive in time.
    pub async fn receive_n(&mut self, n: usize, timeout: Duration) -> Vec<M> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::with_capacity(n);
        while received.len() < n {
            match self.recv_until(deadline).await {
                Some(msg) => received.push(msg),
                None => panic!(
                    "{}: timeout ({timeout:?}) after {} of {n} messages",
                    self.path(),
                    received.len()
                ),
            }
        }
        received
    }

    /// Receives messages until `judge` says one is the one fished for, all
    /// within `timeout`, and returns every message received (the completing
    /// one last).
    ///
    /// # Panics
    ///
    /// If `judge` returns [`FishingOutcome::Fail`], or no message completes
    /// in time.
    pub async fn fish_for_message(
        &mut self,
        timeout: Duration,
        mut judge: impl FnMut(&M) -> FishingOutcome,
    ) -> Vec<M> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let Some(msg) = self.recv_until(deadline).await else {
                panic!(
                    "{}: timeout ({timeout:?}) while fishing; {} message(s) did not complete",
                    self.path(),
                    seen.len()
                );
            };
            match judge(&msg) {
                FishingOutcome::Complete => {
                    seen.push(msg);
                    return seen;
                }
                FishingOutcome::Continue => seen.push(msg),
                FishingOutcome::Fail(reason) => panic!(
                    "{}: fishing failed at message {}: {reason}",
                    self.path(),
                    seen.len() + 1
                ),
            }
        }
    }

    /// The next message if one is already here; never waits (usable
    /// without a runtime, e.g. with a `SyncHarness`).
    pub fn try_receive(&mut self) -> Option<M> {
        self.receivers.messages.try_recv().ok()
    }

    /// Watches `target`: its termination is reported to
    /// [`TestProbe::expect_terminated`].
    pub fn watch(&self, target: impl Into<AnyRef>) {
        let target = target.into();
        self.target.start_watching(&target);
        target.send_system(SystemMessage::Watch {
            watcher: self.any_ref(),
        });
    }

    /// Stops watching `target`; a termination already on its way is not
    /// reported.
    pub fn unwatch(&self, target: impl Into<AnyRef>) {
        let target = target.into();
        self.target.stop_watching(&target);
        target.send_system(SystemMessage::Unwatch {
            watcher: self.any_ref(),
        });
    }

    /// Waits up to `timeout` for the termination of `actor`, which the probe
    /// must [watch](TestProbe::watch).
    ///
    /// # Panics
    ///
    /// If no termination arrives in time, or the next one is of another
    /// watched actor.
    pub async fn expect_terminated(&mut self, actor: impl Into<AnyRef>, timeout: Duration) {
        let actor = actor.into();
        let next = tokio::time::timeout(timeout, self.receivers.terminations.recv()).await;
        match next {
            Ok(Some(stopped)) if stopped == actor => {}
            Ok(Some(stopped)) => panic!(
                "{}: expected the termination of {actor}, got that of {stopped}",
                self.path()
            ),
            Ok(None) | Err(_) => panic!(
                "{}: timeout ({timeout:?}) while waiting for the termination of {actor}",
                self.path()
            ),
        }
    }

    async fn recv_until(&mut self, deadline: Instant) -> Option<M> {
        // The probe's target holds the sender, so the channel never closes
        // while the probe lives: `None` only means the deadline passed.
        tokio::time::timeout_at(deadline, self.receivers.messages.recv())
            .await
            .ok()
            .flatten()
    }
}

impl<M: Send + PartialEq + fmt::Debug + 'static> TestProbe<M> {
    /// Waits up to the default timeout for the next message and checks it
    /// equals `expected`.
    ///
    /// # Panics
    ///
    /// If none arrives in time, or it differs.
    pub async fn expect_msg_eq(&mut self, expected: M) -> M {
        let msg = self.next_msg().await;
        assert_eq!(msg, expected, "{}: unexpected message", self.path());
        msg
    }
}

impl<M: Send + 'static> Drop for TestProbe<M> {
    fn drop(&mut self) {
        self.target.terminate();
    }
}

impl<M: Send + 'static> fmt::Debug for TestProbe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProbe")
            .field("path", &self.path())
            .field("default_timeout", &self.default_timeout)
            .finish_non_exhaustive()
    }
}

fn type_name<M>() -> &'static str {
    std::any::type_name::<M>()
}
