//! Streaming methods: `ObjectRefStream<X>` and the `StreamMethod` handle that makes one.
//!
//! A streaming method is called like any other; its result is the (boxed) stream. A pump task
//! on helio's runtime then moves the stream's items into a bounded buffer of `stream_buffer`
//! items, pulling the next item only once the previous one is buffered, so a slow consumer
//! holds the producer back. Dropping the `ObjectRefStream` closes the buffer: the pump stops
//! and drops the producer (and cancels the call if it has not returned yet).

use std::{
    fmt,
    future::IntoFuture,
    panic::AssertUnwindSafe,
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll},
};

use futures::{
    FutureExt, Stream, StreamExt,
    future::{Either, select},
    stream::BoxStream,
    task::AtomicWaker,
};
use tokio::sync::mpsc;

use crate::{
    ActorClass, ActorError, CallOptions, Method, ObjectRef,
    actor::ActorShared,
    arg::{IntoArg, PendingArgs},
    blocking::block_until,
    error::DeathCause,
    feed::{AnyFeed, Feed, Item, Took},
    object_ref::Origin,
    seam::remote::{self, RemoteActor, StreamCall},
    unwind::{Quiet, drop_quietly, take_message},
};

/// The items of a streaming method's call, as they are produced: a
/// `Stream<Item = Result<X, ActorError>>`, or a blocking iterator via
/// [`blocking_iter`](ObjectRefStream::blocking_iter).
///
/// The stream ends after the last item, or after an `Err` (the call failed, or the producer
/// panicked after the items already produced). Dropping it cancels the producer.
#[must_use = "streams do nothing unless polled"]
pub struct ObjectRefStream<X> {
    items: mpsc::Receiver<Item<X>>,
    done: bool,
    /// Woken by the pump after each item and when it stops, for `helio::wait`.
    ready: Arc<AtomicWaker>,
    /// The call, for the error when the pump vanishes (its runtime shut down).
    origin: Option<Origin>,
    /// Cluster mode: told of each item taken (for credits) and of an early drop (a cancel),
    /// when the items come from another process.
    consumer: Option<Box<dyn FnMut(Took) + Send + Sync>>,
}

impl<X> Drop for ObjectRefStream<X> {
    fn drop(&mut self) {
        if !self.done
            && let Some(consumer) = &mut self.consumer
        {
            consumer(Took::Dropped);
        }
    }
}

impl<X: Send + 'static> ObjectRefStream<X> {
    /// A stream of `capacity` buffered items fed from elsewhere, and its feed.
    pub(crate) fn fed(
        capacity: usize,
        origin: Option<Origin>,
        consumer: Box<dyn FnMut(Took) + Send + Sync>,
    ) -> (Self, Box<dyn AnyFeed>) {
        let (tx, items) = mpsc::channel(capacity.max(1));
        let ready = Arc::new(AtomicWaker::new());
        let stream = ObjectRefStream {
            items,
            done: false,
            ready: Arc::clone(&ready),
            origin,
            consumer: Some(consumer),
        };
        (stream, Box::new(Feed { tx, ready }))
    }
}

/// Wakes the stream's waiter when the pump stops, however it stops.
struct WakeOnDrop(Arc<AtomicWaker>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake();
    }
}

impl<X: Send + 'static> ObjectRefStream<X> {
    /// Pumps the stream `call` resolves to into a buffer of `buffer` items, until the stream
    /// ends, the consumer drops it, or `actor` (a streaming method's; none for a task) dies.
    pub(crate) fn pump(
        call: ObjectRef<BoxStream<'static, X>>,
        buffer: usize,
        actor: Option<Arc<ActorShared>>,
    ) -> Self {
        let (tx, items) = mpsc::channel(buffer.max(1));
        let origin = call.origin().cloned();
        let ready = Arc::new(AtomicWaker::new());
        match crate::embedded::spawn_handle() {
            Ok(handle) => {
                let pump = pump(call, tx, origin.clone(), Arc::clone(&ready), actor);
                handle.spawn(pump);
            }
            Err(err) => tracing::error!(%err, "no runtime to pump a stream"),
        }
        ObjectRefStream {
            items,
            done: false,
            ready,
            origin,
            consumer: None,
        }
    }

    /// Whether the next item, or the end, is there: `next` would not wait.
    pub fn is_ready(&self) -> bool {
        self.done || !self.items.is_empty() || self.items.is_closed()
    }

    /// Readiness for `helio::wait`, registering `cx` for the pump's next item.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.ready.register(cx.waker());
        if self.is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// The items as a blocking iterator, for sync code.
    pub fn blocking_iter(self) -> BlockingIter<X> {
        BlockingIter { stream: self }
    }
}

