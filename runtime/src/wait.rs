//! The free functions over object refs: `get`, `get_all`, `wait`, `wait_blocking`, `put`,
//! `cancel`.

use std::{
    future::poll_fn,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use crate::{ActorError, ObjectRef, blocking::block_until, hints::Gettable, waiters::WaitKey};

/// Blocks until `r` resolves; see [`ObjectRef::get`].
///
/// ```
/// assert_eq!(helio::get(helio::put(3)), Ok(3));
/// ```
///
/// # Errors
/// The [`ActorError`] the call resolved to.
pub fn get<T, R: Gettable<Output = T>>(r: R) -> Result<T, ActorError> {
    r.get_blocking()
}

/// Blocks until every ref resolves and returns the values in input order.
///
/// The refs are all taken from `refs` first, then waited for: `get_all((0..n).map(|i|
/// f.remote(i)))` starts every call before it waits for any, as Ray's
/// `ray.get([f.remote(i) for i in range(n)])` does.
///
/// ```
/// let refs = (0..3).map(helio_runtime::put);
/// assert_eq!(helio_runtime::get_all(refs).unwrap(), [0, 1, 2]);
/// ```
///
/// # Errors
/// The first error in input order; the remaining refs are dropped.
pub fn get_all<T>(refs: impl IntoIterator<Item = ObjectRef<T>>) -> Result<Vec<T>, ActorError> {
    let refs: Vec<ObjectRef<T>> = refs.into_iter().collect();
    refs.into_iter().map(ObjectRef::get).collect()
}

/// As [`get_all`], with one deadline for the whole batch, as Ray's `ray.get(refs, timeout=)`:
/// every value in input order if all resolve within `timeout`.
///
/// ```
/// use std::time::Duration;
///
/// let refs = (0..3).map(helio::put);
/// assert_eq!(helio::get_all_timeout(refs, Duration::from_secs(1)).unwrap(), [0, 1, 2]);
/// ```
///
/// # Errors
/// [`ActorError::GetTimeout`] (naming `timeout`) when some ref has not resolved by then;
/// otherwise the first error in input order. The remaining refs are dropped.
pub fn get_all_timeout<T>(
    refs: impl IntoIterator<Item = ObjectRef<T>>,
    timeout: Duration,
) -> Result<Vec<T>, ActorError> {
    let refs: Vec<ObjectRef<T>> = refs.into_iter().collect();
    let deadline = Instant::now().checked_add(timeout);
    refs.into_iter()
        .map(|r| {
            let left = deadline.map_or(timeout, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            match r.get_timeout(left) {
                Err(ActorError::GetTimeout { .. }) => Err(ActorError::GetTimeout { timeout }),
                other => other,
            }
        })
        .collect()
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
/// `(ready, pending)`, each in input order. Only looks: it lends the refs (`&ObjectRef`) and
/// consumes none, for progress counts and the like.
///
/// **To read what is ready, use [`wait_owned`]** (or [`wait_owned_blocking`]), Ray's
/// `ray.wait`: it hands the refs back by value, and [`get`] reads each of `ready`.
///
/// ```
/// use std::time::Duration;
///
/// let refs: Vec<helio::ObjectRef<u64>> = (0..3).map(helio::put).collect();
/// // Looking: how many are done?
/// let (ready, _pending) = helio::wait_blocking(&refs, 3, Some(Duration::from_secs(5)));
/// assert_eq!(ready.len(), 3);
/// // Reading: take the ready refs back, then get them.
/// let (ready, _pending) = helio::wait_owned_blocking(refs, 3, Some(Duration::from_secs(5)));
/// let values: Vec<u64> = ready.into_iter().map(|r| helio::get(r).unwrap()).collect();
/// assert_eq!(values, [0, 1, 2]);
/// ```
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
    let ready = wait_mask(refs, num_returns, timeout).await;
    split(refs, &ready)
}

/// Waits as [`wait`] does, and hands the refs back split into `(ready, pending)`, each in input
/// order, like Ray's `ray.wait`: the ready ones can be read at once, the pending ones waited
/// for again.
///
/// ```
/// use std::time::Duration;
/// use helio::prelude::*;
///
/// pub struct Square;
///
/// #[actor]
/// impl Square {
///     pub fn new() -> Self {
///         Square
///     }
///
///     #[remote_method]
///     pub fn of(&self, x: u64) -> u64 {
///         x * x
///     }
/// }
///
/// let square = Square::new_actor().remote();
/// let refs: Vec<ObjectRef<u64>> = (1..=4).map(|x| square.methods().of().remote(x)).collect();
/// let (ready, pending) = helio::wait_owned_blocking(refs, 4, Some(Duration::from_secs(20)));
/// assert!(pending.is_empty());
/// let values: Vec<u64> = ready.into_iter().map(|r| r.get().unwrap()).collect();
/// assert_eq!(values, [1, 4, 9, 16]);
/// ```
///
/// # Cancel safety
/// Dropping the future drops the refs (which does not cancel their calls).
pub async fn wait_owned<W: Waitable>(
    refs: Vec<W>,
    num_returns: usize,
    timeout: Option<Duration>,
) -> (Vec<W>, Vec<W>) {
    let ready = wait_mask(&refs, num_returns, timeout).await;
    split_owned(refs, &ready)
}

/// The blocking form of [`wait_owned`], for sync code: the way to read what is ready.
///
/// ```
/// use std::time::Duration;
///
/// let refs: Vec<helio::ObjectRef<u64>> = (1..=3).map(helio::put).collect();
/// let (ready, pending) = helio::wait_owned_blocking(refs, 2, Some(Duration::from_secs(5)));
/// assert_eq!((ready.len(), pending.len()), (2, 1));
/// for r in ready {
///     assert!(helio::get(r).unwrap() > 0);
/// }
/// ```
pub fn wait_owned_blocking<W: Waitable>(
    refs: Vec<W>,
    num_returns: usize,
    timeout: Option<Duration>,
) -> (Vec<W>, Vec<W>) {
    let ready = wait_mask_blocking(&refs, num_returns, timeout);
    split_owned(refs, &ready)
}

/// The blocking form of [`wait`], for sync code: it only looks (see [`wait`]); to read what
/// is ready, use [`wait_owned_blocking`].
pub fn wait_blocking<W: Waitable>(
    refs: &[W],
    num_returns: usize,
    timeout: Option<Duration>,
) -> WaitResult<'_, W> {
    let ready = wait_mask_blocking(refs, num_returns, timeout);
    split(refs, &ready)
}

/// Waits for `num_returns` of `refs` (or the timeout); which of them count as ready.
async fn wait_mask<W: Waitable>(
    refs: &[W],
    num_returns: usize,
    timeout: Option<Duration>,
) -> Vec<bool> {
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
    ready_mask(refs, num_returns)
}

/// The blocking form of [`wait_mask`].
fn wait_mask_blocking<W: Waitable>(
    refs: &[W],
    num_returns: usize,
    timeout: Option<Duration>,
) -> Vec<bool> {
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
    ready_mask(refs, num_returns)
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

/// The first `num_returns` ready refs, in input order.
fn ready_mask<W: Waitable>(refs: &[W], num_returns: usize) -> Vec<bool> {
    let mut left = num_returns;
    refs.iter()
        .map(|r| {
            let ready = left > 0 && r.ready_now();
            left -= usize::from(ready);
            ready
        })
        .collect()
}

fn split<'a, W: Waitable>(refs: &'a [W], ready: &[bool]) -> WaitResult<'a, W> {
    let (ready, pending): (Vec<_>, Vec<_>) = refs.iter().zip(ready).partition(|(_, r)| **r);
    let unzip = |v: Vec<(&'a W, &bool)>| v.into_iter().map(|(w, _)| w).collect();
    (unzip(ready), unzip(pending))
}

fn split_owned<W: Waitable>(refs: Vec<W>, ready: &[bool]) -> (Vec<W>, Vec<W>) {
    let (ready, pending): (Vec<_>, Vec<_>) = refs.into_iter().zip(ready).partition(|(_, r)| **r);
    let unzip = |v: Vec<(W, &bool)>| v.into_iter().map(|(w, _)| w).collect();
    (unzip(ready), unzip(pending))
}

/// A sleep driven by helio's runtime, so it can be polled from any executor.
pub(crate) fn timer(
    timeout: Duration,
) -> Result<Pin<Box<tokio::time::Sleep>>, crate::RuntimeError> {
    let handle = crate::embedded::timer_handle()?;
    let _entered = handle.enter();
    Ok(Box::pin(tokio::time::sleep(timeout)))
}
