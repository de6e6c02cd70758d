//! Remote references: the targets behind `ActorRef<M>`s and `ReplyTo<R>`s
//! that point at another node, the typed glue the registry keeps per type,
//! and the scope that lets references inside messages cross the network.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use ferrocast_actor::transport::RefTransport;
use ferrocast_actor::{
    ActorPath, ActorRef, ActorTarget, ActorUid, AnyRef, AskTimer, DeadLetterReason, MessageTarget,
    ReplySink, ReplyTo, SendError, SystemMessage, TrySendError,
};

use crate::address::RemotePath;
use crate::association::{Association, PushError};
use crate::serialization::{ExportFn, ReplyFn, Serializer, TypeEntry};
use crate::shared::Shared;

/// What it takes to build a remote `ActorRef<T>`.
pub(crate) struct RefParts {
    pub(crate) shared: Arc<Shared>,
    pub(crate) assoc: Arc<Association>,
    pub(crate) path: RemotePath,
    /// `(actor id, node uid)`.
    pub(crate) actor: u64,
    pub(crate) node_uid: u64,
    pub(crate) lane: usize,
    pub(crate) entry: Arc<TypeEntry>,
}

/// What it takes to build a `ReplyTo<T>` that answers over the network.
pub(crate) struct ReplyParts {
    pub(crate) shared: Arc<Shared>,
    pub(crate) assoc: Arc<Association>,
    pub(crate) node_uid: u64,
    pub(crate) recipient: u64,
    pub(crate) entry: Arc<TypeEntry>,
}

/// An actor on another node, typed.
pub(crate) struct RemoteTarget<M> {
    shared: Arc<Shared>,
    assoc: Arc<Association>,
    uid: ActorUid,
    path: ActorPath,
    lane: usize,
    entry: Arc<TypeEntry>,
    serializer: Arc<dyn Serializer<M>>,
}

pub(crate) fn make_ref<T: Send + 'static>(p: RefParts) -> Box<dyn Any + Send> {
    match p.entry.serializer::<T>() {
        Some(serializer) => {
            let serializer = serializer.clone();
            let target = RemoteTarget::<T> {
                uid: ActorUid {
                    system: p.node_uid,
                    actor: p.actor,
                },
                path: ActorPath::new(p.path.to_string()),
                shared: p.shared,
                assoc: p.assoc,
                lane: p.lane,
                entry: p.entry,
                serializer,
            };
            Box::new(ActorRef::<T>::from_target(Arc::new(target)))
        }
        // The registry builds entries with the glue of their own type.
        None => Box::new(()),
    }
}

pub(crate) fn clone_ref<T: Send + 'static>(
    typed: &(dyn Any + Send + Sync),
) -> Option<Box<dyn Any + Send>> {
    let r = typed.downcast_ref::<ActorRef<T>>()?.clone();
    Some(Box::new(r))
}

impl<M: Send + 'static> RemoteTarget<M> {
    /// Encodes `msg` into its lane.
    fn push(&self, msg: &M) -> Result<(), PushError<String>> {
        let known = self.assoc.uid.load(Ordering::Acquire);
        // A service reference (node uid 0) follows whichever incarnation
        // lives at the address; any other names one incarnation.
        let pinned = self.uid.system != 0;
        if pinned
            && ((known != 0 && known != self.uid.system)
                || self.shared.is_quarantined(self.uid.system))
        {
            return Err(PushError::Closed);
        }
        self.shared
            .push_envelope(&self.assoc, self.lane, self.uid.actor, &self.entry, |out| {
                self.serializer.encode(msg, out)
            })
    }

    fn dead_letter(&self, reason: DeadLetterReason) {
        self.shared.system.dead_letter(
            || AnyRef::from_target(Arc::new(RemoteIdentity::new(self.uid, self.path.clone()))),
            std::any::type_name::<M>(),
            reason,
        );
    }
}

