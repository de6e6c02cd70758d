//! Test toolkit for Ferrocast actors: probes, paused time, a synchronous
//! harness and log capture (Akka's `ActorTestKit`, `TestProbe`,
//! `BehaviorTestKit` and `LoggingTestKit`).
//!
//! Two styles of test:
//! - **Asynchronous**: real actors on a `current_thread` runtime with paused
//!   time (`#[tokio::test(start_paused = true)]`). Give actors a
//!   [`TestProbe`]'s reference and assert on what it receives; move the
//!   clock with [`time::advance`]. Waits never depend on the wall clock.
//! - **Synchronous**: [`SyncHarness`] runs one actor's handlers by hand and
//!   shows their effects (self-messages, children, timers, stop) without a
//!   runtime.
//!
//! ```
//! use std::time::Duration;
//! use ferrocast_actor::{Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context};
//! use ferrocast_testkit::{SyncHarness, TestProbe};
//!
//! /// Greets whoever asks, on the reference in the request.
//! struct Greeter { greeted: u32 }
//!
//! struct Greet { name: String, reply_to: ActorRef<String> }
//!
//! impl Actor for Greeter {
//!     type Msg = Greet;
//!     async fn handle(&mut self, msg: Greet, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
//!         self.greeted += 1;
//!         msg.reply_to.tell(format!("hello, {}", msg.name));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On a runtime (in a test: #[tokio::test(start_paused = true)]).
//! let system = ActorSystem::new("doc", ActorSystemConfig::default())?;
//! let greeter = system.spawn("greeter", || Greeter { greeted: 0 })?;
//! let mut probe = TestProbe::new(&system);
//! greeter.tell(Greet { name: "ada".into(), reply_to: probe.actor_ref() });
//! probe.expect_msg_eq("hello, ada".to_string()).await;
//! probe.expect_no_msg(Duration::from_secs(1)).await;
//! probe.watch(&greeter);
//! system.stop(&greeter);
//! probe.expect_terminated(&greeter, Duration::from_secs(1)).await;
//!
//! // Without a runtime: one handler at a time.
//! let mut harness = SyncHarness::new(|| Greeter { greeted: 0 })?;
//! let mut replies = TestProbe::new(harness.system());
//! harness.run(Greet { name: "bob".into(), reply_to: replies.actor_ref() })?;
//! assert_eq!(harness.actor().greeted, 1);
//! assert_eq!(replies.try_receive().as_deref(), Some("hello, bob"));
//! # system.terminate().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `probe`: [`TestProbe`], [`FishingOutcome`]; `probe_target`: the
//!   [`MessageTarget`](ferrocast_actor::MessageTarget) behind a probe's
//!   references (an unbounded channel, plus death watch).
//! - [`time`]: pause, advance and settle tokio's clock.
//! - `log_capture`: [`LogCapture`], [`CapturedEvent`].
//! - [`SyncHarness`], [`HarnessError`]: re-exported from ferrocast-actor,
//!   which it needs the internals of.

mod log_capture;
mod probe;
mod probe_target;
pub mod time;

pub use ferrocast_actor::{HarnessError, SyncHarness};
pub use log_capture::{CapturedEvent, LogCapture};
pub use probe::{DEFAULT_TIMEOUT, FishingOutcome, TestProbe};
