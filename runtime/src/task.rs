//! Tasks: `#[remote]` fns, called like actor methods but with no actor (Ray's remote
//! functions).
//!
//! A task is a call with no actor: its result is an ordinary [`ObjectRef`], its arguments
//! may be refs it waits for ([`PendingArgs`]), and it is cancelled like a call. What it adds
//! is the node's resources: before it runs it takes its demand (`num_cpus`, 1 by default)
//! from the node's [`Pool`](crate::resource_pool::Pool), waiting in line while the node is
//! full, and gives it back when it returns.
//!
//! - **Where it runs.** On the runtime the caller is on (or the embedded one): an `async` fn
//!   as a task of that runtime, a sync fn on a [runner](crate::sync_runner): a worker inside
//!   `block_in_place` that runs the sync tasks in line one after another, so that each may
//!   block (a `get` on a subtask, say) or run long while the runtime's other tasks move to
//!   another thread; a sync task blocked in `get` lends its CPUs back meanwhile. (For tiny
//!   tasks, 2.4x the throughput of one `block_in_place` per task, `benches/tasks.rs`.)
//! - **Retries.** A panic resolves the ref to `TaskPanicked`, unless the options say
//!   `retry_on_panic(true)`: then the task runs again, up to `max_retries` times, from a
//!   copy of its arguments (so only when they are `Clone`), as Ray's `retry_exceptions`.

use std::{
    any::{Any, TypeId},
    fmt,
    marker::PhantomData,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::pin,
    sync::{Arc, PoisonError, RwLock},
};

use futures::future::{BoxFuture, Either, select};

use crate::{
    ActorError, DeathCause, ObjectRef,
    arg::PendingArgs,
    call::unless_cancelled,
    label::{ActorId, ActorLabel},
    object_ref::{Origin, Resolver, pair},
    resource_pool::{Held, Pool},
    resources::Resources,
    task_options::TaskOptions,
    unwind::{Quiet, quiet, take_message},
};

/// Where a task may run besides this process. Cluster mode installs one when it starts
/// ([`route_through`]); it is the one seam between tasks and the cluster, so that this module
/// never reaches into it (the cluster calls [`submit_here`] for the tasks it takes).
pub trait Router: Send + Sync {
    /// `Some(hosts_here)` when tasks of the fn `task` may run on other nodes; `hosts_here`
    /// says whether this process runs tasks for others too (and so may run this one itself).
    fn routes(&self, task: TypeId) -> Option<bool>;

    /// Sends a task of the fn `task` elsewhere; returns what cancels it where it runs.
    fn send(&self, task: TypeId, sent: Sent) -> Box<dyn FnOnce() + Send>;
}

/// A task on its way to another node: its arguments (a boxed argument tuple) and where its
/// result (a boxed result) or error goes.
pub struct Sent {
    /// The task, as its errors name it.
    pub label: ActorLabel,
    /// The fn's name.
    pub method: &'static str,
    /// Its options.
    pub options: TaskOptions,
    /// What it holds while it runs.
    pub demand: Resources,
    /// The boxed argument tuple: its values, or its tuple of `Arg`s where refs of other
    /// processes' values cross as refs (see `PendingArgs::for_wire`).
    pub args: Box<dyn Any + Send>,
    /// Where its result goes.
    pub answer: Answer,
}

/// Takes a task's result from another node (a boxed result) or its error.
pub type Answer = Box<dyn FnOnce(Result<Box<dyn Any + Send>, ActorError>) + Send>;

static ROUTER: RwLock<Option<Arc<dyn Router>>> = RwLock::new(None);

/// Sends the tasks that may leave this process through `router` from now on (`None`: none
/// leaves, cluster mode stopped).
pub fn route_through(router: Option<Arc<dyn Router>>) {
    *ROUTER.write().unwrap_or_else(PoisonError::into_inner) = router;
}

fn router() -> Option<Arc<dyn Router>> {
    ROUTER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// What `#[remote]` implements for a fn: its arguments, result, defaults and body.
#[doc(hidden)]
pub trait RemoteFn: Send + Sync + 'static {
    /// The parameters, as a tuple.
    type Args: Send + 'static;
    /// The result.
    type Output: Send + 'static;
    /// The fn's path, for errors.
    const NAME: &'static str;
    /// The options of `#[remote(..)]`.
    fn defaults() -> TaskOptions;
    /// `Some` when the arguments are `Clone`, so a panicked run can be retried.
    fn cloner() -> Option<Cloner<Self::Args>>;
    /// One run of the fn on `args`.
    fn run(args: Self::Args) -> TaskRun<Self::Output>;
}

