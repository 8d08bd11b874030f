//! A call in flight to an actor: what to run, and how to fail it without running it.
//!
//! The macro-generated code builds a [`Body`] with one of the constructors below; each wraps the
//! user's method so that it catches the method's panic and resolves the call's [`ObjectRef`]
//! (crate::ObjectRef) itself. The dispatcher only schedules bodies and learns whether the method
//! panicked.

use std::{
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Either},
};

use crate::exec::{Exec, Outcome};
use crate::{
    error::{ActorError, DeathCause},
    instance::{Exclusive, Instance, Shared},
    label::ActorLabel,
    object_ref::{Completer, Failer, Resolver},
    restart::{Retry, RetryPolicy},
    sync_call::{MutBody, RefBody, stored},
    unwind::{quiet, take_message},
};

/// One argument of a remote method, checked to be `Send + 'static`.
///
/// The generated code wraps each argument as `RemoteArg::<TheDeclaredType>::new(arg)`, so a
/// non-`Send` argument type is reported once, at the type the user wrote.
#[doc(hidden)]
pub struct RemoteArg<T>(T);

// SAFETY: the field is private and `RemoteArg::new` is the only constructor; it requires
// `T: Send`. So every `RemoteArg<T>` that exists holds a `T: Send`.
unsafe impl<T> Send for RemoteArg<T> {}

impl<T> RemoteArg<T> {
    /// Wraps `value`: only for `Send + 'static` types.
    pub fn new(value: T) -> Self
    where
        T: Send + 'static,
    {
        RemoteArg(value)
    }

    /// The argument.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// What a remote method may return: the result travels back to the caller.
#[diagnostic::on_unimplemented(
    message = "a remote method must return a `Send + 'static` value, but `{Self}` is not",
    label = "this result cannot be sent back to the caller",
    note = "the result moves from the actor's task to the caller, which may be on another thread"
)]
#[doc(hidden)]
pub trait RemoteReturn: Send + 'static {}
impl<T: Send + 'static> RemoteReturn for T {}

pub(crate) type SharedRun = BoxFuture<'static, Outcome>;
type SharedFn<A> = Box<dyn FnOnce(Exec<&Instance<A>>) -> Option<Started<SharedRun>> + Send>;
pub(crate) type ExclusiveRun<A> = BoxFuture<'static, (Option<Instance<A>>, Outcome)>;
type ExclusiveFn<A> =
    Box<dyn FnOnce(Exec<Exclusive<A>>) -> Option<Started<ExclusiveRun<A>>> + Send>;

/// A call that runs beyond the driver's current poll: its future, and how to fail its ref if
/// the runtime has to drop the future (a crash, a kill).
pub(crate) struct Started<F> {
    pub(crate) run: F,
    pub(crate) failer: Option<Failer>,
}

impl<F> Started<F> {
    fn new<R: Send + 'static>(done: &Resolver<R>, run: F) -> Self {
        Started {
            run,
            failer: done.failer(),
        }
    }
}

/// What a call runs, type-erased over its arguments and result: the one interface between
/// the scheduler and a method. (A call decoded from the wire builds the same `Body`.)
#[doc(hidden)]
pub struct Body<A>(pub(crate) Kind<A>, pub(crate) Option<Box<Retry<Kind<A>>>>);

/// The body `build` makes for the first run and, when the policy allows, a [`Retry`] that
/// builds later runs from a copy of `args`.
fn retrying<A, Args, R, B>(
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
            Some(Box::new(Retry::new(policy.left, again)))
        }
        _ => None,
    };
    Body(build(done, args), retry)
}

/// Finds out, where the argument types are known, whether they are `Clone`:
/// `(&&CloneProbe::<Args>::new()).cloner()` is `Some(clone)` if `Args: Clone`, else `None`
/// (method resolution picks `ViaClone` first and falls back to `ViaNoClone`).
#[doc(hidden)]
pub struct CloneProbe<T>(std::marker::PhantomData<fn() -> T>);

impl<T> CloneProbe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CloneProbe(std::marker::PhantomData)
    }
}

/// The probe's answer when `T: Clone`.
#[doc(hidden)]
pub trait ViaClone<T> {
    /// `Some(T::clone)`.
    fn cloner(&self) -> Option<fn(&T) -> T>;
}

