//! [`runtime_context`]: what the running code is, as Ray's `ray.get_runtime_context()` says:
//! its node, the actor whose method runs, or the task whose body runs, and what each holds.
//!
//! The actor comes from its driver's task-local (`lifecycle.rs`); a task's is set here, around
//! its body: a task-local for an async body, a thread-local for a sync one (its runner thread
//! is its own while it runs).

use std::{cell::RefCell, future::Future};

use crate::{ActorId, ActorLabel, NodeId, current_node, resources::Resources};

/// What [`runtime_context`] says of the code that calls it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RuntimeContext {
    /// This process's node, in cluster mode.
    pub node: Option<NodeId>,
    /// The actor whose method (or constructor) runs here, if any. `None` in a `blocking`
    /// method and in what a method spawns: they run outside the actor's task.
    pub actor: Option<ActorContext>,
    /// The task (`#[remote] fn`) whose body runs here, if any.
    pub task: Option<TaskContext>,
}

/// The actor in a [`RuntimeContext`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ActorContext {
    /// Its id.
    pub id: ActorId,
    /// Its type's path.
    pub type_name: &'static str,
    /// Its namespace and name, if it is named.
    pub name: Option<(String, String)>,
    /// How many times it restarted (a crash, or a move to another node in cluster mode).
    pub restarts: u32,
    /// The resources it holds while it lives (`num_cpus`, `num_gpus`, custom), by name.
    pub resources: Vec<(String, f64)>,
    /// The ids of the GPUs it holds (see [`get_gpu_ids`]).
    pub gpu_ids: Vec<u32>,
}

impl ActorContext {
    /// Whether this instance is a restart (Ray's `was_current_actor_reconstructed`).
    pub fn was_reconstructed(&self) -> bool {
        self.restarts > 0
    }
}

/// The task in a [`RuntimeContext`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TaskContext {
    /// The fn's path, or the name its options gave the call.
    pub name: String,
    /// The resources it holds while it runs (`CPU` 1 by default), by name.
    pub resources: Vec<(String, f64)>,
    /// The ids of the GPUs it holds (see [`get_gpu_ids`]).
    pub gpu_ids: Vec<u32>,
}

/// What the running code is: Ray's `ray.get_runtime_context()`.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote(num_cpus = 0.5)]
/// fn whoami() -> String {
///     let context = helio::runtime_context();
///     let task = context.task.expect("in a task");
///     format!("{} holding {:?}", task.name, task.resources)
/// }
///
/// pub struct Named;
///
/// #[actor]
/// impl Named {
///     pub fn new() -> Self {
///         Named
///     }
///
///     #[remote_method]
///     pub fn name(&self) -> Option<(String, String)> {
///         helio::runtime_context().actor.and_then(|actor| actor.name)
///     }
/// }
///
/// let said = helio::get(whoami.remote()).unwrap();
/// assert!(said.ends_with("whoami holding [(\"CPU\", 0.5)]"), "{said}");
/// let named = Named::new_actor()
///     .options(ActorOptions::new().name("named"))
///     .remote();
/// assert_eq!(
///     helio::get(named.methods().name().remote()).unwrap(),
///     Some(("default".to_owned(), "named".to_owned()))
/// );
/// assert_eq!(helio::runtime_context().actor, None);
/// ```
pub fn runtime_context() -> RuntimeContext {
    RuntimeContext {
        node: current_node(),
        actor: current_actor(),
        task: current_task(),
    }
}

/// The actor whose driver runs here.
fn current_actor() -> Option<ActorContext> {
    crate::lifecycle::with_current(|shared, demand| {
        let label = &shared.label;
        let name = label.name().map(|full| match full.split_once('/') {
            Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
            None => (crate::DEFAULT_NAMESPACE.to_owned(), full.to_owned()),
        });
        ActorContext {
            id: shared.id,
            type_name: label.type_name(),
            name,
            restarts: shared.restarts(),
            resources: demand.listed(),
            gpu_ids: crate::lifecycle::current_gpu_ids().unwrap_or_default(),
        }
    })
}

