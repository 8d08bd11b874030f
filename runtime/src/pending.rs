//! `max_pending_calls`: a handle's count of calls in flight.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// One call counted against a handle's `max_pending_calls`; uncounted when dropped, which
/// happens as soon as the call's ref resolves (or is cancelled).
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