impl<M: Send + 'static> ActorTarget for RemoteTarget<M> {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        self.path.clone()
    }

    fn send_system(&self, msg: SystemMessage) {
        let me = || AnyRef::from_target(Arc::new(RemoteIdentity::new(self.uid, self.path.clone())));
        self.shared
            .remote_system_message(&self.assoc, self.uid, msg, me);
    }

    fn is_terminated(&self) -> bool {
        self.shared.is_quarantined(self.uid.system)
    }

    fn ask_timer(&self) -> Option<&AskTimer> {
        self.shared.system.ask_timer()
    }
}

impl<M: Send + 'static> MessageTarget<M> for RemoteTarget<M> {
    fn tell(&self, msg: M) {
        if let Err(e) = self.try_tell(msg) {
            let reason = match e {
                TrySendError::Full(_) => {
                    self.shared
                        .counters
                        .dropped_overflow
                        .fetch_add(1, Ordering::Relaxed);
                    DeadLetterReason::MailboxFull
                }
                TrySendError::Closed(_) => DeadLetterReason::Terminated,
            };
            self.dead_letter(reason);
        }
    }

    fn try_tell(&self, msg: M) -> Result<(), TrySendError<M>> {
        match self.push(&msg) {
            Ok(()) => Ok(()),
            Err(PushError::Full) => Err(TrySendError::Full(msg)),
            Err(PushError::Closed) => Err(TrySendError::Closed(msg)),
            // Counted and logged by `push_envelope`; like a message lost on
            // the wire, it is gone (at most once), and so is any `ReplyTo`
            // inside it (its asker fails with NoReply).
            Err(PushError::Oversized(_) | PushError::Encode(_)) => Ok(()),
        }
    }

    fn poll_send(
        &self,
        slot: &mut Option<M>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<M>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        match self.try_tell(msg) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TrySendError::Closed(m)) => Poll::Ready(Err(SendError::Closed(m))),
            Err(TrySendError::Full(m)) => {
                *slot = Some(m);
                // Room appeared since the push: try again at once.
                if !self.assoc.lanes[self.lane].wait_for_room(cx.waker()) {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

/// An untyped stand-in for a remote actor: its identity and path, for the
/// `Terminated` and dead letters that name it.
pub(crate) struct RemoteIdentity {
    uid: ActorUid,
    path: ActorPath,
}

impl RemoteIdentity {
    pub(crate) fn new(uid: ActorUid, path: ActorPath) -> Self {
        RemoteIdentity { uid, path }
    }
}

impl ActorTarget for RemoteIdentity {
    fn uid(&self) -> ActorUid {
        self.uid
    }
    fn path(&self) -> ActorPath {
        self.path.clone()
    }
    fn send_system(&self, _msg: SystemMessage) {}
    fn is_terminated(&self) -> bool {
        true
    }
}

/// Answers an ask from another node: encodes the answer to the asker's
/// pending-reply slot there.
struct RemoteReply<R> {
    shared: Arc<Shared>,
    assoc: Arc<Association>,
    node_uid: u64,
    recipient: u64,
    entry: Arc<TypeEntry>,
    serializer: Arc<dyn Serializer<R>>,
}

pub(crate) fn make_reply<T: Send + 'static>(p: ReplyParts) -> Box<dyn Any + Send> {
    match p.entry.serializer::<T>() {
        Some(serializer) => {
            let serializer = serializer.clone();
            Box::new(ReplyTo::<T>::from_sink(Box::new(RemoteReply::<T> {
                shared: p.shared,
                assoc: p.assoc,
                node_uid: p.node_uid,
                recipient: p.recipient,
                entry: p.entry,
                serializer,
            })))
        }
        None => Box::new(()),
    }
}

impl<R: Send + 'static> ReplySink<R> for RemoteReply<R> {
    fn send(self: Box<Self>, value: R) -> Result<(), R> {
        let known = self.assoc.uid.load(Ordering::Acquire);
        if (known != 0 && known != self.node_uid) || self.shared.is_quarantined(self.node_uid) {
            return Err(value);
        }
        let lane = crate::association::ORDINARY;
        match self
            .shared
            .push_envelope(&self.assoc, lane, self.recipient, &self.entry, |out| {
                self.serializer.encode(&value, out)
            }) {
            Ok(()) => Ok(()),
            Err(_) => Err(value),
        }
    }

    fn is_closed(&self) -> bool {
        self.shared.is_quarantined(self.node_uid)
    }
}

