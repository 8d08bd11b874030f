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
    arg::{IntoArg, PendingArgs},
    blocking::block_until,
    error::panic_message,
    system,
};

/// The items of a streaming method's call, as they are produced: a
/// `Stream<Item = Result<X, ActorError>>`, or a blocking iterator via
/// [`blocking_iter`](ObjectRefStream::blocking_iter).
///
/// The stream ends after the last item, or after an `Err` (the call failed, or the producer
/// panicked after the items already produced). Dropping it cancels the producer.
#[must_use = "streams do nothing unless polled"]
pub struct ObjectRefStream<X> {
    items: mpsc::Receiver<Result<X, ActorError>>,
    done: bool,
    /// Woken by the pump after each item and when it stops, for `helio::wait`.
    ready: Arc<AtomicWaker>,
}

/// Wakes the stream's waiter when the pump stops, however it stops.
struct WakeOnDrop(Arc<AtomicWaker>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake();
    }
}

impl<X: Send + 'static> ObjectRefStream<X> {
    /// Pumps the stream `call` resolves to into a buffer of `buffer` items.
    pub(crate) fn pump(call: ObjectRef<BoxStream<'static, X>>, buffer: usize) -> Self {
        let (tx, items) = mpsc::channel(buffer.max(1));
        let origin = call.origin().cloned();
        let ready = Arc::new(AtomicWaker::new());
        match system::handles() {
            Ok((handle, _)) => {
                handle.spawn(pump(call, tx, origin, Arc::clone(&ready)));
            }
            Err(err) => tracing::error!(%err, "no runtime to pump a stream"),
        }
        ObjectRefStream {
            items,
            done: false,
            ready,
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

async fn pump<X: Send + 'static>(
    call: ObjectRef<BoxStream<'static, X>>,
    tx: mpsc::Sender<Result<X, ActorError>>,
    origin: Option<(crate::ActorLabel, &'static str)>,
    ready: Arc<AtomicWaker>,
) {
    // Declared before `tx` is rebound below, so it drops after it: the waiter is woken only once
    // the channel is closed and the end is visible.
    let _wake_at_end = WakeOnDrop(Arc::clone(&ready));
    let tx = tx;
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
                let _ = tx.send(Err(err)).await;
                return;
            }
        }
    };
    loop {
        let next = AssertUnwindSafe(stream.next()).catch_unwind();
        let item = {
            let closed = pin!(tx.closed());
            match select(closed, next).await {
                Either::Left(_) => return, // the consumer is gone: drop the producer
                Either::Right((item, _)) => item,
            }
        };
        let item = match item {
            Ok(Some(item)) => Ok(item),
            Ok(None) => return,
            Err(payload) => {
                let message = panic_message(&*payload);
                let (actor, method) = origin
                    .clone()
                    .unwrap_or_else(|| (crate::ActorLabel::new("?", None), "?"));
                Err(ActorError::TaskPanicked {
                    actor,
                    method,
                    message,
                })
            }
        };
        let last = item.is_err();
        if tx.send(item).await.is_err() || last {
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
        let item = std::task::ready!(self.items.poll_recv(cx));
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
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

    fn start<P: PendingArgs<Values = Args>>(&self, args: P) -> ObjectRefStream<X>
    where
        Args: 'static,
    {
        ObjectRefStream::pump(self.call.call_with(args), self.buffer)
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
