//! Restart and retry: how a call interrupted by a crash runs again, and the budgets every
//! restart or retry is counted against, wherever it happens.
//!
//! The actor's restart budget is a [`Limit`] kept by the [scheduler](crate::scheduler) core,
//! which decides restart or death at each crash. What runs again is decided here: a call that
//! was running when its actor crashed is re-run on the new instance while its
//! `max_task_retries` allows and its arguments can be copied; it keeps its place in the order.
//!
//! Cluster mode asks the same questions across a node's death, of the functions below (through
//! the seam): whether a detached actor may restart on another node ([`may_restart`]), what its
//! new instance has left ([`restarts_left_after`]), and whether a call runs again on the
//! actor's new host ([`take_retry`]). A task's retries count down in `task` (`next_run`, and
//! `TaskOptions::node_retries` across nodes), with the same rule: `-1` is forever.

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

/// Whether an actor that has restarted `used` times may restart once more, under Ray's
/// `max_restarts` (`-1`: forever).
pub fn may_restart(max_restarts: i64, used: u32) -> bool {
    match Limit::from_ray(max_restarts) {
        Limit::Unlimited => true,
        Limit::AtMost(n) => u64::from(used) < n,
    }
}

/// The `max_restarts` of an instance started after `used` restarts and this one: what is left
/// of the budget (`-1` stays `-1`).
pub fn restarts_left_after(max_restarts: i64, used: u32) -> i64 {
    match Limit::from_ray(max_restarts) {
        Limit::Unlimited => -1,
        Limit::AtMost(n) => {
            i64::try_from(n.saturating_sub(u64::from(used) + 1)).unwrap_or(i64::MAX)
        }
    }
}

/// Takes one retry from a count as Ray gives it (`-1`: forever): whether one was left.
pub fn take_retry(left: &mut i64) -> bool {
    let mut limit = Limit::from_ray(*left);
    let taken = limit.take_one();
    if let Limit::AtMost(n) = limit {
        *left = i64::try_from(n).unwrap_or(i64::MAX);
    }
    taken
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn a_detached_actor_moves_while_its_restarts_last() {
        assert!(may_restart(-1, 1_000));
        assert!(may_restart(2, 1));
        assert!(!may_restart(2, 2));
        assert!(!may_restart(0, 0));
        assert_eq!(restarts_left_after(-1, 5), -1);
        assert_eq!(restarts_left_after(3, 0), 2);
        assert_eq!(restarts_left_after(3, 2), 0);
        assert_eq!(restarts_left_after(3, 7), 0);
    }

    #[test]
    fn a_retry_is_taken_until_none_is_left_and_minus_one_never_runs_out() {
        let mut left = 2;
        assert!(take_retry(&mut left));
        assert!(take_retry(&mut left));
        assert!(!take_retry(&mut left));
        assert_eq!(left, 0);
        let mut forever = -1;
        assert!(take_retry(&mut forever));
        assert_eq!(forever, -1);
    }
}