/// What `register_task` asks first of a `#[remote]` fn: `#[remote]` implements it for the fn's
/// handle type bounded by `T: CrossesProcesses<W>` for each argument type and the result (a
/// stream's item), each bound spanned at its type, so that a type that is not serde is one
/// error that points at the parameter.
#[doc(hidden)]
pub trait TaskCrosses<W> {}

/// Copies a task's arguments for a retry.
#[doc(hidden)]
pub type Cloner<Args> = fn(&Args) -> Args;

/// One run of a task's body.
#[doc(hidden)]
pub enum TaskRun<R> {
    /// A sync fn: runs on a worker, inside `block_in_place`.
    Sync(Box<dyn FnOnce() -> R + Send>),
    /// An async fn: runs as a task of the runtime.
    Async(BoxFuture<'static, R>),
}

/// The handle of a `#[remote]` fn: `f.remote(args)` runs it as a task and returns the
/// [`ObjectRef`] of its result at once; `f.options(..)` overrides its options;
/// `f.call_local(args)` runs the plain fn.
///
/// `#[remote]` turns the fn's name into a constant that derefs to a `Task`. Its `.remote(..)`
/// is generated with the fn's own parameters, each a value or an [`ObjectRef`] of one
/// ([`IntoArg`](crate::IntoArg)), so a call with the wrong arguments is reported at the fn.
///
/// The name is no fn any more: `double(2)` does not compile (rustc says "expected function,
/// found `remote_fn_double__call_double_remote_or_double_call_local`"). To run the fn as
/// written, here and now, with no task, no ref and no resources (in a unit test, say), call
/// `double.call_local(2)`: it takes the fn's own parameter types and returns what the fn
/// returns (an `async` fn: its future, `'static`; a streaming fn: its stream, boxed).
///
/// ```
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
///
/// let four = double.remote(2);                   // an ObjectRef<u64>
/// let eight = double.remote(four);               // runs once `four` resolves
/// assert_eq!(helio::get(eight).unwrap(), 8);
/// let light = double.options(TaskOptions::new().num_cpus(0.5)).remote(1);
/// assert_eq!(helio::get(light).unwrap(), 2);
/// assert!(double.name().ends_with("double"));
/// assert_eq!(double.call_local(3), 6);           // the plain fn: no task
/// ```
pub struct Task<F, Args, R> {
    options: Option<Arc<TaskOptions>>,
    marker: PhantomData<Marker<F, Args, R>>,
}

/// `Task` owns none of its type parameters, and is `Send + Sync` whatever they are.
type Marker<F, Args, R> = fn() -> (F, Args, R);

impl<F, Args, R> Task<F, Args, R> {
    /// The handle `#[remote]` makes.
    #[doc(hidden)]
    pub const fn new() -> Self {
        Task {
            options: None,
            marker: PhantomData,
        }
    }
}

impl<F: RemoteFn<Args = Args, Output = R>, Args, R> Task<F, Args, R> {
    /// This task with `options` over its defaults (and over options set before): its calls
    /// through the returned handle use them.
    pub fn options(&self, options: TaskOptions) -> Self {
        let base = self.options.as_deref().cloned().unwrap_or_default();
        Task {
            options: Some(Arc::new(options.over(&base))),
            marker: PhantomData,
        }
    }

    /// The fn's path, as errors name the task.
    pub fn name(&self) -> &'static str {
        F::NAME
    }

    /// Starts a task on `args`: what the fn's generated `.remote(..)` calls.
    #[doc(hidden)]
    pub fn submit<P: PendingArgs<Values = Args>>(&self, args: P) -> ObjectRef<R>
    where
        Args: Send + 'static,
        R: Send + 'static,
    {
        submit::<F, P>(self.effective(), args, true, None)
    }

    /// The options a call runs with: these over the fn's defaults.
    fn effective(&self) -> TaskOptions {
        let defaults = F::defaults();
        match &self.options {
            Some(options) => TaskOptions::clone(options).over(&defaults),
            None => defaults,
        }
    }
}