impl<T: Clone> ViaClone<T> for &CloneProbe<T> {
    fn cloner(&self) -> Option<fn(&T) -> T> {
        Some(T::clone)
    }
}

/// The probe's answer otherwise.
#[doc(hidden)]
pub trait ViaNoClone<T> {
    /// `None`.
    fn cloner(&self) -> Option<fn(&T) -> T>;
}

impl<T> ViaNoClone<T> for CloneProbe<T> {
    fn cloner(&self) -> Option<fn(&T) -> T> {
        None
    }
}

/// Wrapped arguments copy like their values, so a call can be re-run.
impl<T: Clone> Clone for RemoteArg<T> {
    fn clone(&self) -> Self {
        RemoteArg(self.0.clone())
    }
}

pub(crate) enum Kind<A> {
    /// A sync `&self` method: runs inline on the driver.
    SyncRef(RefBody<A>),
    /// A sync `&mut self` method: runs inline once nothing else runs.
    SyncMut(MutBody<A>),
    /// An async or blocking `&self` method: a future beside the other shared calls.
    Shared(SharedFn<A>),
    /// An async or blocking `&mut self` method: owns the instance until it returns.
    Exclusive(ExclusiveFn<A>),
}

fn deliver<R>(done: Resolver<R>, result: std::thread::Result<R>) -> Outcome {
    match result {
        Ok(value) => {
            done.complete(Ok(value));
            Outcome::Returned
        }
        Err(payload) => {
            let message = take_message(payload);
            crate::unwind::method_panicked();
            done.panicked(message.clone());
            Outcome::Panicked(message)
        }
    }
}

fn fail<R>(done: Resolver<R>, err: ActorError) -> Outcome {
    done.complete(Err(err));
    Outcome::NotRun
}

/// A blocking-pool task whose `JoinHandle` failed: the runtime is shutting down.
fn join_failed<R>(done: Resolver<R>) -> Outcome {
    drop(done); // resolves to `ActorDied { cause: Shutdown }`
    Outcome::NotRun
}

/// Runs `call` unless the caller cancels first; `None` when cancelled (the future is dropped at
/// its await point). Catches a panic of `call`.
pub(crate) async fn unless_cancelled<R, F>(
    done: &Resolver<R>,
    call: F,
) -> Option<std::thread::Result<R>>
where
    R: Send + 'static,
    F: Future<Output = R>,
{
    let call = std::pin::pin!(AssertUnwindSafe(call).catch_unwind());
    let cancelled = std::pin::pin!(done.cancelled());
    // The cancel signal first: once cancelled, the call is not polled again, so it cannot
    // make progress (take an item, say) after its caller gave up.
    match futures::future::select(cancelled, call).await {
        Either::Left(((), _)) => None,
        Either::Right((result, _)) => Some(result),
    }
}

