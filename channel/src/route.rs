//! How a [`Sender`](crate::Sender) or [`Receiver`](crate::Receiver) reaches its channel: when
//! the channel's actor runs in the same process, straight to the channel's [`State`] (the actor
//! keeps it across restarts, and handles reach it with `Actor::kept`), with no call at all;
//! otherwise by calls to the actor.
//!
//! A handle registers and deregisters the same way it puts and gets. The state is there once
//! the actor's constructor has run, which [`channel`](crate::channel) and the named channels
//! wait for before they hand out handles, so every handle of a local channel registers
//! directly and synchronously: a registration can never be overtaken by another handle's
//! deregistration, and dropping the last receiver closes the channel for the very next send.

use std::sync::Arc;

use helio::prelude::*;

use crate::{
    actor::{Message, RayChannelActor},
    state::State,
};

/// The channel's state, when `actor` runs in this process and is alive; `None` when it is
/// elsewhere (or dead, or not constructed yet), and calls must be used.
pub(crate) fn local<T: Message>(actor: &Actor<RayChannelActor<T>>) -> Option<Arc<State<T>>> {
    actor.kept::<State<T>>()
}

/// The error a call to the channel's dead actor would have resolved to, for an operation that
/// found the state dead.
pub(crate) fn died<T: Message>(
    actor: &Actor<RayChannelActor<T>>,
    method: &'static str,
) -> ActorError {
    let cause = match actor.state() {
        ActorState::Dead(cause) => cause,
        _ => DeathCause::Killed,
    };
    ActorError::ActorDied {
        actor: actor.label().clone(),
        method,
        cause,
    }
}

/// The node of handles in the channel's own process, and of every handle outside cluster
/// mode.
pub(crate) const LOCAL_NODE: &str = "local";

/// The node id under which this process's handles register with a channel in another
/// process, so that the channel forgets them should this node die; [`LOCAL_NODE`] outside
/// cluster mode (see `seam.rs`).
pub(crate) fn this_node() -> String {
    (crate::SEAM.node)().unwrap_or_else(|| LOCAL_NODE.to_owned())
}
