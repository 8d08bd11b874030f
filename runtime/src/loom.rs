//! The atomics and cells of the sync call's body slot ([`TakeOnce`](crate::take_once)), from
//! `std`, or from [`loom`](https://docs.rs/loom) in the slot's model checks.
//!
//! Built normally, these *are* the `std` types (re-exports, not wrappers), and the two
//! extension traits below are `#[inline(always)]` calls of what the code called before
//! (`UnsafeCell::get`, `AtomicBool::get_mut`): the hot path compiles as it did. Built as the
//! crate's unit tests with `RUSTFLAGS="--cfg loom"`, they are loom's, which explores every
//! interleaving of the threads of a `loom::model` and checks that each access to a cell is
//! ordered after the others (`models.rs`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p helio-runtime --lib loom::models
//! ```
//!
//! Only the unit tests see loom (it is a dev-dependency): a build that is not the crate's own
//! test build uses `std` even under `--cfg loom`. Under loom, only `models` may run: loom's types
//! panic outside a model, and every sync call has one.

#[cfg(all(test, loom))]
mod models;

pub(crate) mod cell {
    #[cfg(not(all(test, loom)))]
    pub(crate) use std::cell::UnsafeCell;

    #[cfg(all(test, loom))]
    pub(crate) use ::loom::cell::UnsafeCell;

    /// Access to an [`UnsafeCell`]'s value through a raw pointer, for as long as `f` runs (so
    /// that loom sees where each access starts and ends).
    pub(crate) trait CellAccess<T> {
        /// Calls `f` with a pointer to the value; the caller must make the access sound.
        fn access<R>(&self, f: impl FnOnce(*mut T) -> R) -> R;
    }

    #[cfg(not(all(test, loom)))]
    impl<T> CellAccess<T> for UnsafeCell<T> {
        #[inline(always)]
        fn access<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.get())
        }
    }

    #[cfg(all(test, loom))]
    impl<T> CellAccess<T> for UnsafeCell<T> {
        #[track_caller]
        fn access<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.with_mut(f)
        }
    }
}

pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::Ordering;

        #[cfg(not(all(test, loom)))]
        pub(crate) use std::sync::atomic::AtomicBool;

        #[cfg(all(test, loom))]
        pub(crate) use ::loom::sync::atomic::AtomicBool;

        /// A plain read of an atomic that no other thread can reach (`&mut`): as in `Drop`.
        pub(crate) trait ReadOwned {
            /// The value, read without synchronisation.
            fn read_owned(&mut self) -> bool;
        }

        #[cfg(not(all(test, loom)))]
        impl ReadOwned for AtomicBool {
            #[inline(always)]
            fn read_owned(&mut self) -> bool {
                *self.get_mut()
            }
        }

        #[cfg(all(test, loom))]
        impl ReadOwned for AtomicBool {
            #[track_caller]
            fn read_owned(&mut self) -> bool {
                // SAFETY: `&mut self`: no other thread can reach the atomic now. Loom still
                // checks that every store to it happened before this read.
                unsafe { self.unsync_load() }
            }
        }
    }
}
