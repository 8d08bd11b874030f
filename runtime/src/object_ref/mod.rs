//! `ObjectRef<T>`: the future result of a call, and the `Completer` that fills it.
//!
//! This module is the reading side: the ref a caller awaits, blocks on, clones or cancels
//! ([`ObjectRef`], [`ObjectRefFuture`], [`Canceller`]). A call's refs and its writers share one
//! slot (`slot.rs`: the result, its waiters, the cancel flag, the call's origin); the writing
//! side, through which a call's body resolves its ref, is `completer.rs`.

mod borrowed;
mod completer;
mod slot;

use std::{
    fmt,
    future::{Future, IntoFuture},
    mem,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
    time::{Duration, Instant},
};

pub use borrowed::{Borrow, Done};
pub use completer::{Completer, Resolver, detached_pair};
pub(crate) use completer::{Failer, Fresh, pair, pair_like};
pub use slot::Origin;
use slot::{Plain, State};
pub(crate) use slot::{Slot, Tail};

use crate::{
    blocking::{block_until, inline_actor},
    error::ActorError,
    pending::PendingGuard,
    waiters::WaitKey,
};

/// A result that a call will produce, or has produced.
///
/// Await it from any executor (`ObjectRef<T>: IntoFuture<Output = Result<T, ActorError>>`), or
/// block on it from sync code with [`get`](ObjectRef::get) or [`crate::get`]. Every object ref
/// resolves: to the value, or to an [`ActorError`].
///
/// An `ObjectRef<T>` is `Clone` when `T: Clone`; every clone yields the value.
///
/// Dropping an object ref does not cancel its call.
///
/// ```
/// use std::time::Duration;
///
/// use helio::prelude::*;
///
/// pub struct Doubler;
///
/// #[actor]
/// impl Doubler {
///     pub fn new() -> Self { Doubler }
///
///     #[remote_method]
///     pub fn double(&self, x: u64) -> u64 { 2 * x }
/// }
///
/// let bound = Duration::from_secs(10);
/// let doubler = Doubler::new_actor().remote();
/// let r: ObjectRef<u64> = doubler.methods().double().remote(21);
/// let copy = r.clone(); // `u64: Clone`: each clone yields the value
/// assert_eq!(r.get_timeout(bound).unwrap(), 42);
/// assert_eq!(copy.get_timeout(bound).unwrap(), 42);
///
/// // A ref is an argument of another call, which waits for it without blocking anyone.
/// let twice = doubler.methods().double().remote(doubler.methods().double().remote(1));
/// // Await it from async code, on any executor.
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// assert_eq!(rt.block_on(async { twice.await }).unwrap(), 4);
///
/// // `put` makes a ref of a value at hand.
/// let r = helio_runtime::put(41);
/// assert_eq!(r.get().unwrap(), 41);
/// ```
#[must_use = "the call runs whether or not its ref is used, but its result is dropped with this ObjectRef: await it, pass it to `helio::get`, or bind it to `_` to drop the result on purpose"]
pub struct ObjectRef<T> {
    slot: Arc<Slot<T>>,
}

/// Cancels one call, whatever its result type (see `ObjectRef::canceller`).
#[derive(Clone)]
pub struct Canceller(Arc<dyn Fn() -> bool + Send + Sync>);

impl Canceller {
    /// A canceller for something that cannot be cancelled.
    pub fn noop() -> Self {
        Canceller(Arc::new(|| false))
    }

    /// Cancels the call; `true` when it was still pending.
    pub fn cancel(&self) -> bool {
        (self.0)()
    }
}

impl<T> ObjectRef<T> {
    /// The ref of `slot`, which counts it already.
    pub(crate) fn of(slot: Arc<Slot<T>>) -> Self {
        ObjectRef { slot }
    }

    fn pending(origin: Option<Origin>, pending: Option<PendingGuard>) -> Self {
        ObjectRef {
            slot: Arc::new(Slot::new(pending, Plain::new(origin))),
        }
    }

    /// An object ref that is already resolved to `result`.
    ///
    /// ```
    /// use helio_runtime::{ActorError, ObjectRef};
    /// let r: ObjectRef<u8> = ObjectRef::ready(Ok(7));
    /// assert!(r.is_ready());
    /// ```
    pub fn ready(result: Result<T, ActorError>) -> Self {
        let r = Self::pending(None, None);
        r.slot.lock().state = State::ready(result);
        r
    }

