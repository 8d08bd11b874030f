//! Restart and retry: how a call interrupted by a crash runs again.
//!
//! The actor's restart budget is a [`Limit`] kept by the [scheduler](crate::scheduler) core,
//! which decides restart or death at each crash. What runs again is decided here: a call that
//! was running when its actor crashed is re-run on the new instance while its
//! `max_task_retries` allows and its arguments can be copied; it keeps its place in the order.

use crate::{
    call::{Body, Kind},
    limit::Limit,
    object_ref::{Completer, Resolver},
    scheduler::Lane,
};

/// How to run a call again after a crash interrupted it (`max_task_retries`).
pub(crate) struct Retry<A> {
    left: Limit,
    /// The next run's body; `None` when the call must not run again (it was cancelled).
    again: Box<dyn FnMut() -> Option<Kind<A>> + Send>,
}

impl<A> Retry<A> {
    /// The body of the next run, while runs are left. Supersedes the previous run, whose
    /// completer then resolves nothing.
    pub(crate) fn next(mut self: Box<Self>) -> Option<Body<A>> {
        if self.left.is_exhausted() {
            return None;
        }
        let kind = (self.again)()?;
        self.left.take_one();
        Some(Body(kind, Some(self)))
    }
}

/// Whether and how a call may be re-run: built by the generated code, which alone knows
/// whether the arguments are `Clone`.
#[doc(hidden)]
pub struct RetryPolicy<Args> {
    left: Limit,
    cloner: Option<fn(&Args) -> Args>,
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

/// The body `build` makes for the first run and, when the policy allows, a [`Retry`] that
/// builds later runs from a copy of `args`.
pub(crate) fn retrying<A, Args, R, B>(
    done: Completer<'_, R>,
    args: Args,
    policy: RetryPolicy<Args>,
    build: B,
) -> Body<A>
where
    A: Send + 'static,
    Args: Send + 'static,
    R: Send + 'static,
    B: Fn(Resolver<R>, Args) -> Kind<A> + Clone + Send + 'static,
{
    let done = done.bind();
    let retry = match (policy.cloner, done.retry_handle()) {
        (Some(cloner), Some(handle)) if !policy.left.is_exhausted() => {
            let copy = cloner(&args);
            let build_again = build.clone();
            let again = move || Some(build_again(handle.supersede()?, cloner(&copy)));
            Some(Box::new(Retry {
                left: policy.left,
                again: Box::new(again),
            }))
        }
        _ => None,
    };
    Body(build(done, args), retry)
}

/// A running call that may be re-run: where it was in the order, and how.
pub(crate) struct Resumable<A> {
    pub(crate) lane: Lane,
    pub(crate) seq: u64,
    pub(crate) method: &'static str,
    pub(crate) group: usize,
    pub(crate) retry: Box<Retry<A>>,
}

impl<A> Resumable<A> {
    /// The call's next run, while its `max_task_retries` allows.
    pub(crate) fn next_run(self) -> Option<(Lane, u64, crate::call::Call<A>)> {
        let Resumable {
            lane,
            seq,
            method,
            group,
            retry,
        } = self;
        let body = retry.next()?;
        Some((
            lane,
            seq,
            crate::call::Call {
                method,
                group,
                body,
            },
        ))
    }
}
