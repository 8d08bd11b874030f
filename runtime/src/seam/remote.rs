//! What an actor hosted by another process answers ([`RemoteActor`]), and what its calls and
//! streams carry across the seam, type-erased.

use std::{any::Any, task::Waker};

use futures::future::BoxFuture;

use crate::{
    ActorError, ActorState, CallOptions,
    arg::PendingArgs,
    feed::{AnyFeed, Took},
    label::ActorLabel,
    object_ref::{Origin, Resolver},
};

/// What an actor hosted by another process answers. A remote handle carries one; its calls go
/// here instead of into a mailbox.
pub trait RemoteActor: Send + Sync + 'static {
    /// Sends a call of `method` with the boxed argument tuple `args`; `reply` resolves with
    /// the boxed result (or the call's error).
    fn call(
        &self,
        actor: &ActorLabel,
        method: &'static str,
        overrides: CallOptions,
        args: Box<dyn Any + Send>,
        reply: Reply,
    );

    /// Starts a streaming call of `method`; `open(capacity, origin, consumer)` makes the
    /// caller's stream and gives its feed.
    fn stream(&self, call: StreamCall<'_>, open: &mut dyn FnMut(Opening) -> Box<dyn AnyFeed>);

    /// Resolves `done` once the actor's constructor has run.
    fn ready(&self, actor: &ActorLabel, done: Resolver<()>);

    /// The actor's state and restart count, as its host (or its record) says.
    fn state(&self) -> (ActorState, u32);

    /// Asks the host to kill the actor.
    fn kill(&self, no_restart: bool);

    /// The concrete type, for the cluster that made it.
    fn as_any(&self) -> &dyn Any;
}

/// A streaming call to an actor in another process.
pub struct StreamCall<'a> {
    /// The actor.
    pub actor: &'a ActorLabel,
    /// The streaming method.
    pub method: &'static str,
    /// The caller's group and retries.
    pub overrides: CallOptions,
    /// The argument tuple, boxed.
    pub args: Args,
    /// How many items the producer may send ahead of the consumer.
    pub window: usize,
}

/// What the cluster asks of the runtime to open a stream fed from another process.
pub struct Opening {
    /// How many items the stream buffers.
    pub capacity: usize,
    /// The call, for errors.
    pub origin: Origin,
    /// Told of each item taken and of an early drop.
    pub consumer: Box<dyn FnMut(Took) + Send + Sync>,
}

/// Arguments of a call that crosses processes, boxed: their values, or their tuple of
/// [`Arg`](crate::arg::Arg)s where some are refs that cross as refs (the stub's `encode`
/// takes either); now, or a future of them (when a ref of this process among them is still
/// pending).
pub enum Args {
    /// Every argument is here.
    Ready(Box<dyn Any + Send>),
    /// Some refs of this process are pending.
    Pending(BoxFuture<'static, Result<Box<dyn Any + Send>, ActorError>>),
}

impl Args {
    /// Erases `args`, as they cross: see [`PendingArgs::for_wire`].
    pub fn of<P: PendingArgs>(args: P) -> Self {
        match args.for_wire() {
            Ok(args) => Args::Ready(Box::new(args)),
            Err(pending) => Args::Pending(Box::pin(async move {
                pending
                    .await
                    .map(|args| Box::new(args) as Box<dyn Any + Send>)
            })),
        }
    }

    /// The arguments, once every ref of this process among them has resolved.
    ///
    /// # Errors
    /// The first such ref's error.
    pub async fn get(self) -> Result<Box<dyn Any + Send>, ActorError> {
        match self {
            Args::Ready(args) => Ok(args),
            Args::Pending(pending) => pending.await,
        }
    }
}

/// Where a remote call's result goes: the caller's ref, erased over its type.
pub struct Reply {
    method: &'static str,
    inner: Box<dyn ErasedResolver>,
}

trait ErasedResolver: Send {
    fn complete(
        self: Box<Self>,
        method: &'static str,
        result: Result<Box<dyn Any + Send>, ActorError>,
    );
    fn on_cancel(&self, waker: &Waker);
}

impl<R: Send + 'static> ErasedResolver for Resolver<R> {
    fn complete(
        self: Box<Self>,
        method: &'static str,
        result: Result<Box<dyn Any + Send>, ActorError>,
    ) {
        let result = result.and_then(|value| {
            value
                .downcast::<R>()
                .map(|value| *value)
                .map_err(|_| ActorError::Wire {
                    message: format!("internal: the result of `{method}` has another type"),
                })
        });
        (*self).complete(result);
    }

    fn on_cancel(&self, waker: &Waker) {
        Resolver::on_cancel(self, waker);
    }
}

impl Reply {
    /// The reply of a call of `method` that `done` resolves.
    pub(crate) fn new<R: Send + 'static>(method: &'static str, done: Resolver<R>) -> Self {
        Reply {
            method,
            inner: Box::new(done),
        }
    }

    /// Resolves the call with its boxed result (checked to be the call's result type).
    pub fn complete(self, result: Result<Box<dyn Any + Send>, ActorError>) {
        self.inner.complete(self.method, result);
    }

    /// Wakes `waker` when the caller cancels the call.
    pub fn on_cancel(&self, waker: &Waker) {
        self.inner.on_cancel(waker);
    }
}