impl<A: Send + 'static> Body<A> {
    /// Whether the call needs the actor to itself.
    pub(crate) fn is_exclusive(&self) -> bool {
        matches!(self.0, Kind::SyncMut(_) | Kind::Exclusive(_))
    }

    /// Starts loading a sync call's slot into the cache (see [`Once::prefetch`]).
    pub(crate) fn prefetch(&self) {
        match &self.0 {
            Kind::SyncRef(body) => body.prefetch(),
            Kind::SyncMut(body) => body.prefetch(),
            Kind::Shared(_) | Kind::Exclusive(_) => {}
        }
    }

    /// Whether the call is a sync method, run inline on the driver.
    pub(crate) fn is_sync(&self) -> bool {
        matches!(self.0, Kind::SyncRef(_) | Kind::SyncMut(_))
    }

    /// Resolves the call to `err` without running it.
    pub(crate) fn fail(self, err: ActorError) {
        match self.0 {
            Kind::SyncRef(body) => drop(body.run(Exec::Fail(err))),
            Kind::SyncMut(body) => drop(body.run(Exec::Fail(err))),
            Kind::Shared(f) => drop(f(Exec::Fail(err))),
            Kind::Exclusive(f) => drop(f(Exec::Fail(err))),
        }
    }

    /// A sync `&self` method.
    #[inline]
    pub fn sync_ref<Args, R, F>(done: Completer<'_, R>, args: Args, f: F) -> Self
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&A, Args) -> R + Send + 'static,
    {
        let body = match done.into_fresh() {
            // SAFETY: the only other reference to the new slot is its ref's, as a `Slot<R>`,
            // through which the body is out of reach.
            Ok(fresh) => unsafe { RefBody::new(stored(fresh, args, f)) },
            Err(done) => RefBody::from_fn(move |exec: Exec<&A>| match exec {
                Exec::Run(_) if done.is_cancelled() => Outcome::NotRun,
                Exec::Run(state) => {
                    deliver(done, catch_unwind(AssertUnwindSafe(|| f(state, args))))
                }
                Exec::Fail(err) => fail(done, err),
            }),
        };
        Body(Kind::SyncRef(body), None)
    }

    /// A sync `&mut self` method.
    #[inline]
    pub fn sync_mut<Args, R, F>(done: Completer<'_, R>, args: Args, f: F) -> Self
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&mut A, Args) -> R + Send + 'static,
    {
        let body = match done.into_fresh() {
            // SAFETY: the only other reference to the new slot is its ref's, as a `Slot<R>`,
            // through which the body is out of reach.
            Ok(fresh) => unsafe { MutBody::new(stored(fresh, args, f)) },
            Err(done) => MutBody::from_fn(move |exec: Exec<&mut A>| match exec {
                Exec::Run(_) if done.is_cancelled() => Outcome::NotRun,
                Exec::Run(state) => {
                    deliver(done, catch_unwind(AssertUnwindSafe(|| f(state, args))))
                }
                Exec::Fail(err) => fail(done, err),
            }),
        };
        Body(Kind::SyncMut(body), None)
    }

    /// An async `&self` method.
    pub fn async_ref<Args, R, F, Fut>(
        done: Completer<'_, R>,
        args: Args,
        retry: RetryPolicy<Args>,
        f: F,
    ) -> Self
    where
        A: Sync,
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(Shared<A>, Args) -> Fut + Copy + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        retrying(done, args, retry, move |done, args| {
            Self::async_ref_kind(done, args, f)
        })
    }

    /// An async `&mut self` method.
    pub fn async_mut<Args, R, F>(
        done: Completer<'_, R>,
        args: Args,
        retry: RetryPolicy<Args>,
        f: F,
    ) -> Self
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: for<'x> FnOnce(&'x mut A, Args) -> BoxFuture<'x, R> + Copy + Send + 'static,
    {
        retrying(done, args, retry, move |done, args| {
            Self::async_mut_kind(done, args, f)
        })
    }

    /// A sync `&self` method marked `blocking`.
    pub fn blocking_ref<Args, R, F>(
        done: Completer<'_, R>,
        args: Args,
        retry: RetryPolicy<Args>,
        f: F,
    ) -> Self
    where
        A: Sync,
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&A, Args) -> R + Copy + Send + 'static,
    {
        retrying(done, args, retry, move |done, args| {
            Self::blocking_ref_kind(done, args, f)
        })
    }

    /// A sync `&mut self` method marked `blocking`.
    pub fn blocking_mut<Args, R, F>(
        done: Completer<'_, R>,
        args: Args,
        retry: RetryPolicy<Args>,
        f: F,
    ) -> Self
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&mut A, Args) -> R + Copy + Send + 'static,
    {
        retrying(done, args, retry, move |done, args| {
            Self::blocking_mut_kind(done, args, f)
        })
    }

    /// An async `&self` method: `f` builds its future from shared access to the state.
    fn async_ref_kind<Args, R, F, Fut>(done: Resolver<R>, args: Args, f: F) -> Kind<A>
    where
        A: Sync,
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(Shared<A>, Args) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        Kind::Shared(Box::new(move |exec| match exec {
            Exec::Run(_) if !done.start_cancellable() => None,
            Exec::Run(instance) => {
                let shared = instance.share();
                let failer = done.failer();
                let run: SharedRun = Box::pin(async move {
                    match unless_cancelled(&done, f(shared, args)).await {
                        Some(result) => deliver(done, result),
                        None => {
                            done.cancelled_now();
                            Outcome::NotRun
                        }
                    }
                });
                Some(Started { run, failer })
            }
            Exec::Fail(err) => {
                fail(done, err);
                None
            }
        }))
    }

    /// An async `&mut self` method: `f`'s future borrows the state, which this call owns while
    /// it runs; cancelling the call drops the future and keeps the state.
    fn async_mut_kind<Args, R, F>(done: Resolver<R>, args: Args, f: F) -> Kind<A>
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: for<'x> FnOnce(&'x mut A, Args) -> BoxFuture<'x, R> + Send + 'static,
    {
        Kind::Exclusive(Box::new(move |exec| match exec {
            Exec::Run(state) if !done.start_cancellable() => Some(Started::new(
                &done,
                Box::pin(async move { (Some(state.into_instance()), Outcome::NotRun) }),
            )),
            Exec::Run(mut state) => Some(Started {
                failer: done.failer(),
                run: Box::pin(async move {
                    let result = unless_cancelled(&done, f(&mut state, args)).await;
                    match result {
                        Some(Ok(value)) => {
                            done.complete(Ok(value));
                            (Some(state.into_instance()), Outcome::Returned)
                        }
                        // A panic may have left the state torn: the actor crashes.
                        Some(Err(payload)) => (None, deliver::<R>(done, Err(payload))),
                        None => {
                            done.cancelled_now();
                            (Some(state.into_instance()), Outcome::NotRun)
                        }
                    }
                }),
            }),
            Exec::Fail(err) => {
                fail(done, err);
                None
            }
        }))
    }

    /// A sync `&self` method marked `blocking`: runs on the blocking pool.
    fn blocking_ref_kind<Args, R, F>(done: Resolver<R>, args: Args, f: F) -> Kind<A>
    where
        A: Sync,
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&A, Args) -> R + Send + 'static,
    {
        Kind::Shared(Box::new(move |exec| match exec {
            Exec::Run(_) if done.is_cancelled() => None,
            Exec::Run(instance) => {
                let shared = instance.share();
                let task = tokio::task::spawn_blocking(move || {
                    quiet(|| catch_unwind(AssertUnwindSafe(|| f(&shared, args))))
                });
                let failer = done.failer();
                let run: SharedRun = Box::pin(async move {
                    match task.await {
                        Ok(result) => deliver(done, result),
                        Err(_) => join_failed(done),
                    }
                });
                Some(Started { run, failer })
            }
            Exec::Fail(err) => {
                fail(done, err);
                None
            }
        }))
    }

    /// A sync `&mut self` method marked `blocking`: runs on the blocking pool, alone.
    fn blocking_mut_kind<Args, R, F>(done: Resolver<R>, args: Args, f: F) -> Kind<A>
    where
        Args: Send + 'static,
        R: RemoteReturn,
        F: FnOnce(&mut A, Args) -> R + Send + 'static,
    {
        Kind::Exclusive(Box::new(move |exec| match exec {
            Exec::Run(state) if done.is_cancelled() => Some(Started::new(
                &done,
                Box::pin(async move { (Some(state.into_instance()), Outcome::NotRun) }),
            )),
            Exec::Run(mut state) => {
                let task = tokio::task::spawn_blocking(move || {
                    let result = quiet(|| catch_unwind(AssertUnwindSafe(|| f(&mut state, args))));
                    (result.is_ok().then_some(state), result)
                });
                let failer = done.failer();
                let run: ExclusiveRun<A> = Box::pin(async move {
                    match task.await {
                        Ok((state, result)) => {
                            let outcome = deliver(done, result);
                            (state.map(Exclusive::into_instance), outcome)
                        }
                        Err(_) => (None, join_failed(done)),
                    }
                });
                Some(Started { run, failer })
            }
            Exec::Fail(err) => {
                fail(done, err);
                None
            }
        }))
    }
}

/// A call as it travels through the mailbox.
pub(crate) struct Call<A> {
    pub(crate) method: &'static str,
    /// The index of its concurrency group (0: the default one), checked by the caller.
    pub(crate) group: usize,
    pub(crate) body: Body<A>,
}

impl<A: Send + 'static> Call<A> {
    pub(crate) fn fail_died(self, actor: &ActorLabel, cause: DeathCause) {
        let err = ActorError::ActorDied {
            actor: actor.clone(),
            method: self.method,
            cause,
        };
        self.body.fail(err);
    }
}
