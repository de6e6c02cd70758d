//! Stages that talk to actors: an ask stage with parallelism
//! ([`StreamOps::ask`](crate::StreamOps::ask)), a sink that waits for an
//! acknowledgement per element ([`ActorSink`]) and a source fed by telling
//! an actor reference ([`ActorSource`]).

pub(crate) mod ask;
mod sink;
mod source;

#[cfg(test)]
mod actor_test;

pub use sink::ActorSink;
pub use source::ActorSource;