    /// Cancels the call, like Ray's `ray.cancel`. Returns whether the ref was still pending.
    ///
    /// - A call still queued resolves at once to [`ActorError::Cancelled`], frees its place in
    ///   the handle's `max_pending_calls`, and is skipped when its turn comes (also when it
    ///   waits to be re-run after a crash).
    /// - A running async call is dropped at its next await point, and the ref then resolves to
    ///   `Cancelled`. If the call returns before it reaches one, the ref keeps its value: a
    ///   result is never thrown away once produced, so no work it did (an item it took from a
    ///   channel, say) is lost.
    /// - A running sync or `blocking` call cannot be stopped: it finishes (as in Ray), and the
    ///   ref resolves at once to `Cancelled`, discarding its result.
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    /// A handle that cancels this ref's call, as [`cancel`](ObjectRef::cancel) does, without
    /// being a ref to its value.
    pub(crate) fn canceller(&self) -> Canceller
    where
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.slot);
        Canceller(Arc::new(move || slot.cancel()))
    }

    /// The call this ref is the result of.
    pub(crate) fn origin(&self) -> Option<&Origin> {
        self.slot.tail.origin()
    }

    /// Whether the result is available, so that `get` would not block.
    pub fn is_ready(&self) -> bool {
        !self.slot.lock().state.is_pending()
    }

    /// Blocks the calling thread until the result is available.
    ///
    /// Called on a worker of a multi-thread tokio runtime, the wait is wrapped in
    /// `block_in_place`; inside async code prefer `.await`.
    ///
    /// # Errors
    /// The [`ActorError`] the call resolved to. [`ActorError::SelfDeadlock`] when called from a
    /// sync method of the same actor on a call that has not resolved: that call cannot start
    /// before the method returns.
    ///
    /// ```
    /// assert_eq!(helio_runtime::put("done").get().unwrap(), "done");
    /// ```
    pub fn get(self) -> Result<T, ActorError> {
        if let Some(result) = self.take_now() {
            return result;
        }
        self.wait_until(None).unwrap_or_else(|| {
            Err(ActorError::GetTimeout {
                timeout: Duration::MAX,
            })
        })
    }

    /// Blocks the calling thread for at most `timeout` until the result is available.
    ///
    /// On timeout the ref is consumed and its result will be dropped when it arrives; to wait
    /// again later, bound the wait with [`crate::wait_blocking`] instead, which never consumes.
    ///
    /// # Errors
    /// [`ActorError::GetTimeout`] when `timeout` elapses first, or the error the call
    /// resolved to (see [`get`](ObjectRef::get)).
    pub fn get_timeout(self, timeout: Duration) -> Result<T, ActorError> {
        let deadline = Instant::now().checked_add(timeout);
        self.get_until(deadline)
            .unwrap_or_else(|| Err(ActorError::GetTimeout { timeout }))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Option<Result<T, ActorError>> {
        if let Some(result) = self.take_now() {
            return Some(result);
        }
        self.wait_until(deadline)
    }

    /// The blocking part of [`get_until`](ObjectRef::get_until), once the result was not there.
    #[cold]
    fn wait_until(&self, deadline: Option<Instant>) -> Option<Result<T, ActorError>> {
        if let Some(origin) = self.slot.tail.origin()
            && inline_actor() == Some(origin.id)
        {
            return Some(Err(ActorError::SelfDeadlock {
                actor: origin.actor.clone(),
                method: origin.method,
            }));
        }
        let mut key = None;
        let result = block_until(deadline, |cx| self.poll_take(cx, &mut key));
        self.slot.lock().waiters.remove(key);
        result
    }

    /// Takes this consumer's value if it is ready.
    fn take_now(&self) -> Option<Result<T, ActorError>> {
        let mut inner = self.slot.lock();
        inner.take(self.slot.refs.load(Ordering::Acquire))
    }

    /// Takes this consumer's value when it is ready, else registers `cx`'s waker.
    fn poll_take(&self, cx: &mut Context<'_>, key: &mut WaitKey) -> Poll<Result<T, ActorError>> {
        let mut inner = self.slot.lock();
        if let Some(result) = inner.take(self.slot.refs.load(Ordering::Acquire)) {
            return Poll::Ready(result);
        }
        if matches!(inner.state, State::Gone) {
            // Every consumer takes once; a ref whose value is gone was already consumed.
            return Poll::Ready(Err(ActorError::AlreadyConsumed));
        }
        inner.waiters.register(key, cx.waker());
        drop(inner);
        self.slot.tail.wanted();
        Poll::Pending
    }

    /// Readiness without consuming: `Ready` once the result is available.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, key: &mut WaitKey) -> Poll<()> {
        let mut inner = self.slot.lock();
        if inner.state.is_pending() {
            inner.waiters.register(key, cx.waker());
            drop(inner);
            self.slot.tail.wanted();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Withdraws a waiter registered by [`poll_ready`](ObjectRef::poll_ready).
    pub(crate) fn forget_waiter(&self, key: WaitKey) {
        if key.is_some() {
            self.slot.lock().waiters.remove(key);
        }
    }

    #[cfg(test)]
    fn waiters(&self) -> usize {
        self.slot.lock().waiters.len()
    }
}

impl<T: Clone> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        let mut inner = self.slot.lock();
        self.slot.refs.fetch_add(1, Ordering::AcqRel);
        inner.cloner = Some(T::clone);
        drop(inner);
        ObjectRef {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<T> Drop for ObjectRef<T> {
    fn drop(&mut self) {
        let refs = &self.slot.refs;
        // The sole ref (the common case) needs no locked instruction: no one else can change
        // the count meanwhile, since a clone is made from a live ref, which is counted.
        if refs.load(Ordering::Acquire) == 1 {
            refs.store(0, Ordering::Release);
        } else {
            refs.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.slot.lock().state {
            State::Pending => "pending",
            State::Value(_) => "ready",
            State::Failed(_) => "failed",
            State::Gone => "taken",
        };
        f.debug_struct("ObjectRef").field("state", &state).finish()
    }
}

impl<T> IntoFuture for ObjectRef<T> {
    type Output = Result<T, ActorError>;
    type IntoFuture = ObjectRefFuture<T>;

    fn into_future(self) -> ObjectRefFuture<T> {
        ObjectRefFuture {
            inner: self,
            key: None,
        }
    }
}

/// The future of an awaited [`ObjectRef`].
///
/// Polled again after it returned its result, it yields [`ActorError::AlreadyConsumed`].
///
/// # Cancel safety
/// Dropping it drops the object ref; the call itself goes on.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ObjectRefFuture<T> {
    inner: ObjectRef<T>,
    key: WaitKey,
}

impl<T> ObjectRefFuture<T> {
    /// Cancels the call; see [`ObjectRef::cancel`].
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }

    /// The ref again, for example to pass it on as an argument of another call.
    ///
    /// ```
    /// let future = std::future::IntoFuture::into_future(helio::put(5));
    /// assert_eq!(future.into_inner().get().unwrap(), 5);
    /// ```
    pub fn into_inner(mut self) -> ObjectRef<T> {
        self.inner.forget_waiter(self.key.take());
        let put_back = ObjectRef::ready(Err(ActorError::AlreadyConsumed));
        mem::replace(&mut self.inner, put_back)
    }
}

impl<T> Future for ObjectRefFuture<T> {
    type Output = Result<T, ActorError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = this.inner.poll_take(cx, &mut this.key);
        if poll.is_ready() {
            // Resolving took every waker: nothing left to withdraw at drop.
            this.key = None;
        }
        poll
    }
}

