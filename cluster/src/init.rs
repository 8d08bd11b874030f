//! [`Config`] and [`init`]: how a process starts helio in cluster mode.
//!
//! `Config` is the runtime's configuration plus where the cluster is. `init` hands the
//! runtime a [`Joiner`] through the seam's [`Extension`]: the runtime starts it with its
//! handle, and stops it at `shutdown`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use helio_runtime::{RuntimeError, seam::Extension};
use tokio::runtime::Handle;

use crate::ClusterConfig;

/// Configuration of helio, for [`init`]: the runtime's settings (as
/// `helio_runtime::Config`), and in cluster mode where the cluster is.
///
/// ```
/// let config = helio_cluster::Config::new().worker_threads(2).thread_name("actors");
/// # let _ = config;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Config {
    local: helio_runtime::Config,
    cluster: Option<ClusterConfig>,
}

/// The runtime's settings, as `helio_runtime::Config` has them.
impl Config {
    /// The defaults: actors run on the multi-thread runtime they are created from, else on an
    /// embedded runtime with one worker thread per core, named `helio-worker`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads of the embedded runtime (at least 1).
    pub fn worker_threads(self, n: usize) -> Self {
        self.local(|c| c.worker_threads(n))
    }

    /// The name of the embedded runtime's threads (no NUL bytes).
    pub fn thread_name(self, name: impl Into<String>) -> Self {
        self.local(|c| c.thread_name(name))
    }

    /// How long `shutdown` waits for blocking methods still running (default 5 s).
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.local(|c| c.shutdown_timeout(timeout))
    }

    /// Runs every actor on the runtime of `handle`, wherever it is created (see
    /// `helio_runtime::Config::runtime`).
    pub fn runtime(self, handle: Handle) -> Self {
        self.local(|c| c.runtime(handle))
    }

    /// How many CPUs this node has for tasks and placed actors (default: its core count).
    pub fn num_cpus(self, cpus: f64) -> Self {
        self.local(|c| c.num_cpus(cpus))
    }

    /// How many GPUs this node has (default 0).
    pub fn num_gpus(self, gpus: f64) -> Self {
        self.local(|c| c.num_gpus(gpus))
    }

    /// A custom resource this node has `amount` of (Ray's `resources={"ssd": 2}`).
    pub fn resource(self, name: impl Into<String>, amount: f64) -> Self {
        self.local(|c| c.resource(name, amount))
    }

    fn local(mut self, set: impl FnOnce(helio_runtime::Config) -> helio_runtime::Config) -> Self {
        self.local = set(self.local);
        self
    }
}

/// Cluster mode.
impl Config {
    /// Joins the helio cluster on the NATS server at `url` (any server ≥ 2.9, with JetStream
    /// enabled: `nats-server -js`). [`init`] connects, and fails naming the url and the cause
    /// when the server is unreachable or refuses the credentials.
    ///
    /// `url` may name several servers of one NATS cluster, comma-separated
    /// (`"nats://a:4222,nats://b:4222,nats://c:4222"`, or [`servers`](Config::servers)): the
    /// process connects to one of them and moves to another when it goes away.
    ///
    /// ```no_run
    /// helio_cluster::init(
    ///     helio_cluster::Config::cluster("nats://127.0.0.1:4222")
    ///         .cluster_name("prod")
    ///         .node_name("worker-1")
    ///         .token("s3cret"),
    /// )?;
    /// # Ok::<(), helio_runtime::RuntimeError>(())
    /// ```
    pub fn cluster(url: impl Into<String>) -> Self {
        Config {
            cluster: Some(ClusterConfig::new(url.into())),
            ..Config::default()
        }
    }

