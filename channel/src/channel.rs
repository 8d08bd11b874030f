//! `Sender<T>` / `Receiver<T>`: the ergonomic layer over a [`RayChannelActor`].
//!
//! Each `Sender` and `Receiver` registers with the actor when made (or cloned) and
//! deregisters when closed or dropped; registrations travel through the actor's mailbox, which
//! keeps the order in which one thread sends them.

use std::{
    fmt,
    future::{Future, IntoFuture},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::{Sink, Stream};
use helio::{ObjectRefFuture, prelude::*};

use crate::{
    actor::{Message, RayChannelActor},
    route::{died, local},
    state::{Outcome, State},
    types::{BatchResult, Status},
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
///
/// It waits for the channel's actor to start (a constructor of a few instructions, on the
/// runtime it is called from), so that the sender and receiver put and get straight into the
/// channel's buffer, with no call to the actor. A `capacity` of 0 makes a channel whose every
/// operation fails with `Actor(InitFailed)`.
pub fn channel<T: Message>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    started(RayChannelActor::new_actor().remote(Some(capacity), false, None))
}

/// An unbounded channel. It waits for the channel's actor to start, as [`channel`] does.
pub fn unbounded<T: Message>() -> (Sender<T>, Receiver<T>) {
    started(RayChannelActor::new_actor().remote(None, true, None))
}

/// A sender and a receiver on the new channel `actor`, once it has started (or failed to).
fn started<T: Message>(actor: Actor<RayChannelActor<T>>) -> (Sender<T>, Receiver<T>) {
    // A constructor that failed shows in every operation; the wait itself cannot hang, as
    // the constructor does nothing that waits.
    let capacity = actor.methods().capacity().remote().get().ok().flatten();
    pair(actor, capacity)
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
///
/// It is also a [`Sink`]: `start_send` sends one item, `poll_flush` waits until the channel
/// has it (one item in flight at a time, so items keep their order), and `poll_close`
/// flushes and closes this sender. So `stream.forward(tx)` works.
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
}

impl<T: Message> Sender<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>, capacity: Option<usize>) -> Self {
        let state = local(&actor);
        match &state {
            Some(state) => drop(state.register_sender()),
            None => drop(actor.methods().register_sender().remote()),
        }
        Sender {
            actor,
            capacity,
            open: true,
            in_flight: None,
            state,
        }
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
        let tried = CancelOnDrop::new(self.actor.methods().try_put().remote(value)).await?;
        let value = match tried {
            Ok(status) => return self.status(Ok(status)),
            Err(value) => value,
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
                None => drop(self.actor.methods().deregister_sender().remote()),
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
///
/// ```
/// use std::time::Duration;
///
/// use futures::StreamExt;
/// use helio_channel::ChannelError;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), ChannelError> {
/// let (tx, rx) = helio_channel::channel::<u32>(8);
/// assert_eq!(rx.try_recv().await, Err(ChannelError::Empty)); // nothing there now
/// let waited = rx.recv_timeout(Duration::from_millis(10)).await;
/// assert_eq!(waited, Err(ChannelError::Timeout));
///
/// for i in 0..5 {
///     tx.send(i).await?;
/// }
/// assert_eq!(rx.recv().await?, 0);
/// assert_eq!(rx.recv_batch(2).await?, [1, 2]); // up to 2 of those there
/// drop(tx); // the last sender: the stream ends once the channel is drained
/// let rest: Vec<u32> = rx.collect().await;
/// assert_eq!(rest, [3, 4]);
/// # Ok(()) }
/// ```
pub struct Receiver<T: Message> {
    actor: Actor<RayChannelActor<T>>,
    reader_id: String,
    open: bool,
    /// The receive a `Stream` poll is waiting for; dropped, it gives back what it took. (Behind
    /// a mutex only so that the receiver is `Sync`; polling takes it by `&mut`, unlocked.)
    next: Option<std::sync::Mutex<futures::future::BoxFuture<'static, Taken<T>>>>,
    /// The channel's state, when its actor runs in this process (see `route.rs`).
    state: Option<Arc<State<T>>>,
}

impl<T: Message> Receiver<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>) -> Self {
        static NEXT_READER: AtomicU64 = AtomicU64::new(1);
        let reader_id = format!("reader-{}", NEXT_READER.fetch_add(1, Ordering::Relaxed));
        let state = local(&actor);
        match &state {
            Some(state) => drop(state.register_receiver(reader_id.clone(), "local".to_owned())),
            None => {
                let register = actor.methods().register_receiver();
                drop(register.remote(reader_id.clone(), "local".to_owned()));
            }
        }
        Receiver {
            actor,
            reader_id,
            open: true,
            next: None,
            state,
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
    /// Cancel safe, as tokio's channels are: if the future is dropped, no item is lost. A get
    /// cancelled while it waits takes no item, and an item it had already taken goes back to
    /// the front of the channel.
    pub async fn recv(&self) -> Result<T, ChannelError> {
        self.single(self.take(1, None).await)
    }

    /// Receives the next item, waiting at most `timeout`.
    ///
    /// # Errors
    /// `Timeout` when none came in time; otherwise as [`recv`](Self::recv).
    ///
    /// # Cancel safety
    /// As [`recv`](Self::recv).
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, ChannelError> {
        match self.single(self.take(1, Some(timeout)).await) {
            Err(ChannelError::Empty) => Err(ChannelError::Timeout),
            other => other,
        }
    }

    /// Receives the next item if there is one now, without waiting for one. In the channel
    /// actor's process it is done at the first poll; elsewhere it awaits the actor's answer.
    ///
    /// # Errors
    /// `Empty` when there is none; otherwise as [`recv`](Self::recv).
    ///
    /// # Cancel safety
    /// As [`recv`](Self::recv).
    pub async fn try_recv(&self) -> Result<T, ChannelError> {
        self.single(self.take(1, Some(Duration::ZERO)).await)
    }

    /// Receives the next item from sync code, blocking the thread until there is one.
    ///
    /// Called on an async task's thread, this blocks that thread: use [`recv`](Self::recv)
    /// there.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn blocking_recv(&self) -> Result<T, ChannelError> {
        let id = Some(self.reader_id.clone());
        let got = self.actor.methods().get_batch().remote(1, None, id).get();
        self.single(got)
    }

