//! The free functions over object refs: `get`, `get_all`, `wait`, `wait_blocking`, `put`,
//! `cancel`.

use std::{
    future::poll_fn,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use crate::{ActorError, ObjectRef, blocking::block_until, object_ref::WaitKey, system};

/// Blocks until `r` resolves; see [`ObjectRef::get`].
///
/// # Errors
/// The [`ActorError`] the call resolved to.
pub fn get<T>(r: ObjectRef<T>) -> Result<T, ActorError> {
    r.get()
}

/// Blocks until every ref resolves and returns the values in input order.
///
/// # Errors
/// The first error in input order; the remaining refs are dropped.
pub fn get_all<T>(refs: impl IntoIterator<Item = ObjectRef<T>>) -> Result<Vec<T>, ActorError> {
    refs.into_iter().map(ObjectRef::get).collect()
}

/// Cancels the call behind `r`, like Ray's `ray.cancel`; see [`ObjectRef::cancel`].
pub fn cancel<T>(r: &ObjectRef<T>) -> bool {
    r.cancel()
}

/// A ref that is already resolved to `value`, like Ray's `put`.
pub fn put<T>(value: T) -> ObjectRef<T> {
    ObjectRef::ready(Ok(value))
}

/// What [`wait`] can wait for: an [`ObjectRef`] (ready once resolved) or an
/// [`ObjectRefStream`](crate::ObjectRefStream) (ready once its next item, or its end, is there).
pub trait Waitable: sealed::Sealed {
    #[doc(hidden)]
    fn poll_ready(&self, cx: &mut Context<'_>, key: &mut WaitKey) -> Poll<()>;
    #[doc(hidden)]
    fn forget(&self, key: WaitKey);
    #[doc(hidden)]
    fn ready_now(&self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for crate::ObjectRef<T> {}
    impl<X> Sealed for crate::ObjectRefStream<X> {}
}

impl<T> Waitable for ObjectRef<T> {
    fn poll_ready(&self, cx: &mut Context<'_>, key: &mut WaitKey) -> Poll<()> {
        ObjectRef::poll_ready(self, cx, key)
    }
    fn forget(&self, key: WaitKey) {
        self.forget_waiter(key);
    }
    fn ready_now(&self) -> bool {
        self.is_ready()
    }
}

impl<X: Send + 'static> Waitable for crate::ObjectRefStream<X> {
    fn poll_ready(&self, cx: &mut Context<'_>, _key: &mut WaitKey) -> Poll<()> {
        crate::ObjectRefStream::poll_ready(self, cx)
    }
    fn forget(&self, _key: WaitKey) {}
    fn ready_now(&self) -> bool {
        self.is_ready()
    }
}

/// Refs (or streams) split into `(ready, pending)`, each in input order.
pub type WaitResult<'a, W> = (Vec<&'a W>, Vec<&'a W>);

/// Waits until `num_returns` of `refs` are ready, or `timeout` elapses, and splits them into
/// `(ready, pending)`, each in input order. Never consumes a ref.
///
/// `num_returns` is capped at `refs.len()`. `ready` holds at most `num_returns` refs (the first
/// ready ones in input order); with a timeout it may hold fewer.
///
/// # Cancel safety
/// Cancel safe: dropping the future leaves every ref as it was.
pub async fn wait<'a, W: Waitable>(
    refs: &'a [W],
    num_returns: usize,
    timeout: Option<Duration>,
) -> WaitResult<'a, W> {
    let num_returns = num_returns.min(refs.len());
    let mut sleep = match timeout.map(timer) {
        Some(Ok(sleep)) => Some(sleep),
        Some(Err(err)) => {
            tracing::error!(%err, "no timer for helio::wait; waiting without a bound");
            None
        }
        None => None,
    };
    let mut waiting = Registrations::new(refs);
    poll_fn(|cx| {
        if waiting.count_ready(cx) >= num_returns {
            return Poll::Ready(());
        }
        match sleep.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    })
    .await;
    split(refs, num_returns)
}

/// The blocking form of [`wait`], for sync code.
pub fn wait_blocking<W: Waitable>(
    refs: &[W],
    num_returns: usize,
    timeout: Option<Duration>,
) -> WaitResult<'_, W> {
    let num_returns = num_returns.min(refs.len());
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut waiting = Registrations::new(refs);
    block_until(deadline, |cx| {
        if waiting.count_ready(cx) >= num_returns {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    split(refs, num_returns)
}

/// One waiter's registrations with the refs it waits for, withdrawn when it stops waiting.
struct Registrations<'a, W: Waitable> {
    refs: &'a [W],
    keys: Vec<WaitKey>,
}

impl<'a, W: Waitable> Registrations<'a, W> {
    fn new(refs: &'a [W]) -> Self {
        Registrations {
            refs,
            keys: vec![None; refs.len()],
        }
    }

    /// Counts the ready refs, registering `cx` with the pending ones.
    fn count_ready(&mut self, cx: &mut Context<'_>) -> usize {
        let mut ready = 0;
        for (r, key) in self.refs.iter().zip(&mut self.keys) {
            if r.poll_ready(cx, key).is_ready() {
                ready += 1;
            }
        }
        ready
    }
}

impl<W: Waitable> Drop for Registrations<'_, W> {
    fn drop(&mut self) {
        for (r, key) in self.refs.iter().zip(&mut self.keys) {
            r.forget(key.take());
        }
    }
}

fn split<W: Waitable>(refs: &[W], num_returns: usize) -> WaitResult<'_, W> {
    let mut ready = Vec::with_capacity(num_returns);
    let mut pending = Vec::new();
    for r in refs {
        if ready.len() < num_returns && r.ready_now() {
            ready.push(r);
        } else {
            pending.push(r);
        }
    }
    (ready, pending)
}

/// A sleep driven by helio's runtime, so it can be polled from any executor.
fn timer(timeout: Duration) -> Result<Pin<Box<tokio::time::Sleep>>, crate::RuntimeError> {
    let handle = system::timer_handle()?;
    let _entered = handle.enter();
    Ok(Box::pin(tokio::time::sleep(timeout)))
}