impl<F, Args, X> Task<F, Args, futures::stream::BoxStream<'static, X>>
where
    F: RemoteFn<Args = Args, Output = futures::stream::BoxStream<'static, X>>,
    X: Send + 'static,
{
    /// Starts a streaming task on `args`; its items arrive in the stream, at most `buffer`
    /// ahead of the consumer: what a streaming fn's generated `.remote(..)` calls.
    #[doc(hidden)]
    pub fn submit_stream<P>(&self, args: P, buffer: usize) -> crate::ObjectRefStream<X>
    where
        P: PendingArgs<Values = Args>,
        Args: Send + 'static,
    {
        let started = submit::<F, P>(self.effective(), args, true, None);
        crate::ObjectRefStream::pump(started, buffer, None)
    }
}

impl<F, Args, R> Clone for Task<F, Args, R> {
    fn clone(&self) -> Self {
        Task {
            options: self.options.clone(),
            marker: PhantomData,
        }
    }
}

impl<F: RemoteFn, Args, R> fmt::Debug for Task<F, Args, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &F::NAME)
            .field("options", &self.options)
            .finish()
    }
}

/// Runs a task of `F` in this process, whether or not `F` is registered (a task another node
/// sent here); it waits in this node's line while its resources are not free. Refs among its
/// arguments (values of other processes) are read first.
pub fn submit_here<F: RemoteFn, P: PendingArgs<Values = F::Args>>(
    options: TaskOptions,
    args: P,
) -> ObjectRef<F::Output> {
    submit::<F, P>(options, args, false, None)
}

/// Runs a task of `F` in this process with resources it already holds (a task another node
/// sent here, started only because [`try_hold`] found its demand free): it never waits in
/// this node's line, unless refs among its arguments must be read first: it gives the
/// resources back meanwhile (holding them, it could starve the very task that makes the
/// value) and takes them again in line.
pub fn submit_holding<F: RemoteFn, P: PendingArgs<Values = F::Args>>(
    options: TaskOptions,
    args: P,
    held: Held,
) -> ObjectRef<F::Output> {
    submit::<F, P>(options, args, false, Some(held))
}

/// Takes `demand` from this node's resources if it is free now; never waits.
pub fn try_hold(demand: &Resources) -> Option<Held> {
    crate::system::task_pool().try_acquire(demand)
}

/// Starts a task of `F` on `args` with `options`; when `routed`, a registered `F` may run on
/// another node of the cluster. With `held`, it runs here on those resources.
fn submit<F: RemoteFn, P: PendingArgs<Values = F::Args>>(
    options: TaskOptions,
    args: P,
    routed: bool,
    held: Option<Held>,
) -> ObjectRef<F::Output> {
    crate::unwind::install_panic_hook();
    let label = ActorLabel::task(F::NAME, options.name.as_deref());
    let origin = Origin {
        actor: label.clone(),
        id: ActorId::next(),
        method: F::NAME,
    };
    let (result, done) = pair(origin, None);
    let in_group = options.in_group;
    let checked = options.demand().and_then(|demand| {
        if let Some(in_group) = &in_group {
            in_group.check()?;
        }
        Ok((demand, options.panic_retries()?))
    });
    let (demand, retries) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            done.complete(Err(ActorError::ActorDied {
                actor: label,
                method: F::NAME,
                cause: DeathCause::InvalidOptions(message),
            }));
            return result;
        }
    };
    let handle = match crate::embedded::spawn_handle() {
        Ok(handle) => handle,
        Err(err) => {
            // `done` drops: the task resolves to `ActorDied(Shutdown)`.
            tracing::error!(%err, "no runtime to run a task on");
            return result;
        }
    };
    let pool = crate::system::task_pool();
    // A task that asks for nothing and has its arguments at hand, with nowhere else to run,
    // starts at once: as a small task, or (sync) on a runner. One that asks for CPUs takes
    // them on the runtime, not here: taken here, they would be held while it waits to be
    // polled, and the tasks after it would wait in line for no reason.
    // A task in a placement group runs on its bundle's node, on the bundle's resources: it
    // is never routed by load (see `run`).
    let stays = demand.is_empty()
        && in_group.is_none()
        && (!routed || router().is_none_or(|router| router.routes(TypeId::of::<F>()).is_none()));
    // What `runtime_context()` says inside the body (no allocation for CPUs and GPUs).
    let running = crate::context::Running {
        label: label.clone(),
        demand: demand.clone(),
        gpu_ids: Vec::new(),
    };
    let args = match (args.now(), held) {
        (Ok(values), Some(held)) => {
            start::<F>(&handle, held, values, retries, done, running);
            return result;
        }
        (Ok(values), None) if stays => match pool.try_acquire(&demand) {
            Some(held) => {
                start::<F>(&handle, held, values, retries, done, running);
                return result;
            }
            None => Args::Now(values),
        },
        (Ok(values), None) => Args::Now(values),
        // Resources held go back while refs are read (see `submit_holding`).
        (Err(pending), _) => Args::Later(pending),
    };
    let task = Run {
        pool,
        demand,
        timeout: options.resource_timeout,
        retries,
        done,
        label,
        routed: routed.then_some(options),
        running,
        in_group,
    };
    handle.spawn(run::<F, P>(task, args));
    result
}

