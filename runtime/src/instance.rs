//! Ownership of an actor's state while its calls run.
//!
//! The dispatcher owns the state as an [`Instance`]. Concurrent `&self` calls that outlive one
//! poll (async or blocking ones) hold a [`Shared`] clone; an exclusive `&mut self` call that
//! awaits moves the whole instance into its future as an [`Exclusive`] and hands it back.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

/// An actor's state, owned by its dispatcher.
pub(crate) struct Instance<A>(Arc<A>);

// SAFETY: the `Arc` inside an `Instance<A>` is cloned only by `Instance::share`, which requires
// `A: Sync`. For `A: !Sync` the `Arc` is therefore never shared and moving the `Instance` moves
// the only access to `A`, exactly as moving a `Box<A>` would; `Box<A>: Send` iff `A: Send`. For
// `A: Sync` this is the ordinary `Arc<A>: Send` rule.
unsafe impl<A: Send> Send for Instance<A> {}

impl<A> Instance<A> {
    pub(crate) fn new(state: A) -> Self {
        Instance(Arc::new(state))
    }

    pub(crate) fn get(&self) -> &A {
        &self.0
    }

    /// `&mut A` when no `Shared` clone is alive.
    pub(crate) fn get_mut(&mut self) -> Option<&mut A> {
        Arc::get_mut(&mut self.0)
    }

    /// A clone for a call that outlives the dispatcher's current poll.
    pub(crate) fn share(&self) -> Shared<A>
    where
        A: Send + Sync,
    {
        Shared(Arc::clone(&self.0))
    }

    /// Moves the instance into an exclusive call; gives it back when it is still shared.
    pub(crate) fn into_exclusive(mut self) -> Result<Exclusive<A>, Self> {
        if Arc::get_mut(&mut self.0).is_some() {
            Ok(Exclusive(self))
        } else {
            Err(self)
        }
    }
}

/// Shared access to an actor's state for an async or blocking `&self` call.
#[doc(hidden)]
pub struct Shared<A>(Arc<A>);

impl<A> Deref for Shared<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

/// Exclusive access to an actor's state for an async or blocking `&mut self` call.
#[doc(hidden)]
pub struct Exclusive<A>(Instance<A>);

impl<A> Exclusive<A> {
    pub(crate) fn into_instance(self) -> Instance<A> {
        self.0
    }
}

impl<A> Deref for Exclusive<A> {
    type Target = A;
    fn deref(&self) -> &A {
        self.0.get()
    }
}

impl<A> DerefMut for Exclusive<A> {
    fn deref_mut(&mut self) -> &mut A {
        match self.0.get_mut() {
            Some(state) => state,
            // `Exclusive` is only built by `into_exclusive` after checking uniqueness, and it
            // never hands out a clone, so the `Arc` is still unique here.
            None => unreachable!("an Exclusive instance is never shared"),
        }
    }
}
