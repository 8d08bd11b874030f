//! The shared slot of a call's result: what the [`ObjectRef`](super::ObjectRef)s of a call and
//! its writers all point to (the result or its error, the waiters to wake, the cancel flag, the
//! count of live refs), with the call's [`Origin`] and, for a sync call, its body in the slot's
//! [`Tail`].

use std::{
    mem,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use futures::task::AtomicWaker;

use crate::{
    error::{ActorError, DeathCause},
    label::{ActorId, ActorLabel},
    pending::PendingGuard,
    waiters::Waiters,
};

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

    /// Someone waits for the value (called, out of the lock, each time a waiter registers on
    /// a pending slot): a ref borrowed from another process starts reading it then.
    fn wanted(&self) {}

    /// Where the value of a ref borrowed from another process is (its owner's address), to
    /// pass the ref on; `None` for a value of this process.
    fn borrowed_from(&self) -> Option<&[u8]> {
        None
    }
}

/// The tail of a slot without a body: the call's origin and its cancel waker.
pub(crate) struct Plain {
    origin: Option<Origin>,
    cancel_waker: AtomicWaker,
}

impl Plain {
    pub(super) fn new(origin: Option<Origin>) -> Self {
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
    pub(super) refs: AtomicU32,
    /// Set by `cancel`; a running call's futures watch it through the tail's cancel waker.
    pub(super) cancelled: AtomicBool,
    /// The origin, and the call's body when it shares the slot's allocation.
    pub(crate) tail: B,
}

pub(super) struct Inner<T> {
    pub(super) state: State<T>,
    /// Set by the first `Clone`, which is only possible when `T: Clone`.
    pub(super) cloner: Option<fn(&T) -> T>,
    /// The run of the call whose completer may resolve the ref; a retry supersedes the last.
    pub(super) attempt: u32,
    /// A running async call: a cancel is left to it (it resolves `Cancelled` when dropped at an
    /// await point, or its value if it returns first).
    pub(super) cancelled_by_run: bool,
    /// The call's place in its handle's `max_pending_calls`, freed once the ref resolves.
    pending: Option<PendingGuard>,
    pub(super) waiters: Waiters,
}

pub(super) enum State<T> {
    Pending,
    Value(T),
    /// Boxed: errors are rare and large, values are common and small.
    Failed(Box<ActorError>),
    /// Taken by the last consumer, or dropped because no ref was left.
    Gone,
}

impl<T> State<T> {
    pub(super) fn ready(result: Result<T, ActorError>) -> Self {
        match result {
            Ok(value) => State::Value(value),
            Err(err) => State::Failed(Box::new(err)),
        }
    }

    pub(super) fn is_pending(&self) -> bool {
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

impl<T, B: ?Sized + Tail> Slot<T, B> {
    /// See [`ObjectRef::cancel`](super::ObjectRef::cancel).
    pub(super) fn cancel(&self) -> bool {
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

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock can only come from a user `Clone` impl; the state is
        // still consistent, so carry on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves the ref with `result` if `attempt` is the current run and it is still pending.
    pub(super) fn resolve(&self, attempt: u32, result: Result<T, ActorError>) {
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

    pub(super) fn origin_error(
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
    pub(super) fn take(&mut self, refs: u32) -> Option<Result<T, ActorError>> {
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