pub(crate) fn make_export<T: Send + 'static>(
    entry: &Arc<TypeEntry>,
    typed: &(dyn Any + Send + Sync),
) -> Option<ExportFn> {
    let target = typed.downcast_ref::<ActorRef<T>>()?.clone();
    let serializer = entry.serializer::<T>()?.clone();
    let entry = entry.clone();
    Some(Box::new(move |id, manifest, bytes| {
        if !entry.accepts(id, manifest) {
            return Err(entry.wrong_manifest(id, manifest));
        }
        let msg = serializer.decode(manifest, bytes)?;
        target.tell(msg);
        Ok(())
    }))
}

pub(crate) type ClosedFn = Box<dyn Fn() -> bool + Send>;

pub(crate) fn make_reply_slot<T: Send + 'static>(
    entry: &Arc<TypeEntry>,
    reply: Box<dyn Any + Send>,
) -> Option<(ReplyFn, ClosedFn)> {
    let reply = reply.downcast::<ReplyTo<T>>().ok()?;
    let serializer = entry.serializer::<T>()?.clone();
    let entry = entry.clone();
    // Whether the asker gave up is read through a second handle: the
    // oneshot's closed state is shared by both ends' views.
    let reply = Arc::new(std::sync::Mutex::new(Some(*reply)));
    let probe = reply.clone();
    let complete: ReplyFn = Box::new(move |id, manifest, bytes| {
        if !entry.accepts(id, manifest) {
            return Err(entry.wrong_manifest(id, manifest));
        }
        let value = serializer.decode(manifest, bytes)?;
        if let Some(r) = crate::association::lock(&reply).take() {
            let _ = r.send(value);
        }
        Ok(())
    });
    let closed: ClosedFn = Box::new(move || {
        crate::association::lock(&probe)
            .as_ref()
            .is_none_or(|r| r.is_closed())
    });
    Some((complete, closed))
}

/// The [`RefTransport`] installed while a message to or from `peer` is
/// encoded or decoded.
pub(crate) struct Scope<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    /// Reply slots exported while encoding, removed again if the message
    /// is not sent after all.
    pub(crate) exported_replies: RefCell<Vec<u64>>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Scope {
            shared,
            exported_replies: RefCell::new(Vec::new()),
        }
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl RefTransport for Scope<'_> {
    fn export_ref(
        &self,
        target: AnyRef,
        typed: Box<dyn Any + Send + Sync>,
        msg_type: TypeId,
    ) -> Result<String, String> {
        let path = target.path();
        if path.as_str().starts_with(crate::address::SCHEME) {
            // Already a remote reference: its name is its full path.
            return Ok(path.to_string());
        }
        self.shared
            .export_erased(target, typed, msg_type)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    }

    fn import_ref(&self, name: &str, msg_type: TypeId) -> Result<Box<dyn Any + Send>, String> {
        self.shared.import_ref(name, msg_type)
    }

    fn export_reply(
        &self,
        reply: Box<dyn Any + Send>,
        reply_type: TypeId,
    ) -> Result<String, String> {
        let (id, name) = self.shared.export_reply(reply, reply_type)?;
        self.exported_replies.borrow_mut().push(id);
        Ok(name)
    }

    fn import_reply(&self, name: &str, reply_type: TypeId) -> Result<Box<dyn Any + Send>, String> {
        self.shared.import_reply(name, reply_type)
    }
}
