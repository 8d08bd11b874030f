//! What an actor's life looks like from outside: its state, and how `list_actors` shows it.

use std::borrow::Cow;

use crate::DeathCause;

/// Where an actor is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorState {
    /// The constructor has not finished yet.
    Pending,
    /// Serving calls.
    Alive,
    /// Crashed; the constructor is running again.
    Restarting,
    /// Serves no more calls; every call resolves to `ActorDied` with this cause.
    Dead(DeathCause),
    /// Cluster mode: the actor's host did not answer (it may be gone, or cut off).
    Unreachable,
}

/// A named actor, as [`list_actors`](crate::list_actors) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorInfo {
    /// The namespace of its name.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its Rust type, as `std::any::type_name` spells it (in its host process).
    pub type_name: Cow<'static, str>,
    /// Its state.
    pub state: ActorState,
    /// How often it restarted so far.
    pub restarts: u32,
    /// Whether it is detached (`Lifetime::Detached`): it lives until killed.
    pub detached: bool,
    /// Cluster mode: the node that hosts it (`None` outside cluster mode).
    pub node: Option<crate::NodeId>,
    /// The process id of its host (`None` when its host did not say).
    pub pid: Option<u32>,
}
