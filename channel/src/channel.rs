//! `Sender<T>` / `Receiver<T>`: the ergonomic layer over a [`RayChannelActor`].
//!
//! Each `Sender` and `Receiver` registers with the actor when made (or cloned) and
//! deregisters when closed or dropped; registrations travel through the actor's mailbox, which
//! keeps the order in which one thread sends them.

use std::{
    fmt,
    future::{Future, IntoFuture},
    pin::Pin,
    sync::atomic::{AtomicU64, Ordering},
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use helio::{ObjectRefFuture, prelude::*};

use crate::{
    actor::{Message, RayChannelActor},
    types::{SingleResult, Status},
};

/// What a send or receive can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The other side has closed (for receives: and the channel is drained).
    #[error("the channel is closed")]
    Closed,
    /// No room now (`try_send`), or the batch can never fit.
    #[error("the channel is full (capacity {capacity:?})")]
    Full {
        /// The channel's capacity; `None` when unbounded.
        capacity: Option<usize>,
    },
    /// No item now (`try_recv`).
    #[error("the channel is empty")]
    Empty,
    /// Nothing happened in time.
    #[error("timed out")]
    Timeout,
    /// The validator rejected an item.
    #[error("the channel's validator rejected the item")]
    TypeError,
    /// The channel's actor failed.
    #[error(transparent)]
    Actor(#[from] ActorError),
    /// No channel has that name, or it carries another type.
    #[error(transparent)]
    Lookup(#[from] helio::LookupError),
}

/// A bounded channel of `capacity` items (at least 1).
pub fn channel<T: Message>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let actor = RayChannelActor::new_actor().remote(Some(capacity), false, None);
    pair(actor, Some(capacity))
}

/// An unbounded channel.
pub fn unbounded<T: Message>() -> (Sender<T>, Receiver<T>) {
    pair(RayChannelActor::new_actor().remote(None, true, None), None)
}

/// A sender and a receiver on the channel `actor`, whose capacity is `capacity`.
pub(crate) fn pair<T: Message>(
    actor: Actor<RayChannelActor<T>>,
    capacity: Option<usize>,
) -> (Sender<T>, Receiver<T>) {
    (
        Sender::register(actor.clone(), capacity),
        Receiver::register(actor),
    )
}

/// The sending side of a channel. Cloning registers another sender; when the last one is
/// closed or dropped, receivers get `Closed` once the channel is drained.
pub struct Sender<T: Message> {
    actor: Actor<RayChannelActor<T>>,
    capacity: Option<usize>,
    open: bool,
}

impl<T: Message> Sender<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>, capacity: Option<usize>) -> Self {
        drop(actor.methods().register_sender().remote());
        Sender {
            actor,
            capacity,
            open: true,
        }
    }

    /// The channel's actor.
    pub fn actor(&self) -> &Actor<RayChannelActor<T>> {
        &self.actor
    }

    /// Sends `value`, waiting for room.
    ///
    /// # Errors
    /// `Closed` when the receivers have closed; `TypeError`; `Actor`.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the call running: the value may still be sent.
    pub async fn send(&self, value: T) -> Result<(), ChannelError> {
        self.status(self.actor.methods().put().remote(value, None).await)
    }

    /// Sends `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// `Timeout` when no room came in time; otherwise as [`send`](Self::send).
    pub async fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), ChannelError> {
        match self.status(
            self.actor
                .methods()
                .put()
                .remote(value, Some(timeout))
                .await,
        ) {
            Err(ChannelError::Full { .. }) => Err(ChannelError::Timeout),
            other => other,
        }
    }

    /// Sends `value` if there is room now. Blocks only for the actor's answer.
    ///
    /// # Errors
    /// `Full` when there is no room; otherwise as [`send`](Self::send).
    pub fn try_send(&self, value: T) -> Result<(), ChannelError> {
        self.status(self.actor.methods().put_nowait().remote(value).get())
    }

    /// Sends all of `values` or none, waiting for room for all of them.
    ///
    /// # Errors
    /// `Full` when the batch is larger than the capacity; otherwise as [`send`](Self::send).
    pub async fn send_batch(&self, values: Vec<T>) -> Result<(), ChannelError> {
        self.status(self.actor.methods().put_batch().remote(values, None).await)
    }

    /// Deregisters this sender now (dropping it does the same).
    pub fn close(mut self) {
        self.deregister();
    }

    fn deregister(&mut self) {
        if std::mem::take(&mut self.open) {
            drop(self.actor.methods().deregister_sender().remote());
        }
    }

    fn status(&self, status: Result<Status, ActorError>) -> Result<(), ChannelError> {
        match status? {
            Status::Ok => Ok(()),
            Status::Full => Err(ChannelError::Full {
                capacity: self.capacity,
            }),
            Status::Closed => Err(ChannelError::Closed),
            Status::TypeError => Err(ChannelError::TypeError),
            Status::Empty => Err(ChannelError::Empty),
        }
    }
}

impl<T: Message> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender::register(self.actor.clone(), self.capacity)
    }
}

impl<T: Message> Drop for Sender<T> {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl<T: Message> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("actor", &self.actor)
            .finish()
    }
}

