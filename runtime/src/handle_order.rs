//! Submission order per handle, when some calls wait for their ref arguments.
//!
//! Ray runs an actor's calls from one handle in the order they were submitted. A call whose
//! arguments include pending refs is sent only once they resolve, so every later call of the
//! same handle waits behind it: the deferred calls form a chain, each sent after its
//! predecessor. A handle with no deferred call in flight sends directly, without a lock.

use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::oneshot;

/// The tail of one handle's chain of deferred calls.
#[derive(Default)]
pub(crate) struct HandleOrder {
    /// Whether a deferred call may still be unsent: the fast path's only check.
    deferred: AtomicBool,
    /// Resolves once the last deferred call has been sent.
    tail: Mutex<Option<oneshot::Receiver<()>>>,
}

/// A deferred call's place in the chain: wait for `after`, send, then drop `sent`.
pub(crate) struct Place {
    pub(crate) after: Option<oneshot::Receiver<()>>,
    sent: oneshot::Sender<()>,
}

impl HandleOrder {
    fn lock(&self) -> MutexGuard<'_, Option<oneshot::Receiver<()>>> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a call may be sent now: no earlier deferred call of this handle is unsent.
    #[inline]
    pub(crate) fn is_clear(&self) -> bool {
        !self.deferred.load(Ordering::Acquire) || self.chain_is_sent()
    }

    /// [`is_clear`](HandleOrder::is_clear) once a deferred call was made: whether the chain's
    /// last call has been sent (then the chain is over).
    #[cold]
    fn chain_is_sent(&self) -> bool {
        let mut tail = self.lock();
        let done = match tail.as_mut() {
            None => true,
            Some(rx) => !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
        };
        if done {
            *tail = None;
            self.deferred.store(false, Ordering::Release);
        }
        done
    }

    /// Appends a deferred call to the chain.
    pub(crate) fn defer(&self) -> Place {
        let (sent, rx) = oneshot::channel();
        let mut tail = self.lock();
        let after = tail.replace(rx);
        self.deferred.store(true, Ordering::Release);
        Place { after, sent }
    }
}

impl Place {
    /// This call has been sent (or failed): the handle's next deferred call may go.
    pub(crate) fn done(self) {
        let _ = self.sent.send(());
    }

    /// Waits until every earlier deferred call of the handle has been sent.
    pub(crate) async fn turn(&mut self) {
        if let Some(after) = self.after.take() {
            // An error only means the earlier call's task is gone: its turn is over.
            let _ = after.await;
        }
    }
}