    /// Waits for the first item, then takes up to `max` items that are there.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    ///
    /// # Cancel safety
    /// As [`recv`](Self::recv).
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<T>, ChannelError> {
        let batch = self.take(max, None).await?;
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

    async fn take(
        &self,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<BatchResult<T>, ActorError> {
        match &self.state {
            Some(state) => take_from(state, &self.actor, &self.reader_id, max, timeout).await,
            None => take(&self.actor, &self.reader_id, max, timeout).await,
        }
    }

    fn single(&self, result: Result<BatchResult<T>, ActorError>) -> Result<T, ChannelError> {
        let result = result?;
        match (result.status, result.items.into_iter().next()) {
            (Status::Ok, Some(value)) => Ok(value),
            (Status::Closed, _) => Err(ChannelError::Closed),
            _ => Err(ChannelError::Empty),
        }
    }

    fn deregister(&mut self) {
        if std::mem::take(&mut self.open) {
            // A get still waiting is cancelled, so it cannot take an item no one will read; an
            // item it took already goes back.
            drop(self.next.take());
            let id = std::mem::take(&mut self.reader_id);
            match &self.state {
                Some(state) => drop(state.deregister_receiver(&id)),
                None => drop(self.actor.methods().deregister_receiver().remote(id)),
            }
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

/// Takes up to `max` items for `reader_id` from the channel's `state`, in the actor's process,
/// waiting up to `timeout` for the first: at once when items are there and no one waits for
/// them, else in line with the other waiting gets. Dropped while it waits, it takes nothing.
async fn take_from<T: Message>(
    state: &State<T>,
    actor: &Actor<RayChannelActor<T>>,
    reader_id: &str,
    max: usize,
    timeout: Option<Duration>,
) -> Result<BatchResult<T>, ActorError> {
    let outcome = match state.try_get(max, Some(reader_id)) {
        Ok((Status::Empty, _)) if timeout != Some(Duration::ZERO) => {
            state.get(max, timeout, Some(reader_id)).await
        }
        other => other,
    };
    match outcome {
        Ok((status, items)) => Ok(BatchResult { status, items }),
        Err(_) => Err(died(actor, "get_batch")),
    }
}

/// Takes up to `max` items for `reader_id`, waiting up to `timeout` for the first: first with a
/// single cheap call when items are there and no one waits for them, else with a get that
/// waits in line. Dropped before it resolves, the call in flight is cancelled and what it took
/// goes back to the channel.
async fn take<T: Message>(
    actor: &Actor<RayChannelActor<T>>,
    reader_id: &str,
    max: usize,
    timeout: Option<Duration>,
) -> Result<BatchResult<T>, ActorError> {
    let id = || Some(reader_id.to_owned());
    let tried = actor.methods().try_get().remote(max, id());
    let mut tried = CancelOnDrop::new(tried).giving_back(actor.clone());
    tried.cancel = false;
    let tried = tried.await?;
    if tried.status != Status::Empty || timeout == Some(Duration::ZERO) {
        return Ok(tried);
    }
    let get = actor.methods().get_batch().remote(max, timeout, id());
    CancelOnDrop::new(get).giving_back(actor.clone()).await
}

/// What a receive took.
type Taken<T> = Result<BatchResult<T>, ActorError>;

/// Awaits a call's ref and cancels the call if dropped before it resolves. For a get, what the
/// cancelled call took anyway (it finished before it saw the cancel) is given back to the
/// channel's front, by a call that waits for the ref without blocking anyone.
struct CancelOnDrop<R> {
    call: Option<ObjectRefFuture<R>>,
    give_back: Option<Box<dyn FnOnce(ObjectRef<R>) + Send + Sync>>,
    /// Whether dropping cancels the call. Not for a sync get: one already running on the
    /// actor cannot be stopped, and a cancel would throw away the items it takes; letting it
    /// finish and giving them back loses none.
    cancel: bool,
}

impl<R> CancelOnDrop<R> {
    fn new(r: ObjectRef<R>) -> Self {
        CancelOnDrop {
            call: Some(r.into_future()),
            give_back: None,
            cancel: true,
        }
    }
}

impl<T: Message> CancelOnDrop<BatchResult<T>> {
    /// Gives what the call took back to `actor` if this is dropped before it resolves.
    fn giving_back(mut self, actor: Actor<RayChannelActor<T>>) -> Self {
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

impl<T: Message> Sink<T> for Sender<T> {
    type Error = ChannelError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        self.poll_flush(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), ChannelError> {
        if !self.open {
            return Err(ChannelError::Closed);
        }
        let item = match &self.state {
            Some(state) => match state.try_put(item) {
                Ok(Ok(status)) => return self.status(Ok(status)),
                Ok(Err(item)) => item,
                Err(_) => return Err(died(&self.actor, "put").into()),
            },
            None => item,
        };
        // No room now (or not yet direct): a put that waits, awaited by `poll_flush`.
        let put = self.actor.methods().put().remote(item, None);
        self.in_flight = Some(CancelOnDrop::new(put));
        Ok(())
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ChannelError>> {
        let Some(put) = self.in_flight.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let status = std::task::ready!(Pin::new(put).poll(cx));
        self.in_flight = None;
        Poll::Ready(self.status(status))
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

impl<T: Message> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.next.is_none() {
            let (actor, reader_id) = (this.actor.clone(), this.reader_id.clone());
            let next: futures::future::BoxFuture<'static, Taken<T>> = match &this.state {
                Some(state) => {
                    // An item there now needs no future at all.
                    if let Ok((Status::Ok, items)) = state.try_get(1, Some(&reader_id)) {
                        return Poll::Ready(items.into_iter().next());
                    }
                    let state = Arc::clone(state);
                    Box::pin(async move { take_from(&state, &actor, &reader_id, 1, None).await })
                }
                None => Box::pin(async move { take(&actor, &reader_id, 1, None).await }),
            };
            this.next = Some(std::sync::Mutex::new(next));
        }
        let Some(next) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        let next = next
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = std::task::ready!(next.as_mut().poll(cx));
        this.next = None;
        match result {
            Ok(BatchResult {
                status: Status::Ok,
                items,
            }) => Poll::Ready(items.into_iter().next()),
            // Closed and drained, or the actor failed: the stream ends.
            _ => Poll::Ready(None),
        }
    }
}