/// Resolves to the cause once `actor` is dead (never for a task's stream, which has none).
async fn death(actor: Option<&ActorShared>) -> DeathCause {
    let Some(actor) = actor else {
        return std::future::pending().await;
    };
    loop {
        let notified = actor.changed().notified();
        let mut notified = pin!(notified);
        notified.as_mut().enable();
        if let Some(cause) = actor.death() {
            return cause;
        }
        notified.await;
    }
}

async fn pump<X: Send + 'static>(
    call: ObjectRef<BoxStream<'static, X>>,
    tx: mpsc::Sender<Item<X>>,
    origin: Option<Origin>,
    ready: Arc<AtomicWaker>,
    actor: Option<Arc<ActorShared>>,
) {
    // Declared before `tx` is rebound below, so it drops after it: the waiter is woken only once
    // the channel is closed and the end is visible.
    let _wake_at_end = WakeOnDrop(Arc::clone(&ready));
    let tx = tx;
    let died = |cause: DeathCause| {
        let (actor, method) = Origin::parts(origin.as_ref());
        Item::Failed(ActorError::ActorDied {
            actor,
            method,
            cause,
        })
    };
    let call = call.into_future();
    let mut stream = {
        let closed = pin!(tx.closed());
        match select(closed, call).await {
            Either::Left(((), call)) => {
                call.cancel();
                return;
            }
            Either::Right((Ok(stream), _)) => stream,
            Either::Right((Err(err), _)) => {
                let _ = tx.send(Item::Failed(err)).await;
                return;
            }
        }
    };
    let mut dead = pin!(death(actor.as_deref()));
    loop {
        let next = AssertUnwindSafe(Quiet(stream.next())).catch_unwind();
        let item = {
            let closed = pin!(tx.closed());
            let stop = select(closed, dead.as_mut());
            match select(stop, next).await {
                // The consumer is gone: drop the producer.
                Either::Left((Either::Left(_), _)) => return,
                Either::Left((Either::Right((cause, _)), _)) => died(cause),
                Either::Right((Ok(Some(item)), _)) => Item::Next(item),
                Either::Right((Ok(None), _)) => Item::End,
                Either::Right((Err(payload), _)) => {
                    let message = take_message(payload);
                    let (actor, method) = Origin::parts(origin.as_ref());
                    Item::Failed(ActorError::TaskPanicked {
                        actor,
                        method,
                        message,
                    })
                }
            }
        };
        let last = !matches!(item, Item::Next(_));
        if last {
            drop_quietly(stream);
            let _ = tx.send(item).await;
            return;
        }
        if tx.send(item).await.is_err() {
            return;
        }
        ready.wake();
    }
}

impl<X> Stream for ObjectRefStream<X> {
    type Item = Result<X, ActorError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match std::task::ready!(self.items.poll_recv(cx)) {
            Some(Item::Next(item)) => {
                if let Some(consumer) = &mut self.consumer {
                    consumer(Took::Item);
                }
                return Poll::Ready(Some(Ok(item)));
            }
            Some(Item::Failed(err)) => Some(Err(err)),
            Some(Item::End) => None,
            // The pump vanished without an end: its runtime shut down.
            None => {
                let (actor, method) = Origin::parts(self.origin.as_ref());
                Some(Err(ActorError::ActorDied {
                    actor,
                    method,
                    cause: DeathCause::Shutdown,
                }))
            }
        };
        self.done = true;
        Poll::Ready(item)
    }
}

