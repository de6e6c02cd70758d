//! Joining: the seed-node process, `Join` and `Welcome`.

use ferrocast_remote::NodeAddress;
use tokio::time::Instant;

use super::{JoinState, MembershipEngine, Output, accepts_joins};
use crate::gossip::Gossip;
use crate::member::{Member, MemberStatus};
use crate::protocol::ClusterMessage;

impl MembershipEngine {
    pub(super) fn is_first_seed(&self) -> bool {
        self.settings.seed_nodes.first() == Some(&self.self_node.address)
    }

    pub(super) fn start_seed_join(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.self_member().is_some() {
            return;
        }
        if self.settings.seed_nodes.is_empty() {
            return;
        }
        if self.settings.seed_nodes == [self.self_node.address.clone()] {
            self.form_cluster();
            return;
        }
        let form_at = self
            .is_first_seed()
            .then(|| now + self.settings.seed_node_timeout);
        self.join = JoinState::AskingSeeds {
            resend_at: now,
            form_at,
        };
        self.ask_seeds(now, out);
    }

    pub(super) fn ask_seeds(&mut self, now: Instant, out: &mut Vec<Output>) {
        let JoinState::AskingSeeds { resend_at, .. } = &mut self.join else {
            return;
        };
        if now < *resend_at {
            return;
        }
        *resend_at = now
            + self
                .settings
                .seed_node_timeout
                .min(std::time::Duration::from_secs(1));
        for seed in &self.settings.seed_nodes {
            if *seed != self.self_node.address {
                Self::send(
                    out,
                    seed,
                    ClusterMessage::InitJoin {
                        from: self.self_node.clone(),
                    },
                );
            }
        }
    }

    pub(super) fn join_to(&mut self, to: NodeAddress, now: Instant, out: &mut Vec<Output>) {
        if self.self_member().is_some() {
            return;
        }
        if to == self.self_node.address {
            self.form_cluster();
            return;
        }
        Self::send(
            out,
            &to,
            ClusterMessage::Join {
                node: self.self_node.clone(),
                roles: self.settings.roles.clone(),
                app_version: self.settings.app_version.clone(),
            },
        );
        self.join = JoinState::Joining {
            to,
            retry_at: self.settings.retry_unsuccessful_join_after.map(|d| now + d),
        };
    }

    pub(super) fn form_cluster(&mut self) {
        let me = Member::joining(
            self.self_node.clone(),
            self.settings.roles.clone(),
            self.settings.app_version.clone(),
        );
        self.gossip = Gossip::with_members([me]);
        self.gossip.changed_by(&self.self_node);
        self.join = JoinState::Joined;
    }

    pub(super) fn join_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        match self.join.clone() {
            JoinState::AskingSeeds { form_at, .. } => {
                if form_at.is_some_and(|f| now >= f) {
                    self.form_cluster();
                } else {
                    self.ask_seeds(now, out);
                }
            }
            JoinState::Joining {
                to,
                retry_at: Some(r),
            } if now >= r => {
                if self.settings.seed_nodes.is_empty() {
                    self.join_to(to, now, out);
                } else {
                    self.start_seed_join(now, out);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_join(&mut self, msg: ClusterMessage, out: &mut Vec<Output>) {
        let ClusterMessage::Join {
            node,
            roles,
            app_version,
        } = msg
        else {
            return;
        };
        if !self.self_status().is_some_and(accepts_joins) {
            return;
        }
        if self.gossip.tombstones.contains(&node) {
            // This incarnation was removed before it learned that it had
            // joined (its Welcome was lost): our tombstone tells it to
            // stop, so that a restart with a new uid can join.
            let gossip = self.gossip_msg(&node);
            Self::send(out, &node.address, gossip);
            return;
        }
        if self.gossip.member(&node).is_some() {
            let welcome = ClusterMessage::Welcome {
                from: self.self_node.clone(),
                gossip: self.gossip.clone(),
            };
            Self::send(out, &node.address, welcome);
            return;
        }
        let older = self
            .gossip
            .members
            .values()
            .find(|m| m.unique_address.address == node.address)
            .map(|m| (m.unique_address.clone(), m.status));
        if let Some((old, status)) = older {
            // A new incarnation of a member: the old one is dead for sure.
            // Down it; the joiner is let in once it is removed (it retries).
            if status != MemberStatus::Down {
                self.gossip
                    .overview
                    .reachability
                    .terminated(&self.self_node, &old);
                self.gossip.set_status(&old, MemberStatus::Down);
                self.gossip.changed_by(&self.self_node);
            }
            return;
        }
        self.gossip.members.insert(
            node.clone(),
            Member::joining(node.clone(), roles, app_version),
        );
        self.gossip.changed_by(&self.self_node);
        let welcome = ClusterMessage::Welcome {
            from: self.self_node.clone(),
            gossip: self.gossip.clone(),
        };
        Self::send(out, &node.address, welcome);
    }
}