/// A task's arguments: at hand, or refs to wait for.
enum Args<P: PendingArgs> {
    Now(P::Values),
    Later(P),
}

/// Starts a task that holds its resources on `handle`: a sync one on a runner, an async one as
/// a task of the runtime.
fn start<F: RemoteFn>(
    handle: &tokio::runtime::Handle,
    held: Held,
    args: F::Args,
    retries: Option<u64>,
    done: Resolver<F::Output>,
    running: crate::context::Running,
) {
    let (now, kept) = split::<F>(args, retries);
    let running = running.holding(&held);
    match F::run(now) {
        TaskRun::Sync(body) => crate::sync_runner::RUNNERS.run(
            handle,
            Box::new(move || {
                crate::context::in_sync_task(running, || {
                    run_sync::<F>(body, kept, Some(held), retries, done);
                });
            }),
        ),
        TaskRun::Async(body) => {
            let run = run_async::<F>(body, kept, held, retries, done);
            handle.spawn(crate::context::scope_task(running, run));
        }
    }
}

/// The arguments for a run, and a copy for the next run when a panic may be retried.
fn split<F: RemoteFn>(args: F::Args, retries: Option<u64>) -> (F::Args, Option<F::Args>) {
    match F::cloner() {
        Some(clone) if retries != Some(0) => (clone(&args), Some(args)),
        _ => (args, None),
    }
}

/// A task on its way: where it takes its resources, and whom it answers.
struct Run<R> {
    pool: Arc<Pool>,
    demand: Resources,
    /// How long it may wait for its resources.
    timeout: Option<std::time::Duration>,
    /// Runs left after a panic: `None` forever.
    retries: Option<u64>,
    done: Resolver<R>,
    label: ActorLabel,
    /// The options it crosses with, when it may run on another node.
    routed: Option<TaskOptions>,
    /// What `runtime_context()` says inside its body.
    running: crate::context::Running,
    /// The placement group bundle it takes its resources from, instead of `pool`.
    in_group: Option<crate::InGroup>,
}

