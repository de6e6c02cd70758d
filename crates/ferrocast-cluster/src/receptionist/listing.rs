//! Typed listings from the untyped, replicated entries.
//!
//! The replicator knows entries only as full paths; the message type is
//! known where someone asks, so typed references are built there, through
//! [`Remoting::actor_ref`] (no round trip to the node).

use ferrocast_actor::{ActorRef, Listing};
use ferrocast_remote::{RemotePath, Remoting, UniqueAddress};

/// Typed references for `entries`; entries that give none (a local actor
/// that stopped a moment ago) are left out and counted in the second
/// value.
pub(crate) fn typed_refs<M: Send + 'static>(
    remoting: &Remoting,
    entries: &[(UniqueAddress, String)],
) -> (Vec<ActorRef<M>>, u64) {
    let mut refs = Vec::with_capacity(entries.len());
    let mut failed = 0;
    for (_, path) in entries {
        match path
            .parse::<RemotePath>()
            .map_err(|e| e.to_string())
            .and_then(|p| remoting.actor_ref::<M>(&p).map_err(|e| e.to_string()))
        {
            Ok(r) => refs.push(r),
            Err(error) => {
                failed += 1;
                tracing::debug!(%path, %error, "receptionist entry gives no reference");
            }
        }
    }
    (refs, failed)
}

/// A subscriber to one key's listing, whatever its message type.
pub(crate) trait ListingSink: Send {
    /// True once the subscriber stopped.
    fn is_closed(&self) -> bool;
    /// Sends the listing of `entries` unless it is the one sent last; the
    /// number of entries that gave no reference.
    fn offer(&mut self, remoting: &Remoting, entries: &[(UniqueAddress, String)]) -> u64;
}

/// A subscriber of `Listing<M>`.
pub(crate) struct TypedSink<M> {
    pub(crate) key: String,
    pub(crate) to: ActorRef<Listing<M>>,
    /// The entries sent last: duplicates (a node hidden and shown again
    /// with the same entries) are not sent twice.
    pub(crate) last: Option<Vec<String>>,
}

impl<M: Send + 'static> ListingSink for TypedSink<M> {
    fn is_closed(&self) -> bool {
        self.to.is_terminated()
    }

    fn offer(&mut self, remoting: &Remoting, entries: &[(UniqueAddress, String)]) -> u64 {
        let paths: Vec<String> = entries.iter().map(|(_, p)| p.clone()).collect();
        if self.last.as_ref() == Some(&paths) {
            return 0;
        }
        let (services, failed) = typed_refs::<M>(remoting, entries);
        self.last = Some(paths);
        self.to.tell(Listing {
            key: self.key.clone(),
            services,
        });
        failed
    }
}
