//! Compile-time hints for the mistakes a newcomer makes first: forgetting `.remote(..)`.
//!
//! Each is a trait the compiler asks for where the mistake happens; its
//! `#[diagnostic::on_unimplemented]` message says what to write instead.

use crate::{ActorError, ObjectRef};

/// What [`get`](crate::get) blocks on: an [`ObjectRef`], the result of a call.
#[diagnostic::on_unimplemented(
    message = "`get` reads an `ObjectRef`, by value, not `{Self}`",
    label = "expected the `ObjectRef` of a call, by value",
    note = "a method handle becomes a call with `.remote(..)`: \
            `helio::get(actor.methods().add().remote(2))`",
    note = "`get` takes a ref by value; `wait` only lends them (`&ObjectRef`): to read the \
            ready ones, take them with `let (ready, pending) = helio::wait_owned_blocking(refs, n, \
            timeout)` (or `wait_owned(..).await`) and `get` each of `ready`"
)]
pub trait Gettable {
    /// The value it resolves to.
    type Output;
    /// Blocks until the value (or its error) is there.
    #[doc(hidden)]
    fn get_blocking(self) -> Result<Self::Output, ActorError>;
}

impl<T> Gettable for ObjectRef<T> {
    type Output = T;
    fn get_blocking(self) -> Result<T, ActorError> {
        self.get()
    }
}

/// Never implemented: awaiting a method handle (instead of its call) asks for it, for
/// [`NotACall<M>`], a type other than the handle's own, so that the compiler reports this
/// trait's message rather than `Future`'s "is not a future".
#[diagnostic::on_unimplemented(
    message = "a method handle is not a call: call `.remote(..)` with its arguments, then `.await`",
    label = "`.remote(..)` is missing before `.await`",
    note = "`actor.methods().add().remote(2).await` sends the call and waits for its result"
)]
#[doc(hidden)]
pub trait CallRemoteBeforeAwait<R> {
    fn never<M>(
        method: std::pin::Pin<&mut M>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<R, ActorError>>;
}

/// The method handle `M` as awaited: see [`CallRemoteBeforeAwait`].
#[doc(hidden)]
pub struct NotACall<M>(std::marker::PhantomData<M>);

/// Never implemented: calling `.methods()` on a builder (instead of the started actor) asks
/// for it.
#[diagnostic::on_unimplemented(
    message = "the actor is not started yet: call `.remote(..)` with the constructor's arguments first",
    label = "`.remote(..)` is missing before `.methods()`",
    note = "`Counter::new_actor().remote(1)` starts the actor and returns its `Actor` handle, \
            which has `.methods()`"
)]
#[doc(hidden)]
pub trait CallRemoteToStartTheActor {}

/// Never implemented: calling a method that has no `#[remote_method]` through `.methods()`
/// asks for it, with a marker type the macro names `add_remote_method_to_<method>`.
#[diagnostic::on_unimplemented(
    message = "this method is not a remote method: `{Marker}`",
    label = "not a `#[remote_method]`",
    note = "only methods marked `#[remote_method]` can be called through `.methods()`; \
            put the attribute on the method in the `#[actor]` impl"
)]
#[doc(hidden)]
pub trait NotARemoteMethod<Marker> {}

/// What the macro's per-actor handle wraps (a [`Method`](crate::Method), a
/// [`StreamMethod`](crate::StreamMethod) or an [`ActorBuilder`](crate::ActorBuilder)): its
/// `.options(..)`, which returns the wrapper again so its `.remote(..)` stays the generated one.
#[doc(hidden)]
pub trait Overridable: Sized {
    /// `CallOptions` for a method, `ActorOptions` for a builder.
    type Options;
    /// `self.options(options)`.
    fn overridden(self, options: Self::Options) -> Self;
}

impl<A: crate::ActorClass, Args, R, T> Overridable for crate::Method<'_, A, Args, R, T> {
    type Options = crate::CallOptions;
    fn overridden(self, options: crate::CallOptions) -> Self {
        self.options(options)
    }
}

impl<A: crate::ActorClass, Args, X: Send + 'static> Overridable
    for crate::StreamMethod<'_, A, Args, X>
{
    type Options = crate::CallOptions;
    fn overridden(self, options: crate::CallOptions) -> Self {
        self.options(options)
    }
}

impl<A, Args> Overridable for crate::ActorBuilder<A, Args> {
    type Options = crate::ActorOptions;
    fn overridden(self, options: crate::ActorOptions) -> Self {
        self.options(options)
    }
}

/// `Send + 'static`, as the macro's `.remote(..)` requires of a method's argument and result
/// types. The macro states it on the generated impl, at each type's span, so the generated body
/// is not checked against it. Where a type is not `Send`, rustc reports this bound as false once,
/// at the user's type, next to the errors of the method's declaration.
#[doc(hidden)]
pub trait Sendable<'a>: Send + 'static {}

impl<T: Send + 'static> Sendable<'_> for T {}
