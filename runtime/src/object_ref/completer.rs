//! The writing side of a call's [`ObjectRef`]: the [`Completer`] a new call's body gets, the
//! [`Resolver`] that resolves one run of the call, the handles the runtime keeps to re-run
//! ([`RetryHandle`]) or fail ([`Failer`]) it, and the constructors of a new ref with its
//! resolver ([`pair`], [`detached_pair`], [`pair_like`]).

use std::{
    future::Future,
    sync::{Arc, atomic::Ordering},
    task::Poll,
};

use super::{
    ObjectRef,
    slot::{Origin, Slot},
};
use crate::{
    error::{ActorError, DeathCause},
    label::{ActorId, ActorLabel},
    pending::PendingGuard,
};

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