/// A task from its arguments to its result: waits for its argument refs and its resources,
/// runs (again after a panic, while `retries` allow), and resolves `done`. A cancel stops it
/// at any of these waits; the ref is resolved by the cancel itself.
async fn run<F: RemoteFn, P: PendingArgs<Values = F::Args>>(task: Run<F::Output>, args: Args<P>) {
    let Run {
        pool,
        demand,
        timeout,
        retries,
        done,
        label,
        routed,
        running,
        in_group,
    } = task;
    // A task that may run elsewhere (cluster mode: a registered fn) runs here if this process
    // hosts and has its resources free now, and otherwise goes where the router sends it.
    // A task of a placement group goes to its bundle's node (its options say which), and
    // otherwise runs here; no other routing applies to it.
    let (routed, in_a_group) = match in_group {
        Some(_) => (None, routed),
        None => (routed, None),
    };
    let router = routed.and_then(|options| Some((options, router()?)));
    let args = match args {
        Args::Now(values) => values,
        Args::Later(pending) => {
            // One that leaves this process anyway takes the refs of other processes' values
            // as refs: its host reads them from their owners, never through here.
            if let Some((options, router)) = &router
                && leaves::<F>(&**router, &pool, &demand)
            {
                let args = match pending.for_wire() {
                    Ok(args) => args,
                    Err(later) => match select(pin!(later), pin!(done.cancelled())).await {
                        Either::Left((Ok(args), _)) => args,
                        Either::Left((Err(upstream), _)) => return done.complete(Err(upstream)),
                        Either::Right(((), _)) => return,
                    },
                };
                let (options, args) = (options.clone(), Box::new(args));
                return elsewhere::<F>(&**router, options, demand, args, done, label).await;
            }
            match select(pin!(pending.resolve()), pin!(done.cancelled())).await {
                Either::Left((Ok(values), _)) => values,
                Either::Left((Err(upstream), _)) => return done.complete(Err(upstream)),
                Either::Right(((), _)) => return,
            }
        }
    };
    if let (Some(in_group), Some(options)) = (in_group, in_a_group) {
        let home = match select(pin!(in_group.home()), pin!(done.cancelled())).await {
            Either::Left((home, _)) => Some(home),
            // Cancelled: the ref says so already.
            Either::Right(((), _)) => None,
        };
        match home {
            Some(Ok(Some(_))) => match self::router() {
                Some(router) if router.routes(TypeId::of::<F>()).is_some() => {
                    let args = Box::new(args);
                    return elsewhere::<F>(&*router, options, demand, args, done, label).await;
                }
                _ => {
                    return done.complete(Err(ActorError::Unschedulable {
                        actor: label,
                        method: F::NAME,
                        shortfall: "its bundle is on another node: register the fn there and \
                                    here (`helio::register_task`)"
                            .to_owned(),
                    }));
                }
            },
            Some(Ok(None)) => {}
            Some(Err(message)) => {
                return done.complete(Err(ActorError::Unschedulable {
                    actor: label,
                    method: F::NAME,
                    shortfall: message,
                }));
            }
            None => return,
        }
    }
    let here = match router {
        Some((options, router)) => match router.routes(TypeId::of::<F>()) {
            Some(hosts_here) => match hosts_here.then(|| pool.try_acquire(&demand)).flatten() {
                Some(held) => Some(held),
                None => {
                    let args = Box::new(args);
                    return elsewhere::<F>(&*router, options, demand, args, done, label).await;
                }
            },
            None => None,
        },
        None => None,
    };
    let acquired = match here {
        Some(held) => Either::Left((Ok(held), ())),
        None => {
            let (cancelled, expired) = (pin!(done.cancelled()), pin!(in_time(timeout)));
            let acquire = async move {
                match in_group {
                    Some(in_group) => in_group.acquire(demand).await,
                    None => pool.acquire(demand).await.map_err(|err| err.to_string()),
                }
            };
            match select(pin!(acquire), select(cancelled, expired)).await {
                Either::Left((acquired, _)) => Either::Left((acquired, ())),
                Either::Right((Either::Left(((), _)), _)) => Either::Right(((), ())),
                Either::Right((Either::Right((waited, _)), _)) => {
                    return done.complete(Err(ActorError::ActorUnavailable {
                        actor: label,
                        method: F::NAME,
                        message: format!(
                            "its resources were not free within {waited:?} (`resource_timeout`)"
                        ),
                    }));
                }
            }
        }
    };
    let held = match acquired {
        Either::Left((Ok(held), _)) => held,
        Either::Left((Err(shortfall), _)) => {
            return done.complete(Err(ActorError::Unschedulable {
                actor: label,
                method: F::NAME,
                shortfall,
            }));
        }
        Either::Right(((), _)) => return,
    };
    let (now, kept) = split::<F>(args, retries);
    let running = running.holding(&held);
    match F::run(now) {
        TaskRun::Sync(body) => {
            let job = move || {
                crate::context::in_sync_task(running, || {
                    run_sync::<F>(body, kept, Some(held), retries, done);
                });
            };
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => crate::sync_runner::RUNNERS.run(&handle, Box::new(job)),
                // Never: this is a task of a runtime.
                Err(_) => job(),
            }
        }
        // In this task: a second one would cost a spawn.
        TaskRun::Async(body) => {
            let run = run_async::<F>(body, kept, held, retries, done);
            crate::context::scope_task(running, run).await;
        }
    }
}

/// The next run of a task that panicked: its arguments, their copy for the run after it, and
/// whom it answers.
struct Rerun<F: RemoteFn> {
    now: F::Args,
    kept: Option<F::Args>,
    done: Resolver<F::Output>,
}

/// After a run: resolves `done` with its value, or with its panic when no retry is left
/// (`None`); else counts a retry down and gives the next run.
fn next_run<F: RemoteFn>(
    outcome: std::thread::Result<F::Output>,
    kept: Option<F::Args>,
    retries: &mut Option<u64>,
    done: Resolver<F::Output>,
) -> Option<Rerun<F>> {
    match (outcome, kept) {
        (Ok(value), _) => done.complete(Ok(value)),
        (Err(payload), Some(again)) => {
            let message = take_message(payload);
            tracing::debug!(task = F::NAME, %message, "a task panicked; running it again");
            *retries = retries.map(|left| left - 1);
            let (now, kept) = split::<F>(again, *retries);
            return Some(Rerun { now, kept, done });
        }
        (Err(payload), None) => done.panicked(take_message(payload)),
    }
    None
}

