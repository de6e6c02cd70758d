//! [`LogCapture`]: records the `tracing` events of the current thread, to
//! assert on what was logged (like Akka's `LoggingTestKit`).

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEvent {
    /// Its level.
    pub level: Level,
    /// Its target (by default the module that logged it).
    pub target: String,
    /// The message (the `message` field), empty if there was none.
    pub message: String,
    /// The other fields, in order, with their values as text.
    pub fields: Vec<(String, String)>,
}

impl CapturedEvent {
    /// The message followed by ` name=value` for each field: what
    /// [`LogCapture::contains`] searches.
    pub fn text(&self) -> String {
        let mut text = self.message.clone();
        for (name, value) in &self.fields {
            // Writing to a String cannot fail.
            let _ = write!(text, " {name}={value}");
        }
        text
    }
}

impl fmt::Display for CapturedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.target, self.text())
    }
}

/// Records every `tracing` event (all levels) emitted on the current thread
/// from [`LogCapture::start`] until it is dropped.
///
/// It installs a thread-local default subscriber
/// (`tracing::subscriber::set_default`), so it sees only this thread: run
/// the test on a `current_thread` runtime (the default of `#[tokio::test]`),
/// where actors run on the test's thread. Events logged by other threads (a
/// `multi_thread` runtime's workers, `spawn_blocking`) are not captured.
/// While it is installed, the thread's previous subscriber (such as a `fmt`
/// logger) does not see events.
///
/// ```
/// use ferrocast_testkit::LogCapture;
/// use tracing::Level;
///
/// let logs = LogCapture::start();
/// tracing::warn!(attempt = 3, "retrying");
/// assert!(logs.contains("retrying"));
/// assert!(logs.contains("attempt=3"));
/// assert_eq!(logs.count(Level::WARN, "retrying"), 1);
/// assert_eq!(logs.count(Level::ERROR, "retrying"), 0);
/// ```
#[must_use = "the capture stops when this is dropped"]
pub struct LogCapture {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
    _guard: DefaultGuard,
}

impl LogCapture {
    /// Starts capturing on the current thread.
    pub fn start() -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Recorder {
            events: events.clone(),
        });
        LogCapture {
            events,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything recorded so far, oldest first.
    pub fn captured(&self) -> Vec<CapturedEvent> {
        lock(&self.events).clone()
    }

    /// True if an event's [text](CapturedEvent::text) contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        lock(&self.events).iter().any(|e| e.text().contains(needle))
    }

    /// How many events at exactly `level` have a
    /// [text](CapturedEvent::text) containing `needle`.
    pub fn count(&self, level: Level, needle: &str) -> usize {
        lock(&self.events)
            .iter()
            .filter(|e| e.level == level && e.text().contains(needle))
            .count()
    }

    /// Forgets what was recorded so far.
    pub fn clear(&self) {
        lock(&self.events).clear();
    }
}

impl fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogCapture")
            .field("events", &lock(&self.events).len())
            .finish_non_exhaustive()
    }
}

fn lock(events: &Mutex<Vec<CapturedEvent>>) -> MutexGuard<'_, Vec<CapturedEvent>> {
    // A panic while recording leaves the list consistent (a push either
    // happened or not).
    events.lock().unwrap_or_else(|e| e.into_inner())
}

/// The layer that turns events into [`CapturedEvent`]s.
struct Recorder {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut visitor = FieldText::default();
        event.record(&mut visitor);
        lock(&self.events).push(CapturedEvent {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: visitor.message,
            fields: visitor.fields,
        });
    }
}

#[derive(Default)]
struct FieldText {
    message: String,
    fields: Vec<(String, String)>,
}

impl FieldText {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}
