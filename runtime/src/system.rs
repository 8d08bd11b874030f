//! The embedded runtime: started lazily, configured by `init`, stopped by `shutdown`.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::runtime::{Builder, Handle, Runtime};

use crate::{error::RuntimeError, registry::Registry};

/// Configuration of helio's embedded runtime, for [`init`].
#[derive(Clone, Debug)]
pub struct Config {
    worker_threads: Option<usize>,
    thread_name: String,
    shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            worker_threads: None,
            thread_name: "helio-worker".to_owned(),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// The defaults: one worker thread per core, named `helio-worker`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads that run actors (at least 1).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = Some(n);
        self
    }

    /// The name of the runtime's threads.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// How long [`shutdown`] waits for blocking methods still running (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    fn build(&self) -> Result<System, RuntimeError> {
        let mut builder = Builder::new_multi_thread();
        builder.enable_time().thread_name(self.thread_name.clone());
        if let Some(n) = self.worker_threads {
            if n == 0 {
                return Err(RuntimeError::InvalidConfig(
                    "`worker_threads` must be at least 1".to_owned(),
                ));
            }
            builder.worker_threads(n);
        }
        Ok(System {
            runtime: builder.build()?,
            registry: Arc::default(),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

struct System {
    runtime: Runtime,
    registry: Arc<Registry>,
    shutdown_timeout: Duration,
}

static SYSTEM: Mutex<Option<System>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<System>> {
    SYSTEM.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts helio's runtime with `config`. Optional: the first helio call starts it with the
/// defaults otherwise.
///
/// # Errors
/// [`RuntimeError::AlreadyRunning`] when the runtime already runs; `InvalidConfig` or `Io`
/// when it cannot start.
pub fn init(config: Config) -> Result<(), RuntimeError> {
    let mut system = lock();
    if system.is_some() {
        return Err(RuntimeError::AlreadyRunning);
    }
    *system = Some(config.build()?);
    Ok(())
}

/// Stops every actor and the runtime. Calls still pending resolve to `ActorDied` with cause
/// `Shutdown`. The next helio call starts a fresh runtime.
///
/// Blocking methods still running get up to the configured shutdown timeout to finish.
pub fn shutdown() {
    let Some(system) = lock().take() else { return };
    let System {
        runtime,
        registry,
        shutdown_timeout,
    } = system;
    if Handle::try_current().is_ok() {
        // Inside async code a runtime may not block while it shuts down.
        runtime.shutdown_background();
    } else {
        runtime.shutdown_timeout(shutdown_timeout);
    }
    registry.clear();
}

/// The runtime's handle and registry, starting the runtime if needed.
pub(crate) fn handles() -> Result<(Handle, Arc<Registry>), RuntimeError> {
    let mut system = lock();
    if system.is_none() {
        *system = Some(Config::default().build()?);
    }
    match system.as_ref() {
        Some(system) => Ok((
            system.runtime.handle().clone(),
            Arc::clone(&system.registry),
        )),
        None => Err(RuntimeError::InvalidConfig(
            "the runtime did not start".to_owned(),
        )),
    }
}
