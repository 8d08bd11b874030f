//! The wakers of everyone waiting for one object ref, each under a key of its own.

use std::{mem::ManuallyDrop, task::Waker};

/// The wakers of everyone waiting for a ref. Each waiter keeps a key to its own entry, so a
/// waiter polled again replaces its waker in O(1) and one that gives up removes it: many
/// short-lived waiters cost linear time, not quadratic.
#[derive(Default)]
pub(crate) struct Waiters {
    /// Key 0: the common case of a single waiter, without allocating.
    first: Option<Waker>,
    /// Keys from 1 on, made when a second waiter comes. Dropped by `Waiters`' own `Drop`,
    /// which keeps the common case (none) inline: a slot is dropped once per call.
    more: ManuallyDrop<Option<Box<MoreWaiters>>>,
}

impl Drop for Waiters {
    #[inline]
    fn drop(&mut self) {
        if self.more.is_some() {
            self.drop_more();
        }
    }
}

#[derive(Default)]
struct MoreWaiters {
    /// Key `i + 1`.
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// A waiter's entry in a ref's [`Waiters`].
pub(crate) type WaitKey = Option<usize>;

impl Waiters {
    #[cold]
    fn drop_more(&mut self) {
        drop(self.more.take());
    }

    fn entry(&mut self, key: usize) -> Option<&mut Option<Waker>> {
        match key {
            0 => Some(&mut self.first),
            k => self.more.as_mut()?.slots.get_mut(k - 1),
        }
    }

    pub(crate) fn register(&mut self, key: &mut WaitKey, waker: &Waker) {
        if let Some(k) = *key
            && let Some(Some(old)) = self.entry(k)
        {
            if !old.will_wake(waker) {
                *old = waker.clone();
            }
            return;
        }
        let k = if self.first.is_none() {
            0
        } else {
            let more = self.more.get_or_insert_with(Box::default);
            match more.free.pop() {
                Some(k) => k,
                None => {
                    more.slots.push(None);
                    more.slots.len()
                }
            }
        };
        if let Some(entry) = self.entry(k) {
            *entry = Some(waker.clone());
            *key = Some(k);
        }
    }

    pub(crate) fn remove(&mut self, key: WaitKey) {
        let Some(k) = key else { return };
        if let Some(entry) = self.entry(k)
            && entry.take().is_some()
            && k != 0
            && let Some(more) = self.more.as_mut()
        {
            more.free.push(k);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let more = self
            .more
            .as_ref()
            .map_or(0, |m| m.slots.iter().flatten().count());
        usize::from(self.first.is_some()) + more
    }

    /// Takes every waker, to wake once the slot's lock is released; `None` when no one waits
    /// (the common case for pipelined calls, whose callers look only once the result is in).
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Wakers> {
        if self.first.is_none() && self.more.is_none() {
            return None;
        }
        Some(Wakers(self.first.take(), self.more.take()))
    }
}

/// Wakers taken out of a slot, to wake once its lock is released.
pub(crate) struct Wakers(Option<Waker>, Option<Box<MoreWaiters>>);

impl Wakers {
    #[inline]
    pub(crate) fn wake(self) {
        if let Some(waker) = self.0 {
            waker.wake();
        }
        if let Some(more) = self.1 {
            more.slots.into_iter().flatten().for_each(Waker::wake);
        }
    }
}