/// A task whose body runs, as kept while it runs: cheap to make (no allocation for a task
/// that asks for CPUs and GPUs only); its [`TaskContext`] is made when asked for.
#[derive(Clone)]
pub(crate) struct Running {
    pub(crate) label: ActorLabel,
    pub(crate) demand: Resources,
    /// The GPUs its grant holds, by id (set once it holds them).
    pub(crate) gpu_ids: Vec<u32>,
}

tokio::task_local! {
    /// The async task whose body runs.
    static TASK: Running;
}

thread_local! {
    /// The sync task whose body runs on this thread.
    static SYNC_TASK: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Runs the async task body `body` as the task `running`.
pub(crate) fn scope_task<F: Future>(running: Running, body: F) -> impl Future<Output = F::Output> {
    TASK.scope(running, body)
}

/// Runs the sync task body `body` on this thread as the task `running`.
pub(crate) fn in_sync_task<R>(running: Running, body: impl FnOnce() -> R) -> R {
    struct Reset(Option<Running>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let before = self.0.take();
            let _ = SYNC_TASK.try_with(|task| *task.borrow_mut() = before);
        }
    }
    let before = SYNC_TASK
        .try_with(|task| task.borrow_mut().replace(running))
        .ok()
        .flatten();
    let _reset = Reset(before);
    body()
}

impl Running {
    /// This task, holding `held`.
    pub(crate) fn holding(mut self, held: &crate::resource_pool::Held) -> Self {
        self.gpu_ids = held.gpu_ids();
        self
    }

    fn context(&self) -> TaskContext {
        TaskContext {
            name: self
                .label
                .name()
                .unwrap_or(self.label.type_name())
                .to_owned(),
            resources: self.demand.listed(),
            gpu_ids: self.gpu_ids.clone(),
        }
    }
}

fn current_task() -> Option<TaskContext> {
    TASK.try_with(Running::context).ok().or_else(|| {
        SYNC_TASK
            .try_with(|task| task.borrow().as_ref().map(Running::context))
            .ok()
            .flatten()
    })
}

/// The ids of the GPUs the running task or actor holds: Ray's `ray.get_gpu_ids()`. Empty
/// outside tasks and actors, and in those that ask for no GPUs.
///
/// A node's GPUs are numbered `0..n` for `Config::num_gpus(n)`, or carry the ids listed in
/// `CUDA_VISIBLE_DEVICES` when it is set. Holders at the same moment get distinct GPUs; a
/// fraction (`num_gpus = 0.5`) shares one with other fractions, packed onto GPUs already
/// shared before whole ones are split. The ids are given back when the task ends or the
/// actor dies. In a cluster, they are the ids of the node that runs the code.
///
/// Unlike Ray, helio does not set `CUDA_VISIBLE_DEVICES` for the code (its tasks share one
/// process): pick the device from these ids.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote(num_gpus = 1, num_cpus = 0)]
/// fn which_gpu() -> Vec<u32> {
///     helio::get_gpu_ids()
/// }
///
/// helio_runtime::init(helio_runtime::Config::new().num_gpus(2.0)).unwrap();
/// let (a, b) = (which_gpu.remote(), which_gpu.remote());
/// let (a, b) = (helio::get(a).unwrap(), helio::get(b).unwrap());
/// assert_eq!(a.len(), 1);
/// assert!(a[0] < 2 && b[0] < 2);
/// assert!(helio::get_gpu_ids().is_empty()); // outside tasks and actors
/// # helio_runtime::shutdown();
/// ```
pub fn get_gpu_ids() -> Vec<u32> {
    let task = TASK.try_with(|task| task.gpu_ids.clone()).ok().or_else(|| {
        SYNC_TASK
            .try_with(|task| task.borrow().as_ref().map(|task| task.gpu_ids.clone()))
            .ok()
            .flatten()
    });
    task.or_else(crate::lifecycle::current_gpu_ids)
        .unwrap_or_default()
}