impl<T> Drop for ObjectRefFuture<T> {
    fn drop(&mut self) {
        self.inner.forget_waiter(self.key.take());
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;
    use crate::label::{ActorId, ActorLabel};

    fn origin() -> Origin {
        Origin {
            actor: ActorLabel::new("T", None),
            id: ActorId::next(),
            method: "m",
        }
    }

    #[test]
    fn many_short_lived_waiters_leave_no_wakers_behind() {
        let (r, done) = pair::<u32>(origin(), None);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..16_384 {
            let mut key = None;
            assert!(r.poll_ready(&mut cx, &mut key).is_pending());
            assert!(r.poll_ready(&mut cx, &mut key).is_pending());
            r.forget_waiter(key);
        }
        assert_eq!(r.waiters(), 0);
        let mut keys = vec![None; 100];
        for key in &mut keys {
            assert!(r.poll_ready(&mut cx, key).is_pending());
        }
        assert_eq!(r.waiters(), 100);
        done.complete(Ok(1));
        assert_eq!(r.waiters(), 0);
        assert_eq!(r.get(), Ok(1));
    }

    #[test]
    fn a_consumed_ref_says_so() {
        let mut future = helio_ref(3).into_future();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(Ok(3)));
        assert_eq!(
            Pin::new(&mut future).poll(&mut cx),
            Poll::Ready(Err(ActorError::AlreadyConsumed))
        );
    }

    #[test]
    fn a_value_no_ref_is_left_to_read_is_dropped_when_it_arrives() {
        let value = Arc::new(());
        let (r, done) = pair::<Arc<()>>(origin(), None);
        // A canceller keeps the slot alive; the value must not wait for it.
        let canceller = r.canceller();
        drop(r);
        done.complete(Ok(Arc::clone(&value)));
        assert_eq!(Arc::strong_count(&value), 1);
        drop(canceller);
    }

    #[test]
    fn a_ref_whose_clone_was_dropped_still_gets_the_value() {
        let value = Arc::new(());
        let (r, done) = pair::<Arc<()>>(origin(), None);
        let copy = r.clone();
        drop(r);
        done.complete(Ok(Arc::clone(&value)));
        let got = copy.get().expect("the value");
        assert!(Arc::ptr_eq(&got, &value));
    }

    fn helio_ref(v: u32) -> ObjectRef<u32> {
        ObjectRef::ready(Ok(v))
    }

    #[test]
    fn a_cancelled_retry_resolves_cancelled_at_once() {
        let (r, done) = pair::<u32>(origin(), None);
        assert!(done.start_cancellable());
        let retry = done.retry_handle().unwrap();
        assert!(r.cancel());
        assert!(!r.is_ready(), "a running async call decides itself");
        // The crash interrupts the run; its retry must not wait for the restart.
        assert!(retry.supersede().is_none());
        drop(done);
        assert!(matches!(r.get(), Err(ActorError::Cancelled { .. })));
    }
}
