//! The process-wide lifecycle: [`Config`], [`init`] and [`shutdown`], and what this node has
//! for tasks ([`task_pool`]). Where actors run is `embedded.rs`.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::{
    actor::Kill,
    embedded,
    error::{DeathCause, RuntimeError},
    registry,
    resource_pool::Pool,
    roster,
    state::ActorState,
};

/// Configuration of helio's runtime, for [`init`].
///
/// ```
/// let config = helio_runtime::Config::new().worker_threads(2).thread_name("actors");
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    worker_threads: Option<usize>,
    thread_name: String,
    shutdown_timeout: Duration,
    runtime: Option<Handle>,
    /// What this node has for tasks (and, in a cluster, for placed actors).
    resources: crate::asked::Asked,
    /// Cluster mode, when `helio-cluster` configured it: started by [`init`].
    extension: Option<Arc<dyn crate::seam::hooks::Extension>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            worker_threads: None,
            thread_name: "helio-worker".to_owned(),
            shutdown_timeout: Duration::from_secs(5),
            runtime: None,
            resources: crate::asked::Asked::default(),
            extension: None,
        }
    }
}

impl Config {
    /// The defaults: actors run on the multi-thread runtime they are created from, else on an
    /// embedded runtime with one worker thread per core, named `helio-worker`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads of the embedded runtime (at least 1).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = Some(n);
        self
    }

    /// The name of the embedded runtime's threads (no NUL bytes).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// How long [`shutdown`] waits for blocking methods still running (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Runs every actor on the runtime of `handle`, wherever it is created. The runtime must
    /// be multi-threaded (a current-thread runtime only runs while someone blocks on it) and
    /// must outlive the actors: when it shuts down, its actors die with cause `Shutdown`.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    /// helio_runtime::init(helio_runtime::Config::new().runtime(rt.handle().clone())).unwrap();
    /// # helio_runtime::shutdown();
    /// ```
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// How many CPUs this node has for tasks (default: its core count, as Ray counts them).
    /// At most this many CPU units of tasks run at once; a task asks for 1 by default
    /// (`TaskOptions::num_cpus`), and one asking for more than the node has fails at once.
    ///
    /// ```
    /// let config = helio_runtime::Config::new().num_cpus(4.0).num_gpus(1.0).resource("ssd", 2.0);
    /// # let _ = config;
    /// ```
    pub fn num_cpus(mut self, cpus: f64) -> Self {
        self.resources.set_cpus(cpus);
        self
    }

    /// How many GPUs this node has (default 0): tasks asking for `num_gpus` run only where
    /// there are enough. The GPUs have ids `0..n`, or those listed in `CUDA_VISIBLE_DEVICES`
    /// when it is set (`init` fails when it lists fewer); a task or actor reads the ones it
    /// holds with [`get_gpu_ids`](crate::get_gpu_ids).
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.resources.set_gpus(gpus);
        self
    }

    /// A custom resource this node has `amount` of (Ray's `resources={"ssd": 2}`): tasks
    /// asking for it with `TaskOptions::resource` run only where there is enough. Setting a
    /// name again replaces its amount.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.resources.set(name.into(), amount);
        self
    }

    /// Starts `extension` (cluster mode) with the runtime at [`init`], and stops it at
    /// [`shutdown`]. For `helio-cluster`; not a stable API.
    #[doc(hidden)]
    pub fn extension(mut self, extension: Arc<dyn crate::seam::hooks::Extension>) -> Self {
        self.extension = Some(extension);
        self
    }

    /// What this node has, as a ledger's total; an error names the bad amount.
    pub(crate) fn node_resources(&self) -> Result<crate::resources::Resources, RuntimeError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.resources
            .declared(cores as f64, 0.0)
            .map_err(|err| RuntimeError::InvalidConfig(format!("this node's resources: {err}")))
    }

    /// This node's ledger: its resources, and its GPUs' ids (`0..n`, or those listed in
    /// `CUDA_VISIBLE_DEVICES` when it is set); an error names what is wrong.
    pub(crate) fn node_ledger(&self) -> Result<crate::resources::Ledger, RuntimeError> {
        use crate::resources::{GPU, Ledger, visible_gpu_ids};
        let total = self.node_resources()?;
        let Ok(listed) = std::env::var("CUDA_VISIBLE_DEVICES") else {
            return Ok(Ledger::new(total));
        };
        let count = Ledger::gpu_count(total.get(GPU));
        match visible_gpu_ids(&listed, count) {
            Ok(Some(ids)) => Ok(Ledger::with_gpu_ids(total, ids)),
            Ok(None) => {
                tracing::warn!(
                    %listed,
                    "CUDA_VISIBLE_DEVICES holds device names, not indices: GPU ids are 0..{count}"
                );
                Ok(Ledger::new(total))
            }
            Err(message) => Err(RuntimeError::InvalidConfig(format!(
                "this node's resources: {message}"
            ))),
        }
    }

    fn check(&self) -> Result<(), RuntimeError> {
        self.node_ledger()?;
        if self.worker_threads == Some(0) {
            return Err(RuntimeError::InvalidConfig(
                "`worker_threads` must be at least 1".to_owned(),
            ));
        }
        if self.thread_name.contains('\0') {
            return Err(RuntimeError::InvalidConfig(format!(
                "`thread_name` must not contain a NUL byte: {:?}",
                self.thread_name
            )));
        }
        if let Some(handle) = &self.runtime
            && handle.runtime_flavor() != RuntimeFlavor::MultiThread
        {
            return Err(RuntimeError::InvalidConfig(
                "`runtime` must be a multi-thread tokio runtime".to_owned(),
            ));
        }
        Ok(())
    }

    /// How the embedded runtime is built, or where every actor is pinned.
    fn settings(&self) -> embedded::Settings {
        embedded::Settings {
            worker_threads: self.worker_threads,
            thread_name: self.thread_name.clone(),
            pinned: self.runtime.clone(),
        }
    }
}