/// An async task from its first run on: runs `body`, again from a copy of its arguments after
/// a panic while `retries` allow, and resolves `done`; then gives back `_held`.
async fn run_async<F: RemoteFn>(
    mut body: BoxFuture<'static, F::Output>,
    mut kept: Option<F::Args>,
    _held: Held,
    mut retries: Option<u64>,
    mut done: Resolver<F::Output>,
) {
    loop {
        if !done.start_cancellable() {
            return;
        }
        let outcome = match unless_cancelled(&done, Quiet(body)).await {
            Some(outcome) => outcome,
            None => return done.cancelled_now(),
        };
        let Some(rerun) = next_run::<F>(outcome, kept, &mut retries, done) else {
            return;
        };
        (kept, done) = (rerun.kept, rerun.done);
        body = match F::run(rerun.now) {
            TaskRun::Async(body) => body,
            // A fn is sync or async for good, so this never runs.
            TaskRun::Sync(body) => Box::pin(async move { body() }),
        };
    }
}

/// A sync task from its first run on, on a thread where blocking is allowed: runs `body` with
/// the task's resources, again from a copy of its arguments after a panic while `retries`
/// allow, and resolves `done`.
fn run_sync<F: RemoteFn>(
    mut body: Box<dyn FnOnce() -> F::Output + Send>,
    mut kept: Option<F::Args>,
    mut held: Option<Held>,
    mut retries: Option<u64>,
    mut done: Resolver<F::Output>,
) {
    loop {
        if done.is_cancelled() {
            return;
        }
        let run = || quiet(|| catch_unwind(AssertUnwindSafe(body)));
        let outcome = match held.take() {
            Some(mine) => {
                let (back, outcome) = mine.while_running(run);
                held = back;
                outcome
            }
            None => run(),
        };
        let Some(rerun) = next_run::<F>(outcome, kept, &mut retries, done) else {
            return;
        };
        (kept, done) = (rerun.kept, rerun.done);
        body = match F::run(rerun.now) {
            TaskRun::Sync(body) => body,
            // A fn is sync or async for good; were it not, this thread may block on it.
            TaskRun::Async(mut future) => Box::new(move || {
                loop {
                    // Without a deadline the wait ends only with the output.
                    if let Some(value) =
                        crate::blocking::block_until(None, |cx| future.as_mut().poll(cx))
                    {
                        return value;
                    }
                }
            }),
        };
    }
}

/// Sends a task of `F` through `router` and resolves `done` with what comes back; a cancel
/// resolves it at once, and asks the node that runs it to cancel it there.
async fn elsewhere<F: RemoteFn>(
    router: &dyn Router,
    options: TaskOptions,
    demand: Resources,
    args: Box<dyn Any + Send>,
    done: Resolver<F::Output>,
    label: ActorLabel,
) {
    let (result, answer) = crate::object_ref::detached_pair::<Box<dyn Any + Send>>();
    let sent = Sent {
        label,
        method: F::NAME,
        options,
        demand,
        args,
        answer: Box::new(move |outcome| answer.complete(outcome)),
    };
    let cancel = router.send(TypeId::of::<F>(), sent);
    match select(pin!(result.into_future()), pin!(done.cancelled())).await {
        Either::Left((Ok(value), _)) => match value.downcast::<F::Output>() {
            Ok(value) => done.complete(Ok(*value)),
            Err(_) => done.complete(Err(ActorError::Wire {
                message: "a task's result of another type".to_owned(),
            })),
        },
        Either::Left((Err(err), _)) => done.complete(Err(err)),
        // Cancelled (the ref says so already): stop it where it runs.
        Either::Right(((), _)) => cancel(),
    }
}

/// Whether a task of `F` goes to another process: the router routes it, and this process
/// does not host it or has not its resources free now.
fn leaves<F: RemoteFn>(router: &dyn Router, pool: &Pool, demand: &Resources) -> bool {
    match router.routes(TypeId::of::<F>()) {
        Some(hosts_here) => !hosts_here || !pool.fits_now(demand),
        None => false,
    }
}

/// Resolves to `timeout` once it has passed; never without one.
async fn in_time(timeout: Option<std::time::Duration>) -> std::time::Duration {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    match crate::wait::timer(timeout) {
        Ok(sleep) => {
            sleep.await;
            timeout
        }
        Err(err) => {
            tracing::error!(%err, "no timer for a task's resource_timeout; waiting without one");
            std::future::pending().await
        }
    }
}
