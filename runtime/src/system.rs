//! Where actors run, and the process-wide lifecycle: `init` and `shutdown`.
//!
//! # Where actors run
//! An actor runs on the tokio runtime it is created from, when that runtime is
//! multi-threaded: its calls and replies then stay on that runtime's workers, and a wake-up
//! never crosses into another runtime's shared inject queue (measured on 16 cores, that
//! crossing alone costs a raw tokio actor 98% of its throughput). Created anywhere else (sync
//! code, a current-thread runtime, another executor), it runs on helio's embedded multi-thread
//! runtime, which starts on first use. `Config::runtime(handle)` pins every actor to one
//! runtime instead.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};

use crate::{
    actor::Kill,
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
    num_cpus: Option<f64>,
    num_gpus: f64,
    resources: Vec<(String, f64)>,
    #[cfg(feature = "cluster")]
    cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            worker_threads: None,
            thread_name: "helio-worker".to_owned(),
            shutdown_timeout: Duration::from_secs(5),
            runtime: None,
            num_cpus: None,
            num_gpus: 0.0,
            resources: Vec::new(),
            #[cfg(feature = "cluster")]
            cluster: None,
        }
    }
}

/// Cluster mode (feature `cluster`).
#[cfg(feature = "cluster")]
impl Config {
    /// Joins the helio cluster on the NATS server at `url` (any server ≥ 2.9, with JetStream
    /// enabled: `nats-server -js`). [`init`] connects, and fails naming the url and the cause
    /// when the server is unreachable or refuses the credentials.
    ///
    /// ```no_run
    /// helio_runtime::init(
    ///     helio_runtime::Config::cluster("nats://127.0.0.1:4222")
    ///         .cluster_name("prod")
    ///         .node_name("worker-1")
    ///         .token("s3cret"),
    /// )?;
    /// # Ok::<(), helio_runtime::RuntimeError>(())
    /// ```
    pub fn cluster(url: impl Into<String>) -> Self {
        Config {
            cluster: Some(crate::cluster::ClusterConfig::new(url.into())),
            ..Config::default()
        }
    }

    fn cluster_mut(&mut self) -> &mut crate::cluster::ClusterConfig {
        // Set without `Config::cluster(url)`: `init` reports the missing url.
        self.cluster
            .get_or_insert_with(|| crate::cluster::ClusterConfig::new(String::new()))
    }

    /// Isolates clusters sharing one NATS server (default `"helio"`; no dots, `*`, `>` or
    /// whitespace).
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_mut().set_cluster_name(name.into());
        self
    }

    /// A label for this process in status views (default `host-pid`).
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_mut().set_node_name(name.into());
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.cluster_mut().set_token(token.into());
        self
    }

    /// Authenticates with a user name and password.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.cluster_mut()
            .set_user_password(user.into(), password.into());
        self
    }

    /// Authenticates with an NKey seed.
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.cluster_mut().set_nkey(seed.into());
        self
    }

    /// Authenticates with a NATS credentials file (JWT and NKey seed).
    pub fn credentials_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.cluster_mut().set_credentials_file(path.into());
        self
    }

    /// Requires TLS to the server (also implied by a `tls://` url and by the two options
    /// below).
    pub fn require_tls(mut self, required: bool) -> Self {
        self.cluster_mut().set_tls_required(required);
        self
    }

    /// Trusts the certificate authorities in the PEM file `pem` for the server's certificate
    /// (besides the system's), and requires TLS.
    pub fn tls_root_certificates(mut self, pem: impl Into<std::path::PathBuf>) -> Self {
        self.cluster_mut().add_tls_root_certificates(pem.into());
        self
    }

    /// Authenticates with a client certificate and its key (PEM files), and requires TLS.
    pub fn tls_client_certificate(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.cluster_mut()
            .set_tls_client_certificate(cert.into(), key.into());
        self
    }

    /// How long another node may be silent before this process pings it, and fails the
    /// calls it owes with `ActorUnavailable` when it does not answer either (default 3 s).
    ///
    /// It also fences: a process that hears nothing back from the server for two thirds of
    /// it stops the detached actors it hosts, before another node may restart them, so that
    /// no actor runs twice. Once it hears the server again, each of them whose record still
    /// names this process starts again here (a restart, counted against `max_restarts`).
    /// Set it above the NATS outages you want to ride out without restarts.
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.cluster_mut().set_node_timeout(timeout);
        self
    }

    /// How long `init` waits for the server (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.cluster_mut().set_connect_timeout(timeout);
        self
    }

    /// Whether this process hosts actors for the cluster (default `true`). A client-only
    /// process (`false`: a CLI, a web front end, a batch driver) creates and calls actors of
    /// its registered types like any other, but no other process places an actor on it:
    /// `Placement::Any` never picks it, `Placement::Node` to it is refused, and it never
    /// restarts a dead node's actors. Actors it creates with `Placement::Local` (the
    /// default) still run here.
    ///
    /// ```no_run
    /// helio_runtime::init(
    ///     helio_runtime::Config::cluster("nats://127.0.0.1:4222").host(false),
    /// )?;
    /// # Ok::<(), helio_runtime::RuntimeError>(())
    /// ```
    pub fn host(mut self, hosts: bool) -> Self {
        self.cluster_mut().set_hosts(hosts);
        self
    }

    /// How many records of dead actors the registry keeps, and for how long (default: the
    /// last 1000, for at most an hour). A call to an actor that died for good resolves to
    /// `ActorDied` with its cause, from any process, while its record is kept; after that,
    /// as for an actor that never existed. Every node drops the records beyond the retention
    /// now and then (about every 30 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = helio_runtime::Config::cluster("nats://127.0.0.1:4222")
    ///     .dead_actors_kept(10_000, Duration::from_secs(600));
    /// ```
    pub fn dead_actors_kept(mut self, most: usize, longest: Duration) -> Self {
        self.cluster_mut().set_retention(most, longest);
        self
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
        self.num_cpus = Some(cpus);
        self
    }

    /// How many GPUs this node has (default 0): tasks asking for `num_gpus` run only where
    /// there are enough. helio hands out the units; which device a task uses is its own
    /// business, as in Ray.
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.num_gpus = gpus;
        self
    }

    /// A custom resource this node has `amount` of (Ray's `resources={"ssd": 2}`): tasks
    /// asking for it with `TaskOptions::resource` run only where there is enough. Setting a
    /// name again replaces its amount.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        crate::resources::set_named(&mut self.resources, name.into(), amount);
        self
    }

    /// What this node has, as a ledger's total; an error names the bad amount.
    pub(crate) fn node_resources(&self) -> Result<crate::resources::Resources, RuntimeError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let custom = self.resources.iter().map(|(name, x)| (name.as_str(), *x));
        crate::resources::declared(self.num_cpus.unwrap_or(cores as f64), self.num_gpus, custom)
            .map_err(|err| RuntimeError::InvalidConfig(format!("this node's resources: {err}")))
    }

    fn check(&self) -> Result<(), RuntimeError> {
        self.node_resources()?;
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

    fn build_embedded(&self) -> Result<Runtime, RuntimeError> {
        let mut builder = Builder::new_multi_thread();
        builder.enable_all().thread_name(self.thread_name.clone());
        if let Some(n) = self.worker_threads {
            builder.worker_threads(n);
        }
        Ok(builder.build()?)
    }
}

