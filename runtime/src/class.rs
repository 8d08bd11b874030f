//! The trait `#[actor]` implements for an actor type.

use crate::ActorOptions;

/// A type that can run as an actor. Implemented by `#[actor]`; not meant to be written by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor",
    label = "not an actor",
    note = "put `#[helio::actor]` on an `impl {Self}` block that has a constructor"
)]
pub trait ActorClass: Sized + Send + 'static {
    /// The accessor returned by [`Actor::methods`](crate::Actor::methods) (with `T = Actor<Self>`) and by
    /// [`DagNode::methods`](crate::DagNode::methods) (with `T` the node): one method per remote
    /// method, picked from `T`.
    type Methods<'a, T: 'a>
    where
        Self: 'a;

    /// Builds the accessor for `target`: the actor's handle, or a DAG node that creates it.
    fn methods<T>(target: &T) -> Self::Methods<'_, T>;

    /// The options given in `#[actor(..)]`.
    fn default_options() -> ActorOptions;

    /// The `#[on_stop]` hook, if the actor has one.
    fn on_stop(state: &mut Self) -> Option<futures::future::BoxFuture<'_, ()>> {
        let _ = state;
        None
    }
}

/// What a constructor may return: `Self`, or `Result<Self, E>` with `E: Display`.
#[diagnostic::on_unimplemented(
    message = "an actor constructor must return `Self` or `Result<Self, E>` with `E: Display`",
    label = "this returns `{Self}`"
)]
#[doc(hidden)]
pub trait ConstructorOutput<A> {
    /// The state, or the constructor's error as text.
    fn into_state(self) -> Result<A, String>;
}

impl<A> ConstructorOutput<A> for A {
    fn into_state(self) -> Result<A, String> {
        Ok(self)
    }
}

impl<A, E: std::fmt::Display> ConstructorOutput<A> for Result<A, E> {
    fn into_state(self) -> Result<A, String> {
        self.map_err(|e| e.to_string())
    }
}
