//! A ref whose value another process owns (cluster mode): the tail of its slot starts reading
//! the value the first time someone waits for it (a process that only passes the ref on reads
//! none of it), and tells the owner once no ref of this process to it is left.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use futures::task::AtomicWaker;

use super::{
    ObjectRef,
    slot::{Origin, Plain, Slot, Tail},
};
use crate::error::ActorError;

/// Told the value's encoded bytes, or why they cannot be read.
pub type Done = Box<dyn FnOnce(Result<&[u8], ActorError>) + Send>;

/// A value another process owns, as cluster mode hands it to the runtime.
pub struct Borrow {
    /// Where the value is (the owner's address of it), to pass the ref on.
    pub address: Vec<u8>,
    /// Starts reading the value, and tells `Done` its bytes.
    pub fetch: Box<dyn FnOnce(Done) + Send>,
    /// Called once no ref of this process to the value is left.
    pub release: Box<dyn FnOnce() + Send>,
}

/// The tail of a borrowed ref's slot.
struct Borrowed {
    plain: Plain,
    address: Vec<u8>,
    start: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    release: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Tail for Borrowed {
    fn origin(&self) -> Option<&Origin> {
        self.plain.origin()
    }

    fn cancel_waker(&self) -> Option<&AtomicWaker> {
        self.plain.cancel_waker()
    }

    fn wanted(&self) {
        let start = self
            .start
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(start) = start {
            start();
        }
    }

    fn borrowed_from(&self) -> Option<&[u8]> {
        Some(&self.address)
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        let release = self
            .release
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(release) = release {
            release();
        }
    }
}

impl<T: Send + 'static> ObjectRef<T> {
    /// The ref of a value another process owns, read with `decode` once someone waits for it.
    #[doc(hidden)]
    pub fn borrowed(borrow: Borrow, decode: fn(&[u8]) -> Result<T, ActorError>) -> Self {
        let Borrow {
            address,
            fetch,
            release,
        } = borrow;
        let slot: Arc<Slot<T, Borrowed>> = Arc::new_cyclic(|slot: &Weak<Slot<T, Borrowed>>| {
            let slot = slot.clone();
            let start = move || {
                fetch(Box::new(move |bytes: Result<&[u8], ActorError>| {
                    let result = bytes.and_then(decode);
                    if let Some(slot) = slot.upgrade() {
                        slot.complete(result);
                    }
                }));
            };
            Slot::new(
                None,
                Borrowed {
                    plain: Plain::new(None),
                    address,
                    start: Mutex::new(Some(Box::new(start))),
                    release: Mutex::new(Some(release)),
                },
            )
        });
        ObjectRef::of(slot)
    }

    /// Where the value of a ref borrowed from another process is; `None` for one of this
    /// process.
    pub(crate) fn borrowed_from(&self) -> Option<&[u8]> {
        self.slot.tail.borrowed_from()
    }

    /// This ref's value, one identity per value (the same for every clone of the ref).
    #[cfg(feature = "serde")]
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.slot).cast::<()>() as usize
    }
}