#[derive(Default)]
struct System {
    config: Config,
    /// helio's own runtime, started on first need.
    embedded: Option<Runtime>,
    /// What this node has for tasks, made on first need.
    tasks: Option<Arc<Pool>>,
}

impl System {
    fn embedded(&mut self) -> Result<Handle, RuntimeError> {
        if let Some(runtime) = &self.embedded {
            return Ok(runtime.handle().clone());
        }
        let runtime = self.config.build_embedded()?;
        let handle = runtime.handle().clone();
        self.embedded = Some(runtime);
        Ok(handle)
    }

    fn tasks(&mut self) -> Arc<Pool> {
        let config = &self.config;
        Arc::clone(self.tasks.get_or_insert_with(|| {
            // Checked by `init`; the defaults are always valid.
            Pool::new(config.node_resources().unwrap_or_default())
        }))
    }
}

static SYSTEM: Mutex<Option<System>> = Mutex::new(None);
/// Set while `Config::runtime` pins the actors: skips the lock on the common path.
static PINNED: AtomicBool = AtomicBool::new(false);

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
    let embedded = match config.runtime {
        Some(_) => None,
        None => Some(config.build_embedded()?),
    };
    #[cfg(feature = "cluster")]
    if let Some(cluster) = &config.cluster {
        let handle = config
            .runtime
            .clone()
            .or_else(|| embedded.as_ref().map(|runtime| runtime.handle().clone()));
        let started = match handle {
            Some(handle) => crate::cluster::start(cluster, handle),
            None => Err(RuntimeError::InvalidConfig(
                "no runtime for the cluster".into(),
            )),
        };
        if let Err(err) = started {
            if let Some(runtime) = embedded {
                runtime.shutdown_background();
            }
            return Err(err);
        }
    }
    PINNED.store(config.runtime.is_some(), Ordering::Release);
    *system = Some(System {
        config,
        embedded,
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
    PINNED.store(false, Ordering::Release);
    for actor in roster::all() {
        actor.set_state(ActorState::Dead(DeathCause::Shutdown));
        actor.request_kill(Kill::Shutdown);
    }
    registry::global().clear();
    #[cfg(feature = "cluster")]
    crate::cluster::stop();
    let Some(System {
        config, embedded, ..
    }) = system
    else {
        return;
    };
    if let Some(runtime) = embedded {
        if Handle::try_current().is_ok() {
            // Inside async code a runtime may not block while it shuts down.
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(config.shutdown_timeout);
        }
    }
}

/// The runtime new actors (and the small tasks that serve calls) run on: the pinned one, else
/// the current multi-thread runtime, else the embedded one (started if needed).
pub(crate) fn spawn_handle() -> Result<Handle, RuntimeError> {
    if !PINNED.load(Ordering::Acquire)
        && let Ok(handle) = Handle::try_current()
        && handle.runtime_flavor() == RuntimeFlavor::MultiThread
    {
        return Ok(handle);
    }
    let mut system = lock();
    let system = system.get_or_insert_with(System::default);
    match &system.config.runtime {
        Some(handle) => Ok(handle.clone()),
        None => system.embedded(),
    }
}

/// helio's embedded runtime (started if needed), whose timer serves waits from any executor.
pub(crate) fn timer_handle() -> Result<Handle, RuntimeError> {
    let mut system = lock();
    system.get_or_insert_with(System::default).embedded()
}

/// This node's resources for tasks, sized by the configuration (`Config::num_cpus` ..).
pub(crate) fn task_pool() -> Arc<Pool> {
    lock().get_or_insert_with(System::default).tasks()
}
