//! Turns and messages run in tracing spans that carry the actor's path.
//!
//! Alone in its test binary on purpose: tracing caches per call site whether
//! anyone listens, and a test in another thread that reaches a call site
//! first, while no subscriber exists, can race with this test's subscriber.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use ferrocast_actor::*;
use tokio::sync::mpsc;

struct Echo(mpsc::UnboundedSender<u32>);

impl Actor for Echo {
    type Msg = u32;
    async fn handle(&mut self, n: u32, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let _ = self.0.send(n);
        Ok(())
    }
}

/// Records every new span's name and fields as text.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={:?}", field.name(), value));
            }
        }
        let mut fields = Fields(attrs.metadata().name().to_owned());
        attrs.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

#[tokio::test]
async fn turns_and_messages_run_in_spans_carrying_the_actor_path() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(spans.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let _guard = tracing::subscriber::set_default(subscriber);
    let system = system();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let echo = system.spawn("traced", move || Echo(tx.clone())).unwrap();
    echo.tell(5);
    assert_eq!(recv(&mut rx).await, 5);
    let recorded = spans.0.lock().unwrap().clone();
    assert!(
        recorded.iter().any(|s| s == "actor path=/user/traced"),
        "{recorded:?}"
    );
    assert!(
        recorded
            .iter()
            .any(|s| s.starts_with("message type=") && s.contains("u32")),
        "{recorded:?}"
    );
    system.terminate().await;
}
