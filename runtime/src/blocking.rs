//! Blocking the calling thread until a poll function is ready, with an optional deadline.

use std::{
    any::Any,
    cell::Cell,
    sync::{Arc, OnceLock},
    task::{Context, Poll, Wake, Waker},
    thread::{self, Thread},
    time::Instant,
};

use crate::label::ActorId;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// This thread's waker, made once: blocking waits are frequent and on hot paths.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Polls `poll` with a waker that unparks this thread until it is ready or `deadline` passes
/// (`None` then).
///
/// A sync task blocked here lends its CPUs back to the node until it returns (see
/// [`lend_here`](crate::resource_pool::lend_here)), and its runner lets another serve the line
/// of sync tasks meanwhile ([`blocking_here`](crate::sync_runner::blocking_here)).
///
/// On a worker of a multi-thread tokio runtime the wait is wrapped in `block_in_place`, so the
/// runtime keeps serving other tasks (helio's own actors included) meanwhile.
/// What a thread does as it starts to block, and undoes when the wait ends (the guard drops).
/// Set once by the sync runners (`sync_runner.rs`), which know whether this thread is a
/// runner and whether its task holds CPUs to lend: this module names neither.
static WHILE_BLOCKED: OnceLock<fn() -> Box<dyn Any>> = OnceLock::new();

/// Sets what every thread does while it blocks (the first call wins: there is one such hook).
pub(crate) fn while_blocked(hook: fn() -> Box<dyn Any>) {
    let _ = WHILE_BLOCKED.set(hook);
}

pub(crate) fn block_until<R>(
    deadline: Option<Instant>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Option<R> {
    let mut wait = move || {
        let waker = THREAD_WAKER
            .try_with(Waker::clone)
            .unwrap_or_else(|_| Waker::from(Arc::new(ThreadWaker(thread::current()))));
        let mut cx = Context::from_waker(&waker);
        // A sync task that blocks lends its CPUs to the node meanwhile (taken back on return).
        let mut lent = None;
        loop {
            if let Poll::Ready(value) = poll(&mut cx) {
                drop(lent);
                return Some(value);
            }
            if lent.is_none() {
                // A sync task lends its CPUs, and its runner stops counting, so that another
                // serves the line.
                lent = Some(WHILE_BLOCKED.get().map(|hook| hook()));
            }
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

thread_local! {
    /// The actor whose sync method runs on this thread right now, inline on its driver.
    static INLINE_ACTOR: Cell<Option<ActorId>> = const { Cell::new(None) };
}

/// The actor whose sync method this thread is running inline, if any: a blocking wait there
/// for a call to that same actor could never end.
pub(crate) fn inline_actor() -> Option<ActorId> {
    INLINE_ACTOR.try_with(Cell::get).ok().flatten()
}

/// Marks this thread as running a sync method of `actor` until the guard drops (also when
/// the method unwinds).
pub(crate) fn running_inline(actor: ActorId) -> InlineGuard {
    let previous = INLINE_ACTOR
        .try_with(|c| c.replace(Some(actor)))
        .ok()
        .flatten();
    InlineGuard { previous }
}

/// Restores the previous inline actor when dropped.
pub(crate) struct InlineGuard {
    previous: Option<ActorId>,
}

impl Drop for InlineGuard {
    fn drop(&mut self) {
        let _ = INLINE_ACTOR.try_with(|c| c.set(self.previous));
    }
}
