//! `ObjectRef<T>`: the future result of a call, and the `Completer` that fills it.

use std::{
    cell::RefCell,
    fmt,
    future::{Future, IntoFuture},
    mem,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use futures::task::AtomicWaker;

use crate::{
    blocking::block_until,
    error::{ActorError, ActorLabel, DeathCause},
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
#[must_use = "an ObjectRef does nothing by itself: await it or pass it to `helio::get`"]
pub struct ObjectRef<T> {
    slot: Arc<Slot<T>>,
}

struct Slot<T> {
    inner: Mutex<Inner<T>>,
    /// The call this ref is the result of; `None` for `put` refs.
    origin: Option<(ActorLabel, &'static str)>,
    /// Set by `cancel`; the call's futures watch it through `cancel_waker`.
    cancelled: AtomicBool,
    cancel_waker: AtomicWaker,
}

struct Inner<T> {
    state: State<T>,
    /// Live `ObjectRef`s on this slot.
    refs: usize,
    /// Set by the first `Clone`, which is only possible when `T: Clone`.
    cloner: Option<fn(&T) -> T>,
    /// The run of the call whose completer may resolve the ref; a retry supersedes the last.
    attempt: u32,
    /// A running async call: a cancel is left to it (it resolves `Cancelled` when dropped at an
    /// await point, or its value if it returns first).
    cancelled_by_run: bool,
    waker: Option<Waker>,
    more_wakers: Vec<Waker>,
}

enum State<T> {
    Pending,
    Ready(Result<T, ActorError>),
    /// Taken by the last consumer, or dropped because no ref was left.
    Gone,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock can only come from a user `Clone` impl; the state is
        // still consistent, so carry on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Inner<T> {
    fn register(&mut self, waker: &Waker) {
        match &self.waker {
            None => self.waker = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                if !self.more_wakers.iter().any(|w| w.will_wake(waker)) {
                    self.more_wakers.push(waker.clone());
                }
            }
        }
    }

    fn take_wakers(&mut self) -> Wakers {
        Wakers(self.waker.take(), mem::take(&mut self.more_wakers))
    }

    /// The value for one consumer: moved out for the last one, cloned otherwise.
    fn take(&mut self) -> Option<Result<T, ActorError>> {
        let State::Ready(result) = &self.state else {
            return None;
        };
        if self.refs > 1
            && let Some(clone) = self.cloner
        {
            return Some(result.as_ref().map(clone).map_err(Clone::clone));
        }
        match mem::replace(&mut self.state, State::Gone) {
            State::Ready(result) => Some(result),
            _ => None,
        }
    }
}

/// Wakers taken out of a slot, to wake once its lock is released.
struct Wakers(Option<Waker>, Vec<Waker>);

impl Wakers {
    fn wake(self) {
        if let Some(waker) = self.0 {
            waker.wake();
        }
        self.1.into_iter().for_each(Waker::wake);
    }
}

impl<T> ObjectRef<T> {
    fn new(state: State<T>, origin: Option<(ActorLabel, &'static str)>) -> Self {
        ObjectRef {
            slot: Arc::new(Slot {
                inner: Mutex::new(Inner {
                    state,
                    refs: 1,
                    cloner: None,
                    attempt: 0,
                    cancelled_by_run: false,
                    waker: None,
                    more_wakers: Vec::new(),
                }),
                origin,
                cancelled: AtomicBool::new(false),
                cancel_waker: AtomicWaker::new(),
            }),
        }
    }

    /// An object ref that is already resolved to `result`.
    pub fn ready(result: Result<T, ActorError>) -> Self {
        Self::new(State::Ready(result), None)
    }

    /// Cancels the call, like Ray's `ray.cancel`. Returns whether the ref was still pending.
    ///
    /// - A call still queued resolves at once to [`ActorError::Cancelled`] and is skipped when
    ///   its turn comes.
    /// - A running async call is dropped at its next await point, and the ref then resolves to
    ///   `Cancelled`. If the call returns before it reaches one, the ref keeps its value: a
    ///   result is never thrown away once produced, so no work it did (an item it took from a
    ///   channel, say) is lost.
    /// - A running sync or `blocking` call cannot be stopped: it finishes (as in Ray), and the
    ///   ref resolves at once to `Cancelled`, discarding its result.
    pub fn cancel(&self) -> bool {
        let Some((actor, method)) = &self.slot.origin else {
            return false;
        };
        let mut inner = self.slot.lock();
        if !matches!(inner.state, State::Pending) {
            return false;
        }
        let wakers = if inner.cancelled_by_run {
            None
        } else {
            inner.state = State::Ready(Err(ActorError::Cancelled {
                actor: actor.clone(),
                method,
            }));
            Some(inner.take_wakers())
        };
        drop(inner);
        self.slot.cancelled.store(true, Ordering::Release);
        self.slot.cancel_waker.wake();
        if let Some(wakers) = wakers {
            wakers.wake();
        }
        true
    }

    /// The call this ref is the result of: its actor and method.
    pub(crate) fn origin(&self) -> Option<&(ActorLabel, &'static str)> {
        self.slot.origin.as_ref()
    }

    /// Whether the result is available, so that `get` would not block.
    pub fn is_ready(&self) -> bool {
        !matches!(self.slot.lock().state, State::Pending)
    }

    /// Blocks the calling thread until the result is available.
    ///
    /// Called on a worker of a multi-thread tokio runtime, the wait is wrapped in
    /// `block_in_place`; inside async code prefer `.await`.
    ///
    /// # Errors
    /// The [`ActorError`] the call resolved to.
    pub fn get(self) -> Result<T, ActorError> {
        if let Some(result) = self.slot.lock().take() {
            return result;
        }
        match block_until(None, |cx| self.poll_take(cx)) {
            Some(result) => result,
            None => Err(ActorError::GetTimeout {
                timeout: Duration::MAX,
            }),
        }
    }

    /// Blocks the calling thread for at most `timeout` until the result is available.
    ///
    /// On timeout the ref is consumed and its result will be dropped when it arrives; to wait
    /// again later, bound the wait with [`crate::wait_blocking`] instead, which never consumes.
    ///
    /// # Errors
    /// [`ActorError::GetTimeout`] when `timeout` elapses first, or the error the call
    /// resolved to.
    pub fn get_timeout(self, timeout: Duration) -> Result<T, ActorError> {
        if let Some(result) = self.slot.lock().take() {
            return result;
        }
        let deadline = Instant::now().checked_add(timeout);
        match block_until(deadline, |cx| self.poll_take(cx)) {
            Some(result) => result,
            None => Err(ActorError::GetTimeout { timeout }),
        }
    }

    /// Takes this consumer's value when it is ready, else registers `cx`'s waker.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Result<T, ActorError>> {
        let mut inner = self.slot.lock();
        if let Some(result) = inner.take() {
            return Poll::Ready(result);
        }
        if matches!(inner.state, State::Gone) {
            // Every consumer takes once; a ref whose value is gone was already consumed.
            return Poll::Ready(Err(ActorError::GetTimeout {
                timeout: Duration::ZERO,
            }));
        }
        inner.register(cx.waker());
        Poll::Pending
    }

    /// Readiness without consuming: `Ready` once the result is available.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.slot.lock();
        if matches!(inner.state, State::Pending) {
            inner.register(cx.waker());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl<T: Clone> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        let mut inner = self.slot.lock();
        inner.refs += 1;
        inner.cloner = Some(T::clone);
        drop(inner);
        ObjectRef {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<T> Drop for ObjectRef<T> {
    fn drop(&mut self) {
        let mut inner = self.slot.lock();
        inner.refs -= 1;
        if inner.refs == 0 && matches!(inner.state, State::Ready(_)) {
            let unread = mem::replace(&mut inner.state, State::Gone);
            drop(inner);
            drop(unread);
        }
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.slot.lock().state {
            State::Pending => "pending",
            State::Ready(Ok(_)) => "ready",
            State::Ready(Err(_)) => "failed",
            State::Gone => "taken",
        };
        f.debug_struct("ObjectRef").field("state", &state).finish()
    }
}

impl<T> IntoFuture for ObjectRef<T> {
    type Output = Result<T, ActorError>;
    type IntoFuture = ObjectRefFuture<T>;

    fn into_future(self) -> ObjectRefFuture<T> {
        ObjectRefFuture { inner: self }
    }
}

/// The future of an awaited [`ObjectRef`].
///
/// # Cancel safety
/// Dropping it drops the object ref; the call itself goes on.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ObjectRefFuture<T> {
    inner: ObjectRef<T>,
}

impl<T> ObjectRefFuture<T> {
    /// Cancels the call; see [`ObjectRef::cancel`].
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }
}

impl<T> Future for ObjectRefFuture<T> {
    type Output = Result<T, ActorError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.poll_take(cx)
    }
}

/// Decrements a handle's pending-call count when its call completes.
pub(crate) struct PendingGuard(Arc<AtomicUsize>);

impl PendingGuard {
    /// Counts one more pending call, unless `limit` are already pending.
    pub(crate) fn acquire(counter: &Arc<AtomicUsize>, limit: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| PendingGuard(Arc::clone(counter)))
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The writing side of an [`ObjectRef`], carried by the call.
///
/// Dropped without completing (the call was dropped unrun), it resolves the ref to
/// `ActorDied`, with the cause set by [`fail_dropped_with`] or else `Shutdown`.
#[doc(hidden)]
pub struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
    /// Only the current attempt's completer resolves the ref.
    attempt: u32,
    pending: Option<PendingGuard>,
}

/// Makes the completer of a call's next run: see [`Completer::retry_handle`].
pub(crate) struct RetryHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> RetryHandle<T> {
    /// A completer for a new run of the call. From now on the previous run's completer
    /// resolves nothing, so dropping the interrupted run leaves the ref pending.
    pub(crate) fn supersede(&self) -> Completer<T> {
        let mut inner = self.slot.lock();
        inner.attempt += 1;
        let attempt = inner.attempt;
        drop(inner);
        Completer {
            slot: Some(Arc::clone(&self.slot)),
            attempt,
            pending: None,
        }
    }
}

thread_local! {
    static DROP_CAUSE: RefCell<Option<DeathCause>> = const { RefCell::new(None) };
}

/// Runs `f` (which drops calls) so that their completers report `cause`.
pub(crate) fn fail_dropped_with<R>(cause: DeathCause, f: impl FnOnce() -> R) -> R {
    let previous = DROP_CAUSE.with(|c| c.replace(Some(cause)));
    let result = f();
    DROP_CAUSE.with(|c| *c.borrow_mut() = previous);
    result
}

/// A new pending ref and its completer.
pub(crate) fn pair<T>(
    actor: ActorLabel,
    method: &'static str,
    pending: Option<PendingGuard>,
) -> (ObjectRef<T>, Completer<T>) {
    let r = ObjectRef::new(State::Pending, Some((actor, method)));
    let done = Completer {
        slot: Some(Arc::clone(&r.slot)),
        attempt: 0,
        pending,
    };
    (r, done)
}

/// A pending ref with the same origin as `like` (for cancellation and error messages), and
/// its completer.
pub(crate) fn pair_like<T, U>(like: &ObjectRef<U>) -> (ObjectRef<T>, Completer<T>) {
    let r = ObjectRef::new(State::Pending, like.slot.origin.clone());
    let done = Completer {
        slot: Some(Arc::clone(&r.slot)),
        attempt: 0,
        pending: None,
    };
    (r, done)
}

impl<T> Completer<T> {
    /// Resolves the ref.
    pub(crate) fn complete(mut self, result: Result<T, ActorError>) {
        self.resolve(result);
    }

    /// Resolves the ref to `TaskPanicked` with `message`.
    pub(crate) fn panicked(self, message: String) {
        let err = self.origin_error(|actor, method| ActorError::TaskPanicked {
            actor,
            method,
            message,
        });
        self.complete(Err(err));
    }

    /// An error about this call's actor and method.
    fn origin_error(
        &self,
        make: impl FnOnce(ActorLabel, &'static str) -> ActorError,
    ) -> ActorError {
        match self.slot.as_ref().and_then(|slot| slot.origin.clone()) {
            Some((actor, method)) => make(actor, method),
            None => make(ActorLabel::new("?", None), "?"),
        }
    }

    /// A handle to make completers for later runs of this call.
    pub(crate) fn retry_handle(&self) -> Option<RetryHandle<T>> {
        self.slot.as_ref().map(|slot| RetryHandle {
            slot: Arc::clone(slot),
        })
    }

    /// Marks the call as a running async call: from now on a cancel waits for it to stop.
    /// `false` when it was cancelled already (it must not run).
    pub(crate) fn start_cancellable(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut inner = slot.lock();
        if !matches!(inner.state, State::Pending) || slot.cancelled.load(Ordering::Acquire) {
            return false;
        }
        inner.cancelled_by_run = true;
        true
    }

    /// Resolves the ref to `Cancelled`: the running call was dropped at an await point.
    pub(crate) fn cancelled_now(self) {
        let err = self.origin_error(|actor, method| ActorError::Cancelled { actor, method });
        self.complete(Err(err));
    }

    /// Whether the caller cancelled the call.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.slot
            .as_ref()
            .is_some_and(|slot| slot.cancelled.load(Ordering::Acquire))
    }

    /// Resolves when the caller cancels the call.
    pub(crate) fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static
    where
        T: Send + 'static,
    {
        let slot = self
            .slot
            .as_ref()
            .map(|slot| Arc::clone(slot) as Arc<dyn CancelFlag>);
        std::future::poll_fn(move |cx| match &slot {
            Some(slot) if slot.poll_cancelled(cx) => Poll::Ready(()),
            _ => Poll::Pending,
        })
    }

    fn resolve(&mut self, result: Result<T, ActorError>) {
        // Free the handle's pending slot first, so a caller woken by the result may call again.
        self.pending = None;
        let Some(slot) = self.slot.take() else { return };
        let mut inner = slot.lock();
        // No one left to read it, already resolved (cancelled), or a retry superseded this
        // run: discard the result.
        if inner.refs == 0
            || !matches!(inner.state, State::Pending)
            || inner.attempt != self.attempt
        {
            drop(inner);
            drop(result);
            return;
        }
        inner.state = State::Ready(result);
        let wakers = inner.take_wakers();
        drop(inner);
        wakers.wake();
    }
}

/// The cancel flag of a slot, whatever its value type.
trait CancelFlag: Send + Sync {
    fn poll_cancelled(&self, cx: &mut Context<'_>) -> bool;
}

impl<T: Send> CancelFlag for Slot<T> {
    fn poll_cancelled(&self, cx: &mut Context<'_>) -> bool {
        self.cancel_waker.register(cx.waker());
        self.cancelled.load(Ordering::Acquire)
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if self.slot.is_some() {
            let cause = DROP_CAUSE
                .try_with(|c| c.borrow().clone())
                .ok()
                .flatten()
                .unwrap_or(DeathCause::Shutdown);
            let err = self.origin_error(|actor, method| ActorError::ActorDied {
                actor,
                method,
                cause,
            });
            self.resolve(Err(err));
        }
    }
}
