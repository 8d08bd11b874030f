//! Where sync task bodies run: a few threads where blocking is allowed, each serving a shared
//! line of bodies until it is empty.
//!
//! A sync task may block (a `get` on a subtask) or compute for long, so it must not run on a
//! runtime worker as it is. `block_in_place` makes a worker such a thread, but hands the
//! worker's other tasks to a new thread each time: for a tiny task that costs more than the
//! task. So a *runner* enters `block_in_place` once and runs every body in [`SyncRunners`]'
//! line, leaving when the line is empty.
//!
//! - **How many.** At most one runner per worker of the runtime serves the line, which is
//!   enough to keep every core busy (a task's `num_cpus` limits how many run at once anyway).
//! - **No starvation.** A runner whose body blocks in `helio::get` stops counting while it
//!   waits ([`blocking_here`]), and a new runner takes the line if bodies wait in it: the
//!   subtask a body waits for never waits behind it. A body that blocks on anything else (a
//!   sleep, a lock, I/O) or computes for long cannot say so; instead a watch looks at the line
//!   every [`WATCH`] while bodies wait in it, and starts one more runner each time the line did
//!   not move. So bodies that block run side by side after a short ramp, as many as their
//!   `num_cpus` allow, and tiny bodies still share a few runners.
//! - **Shutdown.** A runner that its runtime drops before it could serve (the runtime shut
//!   down) drops the bodies in line when no other runner is left, so their refs resolve to
//!   `ActorDied { cause: Shutdown }` instead of never.

use std::{
    cell::Cell,
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
};

use tokio::runtime::Handle;

/// A sync task's body, with all it needs to answer its caller.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The line of sync task bodies and the runners that serve it.
pub(crate) struct SyncRunners {
    state: Mutex<State>,
}

struct State {
    line: VecDeque<Job>,
    /// Runners serving the line, less those blocked in a wait.
    active: usize,
    /// How many bodies runners took from the line so far: whether it moves.
    taken: u64,
    /// Whether a watch runs.
    watching: bool,
}

/// How often the watch looks at a line that bodies wait in.
const WATCH: std::time::Duration = std::time::Duration::from_millis(1);

/// The process's runners (one line for every runtime that helio runs tasks on).
pub(crate) static RUNNERS: SyncRunners = SyncRunners {
    state: Mutex::new(State {
        line: VecDeque::new(),
        active: 0,
        taken: 0,
        watching: false,
    }),
};

