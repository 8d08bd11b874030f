//! A value that can be taken at most once through a shared reference.
//!
//! A call's body lives in the same allocation as its result slot, which the caller shares;
//! the driver takes the body out through that shared reference to run it (or to drop it unrun
//! at shutdown). A `Mutex<Option<T>>` did that with a lock and an unlock per call; one atomic
//! swap does it here.

use std::{
    cell::UnsafeCell,
    mem::MaybeUninit,
    sync::atomic::{AtomicBool, Ordering},
};

/// Holds a value until the first [`take`](TakeOnce::take); later takes get `None`.
pub(crate) struct TakeOnce<T> {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is only reached by the one `take` that wins the swap of `taken`, which
// moves it out (to whichever thread called it: hence `T: Send`), or by `Drop`, which has
// `&mut self`. No `&T` is ever handed out, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    pub(crate) fn new(value: T) -> Self {
        TakeOnce {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::new(value)),
        }
    }

    /// The value, to the first caller only.
    pub(crate) fn take(&self) -> Option<T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `taken` was false, so the value is initialised and no one else has read it;
        // the swap made this the only call that ever will.
        Some(unsafe { (*self.value.get()).assume_init_read() })
    }
}

impl<T> Drop for TakeOnce<T> {
    fn drop(&mut self) {
        if !*self.taken.get_mut() {
            // SAFETY: not taken, so still initialised; `&mut self` rules out a concurrent take.
            unsafe { self.value.get_mut().assume_init_drop() }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn gives_the_value_once() {
        let once = TakeOnce::new(String::from("body"));
        assert_eq!(once.take().as_deref(), Some("body"));
        assert_eq!(once.take(), None);
    }

    #[test]
    fn drops_an_untaken_value_and_only_that() {
        let value = Arc::new(());
        drop(TakeOnce::new(Arc::clone(&value)));
        assert_eq!(Arc::strong_count(&value), 1);
        let once = TakeOnce::new(Arc::clone(&value));
        let taken = once.take();
        drop(once);
        assert_eq!(Arc::strong_count(&value), 2);
        drop(taken);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn one_of_many_racing_threads_gets_it() {
        let once = Arc::new(TakeOnce::new(7));
        let winners: usize = (0..4)
            .map(|_| {
                let once = Arc::clone(&once);
                std::thread::spawn(move || usize::from(once.take().is_some()))
            })
            .map(|t| t.join().unwrap_or(0))
            .sum();
        assert_eq!(winners, 1);
    }
}
