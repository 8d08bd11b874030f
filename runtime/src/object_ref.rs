//! `ObjectRef<T>`: the future result of a call, and the `Completer` that fills it.

use std::{
    fmt,
    future::{Future, IntoFuture},
    mem,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::task::AtomicWaker;

use crate::{
    blocking::{block_until, inline_actor},
    error::{ActorError, DeathCause},
    label::{ActorId, ActorLabel},
    pending::PendingGuard,
    waiters::{WaitKey, Waiters},
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
#[must_use = "an ObjectRef does nothing by itself: await it or pass it to `helio::get`"]
pub struct ObjectRef<T> {
    slot: Arc<Slot<T>>,
}

/// What follows a slot's shared part in its allocation: what only some slots need, or need
/// rarely (the call's [`Origin`], which errors name; the cancel waker of a run that watches for
/// a cancel), and, for a sync call, its body, so that the call costs one allocation, freed by
/// whoever lets go of the result last.
///
/// Keeping these out of the slot's fixed part keeps what the actor's thread touches on every
/// call (the lock, the result, the cancel flag and a sync call's body) within two cache lines
/// of the allocation: each line more is a cache miss per call when the caller runs on another
/// core.
pub(crate) trait Tail: Send + Sync {
    /// The call the slot is the result of; `None` for `put` refs.
    fn origin(&self) -> Option<&Origin>;

    /// Woken when the caller cancels; `None` for a slot whose call never waits for that (a
    /// sync call's body, which checks the cancel flag once, before it runs).
    fn cancel_waker(&self) -> Option<&AtomicWaker>;
}

/// The tail of a slot without a body: the call's origin and its cancel waker.
pub(crate) struct Plain {
    origin: Option<Origin>,
    cancel_waker: AtomicWaker,
}

impl Plain {
    fn new(origin: Option<Origin>) -> Self {
        Plain {
            origin,
            cancel_waker: AtomicWaker::new(),
        }
    }
}

impl Tail for Plain {
    fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    fn cancel_waker(&self) -> Option<&AtomicWaker> {
        Some(&self.cancel_waker)
    }
}

/// The call a ref is the result of.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The actor (or task) called.
    pub actor: ActorLabel,
    /// Its id.
    pub id: ActorId,
    /// The method.
    pub method: &'static str,
}

impl Origin {
    /// The actor and method an error about `origin`'s call names (`?` for none).
    pub(crate) fn parts(origin: Option<&Origin>) -> (ActorLabel, &'static str) {
        origin.map_or((ActorLabel::new("?", None), "?"), |o| {
            (o.actor.clone(), o.method)
        })
    }
}

/// Laid out in field order: what every call touches (the lock, the result, the cancel flag),
/// then the [`Tail`], whose first field is a sync call's body.
#[repr(C)]
pub(crate) struct Slot<T, B: ?Sized = dyn Tail> {
    inner: Mutex<Inner<T>>,
    /// Live `ObjectRef`s on this slot. Counted outside the lock, so dropping a ref never
    /// locks; a value no ref is left to read is dropped with the slot.
    refs: AtomicU32,
    /// Set by `cancel`; a running call's futures watch it through the tail's cancel waker.
    cancelled: AtomicBool,
    /// The origin, and the call's body when it shares the slot's allocation.
    pub(crate) tail: B,
}

struct Inner<T> {
    state: State<T>,
    /// Set by the first `Clone`, which is only possible when `T: Clone`.
    cloner: Option<fn(&T) -> T>,
    /// The run of the call whose completer may resolve the ref; a retry supersedes the last.
    attempt: u32,
    /// A running async call: a cancel is left to it (it resolves `Cancelled` when dropped at an
    /// await point, or its value if it returns first).
    cancelled_by_run: bool,
    /// The call's place in its handle's `max_pending_calls`, freed once the ref resolves.
    pending: Option<PendingGuard>,
    waiters: Waiters,
}

enum State<T> {
    Pending,
    Value(T),
    /// Boxed: errors are rare and large, values are common and small.
    Failed(Box<ActorError>),
    /// Taken by the last consumer, or dropped because no ref was left.
    Gone,
}

impl<T> State<T> {
    fn ready(result: Result<T, ActorError>) -> Self {
        match result {
            Ok(value) => State::Value(value),
            Err(err) => State::Failed(Box::new(err)),
        }
    }

    fn is_pending(&self) -> bool {
        matches!(self, State::Pending)
    }

    fn is_ready(&self) -> bool {
        matches!(self, State::Value(_) | State::Failed(_))
    }
}

impl<T, B> Slot<T, B> {
    /// A pending slot followed by `tail`.
    #[inline]
    pub(crate) fn new(pending: Option<PendingGuard>, tail: B) -> Self {
        Slot {
            inner: Mutex::new(Inner {
                state: State::Pending,
                cloner: None,
                attempt: 0,
                cancelled_by_run: false,
                pending,
                waiters: Waiters::default(),
            }),
            refs: AtomicU32::new(1),
            cancelled: AtomicBool::new(false),
            tail,
        }
    }
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

impl<T, B: ?Sized + Tail> Slot<T, B> {
    /// See [`ObjectRef::cancel`].
    fn cancel(&self) -> bool {
        if self.tail.origin().is_none() {
            return false;
        }
        let mut inner = self.lock();
        if !inner.state.is_pending() {
            return false;
        }
        let resolved = if inner.cancelled_by_run {
            None
        } else {
            inner.state =
                State::ready(Err(self.origin_error(|actor, method| {
                    ActorError::Cancelled { actor, method }
                })));
            Some((inner.waiters.take(), inner.pending.take()))
        };
        drop(inner);
        self.cancelled.store(true, Ordering::Release);
        if let Some(waker) = self.tail.cancel_waker() {
            waker.wake();
        }
        if let Some((wakers, pending)) = resolved {
            drop(pending);
            if let Some(wakers) = wakers {
                wakers.wake();
            }
        }
        true
    }

    /// Whether the caller cancelled the call.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The first run's result (for calls that are never re-run).
    pub(crate) fn complete(&self, result: Result<T, ActorError>) {
        self.resolve(0, result);
    }

    /// `TaskPanicked`, for this call.
    pub(crate) fn panicked_error(&self, message: String) -> ActorError {
        self.origin_error(|actor, method| ActorError::TaskPanicked {
            actor,
            method,
            message,
        })
    }

    /// `ActorDied { cause }`, for this call.
    pub(crate) fn died_error(&self, cause: DeathCause) -> ActorError {
        self.origin_error(|actor, method| ActorError::ActorDied {
            actor,
            method,
            cause,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock can only come from a user `Clone` impl; the state is
        // still consistent, so carry on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves the ref with `result` if `attempt` is the current run and it is still pending.
    fn resolve(&self, attempt: u32, result: Result<T, ActorError>) {
        let mut inner = self.lock();
        // Already resolved (cancelled), or a retry superseded this run: discard the result.
        if !inner.state.is_pending() || inner.attempt != attempt {
            drop(inner);
            drop(result);
            return;
        }
        let pending = inner.pending.take();
        if self.refs.load(Ordering::Acquire) == 0 {
            // No one is left to read it.
            inner.state = State::Gone;
            drop(inner);
            drop(pending);
            drop(result);
            return;
        }
        inner.state = State::ready(result);
        let wakers = inner.waiters.take();
        drop(inner);
        // Free the handle's pending slot first, so a caller woken by the result may call again.
        drop(pending);
        if let Some(wakers) = wakers {
            wakers.wake();
        }
    }

    fn origin_error(
        &self,
        make: impl FnOnce(ActorLabel, &'static str) -> ActorError,
    ) -> ActorError {
        match self.tail.origin() {
            Some(origin) => make(origin.actor.clone(), origin.method),
            None => make(ActorLabel::new("?", None), "?"),
        }
    }
}

impl<T> Inner<T> {
    /// The value for one consumer, of `refs` live refs: moved out for the last one, cloned
    /// otherwise. (A ref being read is alive, so `refs` only counts others down to it.)
    fn take(&mut self, refs: u32) -> Option<Result<T, ActorError>> {
        if refs > 1
            && let Some(clone) = self.cloner
        {
            return match &self.state {
                State::Value(value) => Some(Ok(clone(value))),
                State::Failed(err) => Some(Err(ActorError::clone(err))),
                State::Pending | State::Gone => None,
            };
        }
        if !self.state.is_ready() {
            return None;
        }
        match mem::replace(&mut self.state, State::Gone) {
            State::Value(value) => Some(Ok(value)),
            State::Failed(err) => Some(Err(*err)),
            State::Pending | State::Gone => None,
        }
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
        Poll::Pending
    }

    /// Readiness without consuming: `Ready` once the result is available.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, key: &mut WaitKey) -> Poll<()> {
        let mut inner = self.slot.lock();
        if inner.state.is_pending() {
            inner.waiters.register(key, cx.waker());
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

/// The writing side of a new call's [`ObjectRef`], handed to the call's body.
///
/// Usually *fresh*: no slot exists yet, so a sync method's body allocates the slot and itself
/// together ([`Completer::into_fresh`]), and the call costs one allocation, freed by whoever
/// lets go of the result last. Any other body [`bind`](Completer::bind)s it to a slot of its
/// own. The ref reaches the caller through the `out` place either way. (A fresh completer that
/// no body takes leaves `out` empty; its caller resolves the ref to an error then.)
#[doc(hidden)]
pub struct Completer<'a, T> {
    state: Done<'a, T>,
}

enum Done<'a, T> {
    Bound(Resolver<T>),
    Fresh(Fresh<'a, T>),
}

/// What a new call's ref will be made of, and where it goes. The call's [`Origin`] is made
/// only with its slot ([`Fresh::origin`]): it is the largest part, and moving it through each
/// layer of a call's construction cost more than making it.
pub(crate) struct Fresh<'a, T> {
    pub(crate) actor: &'a ActorLabel,
    pub(crate) id: ActorId,
    pub(crate) method: &'static str,
    pub(crate) pending: Option<PendingGuard>,
    pub(crate) out: &'a mut Option<ObjectRef<T>>,
}

impl<T> Fresh<'_, T> {
    /// The call the new ref is the result of.
    #[inline]
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            actor: self.actor.clone(),
            id: self.id,
            method: self.method,
        }
    }
}

impl<'a, T> Completer<'a, T> {
    /// The completer of a new call whose ref goes to `out`.
    pub(crate) fn fresh(fresh: Fresh<'a, T>) -> Self {
        Completer {
            state: Done::Fresh(fresh),
        }
    }

    /// The parts of a fresh completer, for a body that allocates the slot itself (and must
    /// write the ref to `out`); a bound completer comes back as its resolver.
    #[inline]
    pub(crate) fn into_fresh(self) -> Result<Fresh<'a, T>, Resolver<T>> {
        match self.state {
            Done::Fresh(fresh) => Ok(fresh),
            Done::Bound(resolver) => Err(resolver),
        }
    }

    /// The resolver of this call's ref: a fresh completer makes its slot and writes the ref to
    /// `out` now.
    pub(crate) fn bind(self) -> Resolver<T> {
        match self.into_fresh() {
            Ok(fresh) => {
                let (r, done) = pair(fresh.origin(), fresh.pending);
                *fresh.out = Some(r);
                done
            }
            Err(resolver) => resolver,
        }
    }
}

impl<T> From<Resolver<T>> for Completer<'_, T> {
    fn from(resolver: Resolver<T>) -> Self {
        Completer {
            state: Done::Bound(resolver),
        }
    }
}

/// Resolves one run of a call: the bound form of a [`Completer`], carried by the body.
///
/// Dropped without resolving, it resolves the ref to `ActorDied { cause: Shutdown }`: the only
/// way a call is dropped unresolved is its runtime going away. Every other failure is resolved
/// explicitly, with its cause, through [`Body::fail`](crate::call::Body) or a `Failer`.
pub struct Resolver<T> {
    slot: Option<Arc<Slot<T>>>,
    /// Only the current attempt's resolver resolves the ref.
    attempt: u32,
}

/// Makes the resolver of a call's next run: see [`Resolver::retry_handle`].
pub(crate) struct RetryHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> RetryHandle<T> {
    /// A resolver for a new run of the call; from now on the previous run's resolver resolves
    /// nothing. `None` when the call should not run again: it was cancelled (the ref then
    /// resolves to `Cancelled` here) or already resolved.
    pub(crate) fn supersede(&self) -> Option<Resolver<T>> {
        let mut inner = self.slot.lock();
        if !inner.state.is_pending() {
            return None;
        }
        inner.attempt += 1;
        inner.cancelled_by_run = false;
        let attempt = inner.attempt;
        drop(inner);
        if self.slot.cancelled.load(Ordering::Acquire) {
            let err = self
                .slot
                .origin_error(|actor, method| ActorError::Cancelled { actor, method });
            self.slot.resolve(attempt, Err(err));
            return None;
        }
        Some(Resolver {
            slot: Some(Arc::clone(&self.slot)),
            attempt,
        })
    }
}

/// Resolves a started call's ref to an error when the runtime drops the call (a crash, a
/// kill): kept beside the running call, whatever its result type.
pub(crate) struct Failer(Box<dyn FnOnce(DeathCause) + Send>);

impl Failer {
    /// Resolves the ref to `ActorDied { cause }`, unless it resolved already or a retry
    /// superseded this run.
    pub(crate) fn fail(self, cause: DeathCause) {
        (self.0)(cause);
    }
}

/// A new pending ref and its resolver.
pub(crate) fn pair<T>(
    origin: Origin,
    pending: Option<PendingGuard>,
) -> (ObjectRef<T>, Resolver<T>) {
    let r = ObjectRef::pending(Some(origin), pending);
    let done = Resolver {
        slot: Some(Arc::clone(&r.slot)),
        attempt: 0,
    };
    (r, done)
}

/// A new pending ref that belongs to no call, and its resolver (for helio's own waits).
pub fn detached_pair<T>() -> (ObjectRef<T>, Resolver<T>) {
    let r = ObjectRef::pending(None, None);
    let done = Resolver {
        slot: Some(Arc::clone(&r.slot)),
        attempt: 0,
    };
    (r, done)
}

/// A pending ref with the same origin as `like` (for cancellation and error messages), and
/// its resolver.
pub(crate) fn pair_like<T, U>(like: &ObjectRef<U>) -> (ObjectRef<T>, Resolver<T>) {
    let r = ObjectRef::pending(like.slot.tail.origin().cloned(), None);
    let done = Resolver {
        slot: Some(Arc::clone(&r.slot)),
        attempt: 0,
    };
    (r, done)
}

impl<T> Resolver<T> {
    /// Resolves the ref.
    pub fn complete(mut self, result: Result<T, ActorError>) {
        match self.slot.take() {
            Some(slot) => slot.resolve(self.attempt, result),
            None => drop(result),
        }
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

    fn origin_error(
        &self,
        make: impl FnOnce(ActorLabel, &'static str) -> ActorError,
    ) -> ActorError {
        match &self.slot {
            Some(slot) => slot.origin_error(make),
            None => make(ActorLabel::new("?", None), "?"),
        }
    }

    /// A handle to make resolvers for later runs of this call.
    pub(crate) fn retry_handle(&self) -> Option<RetryHandle<T>> {
        self.slot.as_ref().map(|slot| RetryHandle {
            slot: Arc::clone(slot),
        })
    }

    /// The failer of this run, for the runtime to keep beside the running call.
    pub(crate) fn failer(&self) -> Option<Failer>
    where
        T: Send + 'static,
    {
        let slot = Arc::clone(self.slot.as_ref()?);
        let attempt = self.attempt;
        Some(Failer(Box::new(move |cause| {
            let err = slot.died_error(cause);
            slot.resolve(attempt, Err(err));
        })))
    }

    /// Marks the call as a running async call: from now on a cancel waits for it to stop.
    /// `false` when it was cancelled already (it must not run).
    pub(crate) fn start_cancellable(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut inner = slot.lock();
        if !inner.state.is_pending()
            || inner.attempt != self.attempt
            || slot.cancelled.load(Ordering::Acquire)
        {
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

    /// Wakes `waker` when the caller cancels the call (a remote call tells its host).
    pub fn on_cancel(&self, waker: &std::task::Waker) {
        if let Some(waker_slot) = self.slot.as_ref().and_then(|s| s.tail.cancel_waker()) {
            waker_slot.register(waker);
        }
    }

    /// Whether the caller cancelled the call.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.is_cancelled())
    }

    /// Resolves when the caller cancels the call.
    pub(crate) fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static
    where
        T: Send + 'static,
    {
        let slot = self.slot.clone();
        std::future::poll_fn(move |cx| match &slot {
            Some(slot) => {
                // A resolver's slot is always `Plain`, which has a cancel waker.
                if let Some(waker) = slot.tail.cancel_waker() {
                    waker.register(cx.waker());
                }
                if slot.is_cancelled() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
            None => Poll::Pending,
        })
    }
}

impl<T> Drop for Resolver<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let err = slot.died_error(DeathCause::Shutdown);
            slot.resolve(self.attempt, Err(err));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

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