impl<X> fmt::Debug for ObjectRefStream<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRefStream")
            .field("done", &self.done)
            .finish()
    }
}

/// A streaming call's items, one blocking `next` at a time.
#[derive(Debug)]
pub struct BlockingIter<X> {
    stream: ObjectRefStream<X>,
}

impl<X> Iterator for BlockingIter<X> {
    type Item = Result<X, ActorError>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = &mut self.stream;
        block_until(None, |cx| Pin::new(&mut *stream).poll_next(cx)).flatten()
    }
}

/// A streaming remote method of an actor: `.remote(args)` returns an [`ObjectRefStream`].
pub struct StreamMethod<'a, A, Args, X> {
    call: Method<'a, A, Args, BoxStream<'static, X>>,
    buffer: usize,
}

impl<'a, A: ActorClass, Args, X: Send + 'static> StreamMethod<'a, A, Args, X> {
    #[doc(hidden)]
    pub fn new(call: Method<'a, A, Args, BoxStream<'static, X>>, buffer: usize) -> Self {
        StreamMethod { call, buffer }
    }

    /// This method with per-call overrides.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.call = self.call.options(options);
        self
    }

    pub(crate) fn start<P: PendingArgs<Values = Args>>(&self, args: P) -> ObjectRefStream<X>
    where
        Args: Send + 'static,
    {
        if let Some(link) = self.call.actor().link() {
            return self.start_remote(link.as_ref(), args);
        }
        let actor = Arc::clone(self.call.actor().shared());
        ObjectRefStream::pump(self.call.call_with(args), self.buffer, Some(actor))
    }

    /// Starts the call on an actor in another process: its items arrive through a feed.
    fn start_remote<P: PendingArgs<Values = Args>>(
        &self,
        remote: &dyn RemoteActor,
        args: P,
    ) -> ObjectRefStream<X>
    where
        Args: Send + 'static,
    {
        let mut opened = None;
        let call = StreamCall {
            actor: self.call.actor().label(),
            method: self.call.name(),
            overrides: self.call.overrides(),
            args: remote::Args::of(args),
            window: self.buffer,
        };
        remote.stream(call, &mut |opening| {
            let (stream, feed) =
                ObjectRefStream::<X>::fed(opening.capacity, Some(opening.origin), opening.consumer);
            opened = Some(stream);
            feed
        });
        opened.unwrap_or_else(|| {
            let (stream, feed) = ObjectRefStream::fed(1, None, Box::new(|_| {}));
            let _ = feed.push(Item::Failed(ActorError::Wire {
                message: format!(
                    "internal: the stream `{}` was never opened",
                    self.call.name()
                ),
            }));
            stream
        })
    }
}

impl<A, Args, X> fmt::Debug for StreamMethod<'_, A, Args, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMethod")
            .field("call", &self.call)
            .field("buffer", &self.buffer)
            .finish()
    }
}

macro_rules! stream_arities {
    ($( ($($arg:ident: $ty:ident),*) )*) => {$(
        impl<A: ActorClass, X: Send + 'static, $($ty: Send + 'static),*> StreamMethod<'_, A, ($($ty,)*), X> {
            /// Calls the method; its items arrive in the returned [`ObjectRefStream`]. Arguments
            /// are values or refs, as for [`Method::remote`](crate::Method).
            #[allow(clippy::too_many_arguments)]
            pub fn remote(&self, $($arg: impl IntoArg<$ty>),*) -> ObjectRefStream<X> {
                self.start(($($arg.into_arg(),)*))
            }
        }
    )*};
}

crate::for_each_arity!(stream_arities);

/// Boxes a streaming method's stream (the generated code's helper).
#[doc(hidden)]
pub fn box_stream<S, X>(stream: S) -> BoxStream<'static, X>
where
    S: Stream<Item = X> + Send + 'static,
{
    stream.boxed()
}
