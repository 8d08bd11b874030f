//! A call to the channel's actor that is cancelled when its future is dropped.

use std::{
    future::{Future, IntoFuture},
    pin::Pin,
    task::{Context, Poll},
};

use helio::{ObjectRefFuture, prelude::*};

use crate::{
    actor::{Message, RayChannelActor},
    types::BatchResult,
};

/// Awaits a call's ref and cancels the call if dropped before it resolves. For a get, what the
/// cancelled call took anyway (it finished before it saw the cancel) is given back to the
/// channel's front, by a call that waits for the ref without blocking anyone.
pub(crate) struct CancelOnDrop<R> {
    call: Option<ObjectRefFuture<R>>,
    give_back: Option<Box<dyn FnOnce(ObjectRef<R>) + Send + Sync>>,
    /// Whether dropping cancels the call. Not for a sync get: one already running on the
    /// actor cannot be stopped, and a cancel would throw away the items it takes; letting it
    /// finish and giving them back loses none.
    pub(crate) cancel: bool,
}

impl<R> CancelOnDrop<R> {
    pub(crate) fn new(r: ObjectRef<R>) -> Self {
        CancelOnDrop {
            call: Some(r.into_future()),
            give_back: None,
            cancel: true,
        }
    }
}

impl<T: Message> CancelOnDrop<BatchResult<T>> {
    /// Gives what the call took back to `actor` if this is dropped before it resolves.
    pub(crate) fn giving_back(mut self, actor: Actor<RayChannelActor<T>>) -> Self {
        self.give_back = Some(Box::new(move |taken| {
            drop(actor.methods().unget().remote(taken));
        }));
        self
    }
}

impl<R> Future for CancelOnDrop<R> {
    type Output = Result<R, ActorError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.call.as_mut() else {
            return Poll::Ready(Err(ActorError::AlreadyConsumed));
        };
        let result = std::task::ready!(Pin::new(inner).poll(cx));
        self.call = None;
        Poll::Ready(result)
    }
}

impl<R> Drop for CancelOnDrop<R> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            if self.cancel {
                call.cancel();
            }
            if let Some(give_back) = self.give_back.take() {
                give_back(call.into_inner());
            }
        }
    }
}
