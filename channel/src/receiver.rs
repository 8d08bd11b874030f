//! `Receiver<T>`: the receiving end of a channel.
//!
//! In the channel actor's own process it takes straight from the channel's state
//! (`route.rs`); elsewhere it calls the actor, giving back what a dropped receive took. It
//! registers when made (or cloned) and deregisters when closed or dropped.

use std::{
    fmt,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use helio::prelude::*;

use crate::{
    actor::{Message, RayChannelActor},
    cancel::CancelOnDrop,
    error::ChannelError,
    route::{LOCAL_NODE, died, local, this_node},
    state::{State, Turn},
    types::{BatchResult, Status},
};

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
    /// Items taken ahead, in another process than the channel's: a receive there takes up
    /// to [`PREFETCH`] items that are there, hands out the first, and keeps the rest for the
    /// next receives. Given back to the channel, at its front, when the receiver goes.
    prefetched: std::sync::Mutex<std::collections::VecDeque<T>>,
}

/// How many items a receive in another process than the channel's takes at most, when that
/// many are there: one call then serves that many receives.
const PREFETCH: usize = 64;

impl<T: Message> Receiver<T> {
    pub(crate) fn register(actor: Actor<RayChannelActor<T>>) -> Self {
        Self::registered(actor).0
    }

    /// A new receiver, with its registration call when the channel is in another process (the
    /// channel counts the receiver once that call is answered).
    pub(crate) fn registered(
        actor: Actor<RayChannelActor<T>>,
    ) -> (Self, Option<ObjectRef<Status>>) {
        static NEXT_READER: AtomicU64 = AtomicU64::new(1);
        let n = NEXT_READER.fetch_add(1, Ordering::Relaxed);
        let node = this_node();
        // Unique across the processes of a cluster too.
        let reader_id = match node.as_str() {
            LOCAL_NODE => format!("reader-{n}"),
            node => format!("reader-{n}@{node}"),
        };
        let state = local(&actor);
        let registration = match &state {
            Some(state) => {
                let _status = state.register_receiver(reader_id.clone(), LOCAL_NODE.to_owned());
                None
            }
            None => {
                let register = actor.methods().register_receiver();
                Some(register.remote(reader_id.clone(), node))
            }
        };
        let receiver = Receiver {
            actor,
            reader_id,
            open: true,
            next: None,
            state,
            prefetched: std::sync::Mutex::default(),
        };
        (receiver, registration)
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
        if let Some(ready) = self.unstash(1) {
            return self.single(Ok(ready));
        }
        let id = Some(self.reader_id.clone());
        let max = if self.state.is_some() { 1 } else { PREFETCH };
        let got = self.actor.methods().get_batch().remote(max, None, id).get();
        let got = got.map(|taken| self.stash(taken, 1));
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
            None => {
                if let Some(ready) = self.unstash(max) {
                    return Ok(ready);
                }
                let taken = take(&self.actor, &self.reader_id, max.max(PREFETCH), timeout).await;
                Ok(self.stash(taken?, max))
            }
        }
    }

    fn prefetched(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<T>> {
        self.prefetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Up to `max` of the items taken ahead, if there are any.
    fn unstash(&self, max: usize) -> Option<BatchResult<T>> {
        let mut prefetched = self.prefetched();
        if prefetched.is_empty() {
            return None;
        }
        let n = max.min(prefetched.len());
        let items = prefetched.drain(..n).collect();
        Some(BatchResult {
            status: Status::Ok,
            items,
        })
    }

    /// Hands out the first `max` items of `taken`, and keeps the rest for the next receives.
    fn stash(&self, mut taken: BatchResult<T>, max: usize) -> BatchResult<T> {
        if taken.items.len() > max {
            let rest = taken.items.split_off(max);
            self.prefetched().extend(rest);
        }
        taken
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
                None => {
                    // Items taken ahead go back first (calls from one handle keep their order),
                    // so that no item is lost to the closing.
                    let items: Vec<T> = self.prefetched().drain(..).collect();
                    if !items.is_empty() {
                        let taken = BatchResult {
                            status: Status::Ok,
                            items,
                        };
                        drop(self.actor.methods().unget().remote(taken));
                    }
                    drop(self.actor.methods().deregister_receiver().remote(id));
                }
            }
        }
    }
}

// No field is ever pinned: polling takes the receiver by `&mut`.
impl<T: Message> Unpin for Receiver<T> {}

/// A clone registers with the channel as a new end. In another process than the channel's, it
/// does not wait for the registration (a clone may be made in async code): the channel counts
/// this process's existing end until then, and the end's deregistration, when it drops, goes
/// to the channel after the clone's registration, in this process's order.
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
    let outcome = match state.take_now(max, Some(reader_id), Turn::BehindWaiters) {
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

impl<T: Message> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if this.next.is_none() {
            let (actor, reader_id) = (this.actor.clone(), this.reader_id.clone());
            let next: futures::future::BoxFuture<'static, Taken<T>> = match &this.state {
                Some(state) => {
                    // An item there now needs no future at all.
                    if let Ok((Status::Ok, items)) =
                        state.take_now(1, Some(&reader_id), Turn::BehindWaiters)
                    {
                        return Poll::Ready(items.into_iter().next());
                    }
                    let state = Arc::clone(state);
                    Box::pin(async move { take_from(&state, &actor, &reader_id, 1, None).await })
                }
                None => {
                    if let Some(mut ready) = this.unstash(1) {
                        return Poll::Ready(ready.items.pop());
                    }
                    Box::pin(async move { take(&actor, &reader_id, PREFETCH, None).await })
                }
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
        let result = result.map(|taken| this.stash(taken, 1));
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
