//! Where actors run: the runtime new actors and helio's small tasks are spawned on, and
//! helio's embedded runtime, which starts on first use.
//!
//! An actor runs on the tokio runtime it is created from, when that runtime is
//! multi-threaded: its calls and replies then stay on that runtime's workers, and a wake-up
//! never crosses into another runtime's shared inject queue (measured on 16 cores, that
//! crossing alone costs a raw tokio actor 98% of its throughput). Created anywhere else (sync
//! code, a current-thread runtime, another executor), it runs on helio's embedded multi-thread
//! runtime. `Config::runtime(handle)` pins every actor to one runtime instead.
//!
//! `init` and `shutdown` (`system.rs`) start and stop what is here; this module knows nothing
//! else of them.

use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};

use crate::error::RuntimeError;

/// How the embedded runtime is built, or the runtime every actor is pinned to.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) worker_threads: Option<usize>,
    pub(crate) thread_name: String,
    /// `Config::runtime`: every actor runs there, and no embedded runtime starts.
    pub(crate) pinned: Option<Handle>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            worker_threads: None,
            thread_name: "helio-worker".to_owned(),
            pinned: None,
        }
    }
}

impl Settings {
    fn build(&self) -> Result<Runtime, RuntimeError> {
        let mut builder = Builder::new_multi_thread();
        builder.enable_all().thread_name(self.thread_name.clone());
        if let Some(n) = self.worker_threads {
            builder.worker_threads(n);
        }
        Ok(builder.build()?)
    }
}

#[derive(Default)]
struct Embedded {
    settings: Settings,
    /// helio's own runtime, started on first need.
    runtime: Option<Runtime>,
}

impl Embedded {
    fn handle(&mut self) -> Result<Handle, RuntimeError> {
        if let Some(runtime) = &self.runtime {
            return Ok(runtime.handle().clone());
        }
        let runtime = self.settings.build()?;
        let handle = runtime.handle().clone();
        self.runtime = Some(runtime);
        Ok(handle)
    }
}

static EMBEDDED: Mutex<Option<Embedded>> = Mutex::new(None);
/// Set while `Config::runtime` pins the actors: skips the lock on the common path.
static PINNED: AtomicBool = AtomicBool::new(false);

fn lock() -> MutexGuard<'static, Option<Embedded>> {
    EMBEDDED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts with `settings` (the embedded runtime at once, unless pinned), then runs `then`
/// with the runtime helio's own tasks run on, all under the lock: when `then` fails, the
/// runtime stops again and nothing is left started.
///
/// # Errors
/// [`RuntimeError::AlreadyRunning`] when something started already; `Io` when the runtime's
/// threads cannot start; `then`'s error.
pub(crate) fn start(
    settings: Settings,
    then: impl FnOnce(Handle) -> Result<(), RuntimeError>,
) -> Result<(), RuntimeError> {
    let mut embedded = lock();
    if embedded.is_some() {
        return Err(RuntimeError::AlreadyRunning);
    }
    let (runtime, handle) = match &settings.pinned {
        Some(handle) => (None, handle.clone()),
        None => {
            let runtime = settings.build()?;
            let handle = runtime.handle().clone();
            (Some(runtime), handle)
        }
    };
    if let Err(err) = then(handle) {
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
        return Err(err);
    }
    PINNED.store(settings.pinned.is_some(), Ordering::Release);
    *embedded = Some(Embedded { settings, runtime });
    Ok(())
}

/// Forgets the settings and hands back the embedded runtime, if it started, to be shut down.
pub(crate) fn stop() -> Option<Runtime> {
    let embedded = lock().take();
    PINNED.store(false, Ordering::Release);
    embedded.and_then(|embedded| embedded.runtime)
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
    let mut embedded = lock();
    let embedded = embedded.get_or_insert_with(Embedded::default);
    match &embedded.settings.pinned {
        Some(handle) => Ok(handle.clone()),
        None => embedded.handle(),
    }
}

/// helio's embedded runtime (started if needed), whose timer serves waits from any executor.
pub(crate) fn timer_handle() -> Result<Handle, RuntimeError> {
    lock().get_or_insert_with(Embedded::default).handle()
}