thread_local! {
    /// Whether this thread is a runner, serving the line now.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

impl SyncRunners {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No job runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` to run on a thread where blocking is allowed, and starts a runner on
    /// `handle` (a multi-thread runtime) when fewer than its workers serve the line.
    pub(crate) fn run(&'static self, handle: &Handle, job: Job) {
        let mut state = self.lock();
        state.line.push_back(job);
        let start = state.active < handle.metrics().num_workers().max(1);
        let watch = !start && !state.watching;
        if start {
            state.active += 1;
        }
        state.watching |= watch;
        drop(state);
        if start {
            self.start(handle);
        }
        if watch {
            handle.spawn(self.watch(handle.clone()));
        }
    }

    /// While bodies wait in line, starts one more runner every [`WATCH`] that the line did
    /// not move (its runners are all blocked or busy with long bodies).
    async fn watch(&'static self, handle: Handle) {
        // However the watch ends (its runtime may drop it), the next wait starts another.
        let _ended = Watching(self);
        let mut seen = self.lock().taken;
        loop {
            match crate::wait::timer(WATCH) {
                Ok(sleep) => sleep.await,
                Err(err) => {
                    // Only when helio is shutting down: the runners left serve the line.
                    tracing::debug!(%err, "no timer to watch the line of sync tasks");
                    return;
                }
            }
            let mut state = self.lock();
            if state.line.is_empty() {
                return;
            }
            let stuck = state.taken == seen;
            seen = state.taken;
            if stuck {
                state.active += 1;
            }
            drop(state);
            if stuck {
                self.start(&handle);
            }
        }
    }

    /// Starts one runner on `handle`; it counts as active already.
    fn start(&'static self, handle: &Handle) {
        // A body that blocks (in `helio::get`, say) lends its task's CPUs back, and its runner
        // stops counting meanwhile, so that another serves the line.
        crate::blocking::while_blocked(|| {
            Box::new((blocking_here(), crate::resource_pool::lend_here()))
        });
        let runner = Runner {
            runners: self,
            served: false,
        };
        handle.spawn(async move {
            let mut runner = runner;
            tokio::task::block_in_place(|| runner.serve());
        });
    }

    /// The next body, or `None` once the line is empty (the runner then stops counting).
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        let job = state.line.pop_front();
        match job {
            Some(_) => state.taken += 1,
            None => state.active -= 1,
        }
        job
    }
}

/// Marks the watch ended when dropped.
struct Watching(&'static SyncRunners);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.lock().watching = false;
    }
}

/// One runner: serves the line until it is empty.
struct Runner {
    runners: &'static SyncRunners,
    /// Whether it stopped counting itself, having served the line to its end.
    served: bool,
}

impl Runner {
    fn serve(&mut self) {
        let was = RUNNING.with(|running| running.replace(true));
        while let Some(job) = self.runners.next() {
            job();
        }
        self.served = true;
        RUNNING.with(|running| running.set(was));
    }
}

impl Drop for Runner {
    /// Dropped without serving the line to its end: never started (its runtime shut down), or
    /// a job unwound through it. It stops counting; when no runner is left, the bodies in line
    /// are dropped so that their callers hear of it.
    fn drop(&mut self) {
        if self.served {
            return;
        }
        RUNNING.with(|running| running.set(false));
        let mut state = self.runners.lock();
        state.active -= 1;
        let orphans = if state.active == 0 {
            std::mem::take(&mut state.line)
        } else {
            VecDeque::new()
        };
        drop(state);
        drop(orphans);
    }
}

/// While a runner's body blocks: the runner does not count, and another takes the line if
/// bodies wait there.
pub(crate) struct Blocked(());

/// Called before this thread blocks in a wait: if it is a runner, it stops counting until the
/// returned guard drops (and a new runner starts when bodies are waiting).
pub(crate) fn blocking_here() -> Option<Blocked> {
    if !RUNNING.try_with(Cell::get).unwrap_or(false) {
        return None;
    }
    let mut state = RUNNERS.lock();
    state.active -= 1;
    let start = !state.line.is_empty();
    if start {
        state.active += 1;
    }
    drop(state);
    if start {
        match Handle::try_current() {
            Ok(handle) => RUNNERS.start(&handle),
            Err(_) => RUNNERS.lock().active -= 1,
        }
    }
    Some(Blocked(()))
}

impl Drop for Blocked {
    fn drop(&mut self) {
        RUNNERS.lock().active += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    fn runners() -> &'static SyncRunners {
        Box::leak(Box::new(SyncRunners {
            state: Mutex::new(State {
                line: VecDeque::new(),
                active: 0,
                taken: 0,
                watching: false,
            }),
        }))
    }

    /// Counts how many of its jobs ran, and how many were dropped unrun.
    #[derive(Default)]
    struct Tally {
        ran: AtomicUsize,
        dropped: AtomicUsize,
    }

    fn job(tally: &Arc<Tally>) -> Job {
        struct Unrun(Arc<Tally>);
        impl Drop for Unrun {
            fn drop(&mut self) {
                self.0.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
        let unrun = Unrun(Arc::clone(tally));
        Box::new(move || {
            unrun.0.ran.fetch_add(1, Ordering::SeqCst);
            std::mem::forget(unrun);
        })
    }

    #[test]
    fn a_runner_serves_the_line_to_its_end_and_stops_counting() {
        let runners = runners();
        let tally = Arc::new(Tally::default());
        {
            let mut state = runners.lock();
            state.line.extend([job(&tally), job(&tally), job(&tally)]);
            state.active = 1;
        }
        let mut runner = Runner {
            runners,
            served: false,
        };
        runner.serve();
        drop(runner);
        assert_eq!(tally.ran.load(Ordering::SeqCst), 3);
        let state = runners.lock();
        assert_eq!((state.active, state.taken, state.line.len()), (0, 3, 0));
    }

    #[test]
    fn the_last_runner_dropped_unstarted_drops_the_line_so_callers_hear_of_it() {
        let runners = runners();
        let tally = Arc::new(Tally::default());
        {
            let mut state = runners.lock();
            state.line.extend([job(&tally), job(&tally)]);
            state.active = 2;
        }
        let unstarted = || Runner {
            runners,
            served: false,
        };
        // Another runner still counts: the line waits for it.
        drop(unstarted());
        assert_eq!(tally.dropped.load(Ordering::SeqCst), 0);
        // The last one: every body in line is dropped unrun.
        drop(unstarted());
        assert_eq!(tally.dropped.load(Ordering::SeqCst), 2);
        assert_eq!(tally.ran.load(Ordering::SeqCst), 0);
        assert_eq!(runners.lock().active, 0);
    }
}
