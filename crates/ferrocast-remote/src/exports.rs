//! Local actors and pending asks that other nodes can address, and the
//! references and answer channels imported from them.

//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferrocast_actor::{AnyRef, SystemMessage};

use crate::address::RemotePath;
use crate::association::lock;
use crate::refs::{RefParts, ReplyParts};

use crate::remoting::{ExposeError, REPLY_BIT};
use crate::shared::{Export, PendingReply, Shared};

impl Shared {
    /// Exports a local actor under its path and id.
    pub(crate) fn export_erased(
        &self,
        target: AnyRef,
        typed: Box<dyn Any + Send + Sync>,
        msg_type: TypeId,
    ) -> Result<RemotePath, ExposeError> {
        let path = target.path().to_string();
        if path.starts_with(crate::address::SCHEME) {
            return Err(ExposeError::NotLocal(path));
        }
        let uid = target.uid();
        if uid.system != self.local.uid {
            return Err(ExposeError::NotLocal(path));
        }
        let entry = self
            .registry
            .entry(msg_type)
            .ok_or(ExposeError::NotRegistered("(type of the reference)"))?
            .clone();
        let full = RemotePath {
            address: self.local.address.clone(),
            path: path.clone(),
            incarnation: Some((uid.actor, self.local.uid)),
        };
        {
            let mut exports = self.exports.write().unwrap_or_else(|e| e.into_inner());
            if exports.by_id.contains_key(&uid.actor) {
                return Ok(full);
            }
            if let Some(other) = exports.by_path.get(&path) {
                if exports
                    .by_id
                    .get(other)
                    .is_some_and(|e| !e.target.is_terminated())
                {
                    return Err(ExposeError::PathTaken(path));
                }
            }
            let deliver = (entry.glue.make_export)(&entry, &*typed)
                .ok_or(ExposeError::NotRegistered(entry.type_name))?;
            exports.by_path.insert(path.clone(), uid.actor);
            exports.by_id.insert(
                uid.actor,
                Arc::new(Export {
                    path,
                    target: target.clone(),
                    typed,
                    entry,
                    deliver,
                }),
            );
        }
        target.send_system(SystemMessage::Watch {
            watcher: self.reaper.clone(),
        });
        Ok(full)
    }

    pub(crate) fn unexport(&self, actor: u64) {
        let mut exports = self.exports.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = exports.by_id.remove(&actor) {
            if exports.by_path.get(&e.path) == Some(&actor) {
                exports.by_path.remove(&e.path);
            }
        }
    }

    pub(crate) fn import_ref(
        &self,
        name: &str,
        msg_type: TypeId,
    ) -> Result<Box<dyn Any + Send>, String> {
        let path: RemotePath = name
            .parse()
            .map_err(|e: crate::address::AddressError| e.to_string())?;
        let (actor, node_uid) = path
            .incarnation
            .ok_or_else(|| format!("reference {name} names no incarnation"))?;
        let entry = self
            .registry
            .entry(msg_type)
            .ok_or_else(|| format!("the message type of reference {name} is not registered"))?
            .clone();
        if node_uid == self.local.uid {
            let exports = self.exports.read().unwrap_or_else(|e| e.into_inner());
            let export = exports
                .by_id
                .get(&actor)
                .ok_or_else(|| format!("local actor {name} is no longer exported"))?;
            return (export.entry.glue.clone_ref)(&*export.typed)
                .filter(|_| Arc::ptr_eq(&export.entry, &entry))
                .ok_or_else(|| format!("local actor {name} reads {}", export.entry.manifest));
        }
        let me = self.arc().ok_or("remoting is shut down")?;
        let assoc = self.association(&path.address);
        let lane = self.lane_for(&path.path);
        Ok((entry.glue.make_ref)(RefParts {
            shared: me,
            assoc,
            path,
            actor,
            node_uid,
            lane,
            entry,
        }))
    }

    pub(crate) fn export_reply(
        &self,
        reply: Box<dyn Any + Send>,
        reply_type: TypeId,
    ) -> Result<(u64, String), String> {
        let entry = self
            .registry
            .entry(reply_type)
            .ok_or("the answer type of this ask is not registered")?
            .clone();
        let (complete, closed) = (entry.glue.make_reply_slot)(&entry, reply)
            .ok_or("the answer type of this ask does not match its registration")?;
        let id = REPLY_BIT | self.next_reply.fetch_add(1, Ordering::Relaxed);
        lock(&self.replies).insert(id, PendingReply { complete, closed });
        let path = RemotePath {
            address: self.local.address.clone(),
            path: format!("/temp/reply-{}", id & !REPLY_BIT),
            incarnation: Some((id, self.local.uid)),
        };
        Ok((id, path.to_string()))
    }

    pub(crate) fn import_reply(
        &self,
        name: &str,
        reply_type: TypeId,
    ) -> Result<Box<dyn Any + Send>, String> {
        let path: RemotePath = name
            .parse()
            .map_err(|e: crate::address::AddressError| e.to_string())?;
        let (recipient, node_uid) = path
            .incarnation
            .ok_or_else(|| format!("reply address {name} names no incarnation"))?;
        let entry = self
            .registry
            .entry(reply_type)
            .ok_or("the answer type of this request is not registered")?
            .clone();
        let me = self.arc().ok_or("remoting is shut down")?;
        let assoc = self.association(&path.address);
        Ok((entry.glue.make_reply)(ReplyParts {
            shared: me,
            assoc,
            node_uid,
            recipient,
            entry,
        }))
    }
}