/// The receiving side of a channel. Cloning registers another reader; when the last one is
/// closed or dropped, senders get `Closed`. As a [`Stream`] it ends when the channel is closed
/// and drained.
pub struct Receiver<T: Message> {
    actor: Actor<RayChannelActor<T>>,
    reader_id: String,
    open: bool,
    /// The get a `Stream` poll is waiting for.
    next: Option<ObjectRefFuture<SingleResult<T>>>,
}

impl<T: Message> Receiver<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>) -> Self {
        static NEXT_READER: AtomicU64 = AtomicU64::new(1);
        let reader_id = format!("reader-{}", NEXT_READER.fetch_add(1, Ordering::Relaxed));
        let register = actor.methods().register_receiver();
        drop(register.remote(reader_id.clone(), "local".to_owned()));
        Receiver {
            actor,
            reader_id,
            open: true,
            next: None,
        }
    }

    /// The channel's actor.
    pub fn actor(&self) -> &Actor<RayChannelActor<T>> {
        &self.actor
    }

    /// This receiver's reader id, as the channel's `reader_stats` shows it.
    pub fn reader_id(&self) -> &str {
        &self.reader_id
    }

    /// Receives the next item, waiting for one.
    ///
    /// # Errors
    /// `Closed` when the senders have closed and the channel is drained; `Actor`.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future cancels the get, and a get cancelled while it waits
    /// takes no item. (If the get had already taken an item when the future was dropped, that
    /// item is dropped with it; the window is the time between the actor's reply and the next
    /// poll.)
    pub async fn recv(&self) -> Result<T, ChannelError> {
        self.single(CancelOnDrop::new(self.get(None)).await)
    }

    /// Receives the next item, waiting at most `timeout`.
    ///
    /// # Errors
    /// `Timeout` when none came in time; otherwise as [`recv`](Self::recv).
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, ChannelError> {
        match self.single(CancelOnDrop::new(self.get(Some(timeout))).await) {
            Err(ChannelError::Empty) => Err(ChannelError::Timeout),
            other => other,
        }
    }

    /// Receives the next item if there is one now. Blocks only for the actor's answer.
    ///
    /// # Errors
    /// `Empty` when there is none; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&self) -> Result<T, ChannelError> {
        let id = Some(self.reader_id.clone());
        self.single(self.actor.methods().get_nowait().remote(id).get())
    }

    /// Waits for the first item, then takes up to `max` items that are there.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    ///
    /// # Cancel safety
    /// As [`recv`](Self::recv).
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<T>, ChannelError> {
        let id = Some(self.reader_id.clone());
        let batch = self
            .actor
            .methods()
            .get_batch()
            .remote(max, None, id)
            .await?;
        match batch.status {
            Status::Ok => Ok(batch.items),
            Status::Closed => Err(ChannelError::Closed),
            _ => Err(ChannelError::Empty),
        }
    }

    /// Deregisters this receiver now (dropping it does the same).
    pub fn close(mut self) {
        self.deregister();
    }

    fn get(&self, timeout: Option<Duration>) -> ObjectRef<SingleResult<T>> {
        let id = Some(self.reader_id.clone());
        self.actor.methods().get().remote(timeout, id)
    }

    fn single(&self, result: Result<SingleResult<T>, ActorError>) -> Result<T, ChannelError> {
        let result = result?;
        match (result.status, result.value) {
            (Status::Ok, Some(value)) => Ok(value),
            (Status::Closed, _) => Err(ChannelError::Closed),
            _ => Err(ChannelError::Empty),
        }
    }

    fn deregister(&mut self) {
        if std::mem::take(&mut self.open) {
            // A get still waiting is cancelled, so it cannot take an item no one will read.
            if let Some(next) = self.next.take() {
                next.cancel();
            }
            let id = std::mem::take(&mut self.reader_id);
            drop(self.actor.methods().deregister_receiver().remote(id));
        }
    }
}

impl<T: Message> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver::register(self.actor.clone())
    }
}

impl<T: Message> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl<T: Message> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("actor", &self.actor)
            .field("reader_id", &self.reader_id)
            .finish()
    }
}

/// Awaits a call's ref and cancels the call if dropped before it resolves.
struct CancelOnDrop<R>(Option<ObjectRefFuture<R>>);

impl<R> CancelOnDrop<R> {
    fn new(r: ObjectRef<R>) -> Self {
        CancelOnDrop(Some(r.into_future()))
    }
}

impl<R> Future for CancelOnDrop<R> {
    type Output = Result<R, ActorError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let result = std::task::ready!(Pin::new(inner).poll(cx));
        self.0 = None;
        Poll::Ready(result)
    }
}

impl<R> Drop for CancelOnDrop<R> {
    fn drop(&mut self) {
        if let Some(inner) = &self.0 {
            inner.cancel();
        }
    }
}

impl<T: Message> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.next.is_none() {
            this.next = Some(this.get(None).into_future());
        }
        let Some(next) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        let result = std::task::ready!(Pin::new(next).poll(cx));
        this.next = None;
        match result {
            Ok(SingleResult {
                status: Status::Ok,
                value: Some(value),
            }) => Poll::Ready(Some(value)),
            // Closed and drained, or the actor failed: the stream ends.
            _ => Poll::Ready(None),
        }
    }
}