#[derive(Default)]
struct System {
    config: Config,
    /// What this node has for tasks, made on first need.
    tasks: Option<Arc<Pool>>,
}

impl System {
    fn tasks(&mut self) -> Arc<Pool> {
        let config = &self.config;
        Arc::clone(self.tasks.get_or_insert_with(|| {
            // Checked by `init`; the defaults are valid (a bad CUDA_VISIBLE_DEVICES aside:
            // then no GPUs have ids).
            Pool::with_ledger(config.node_ledger().unwrap_or_else(|err| {
                tracing::warn!(%err, "this node's GPUs have no ids");
                crate::resources::Ledger::new(config.node_resources().unwrap_or_default())
            }))
        }))
    }
}

static SYSTEM: Mutex<Option<System>> = Mutex::new(None);

/// What [`shutdown`] runs besides stopping the actors (forgetting the placement groups).
static AT_SHUTDOWN: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Runs `hook` at every [`shutdown`] from now on (once, however often it is added).
pub(crate) fn at_shutdown(hook: fn()) {
    let mut hooks = AT_SHUTDOWN.lock().unwrap_or_else(PoisonError::into_inner);
    if !hooks.iter().any(|known| std::ptr::fn_addr_eq(*known, hook)) {
        hooks.push(hook);
    }
}

fn lock() -> MutexGuard<'static, Option<System>> {
    SYSTEM.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Configures helio. Optional: the first helio call uses the defaults otherwise.
///
/// Starts the embedded runtime at once unless `config` pins actors to a runtime of yours.
///
/// ```
/// helio_runtime::init(helio_runtime::Config::new().worker_threads(2)).unwrap();
/// assert!(helio_runtime::init(helio_runtime::Config::new()).is_err()); // already running
/// helio_runtime::shutdown();
/// ```
///
/// # Errors
/// `InvalidConfig` for a bad configuration; [`RuntimeError::AlreadyRunning`] when helio is
/// already configured or running; `Io` when the runtime's threads cannot start.
pub fn init(config: Config) -> Result<(), RuntimeError> {
    config.check()?;
    let mut system = lock();
    if system.is_some() {
        return Err(RuntimeError::AlreadyRunning);
    }
    let extension = config.extension.clone();
    embedded::start(config.settings(), |handle| match &extension {
        Some(extension) => extension.start(handle),
        None => Ok(()),
    })?;
    *system = Some(System {
        config,
        tasks: None,
    });
    Ok(())
}

/// Stops every actor (wherever it runs) and helio's embedded runtime. Calls still pending
/// resolve to `ActorDied` with cause `Shutdown`, streams end with that error, and every
/// actor's state is `Dead(Shutdown)`. The next helio call starts afresh.
///
/// Blocking methods still running get up to the configured shutdown timeout to finish.
pub fn shutdown() {
    let system = lock().take();
    let runtime = embedded::stop();
    for actor in roster::all() {
        actor.set_state(ActorState::Dead(DeathCause::Shutdown));
        actor.request_kill(Kill::Shutdown);
    }
    registry::global().clear();
    let hooks: Vec<fn()> = AT_SHUTDOWN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for hook in hooks {
        hook();
    }
    if let Some(extension) = system.as_ref().and_then(|s| s.config.extension.as_ref()) {
        extension.stop();
    }
    let timeout = system.map_or_else(
        || Config::default().shutdown_timeout,
        |system| system.config.shutdown_timeout,
    );
    if let Some(runtime) = runtime {
        if Handle::try_current().is_ok() {
            // Inside async code a runtime may not block while it shuts down.
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(timeout);
        }
    }
}

/// This node's resources for tasks, sized by the configuration (`Config::num_cpus` ..).
pub(crate) fn task_pool() -> Arc<Pool> {
    lock().get_or_insert_with(System::default).tasks()
}
