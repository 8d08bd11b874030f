//! An actor's mailbox: many handles push calls, the actor's driver takes them in batches.
//!
//! A mutex over a `VecDeque` instead of a channel: an idle actor's mailbox allocates nothing
//! (a channel allocates its first block of slots up front, several KB per actor), and the
//! driver takes up to [`TAKE_AT_MOST`] calls with one lock. The driver is woken only when it
//! went to sleep on an empty mailbox, not once per call.

use std::{
    collections::VecDeque,
    mem,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

/// Calls moved to the driver per take.
///
/// Moved, not swapped buffers with the driver: a swap gives each busy actor two queues as
/// large as its backlog, which the handles and the driver take turns to write, and with many
/// actors those no longer fit the cache (1024 actors x 256 callers on 2 workers: a miss at
/// nearly every push). With a bounded take, the driver's buffer stays small and hot and the
/// handles write one queue per actor: about a seventh more calls per second there, for a
/// copy of each call (no slower for one actor's pipelined calls).
const TAKE_AT_MOST: usize = 32;

/// The mailbox of one actor.
///
/// Not aligned to a cache line: its lock, queue and waker fit one, but a 64-aligned allocation
/// cost every actor about 250 bytes with glibc's allocator (idle actors: 1719 -> 1468 bytes
/// each), for fewer L1 misses that no wall-clock figure showed (#23).
pub(crate) struct Mailbox<C> {
    inner: Mutex<Inner<C>>,
}

struct Inner<C> {
    queue: VecDeque<C>,
    /// The driver, when it sleeps on an empty mailbox.
    waker: Option<Waker>,
    /// Every handle is gone: no more calls will come.
    senders_gone: bool,
    /// The actor is dead: calls are refused.
    closed: bool,
}

/// Makes room for one call in a buffer that has none, without the four a first push reserves:
/// an actor that served one call and went idle keeps 56 bytes here, not 224. A buffer that
/// needs more grows as usual, once in its life.
#[inline]
fn first_room<C>(buffer: &mut VecDeque<C>) {
    if buffer.capacity() == 0 {
        buffer.reserve_exact(1);
    }
}

/// What the driver found in the mailbox.
pub(crate) enum Mail {
    /// Calls were moved into the driver's buffer.
    Calls,
    /// Every handle is gone and the mailbox is empty.
    SendersGone,
}

impl<C> Mailbox<C> {
    pub(crate) fn new() -> Self {
        Mailbox {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                waker: None,
                senders_gone: false,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        // No user code runs under this lock, so a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `call`; gives it back when the actor is dead.
    pub(crate) fn push(&self, call: C) -> Result<(), C> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(call);
        }
        first_room(&mut inner.queue);
        inner.queue.push_back(call);
        let waker = inner.waker.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The last handle is gone.
    pub(crate) fn senders_gone(&self) {
        let mut inner = self.lock();
        inner.senders_gone = true;
        let waker = inner.waker.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Moves the oldest queued calls, at most [`TAKE_AT_MOST`], to the back of `into`, or
    /// registers `cx` to be woken by the next one.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut VecDeque<C>) -> Poll<Mail> {
        let mut inner = self.lock();
        if !inner.queue.is_empty() {
            if into.capacity() == 0 && inner.queue.len() <= TAKE_AT_MOST {
                // The driver has no buffer yet: it takes the queue's, so that an actor that
                // served a call or two holds one buffer of calls, not two.
                mem::swap(into, &mut inner.queue);
                return Poll::Ready(Mail::Calls);
            }
            let n = inner.queue.len().min(TAKE_AT_MOST);
            if n == 1 {
                first_room(into);
            }
            into.extend(inner.queue.drain(..n));
            return Poll::Ready(Mail::Calls);
        }
        if inner.senders_gone {
            return Poll::Ready(Mail::SendersGone);
        }
        match &inner.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The actor died: refuses calls from now on and returns those still queued.
    pub(crate) fn close(&self) -> VecDeque<C> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.waker = None;
        mem::take(&mut inner.queue)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, task::Wake};

    use super::*;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn takes_calls_in_batches_and_wakes_a_sleeping_driver_once() {
        let mailbox = Mailbox::new();
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let mut buffer = VecDeque::new();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_pending());
        mailbox.push(1).unwrap();
        mailbox.push(2).unwrap();
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(matches!(
            mailbox.poll_take(&mut cx, &mut buffer),
            Poll::Ready(Mail::Calls)
        ));
        assert_eq!(buffer, [1, 2]);
        buffer.clear();
        mailbox.senders_gone();
        assert!(matches!(
            mailbox.poll_take(&mut cx, &mut buffer),
            Poll::Ready(Mail::SendersGone)
        ));
    }

    #[test]
    fn a_take_moves_at_most_a_batch_oldest_first() {
        let mailbox = Mailbox::new();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for call in 0..TAKE_AT_MOST + 3 {
            mailbox.push(call).unwrap();
        }
        let mut buffer = VecDeque::new();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_ready());
        assert_eq!(buffer, (0..TAKE_AT_MOST).collect::<Vec<_>>());
        buffer.clear();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_ready());
        assert_eq!(buffer, (TAKE_AT_MOST..TAKE_AT_MOST + 3).collect::<Vec<_>>());
        buffer.clear();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_pending());
    }

    #[test]
    fn a_single_call_leaves_room_for_one_call_only() {
        let mailbox = Mailbox::new();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut buffer = VecDeque::new();
        mailbox.push(1).unwrap();
        assert_eq!(mailbox.lock().queue.capacity(), 1);
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_ready());
        // The driver's first take is the queue's buffer itself: one buffer, not two.
        assert_eq!(buffer.capacity(), 1);
        assert_eq!(mailbox.lock().queue.capacity(), 0);
        assert_eq!(buffer, [1]);
        buffer.clear();
        mailbox.push(2).unwrap();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_ready());
        assert_eq!(buffer, [2]);
        assert_eq!(mailbox.lock().queue.capacity(), 1);
        // More calls grow the buffers as usual.
        for call in 3..10 {
            mailbox.push(call).unwrap();
        }
        buffer.clear();
        assert!(mailbox.poll_take(&mut cx, &mut buffer).is_ready());
        assert_eq!(buffer, (3..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_closed_mailbox_refuses_calls_and_returns_the_queued_ones() {
        let mailbox = Mailbox::new();
        mailbox.push(1).unwrap();
        assert_eq!(mailbox.close(), [1]);
        assert_eq!(mailbox.push(2), Err(2));
    }
}
