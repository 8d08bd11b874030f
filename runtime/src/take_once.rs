//! A value that can be taken at most once through a shared reference.
//!
//! A call's body lives in the same allocation as its result slot, which the caller shares;
//! the driver takes the body out through that shared reference to run it (or to drop it unrun
//! at shutdown). A `Mutex<Option<T>>` did that with a lock and an unlock per call, and an
//! atomic swap with a locked instruction per call; the one owner that may take (the call's
//! [`Once`](crate::sync_call::Once)) makes the takes ordered, so a plain load and store of a
//! flag do it here.
//!
//! The flag and the cell come from [`crate::loom`]: `std`'s, or loom's in the model checks.

use std::mem::MaybeUninit;

use crate::loom::{
    cell::{CellAccess, UnsafeCell},
    sync::atomic::{AtomicBool, Ordering, ReadOwned},
};

/// Holds a value until the first [`take`](TakeOnce::take); later takes get `None`.
pub(crate) struct TakeOnce<T> {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is only reached by the first `take`, which moves it out (to whichever
// thread called it: hence `T: Send`), or by `Drop`, which has `&mut self`; `take`'s contract
// rules out two takes at the same time. No `&T` is ever handed out, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    pub(crate) fn new(value: T) -> Self {
        TakeOnce {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::new(value)),
        }
    }

    /// The value, to the first caller only.
    ///
    /// # Safety
    /// No other `take` of this value may run at the same time: the takes must be ordered
    /// (made by one owner, say, or handed over through a lock). Atomics keep the flag itself
    /// free of data races, but two takes that both read it unset would both read the value.
    #[inline]
    pub(crate) unsafe fn take(&self) -> Option<T> {
        if self.taken.load(Ordering::Acquire) {
            return None;
        }
        self.taken.store(true, Ordering::Release);
        // SAFETY: `taken` was false, so the value is initialised and no one has read it; the
        // caller guarantees that no other take runs now, and every later one sees `taken`.
        let value = self
            .value
            .access(|value| unsafe { (*value).assume_init_read() });
        Some(value)
    }
}

impl<T> Drop for TakeOnce<T> {
    fn drop(&mut self) {
        if !self.taken.read_owned() {
            // SAFETY: not taken, so still initialised; `&mut self` rules out a concurrent take.
            self.value
                .access(|value| unsafe { (*value).assume_init_drop() });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn gives_the_value_once() {
        let once = TakeOnce::new(String::from("body"));
        // SAFETY: one thread, so the takes are ordered.
        assert_eq!(unsafe { once.take() }.as_deref(), Some("body"));
        // SAFETY: as above.
        assert_eq!(unsafe { once.take() }, None);
    }

    #[test]
    fn drops_an_untaken_value_and_only_that() {
        let value = Arc::new(());
        drop(TakeOnce::new(Arc::clone(&value)));
        assert_eq!(Arc::strong_count(&value), 1);
        let once = TakeOnce::new(Arc::clone(&value));
        // SAFETY: one thread, so the takes are ordered.
        let taken = unsafe { once.take() };
        drop(once);
        assert_eq!(Arc::strong_count(&value), 2);
        drop(taken);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn a_take_on_another_thread_after_the_first_gets_nothing() {
        let once = Arc::new(TakeOnce::new(7));
        let first = std::thread::spawn({
            let once = Arc::clone(&once);
            // SAFETY: the join orders this take before the one below.
            move || unsafe { once.take() }
        })
        .join()
        .ok()
        .flatten();
        assert_eq!(first, Some(7));
        // SAFETY: after the first (joined) take.
        assert_eq!(unsafe { once.take() }, None);
    }
}
