//! LogCapture: what is recorded, and what is not.

use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, ActorSystem, ActorSystemConfig, Context};
use ferrocast_testkit::{LogCapture, time};
use tracing::Level;

#[test]
fn records_level_target_message_and_fields() {
    let logs = LogCapture::start();
    tracing::info!(target: "billing", invoice = 7, customer = "ada", "invoice sent");
    tracing::debug!(ratio = 0.5, "no message fields? {}", "formatted");
    let events = logs.captured();
    assert_eq!(events.len(), 2);
    let sent = &events[0];
    assert_eq!(sent.level, Level::INFO);
    assert_eq!(sent.target, "billing");
    assert_eq!(sent.message, "invoice sent");
    assert_eq!(
        sent.fields,
        [
            ("invoice".to_owned(), "7".to_owned()),
            ("customer".to_owned(), "ada".to_owned())
        ]
    );
    assert_eq!(sent.text(), "invoice sent invoice=7 customer=ada");
    assert_eq!(
        sent.to_string(),
        "INFO billing: invoice sent invoice=7 customer=ada"
    );
    assert_eq!(events[1].message, "no message fields? formatted");
    assert_eq!(events[1].target, module_path!());
}

#[test]
fn contains_and_count_search_message_and_fields() {
    let logs = LogCapture::start();
    tracing::warn!(attempt = 1, "retrying");
    tracing::warn!(attempt = 2, "retrying");
    tracing::error!("gave up retrying");
    assert!(logs.contains("attempt=2"));
    assert!(!logs.contains("attempt=3"));
    assert_eq!(logs.count(Level::WARN, "retrying"), 2);
    assert_eq!(logs.count(Level::ERROR, "retrying"), 1);
    assert_eq!(logs.count(Level::INFO, "retrying"), 0);
    logs.clear();
    assert!(logs.captured().is_empty());
}

#[test]
fn captures_only_while_installed_and_only_this_thread() {
    let outer = LogCapture::start();
    {
        let inner = LogCapture::start();
        tracing::info!("inner");
        assert!(inner.contains("inner"));
    }
    tracing::info!("outer");
    std::thread::spawn(|| tracing::info!("other thread"))
        .join()
        .unwrap();
    let texts: Vec<String> = outer.captured().iter().map(|e| e.text()).collect();
    assert_eq!(texts, ["outer"]);
}

struct Fragile;

impl Actor for Fragile {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Err(ActorError::msg("disk on fire"))
    }
}

#[tokio::test(start_paused = true)]
async fn sees_what_actors_log_on_a_current_thread_runtime() {
    let logs = LogCapture::start();
    let system = ActorSystem::new("logs", ActorSystemConfig::default()).unwrap();
    let fragile = system.spawn("fragile", || Fragile).unwrap();
    time::settle().await;
    assert_eq!(logs.count(Level::ERROR, "actor failed"), 0);
    fragile.tell(());
    time::advance(Duration::from_secs(1)).await;
    assert_eq!(logs.count(Level::ERROR, "disk on fire"), 1);
    assert!(logs.contains("actor=/user/fragile"));
}
