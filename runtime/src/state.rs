//! What an actor's life looks like from outside: its state, and how `list_actors` shows it.

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
}

/// A named actor, as [`list_actors`](crate::list_actors) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorInfo {
    /// The namespace of its name.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its Rust type, as `std::any::type_name` spells it.
    pub type_name: &'static str,
    /// Its state.
    pub state: ActorState,
    /// How often it restarted so far.
    pub restarts: u32,
}
