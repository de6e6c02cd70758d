//! The less common effects: unhandled, on_rejected, persist_all of nothing,
//! then_stop, and tags stored with events.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{ActorSystem, ActorSystemConfig, AskError, ReplyTo};
use ferrocast_persistence::{
    Effect, EventRejected, EventSourced, EventSourcedActor, EventSourcedSetup, EventsByTag,
    InMemoryJournal, Journal, Json, Offset, PersistenceId, SequenceNr, Serialization, Tag,
};
use serde::{Deserialize, Serialize};

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Probe;

enum Cmd {
    /// Not for this entity: unhandled, the side effect still runs.
    Ignored(ReplyTo<&'static str>),
    /// Persists `Note(text)`; a text of "\u{0}" cannot be serialized.
    Note(String, ReplyTo<Result<usize, String>>),
    Nothing(ReplyTo<usize>),
    Finish(ReplyTo<usize>),
}

#[derive(Deserialize)]
struct Note(String);

impl Serialize for Note {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.contains('\u{0}') {
            return Err(serde::ser::Error::custom("no NUL in notes"));
        }
        s.serialize_newtype_struct("Note", &self.0)
    }
}

impl EventSourced for Probe {
    type Command = Cmd;
    type Event = Note;
    type State = Vec<String>;

    fn empty_state(&self) -> Vec<String> {
        Vec::new()
    }

    fn on_command(&mut self, _state: &Vec<String>, cmd: Cmd) -> Effect<Self> {
        match cmd {
            Cmd::Ignored(reply) => Effect::unhandled().then(move |_| {
                let _ = reply.send("ran");
            }),
            Cmd::Note(text, reply) => {
                // One reply handle, answered on either path.
                let reply = Arc::new(std::sync::Mutex::new(Some(reply)));
                let on_ok = reply.clone();
                Effect::persist(Note(text))
                    .then(move |s: &Vec<String>| {
                        if let Some(r) = on_ok.lock().unwrap().take() {
                            let _ = r.send(Ok(s.len()));
                        }
                    })
                    .on_rejected(move |e: EventRejected| {
                        if let Some(r) = reply.lock().unwrap().take() {
                            let _ = r.send(Err(e.to_string()));
                        }
                    })
            }
            Cmd::Nothing(reply) => Effect::persist_all(Vec::new()).then_reply(reply, Vec::len),
            Cmd::Finish(reply) => Effect::none().then_reply(reply, Vec::len).then_stop(),
        }
    }

    fn on_event(&self, state: &mut Vec<String>, event: &Note) {
        state.push(event.0.clone());
    }

    fn tags(&self, event: &Note) -> Vec<Tag> {
        Tag::new(&format!("len-{}", event.0.len()))
            .into_iter()
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn rare_effects_behave_as_documented() {
    let system = ActorSystem::new("fx", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(InMemoryJournal::default());
    let pid = PersistenceId::new("probe").unwrap();
    let setup = EventSourcedSetup::<Probe, _>::new(
        pid.clone(),
        journal.clone(),
        Serialization::new("note.v1", Json),
    );
    let probe = system
        .spawn("probe", EventSourcedActor::props(setup, Probe::default))
        .unwrap();

    assert_eq!(probe.ask(Cmd::Ignored, TIMEOUT).await.unwrap(), "ran");
    let ok = probe
        .ask(|r| Cmd::Note("hi".into(), r), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(ok, Ok(1));
    let rejected = probe
        .ask(|r| Cmd::Note("a\u{0}b".into(), r), TIMEOUT)
        .await
        .unwrap();
    assert!(
        matches!(&rejected, Err(m) if m.contains("event 0") && m.contains("no NUL")),
        "{rejected:?}"
    );
    assert_eq!(probe.ask(Cmd::Nothing, TIMEOUT).await.unwrap(), 1);
    assert_eq!(journal.highest_sequence_nr(&pid).await.unwrap().value(), 1);
    let by_tag = journal
        .events_by_tag(&Tag::new("len-2").unwrap(), Offset::ZERO, NonZeroUsize::MAX)
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 1);
    assert_eq!(by_tag[0].event.sequence_nr, SequenceNr::FIRST);

    assert_eq!(probe.ask(Cmd::Finish, TIMEOUT).await.unwrap(), 1);
    let after = probe.ask(Cmd::Nothing, TIMEOUT).await;
    assert!(
        matches!(after, Err(AskError::Terminated | AskError::NoReply)),
        "{after:?}"
    );
    system.terminate().await;
}