    fn cluster_mut(&mut self) -> &mut ClusterConfig {
        // Set without `Config::cluster(url)`: `init` reports the missing url.
        self.cluster
            .get_or_insert_with(|| ClusterConfig::new(String::new()))
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
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
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
    pub fn tls_root_certificates(mut self, pem: impl Into<PathBuf>) -> Self {
        self.cluster_mut().add_tls_root_certificates(pem.into());
        self
    }

    /// Authenticates with a client certificate and its key (PEM files), and requires TLS.
    pub fn tls_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
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
    /// helio_cluster::init(
    ///     helio_cluster::Config::cluster("nats://127.0.0.1:4222").host(false),
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
    /// let config = helio_cluster::Config::cluster("nats://127.0.0.1:4222")
    ///     .dead_actors_kept(10_000, Duration::from_secs(600));
    /// ```
    pub fn dead_actors_kept(mut self, most: usize, longest: Duration) -> Self {
        self.cluster_mut().set_retention(most, longest);
        self
    }

    /// How long the cluster's object store keeps a value of `put_durable` that nothing
    /// deleted (default: a day). It applies when the store is first created (the first
    /// `put_durable` of the cluster); change it later on the bucket `helio_<cluster>_objects`
    /// with the `nats` CLI.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = helio_cluster::Config::cluster("nats://127.0.0.1:4222")
    ///     .durable_objects_kept(Duration::from_secs(3600));
    /// ```
    pub fn durable_objects_kept(mut self, kept: Duration) -> Self {
        self.cluster_mut().set_durable_kept(kept);
        self
    }

    /// Joins the helio cluster on the servers of one NATS cluster, named by their urls: the
    /// process connects to one of them and moves to another when it goes away. The same as
    /// [`Config::cluster`] with the urls comma-separated.
    ///
    /// ```no_run
    /// let config = helio_cluster::Config::default().servers([
    ///     "nats://10.0.0.1:4222",
    ///     "nats://10.0.0.2:4222",
    ///     "nats://10.0.0.3:4222",
    /// ]);
    /// helio_cluster::init(config)?;
    /// # Ok::<(), helio_runtime::RuntimeError>(())
    /// ```
    pub fn servers<S: AsRef<str>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        let urls: Vec<String> = urls
            .into_iter()
            .map(|url| url.as_ref().to_owned())
            .collect();
        match &mut self.cluster {
            Some(cluster) => cluster.url = urls.join(","),
            None => self.cluster = Some(ClusterConfig::new(urls.join(","))),
        }
        self
    }

    /// How many servers keep a copy of each JetStream stream helio creates (the registry of
    /// names and nodes, the store of durable values), 1 to 5. By default 3 when the server
    /// helio connects to is part of a NATS cluster of at least 3 servers, else 1: with 3, the
    /// cluster loses any one server and keeps them all. A stream made earlier with fewer is
    /// raised to this count when a process joins.
    ///
    /// ```
    /// let config = helio_cluster::Config::cluster("nats://a:4222,nats://b:4222,nats://c:4222")
    ///     .replicas(3);
    /// # let _ = config;
    /// ```
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.cluster_mut().set_replicas(replicas);
        self
    }
}

impl From<Config> for helio_runtime::Config {
    fn from(config: Config) -> Self {
        match config.cluster {
            Some(cluster) => config.local.extension(Arc::new(Joiner(cluster))),
            None => config.local,
        }
    }
}

/// Configures helio, and in cluster mode joins the cluster (see `helio_runtime::init`).
///
/// ```
/// helio_cluster::init(helio_cluster::Config::new().worker_threads(2)).unwrap();
/// helio_runtime::shutdown();
/// ```
///
/// # Errors
/// As `helio_runtime::init`, and [`RuntimeError::Cluster`] when the cluster cannot be joined
/// (the url and the cause), `InvalidConfig` for a bad cluster setting.
pub fn init(config: Config) -> Result<(), RuntimeError> {
    helio_runtime::init(config.into())
}

/// Joins the cluster when the runtime starts, and leaves it at shutdown.
#[derive(Debug)]
struct Joiner(ClusterConfig);

impl Extension for Joiner {
    fn start(&self, handle: Handle) -> Result<(), RuntimeError> {
        crate::start(&self.0, handle)
    }

    fn stop(&self) {
        crate::stop();
    }
}
