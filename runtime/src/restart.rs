//! Restart and retry: how a call interrupted by a crash runs again.
//!
//! The actor's restart budget is a [`Limit`] kept by the [scheduler](crate::scheduler) core,
//! which decides restart or death at each crash. What runs again is decided here: a call that
//! was running when its actor crashed is re-run on the new instance while its
//! `max_task_retries` allows and its arguments can be copied; it keeps its place in the order.

use crate::{limit::Limit, scheduler::Lane};

/// How to run a call again after a crash interrupted it (`max_task_retries`): makes the next
/// run's body (a `K`) while runs are left.
pub(crate) struct Retry<K> {
    left: Limit,
    /// The next run's body; `None` when the call must not run again (it was cancelled).
    again: Box<dyn FnMut() -> Option<K> + Send>,
}

impl<K> Retry<K> {
    /// `left` runs after the first; `again` makes each one's body.
    pub(crate) fn new(left: Limit, again: impl FnMut() -> Option<K> + Send + 'static) -> Self {
        Retry {
            left,
            again: Box::new(again),
        }
    }

    /// The body of the next run, while runs are left. Supersedes the previous run, whose
    /// completer then resolves nothing.
    pub(crate) fn next(&mut self) -> Option<K> {
        if self.left.is_exhausted() {
            return None;
        }
        let kind = (self.again)()?;
        self.left.take_one();
        Some(kind)
    }
}

/// Whether and how a call may be re-run: built by the generated code, which alone knows
/// whether the arguments are `Clone`.
#[doc(hidden)]
pub struct RetryPolicy<Args> {
    pub(crate) left: Limit,
    pub(crate) cloner: Option<fn(&Args) -> Args>,
}

impl<Args> RetryPolicy<Args> {
    /// `left` runs after the first (`-1` forever), if the arguments can be copied.
    pub fn new(left: i64, cloner: Option<fn(&Args) -> Args>) -> Self {
        RetryPolicy {
            left: Limit::from_ray(left),
            cloner,
        }
    }
}

/// A running call that may be re-run: where it was in the order, and how.
pub(crate) struct Resumable<K> {
    pub(crate) lane: Lane,
    pub(crate) seq: u64,
    pub(crate) method: &'static str,
    pub(crate) group: usize,
    pub(crate) retry: Box<Retry<K>>,
}
