//! `Sender<T>`: the sending end of a channel, and [`IntoItem`], what its sends take.
//!
//! In the channel actor's own process it puts straight into the channel's state (`route.rs`);
//! elsewhere it calls the actor. It registers when made (or cloned) and deregisters when
//! closed or dropped.

use std::{
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::Sink;
use helio::prelude::*;

use crate::{
    actor::{Message, RayChannelActor},
    cancel::CancelOnDrop,
    error::ChannelError,
    route::{died, local, this_node},
    state::{Outcome, State},
    types::Status,
};

/// What `send` and its kin take for an item of type `T`: a `T`, or for `String` a `&str` or
/// `&String` (as remote methods' `String` parameters do).
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), helio_channel::ChannelError> {
/// let (tx, rx) = helio_channel::channel::<String>(4);
/// tx.send("hi").await?;
/// assert_eq!(rx.recv().await?, "hi");
/// # Ok(())
/// # }
/// ```
pub trait IntoItem<T> {
    /// The item.
    fn into_item(self) -> T;
}

impl<T> IntoItem<T> for T {
    fn into_item(self) -> T {
        self
    }
}

impl IntoItem<String> for &str {
    fn into_item(self) -> String {
        self.to_owned()
    }
}

impl IntoItem<String> for &String {
    fn into_item(self) -> String {
        self.clone()
    }
}

/// The sending side of a channel. Cloning registers another sender; when the last one is
/// closed or dropped, receivers get `Closed` once the channel is drained.
///
/// It is also a [`Sink`]: `start_send` sends one item, `poll_flush` waits until the channel
/// has every item sent so far (they keep their order), and `poll_close` flushes and closes
/// this sender. So `stream.forward(tx)` works. In another process than the channel's, the
/// sink gathers items and sends them as one batch of up to 1024 (or the capacity) at a
/// flush, or when the batch is full: one call for many items, where each `send` is a call.
///
/// # Passing a sender to an actor
/// Hand it to a *method*, not to the actor's constructor. An actor keeps its constructor's
/// arguments to run the constructor again at a restart, so a sender passed there stays
/// registered as long as the actor lives, and the channel never closes for its receivers.
///
/// ```
/// use std::time::Duration;
///
/// use helio_channel::ChannelError;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), ChannelError> {
/// let (tx, rx) = helio_channel::channel::<u32>(2);
/// tx.send(1).await?; // waits for room
/// tx.try_send(2).await?; // fails at once when full:
/// assert_eq!(tx.try_send(3).await, Err(ChannelError::Full { capacity: Some(2) }));
/// let waited = tx.send_timeout(3, Duration::from_millis(10)).await;
/// assert_eq!(waited, Err(ChannelError::Timeout));
/// assert_eq!(rx.recv().await?, 1);
/// assert_eq!(rx.recv().await?, 2);
///
/// tx.send_batch(vec![3, 4]).await?; // all of them or none
/// let too_many = tx.send_batch(vec![5, 6, 7]).await; // could never fit
/// assert_eq!(too_many, Err(ChannelError::Full { capacity: Some(2) }));
///
/// // Clones are more senders; the channel closes for receivers when the last one goes.
/// let tx2 = tx.clone();
/// drop(tx);
/// tx2.close();
/// assert_eq!(rx.recv().await?, 3);
/// assert_eq!(rx.recv().await?, 4);
/// assert_eq!(rx.recv().await, Err(ChannelError::Closed)); // closed and drained
/// # Ok(()) }
/// ```
///
/// From sync code, [`blocking_send`](Self::blocking_send):
///
/// ```
/// let (tx, rx) = helio_channel::unbounded::<String>();
/// std::thread::spawn(move || {
///     for word in ["a", "b"] {
///         tx.blocking_send(word.to_owned()).unwrap();
///     }
/// }); // the thread drops `tx` when done
/// assert_eq!(rx.blocking_recv().unwrap(), "a");
/// assert_eq!(rx.blocking_recv().unwrap(), "b");
/// assert_eq!(rx.blocking_recv(), Err(helio_channel::ChannelError::Closed));
/// ```
pub struct Sender<T: Message> {
    actor: Actor<RayChannelActor<T>>,
    capacity: Option<usize>,
    open: bool,
    /// The `Sink`'s send in flight.
    in_flight: Option<CancelOnDrop<Status>>,
    /// The channel's state, when its actor runs in this process (see `route.rs`).
    state: Option<Arc<State<T>>>,
    /// The node this sender registered as, when it is in another process than the channel.
    node: String,
    /// The `Sink`'s items not sent yet, in another process than the channel's.
    gathered: Vec<T>,
}

/// The most items the `Sink` of a sender in another process sends in one batch.
const SINK_BATCH: usize = 1024;

impl<T: Message> Sender<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>, capacity: Option<usize>) -> Self {
        Self::registered(actor, capacity).0
    }

    /// A new sender, with its registration call when the channel is in another process (the
    /// channel counts the sender once that call is answered).
    pub(crate) fn registered(
        actor: Actor<RayChannelActor<T>>,
        capacity: Option<usize>,
    ) -> (Self, Option<ObjectRef<Status>>) {
        let state = local(&actor);
        let node = this_node();
        let registration = match &state {
            Some(state) => {
                let _status = state.register_sender();
                None
            }
            None => Some(actor.methods().register_sender_on().remote(&node)),
        };
        let sender = Sender {
            actor,
            capacity,
            open: true,
            in_flight: None,
            state,
            node,
            gathered: Vec::new(),
        };
        (sender, registration)
    }

    /// The channel's actor.
    pub fn actor(&self) -> &Actor<RayChannelActor<T>> {
        &self.actor
    }

    /// Sends `value`, waiting for room. Waiting holds no place in the channel's actor: any
    /// number of senders may wait. Takes a `T`, or a `&str` for a channel of `String`s
    /// ([`IntoItem`]).
    ///
    /// # Errors
    /// `Closed` when either side has closed; `TypeError`; `Actor`.
    ///
    /// # Cancel safety
    /// Dropping the future while it waits for room withdraws the send: the value is not sent.
    /// (If the channel took the value just before, it stays sent.)
    pub async fn send(&self, value: impl IntoItem<T>) -> Result<(), ChannelError> {
        self.send_within(value.into_item(), None).await
    }

    /// Sends at once when there is room and no one waits for room, else with a put that waits
    /// (in line with the other waiting puts): in the actor's process on the channel's state
    /// directly, elsewhere with a single cheap call first.
    async fn send_within(&self, value: T, timeout: Option<Duration>) -> Result<(), ChannelError> {
        if let Some(state) = &self.state {
            let outcome = match state.try_put(value) {
                Ok(Ok(status)) => Ok(status),
                Ok(Err(value)) => state.put(vec![value], timeout).await,
                Err(dead) => Err(dead),
            };
            return self.direct_status(outcome, "put");
        }
        let tried = CancelOnDrop::new(self.actor.methods().try_put().remote(value)).await;
        let value = match tried {
            Ok(Err(value)) => value,
            Ok(Ok(status)) => return self.status(Ok(status)),
            Err(err) => return self.status(Err(err)),
        };
        let put = self.actor.methods().put().remote(value, timeout);
        self.status(CancelOnDrop::new(put).await)
    }

    /// Sends `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// `Timeout` when no room came in time; otherwise as [`send`](Self::send).
    pub async fn send_timeout(
        &self,
        value: impl IntoItem<T>,
        timeout: Duration,
    ) -> Result<(), ChannelError> {
        match self.send_within(value.into_item(), Some(timeout)).await {
            Err(ChannelError::Full { .. }) => Err(ChannelError::Timeout),
            other => other,
        }
    }

    /// Sends `value` if there is room now, without waiting for room. In the channel actor's
    /// process it is done at the first poll; elsewhere it awaits the actor's answer.
    ///
    /// # Errors
    /// `Full` when there is no room; otherwise as [`send`](Self::send).
    ///
    /// # Cancel safety
    /// Dropping the future may leave the value sent or not.
    pub async fn try_send(&self, value: impl IntoItem<T>) -> Result<(), ChannelError> {
        if let Some(state) = &self.state {
            return self.direct_status(state.put_now(vec![value.into_item()]), "put_nowait");
        }
        self.status(
            self.actor
                .methods()
                .put_nowait()
                .remote(value.into_item())
                .await,
        )
    }

    /// Sends `value` from sync code, blocking the thread until there is room.
    ///
    /// Called on an async task's thread, this blocks that thread: use [`send`](Self::send)
    /// there.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn blocking_send(&self, value: impl IntoItem<T>) -> Result<(), ChannelError> {
        let put = self.actor.methods().put().remote(value.into_item(), None);
        self.status(put.get())
    }

    /// Sends all of `values` or none, waiting for room for all of them.
    ///
    /// # Errors
    /// `Full` when the batch is larger than the capacity; otherwise as [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send): dropped while waiting, none of `values` is sent.
    pub async fn send_batch(&self, values: Vec<T>) -> Result<(), ChannelError> {
        if let Some(state) = &self.state {
            return self.direct_status(state.put(values, None).await, "put_batch");
        }
        let put = self.actor.methods().put_batch().remote(values, None);
        self.status(CancelOnDrop::new(put).await)
    }

    /// Deregisters this sender now (dropping it does the same).
    pub fn close(mut self) {
        self.deregister();
    }

    fn deregister(&mut self) {
        if std::mem::take(&mut self.open) {
            match &self.state {
                Some(state) => drop(state.deregister_sender()),
                None => drop(
                    self.actor
                        .methods()
                        .deregister_sender_on()
                        .remote(&self.node),
                ),
            }
        }
    }

    /// The answer of an operation on the channel's state.
    fn direct_status(
        &self,
        outcome: Outcome<Status>,
        method: &'static str,
    ) -> Result<(), ChannelError> {
        self.status(outcome.map_err(|_| died(&self.actor, method)))
    }

    fn status(&self, status: Result<Status, ActorError>) -> Result<(), ChannelError> {
        let status = match status {
            // Across processes: the item did not decode as the channel's item type on the
            // channel's host (or did not encode here), the wire's version of a type check.
            Err(ActorError::Wire { message }) => {
                tracing::debug!(%message, "an item crossed the wire badly");
                return Err(ChannelError::TypeError);
            }
            other => other?,
        };
        match status {
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

// No field is ever pinned: the `Sink` takes the sender by `&mut`.
impl<T: Message> Unpin for Sender<T> {}

/// A clone registers with the channel as a new end. In another process than the channel's, it
/// does not wait for the registration (a clone may be made in async code): the channel counts
/// this process's existing end until then, and the end's deregistration, when it drops, goes
/// to the channel after the clone's registration, in this process's order.
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

impl<T: Message> Sender<T> {
    /// How many items the `Sink` gathers before it must send them: a batch never larger than
    /// the capacity, which could never fit.
    fn sink_batch(&self) -> usize {
        self.capacity
            .map_or(SINK_BATCH, |cap| cap.clamp(1, SINK_BATCH))
    }
}

impl<T: Message> Sink<T> for Sender<T> {
    type Error = ChannelError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        if self.in_flight.is_none() && self.gathered.len() < self.sink_batch() {
            return Poll::Ready(Ok(()));
        }
        self.poll_flush(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), ChannelError> {
        if !self.open {
            return Err(ChannelError::Closed);
        }
        let Some(state) = &self.state else {
            // Sent with the others at the next flush.
            self.gathered.push(item);
            return Ok(());
        };
        let item = match state.try_put(item) {
            Ok(Ok(status)) => return self.status(Ok(status)),
            Ok(Err(item)) => item,
            Err(_) => return Err(died(&self.actor, "put").into()),
        };
        // No room now: a put that waits, awaited by `poll_flush`.
        let put = self.actor.methods().put().remote(item, None);
        self.in_flight = Some(CancelOnDrop::new(put));
        Ok(())
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ChannelError>> {
        loop {
            if let Some(put) = self.in_flight.as_mut() {
                let status = std::task::ready!(Pin::new(put).poll(cx));
                self.in_flight = None;
                if let Err(err) = self.status(status) {
                    self.gathered.clear();
                    return Poll::Ready(Err(err));
                }
            }
            if self.gathered.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let items = std::mem::take(&mut self.gathered);
            let put = self.actor.methods().put_batch().remote(items, None);
            self.in_flight = Some(CancelOnDrop::new(put));
        }
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ChannelError>> {
        let flushed = std::task::ready!(self.as_mut().poll_flush(cx));
        self.deregister();
        Poll::Ready(flushed)
    }
}
