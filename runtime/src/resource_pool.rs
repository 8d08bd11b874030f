//! What this node has for tasks, and the tasks waiting for it: a [`Ledger`] behind a lock,
//! with a queue of demands that do not fit yet.
//!
//! - A task takes its demand with [`Pool::acquire`] before it runs and gives it back when its
//!   [`Held`] drops. A demand that fits now is granted at once; one that never fits here is an
//!   error (the caller names the resource); any other waits in the queue.
//! - First fit: a demand that fits what is free now is granted at once, even past a larger
//!   one that waits; on every release the queue is served in order, first fit again.
//! - A sync task that blocks in `helio::get` lends its CPUs back while it waits ([`lend_here`]),
//!   as Ray does, so that the tasks it waits for can run: a task inside a task never starves
//!   the node. It takes them back before it goes on, ahead of the queue.
//! - It counts the tasks that run (hold a [`Held`], an empty grant included) and those that
//!   wait in its queue ([`Pool::tasks`]), in atomics beside the lock: reading them takes no
//!   lock, and a task that asks for nothing takes none either. An actor's holding is not a
//!   task: it counts in neither.

use std::{
    cell::RefCell,
    collections::VecDeque,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
};

use futures::task::AtomicWaker;

use crate::resources::{CPU, Grant, Ledger, Resources, Shortfall};

/// One node's resources for tasks.
pub(crate) struct Pool {
    state: Mutex<State>,
    /// The tasks that hold a grant now: every [`Held`] made for a task, alive.
    running: AtomicU64,
    /// The tasks in `state.queue` (changed under the lock; read without it).
    waiting: AtomicU64,
    /// Notified each time resources are given back while a placement group waits to
    /// reserve its bundles: it tries again.
    freed: tokio::sync::Notify,
    /// How many placement groups wait for `freed` (none: a release notifies no one, and
    /// takes no lock for it).
    reserving: AtomicU64,
}

struct State {
    ledger: Ledger,
    /// Demands that did not fit when they came, oldest first (a CPU take-back goes first).
    queue: VecDeque<Arc<Waiter>>,
}

/// A demand in the queue, and the grant it gets once it fits.
struct Waiter {
    demand: Resources,
    /// Whether a task waits here (not an actor's holding, nor a CPU take-back).
    task: bool,
    grant: Mutex<Option<Grant>>,
    waker: AtomicWaker,
}

impl Waiter {
    fn take(&self) -> Option<Grant> {
        self.grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl Pool {
    /// A pool with `total` resources, none held.
    #[cfg(test)]
    pub(crate) fn new(total: Resources) -> Arc<Self> {
        Pool::with_ledger(Ledger::new(total))
    }

    /// A pool over `ledger`, as it is.
    pub(crate) fn with_ledger(ledger: Ledger) -> Arc<Self> {
        Arc::new(Pool {
            state: Mutex::new(State {
                ledger,
                queue: VecDeque::new(),
            }),
            running: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            freed: tokio::sync::Notify::new(),
            reserving: AtomicU64::new(0),
        })
    }

    /// How many tasks run now (hold their grant), and how many wait in the queue. Takes no
    /// lock; the two figures are read one after the other, not as one snapshot.
    pub(crate) fn tasks(&self) -> (u64, u64) {
        (
            self.running.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing user-written runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What tasks hold now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> Resources {
        self.lock().ledger.held().clone()
    }

    /// What the node has in all, and what is held now.
    pub(crate) fn snapshot(&self) -> (Resources, Resources) {
        let state = self.lock();
        (state.ledger.total().clone(), state.ledger.held().clone())
    }

    /// `Some` when `demand` can never fit here: what is missing.
    pub(crate) fn never_fits(&self, demand: &Resources) -> Option<Shortfall> {
        self.lock().ledger.never_fits(demand)
    }

    /// Whether `demand` fits now (what [`try_acquire`](Pool::try_acquire) would take),
    /// taking nothing.
    pub(crate) fn fits_now(&self, demand: &Resources) -> bool {
        demand.is_empty() || self.lock().ledger.busy(demand).is_none()
    }

    /// Takes `demand` for a task if it fits now; never waits.
    pub(crate) fn try_acquire(self: &Arc<Self>, demand: &Resources) -> Option<Held> {
        if demand.is_empty() {
            return Some(Held::new(self, Grant::empty(), true));
        }
        let grant = self.lock().ledger.try_acquire(demand).ok()?;
        Some(Held::new(self, grant, true))
    }

    /// Waits until `demand` fits, in queue order, and takes it for a task; fails at once when
    /// it can never fit here. Dropping the future leaves the queue (and gives back a grant
    /// that came meanwhile).
    pub(crate) fn acquire(
        self: &Arc<Self>,
        demand: Resources,
    ) -> impl Future<Output = Result<Held, Shortfall>> + Send + 'static {
        self.acquire_for(demand, true)
    }

    /// As [`acquire`](Pool::acquire), for a task (`task`) or an actor's holding: only a
    /// task counts as running or waiting ([`tasks`](Pool::tasks)).
    fn acquire_for(
        self: &Arc<Self>,
        demand: Resources,
        task: bool,
    ) -> impl Future<Output = Result<Held, Shortfall>> + Send + 'static {
        let pool = Arc::clone(self);
        async move {
            if demand.is_empty() {
                // Always fits, and takes nothing: no need for the lock.
                return Ok(Held::new(&pool, Grant::empty(), task));
            }
            let waiter = {
                let mut state = pool.lock();
                if let Ok(grant) = state.ledger.try_acquire(&demand) {
                    drop(state);
                    return Ok(Held::new(&pool, grant, task));
                }
                // Only a demand that does not fit now can be one that never fits.
                if let Some(shortfall) = state.ledger.never_fits(&demand) {
                    return Err(shortfall);
                }
                let waiter = Arc::new(Waiter {
                    demand,
                    task,
                    grant: Mutex::new(None),
                    waker: AtomicWaker::new(),
                });
                if task {
                    pool.waiting.fetch_add(1, Ordering::Relaxed);
                }
                state.queue.push_back(Arc::clone(&waiter));
                waiter
            };
            let leave = Leave {
                pool: &pool,
                waiter: &waiter,
            };
            let grant = std::future::poll_fn(|cx| {
                waiter.waker.register(cx.waker());
                match waiter.take() {
                    Some(grant) => Poll::Ready(grant),
                    None => Poll::Pending,
                }
            })
            .await;
            std::mem::forget(leave);
            Ok(Held::new(&pool, grant, task))
        }
    }

    /// Gives `grant` back and serves the queue; then tells the [`on_freed`] hook, if any.
    fn release(&self, grant: Grant) {
        let mut state = self.lock();
        state.ledger.release(grant);
        self.serve(&mut state);
        drop(state);
        if self.reserving.load(Ordering::Acquire) > 0 {
            self.freed.notify_waiters();
        }
        freed();
    }

    /// Takes every one of `bundles` now, or none: the index of the first that does not fit
    /// (with what is short) otherwise. The grants are an actor's kind: they count as no task.
    pub(crate) fn try_reserve(
        self: &Arc<Self>,
        bundles: &[Resources],
    ) -> Result<Vec<Held>, (usize, String)> {
        let mut state = self.lock();
        let mut taken = Vec::with_capacity(bundles.len());
        for (index, bundle) in bundles.iter().enumerate() {
            match state.ledger.try_acquire(bundle) {
                Ok(grant) => taken.push(grant),
                Err(busy) => {
                    for grant in taken {
                        state.ledger.release(grant);
                    }
                    return Err((index, busy.to_string()));
                }
            }
        }
        drop(state);
        Ok(taken
            .into_iter()
            .map(|grant| Held::new(self, grant, false))
            .collect())
    }

    /// `Some((index, why))` when `bundles` can never all be held here at once, however much
    /// is given back: the first bundle past what the node has in all.
    pub(crate) fn never_reserves(&self, bundles: &[Resources]) -> Option<(usize, String)> {
        let mut empty = self.lock().ledger.emptied();
        for (index, bundle) in bundles.iter().enumerate() {
            if let Err(busy) = empty.try_acquire(bundle) {
                let shortfall = empty.never_fits(bundle);
                let why = match shortfall {
                    Some(shortfall) => shortfall.to_string(),
                    None => format!(
                        "with the bundles before it on this node, it needs {} {} and only {} \
                         is left",
                        busy.wanted, busy.resource, busy.free
                    ),
                };
                return Some((index, why));
            }
        }
        None
    }

    /// Counts a placement group waiting to reserve its bundles until the guard drops:
    /// meanwhile each release notifies [`freed`](Pool::freed).
    pub(crate) fn reserving(self: &Arc<Self>) -> Reserving {
        self.reserving.fetch_add(1, Ordering::AcqRel);
        Reserving(Arc::clone(self))
    }

    /// Waits for the next time resources are given back (register before trying again), for
    /// a placement group counted by [`reserving`](Pool::reserving).
    pub(crate) fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.freed.notified()
    }

    /// Grants, in queue order, the waiting demands that fit now; stops once nothing is free
    /// (a queued demand is never empty) or after [`SCAN_PAST`] demands that do not fit.
    fn serve(&self, state: &mut State) {
        let State { ledger, queue } = state;
        let (mut i, mut passed) = (0, 0);
        while i < queue.len() && passed < SCAN_PAST && !ledger.is_full() {
            match ledger.try_acquire(&queue[i].demand) {
                Ok(grant) => {
                    if let Some(waiter) = queue.remove(i) {
                        self.left_queue(&waiter);
                        *waiter.grant.lock().unwrap_or_else(PoisonError::into_inner) = Some(grant);
                        waiter.waker.wake();
                    }
                }
                Err(_) => {
                    i += 1;
                    passed += 1;
                }
            }
        }
    }

    /// Counts `waiter` out of the queue (under the lock, as it leaves it).
    fn left_queue(&self, waiter: &Waiter) {
        if waiter.task {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// What runs each time a node's resources are given back (cluster mode: offer them to the
/// tasks that wait cluster-wide).
type Freed = Arc<dyn Fn() + Send + Sync>;

static FREED: std::sync::RwLock<Option<Freed>> = std::sync::RwLock::new(None);

/// Runs `hook` each time resources of this node are given back, from now on (`None`: no
/// more). The hook runs on the thread that gave them back: it must be quick and never block.
pub fn on_freed(hook: Option<Freed>) {
    *FREED.write().unwrap_or_else(PoisonError::into_inner) = hook;
}

fn freed() {
    let hook = FREED.read().unwrap_or_else(PoisonError::into_inner).clone();
    if let Some(hook) = hook {
        hook();
    }
}

/// How many waiting demands that do not fit a release looks past before it stops: first fit
/// over the head of the queue, at a bounded cost per release however long the queue is.
const SCAN_PAST: usize = 64;

/// Takes a waiter out of the queue when its future is dropped before it got its grant.
struct Leave<'a> {
    pool: &'a Arc<Pool>,
    waiter: &'a Arc<Waiter>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        let queued = state.queue.len();
        state.queue.retain(|w| !Arc::ptr_eq(w, self.waiter));
        if state.queue.len() < queued {
            self.pool.left_queue(self.waiter);
        }
        if let Some(grant) = self.waiter.take() {
            // Granted meanwhile, but no one will run: give it back.
            state.ledger.release(grant);
            self.pool.serve(&mut state);
        }
    }
}

/// A placement group waiting to reserve its bundles from a pool (see [`Pool::reserving`]).
pub(crate) struct Reserving(Arc<Pool>);

impl Drop for Reserving {
    fn drop(&mut self) {
        self.0.reserving.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resources a running task (or a live actor) holds; given back when dropped.
pub struct Held {
    pool: Arc<Pool>,
    /// What was granted (less the CPUs it lends while it blocks).
    grant: Grant,
    /// Whether a task holds it: it counts as running meanwhile.
    task: bool,
}

impl Held {
    fn new(pool: &Arc<Pool>, grant: Grant, task: bool) -> Self {
        if task {
            pool.running.fetch_add(1, Ordering::Relaxed);
        }
        Held {
            pool: Arc::clone(pool),
            grant,
            task,
        }
    }

    /// The ids of the GPUs held (Ray's `ray.get_gpu_ids()`).
    pub(crate) fn gpu_ids(&self) -> Vec<u32> {
        self.grant.gpu_ids()
    }

    /// Runs `f` (a sync task's body) with these resources marked as this thread's, so that a
    /// blocking `get` inside it lends the CPUs back while it waits; hands them back with `f`'s
    /// result. `f` must not unwind (the task catches its panics inside it).
    pub(crate) fn while_running<R>(self, f: impl FnOnce() -> R) -> (Option<Held>, R) {
        let previous = HERE.with(|here| here.replace(Some(self)));
        let result = f();
        let mine = HERE.with(|here| here.replace(previous));
        (mine, result)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.task {
            self.pool.running.fetch_sub(1, Ordering::Relaxed);
        }
        if self.grant.resources().is_empty() {
            // Frees nothing, so it serves no one.
            return;
        }
        let grant = std::mem::replace(&mut self.grant, Grant::empty());
        self.pool.release(grant);
    }
}

/// What an actor holds from its node while it lives: taken before its constructor first runs
/// (waiting at most `timeout`), kept across restarts, given back when the actor is gone (this
/// is dropped with its driver).
pub(crate) struct ActorHolding {
    pool: Arc<Pool>,
    /// The placement group bundle it holds from, instead of `pool`.
    in_group: Option<crate::InGroup>,
    demand: Resources,
    timeout: std::time::Duration,
    held: Mutex<Option<Held>>,
}

impl ActorHolding {
    /// An actor's holding of `demand` from `pool`; `None` when it asks for nothing (most
    /// actors: they then hold no such record at all).
    pub(crate) fn new(
        pool: Arc<Pool>,
        in_group: Option<crate::InGroup>,
        demand: Resources,
        timeout: std::time::Duration,
    ) -> Option<Arc<Self>> {
        if demand.is_empty() {
            return None;
        }
        Some(Arc::new(ActorHolding {
            pool,
            in_group,
            demand,
            timeout,
            held: Mutex::new(None),
        }))
    }

    /// The ids of the GPUs the actor holds (none before its resources are taken).
    pub(crate) fn gpu_ids(&self) -> Vec<u32> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Held::gpu_ids)
            .unwrap_or_default()
    }

    /// Waits until the actor holds its resources (at once when it does); an error says what
    /// it waited for. (An actor that asks for none has no holding: see [`ActorHolding::new`].)
    pub(crate) async fn hold(self: Arc<Self>) -> Result<(), String> {
        if self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Ok(());
        }
        let mut sleep = crate::wait::timer(self.timeout).map_err(|err| err.to_string())?;
        let acquire = match self.in_group {
            Some(in_group) => futures::future::Either::Left(in_group.acquire(self.demand.clone())),
            None => futures::future::Either::Right(async {
                let held = self.pool.acquire_for(self.demand.clone(), false).await;
                held.map_err(|shortfall| shortfall.to_string())
            }),
        };
        let acquire = std::pin::pin!(acquire);
        match futures::future::select(acquire, sleep.as_mut()).await {
            futures::future::Either::Left((Ok(held), _)) => {
                *self.held.lock().unwrap_or_else(PoisonError::into_inner) = Some(held);
                Ok(())
            }
            futures::future::Either::Left((Err(message), _)) => Err(message),
            futures::future::Either::Right(((), _)) => Err(format!(
                "its resources were not free within {:?} (`resource_timeout`)",
                self.timeout
            )),
        }
    }
}

thread_local! {
    /// The resources of the sync task running on this thread.
    static HERE: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// CPUs a blocked sync task lent back: taken back (ahead of the queue) when dropped.
pub(crate) struct Lent {
    pool: Arc<Pool>,
    cpus: Resources,
}

/// Called before this thread blocks: if it runs a sync task that holds CPUs, gives them back
/// to the node until the returned guard drops.
pub(crate) fn lend_here() -> Option<Lent> {
    HERE.try_with(|here| {
        let mut here = here.borrow_mut();
        let held = here.as_mut()?;
        if held.grant.resources().get(CPU).is_zero() {
            return None;
        }
        let cpus = held.grant.split_off(CPU);
        let lent = cpus.resources().clone();
        held.pool.release(cpus);
        Some(Lent {
            pool: Arc::clone(&held.pool),
            cpus: lent,
        })
    })
    .ok()
    .flatten()
}

impl Drop for Lent {
    fn drop(&mut self) {
        let waiter = {
            let mut state = self.pool.lock();
            match state.ledger.try_acquire(&self.cpus) {
                Ok(grant) => {
                    drop(state);
                    return keep_here(&self.pool, grant);
                }
                Err(_) => {
                    let waiter = Arc::new(Waiter {
                        demand: self.cpus.clone(),
                        // The task runs: it only takes its CPUs back.
                        task: false,
                        grant: Mutex::new(None),
                        waker: AtomicWaker::new(),
                    });
                    state.queue.push_front(Arc::clone(&waiter));
                    waiter
                }
            }
        };
        // `HERE` holds no CPUs now, so this wait lends nothing.
        let grant = crate::blocking::block_until(None, |cx| {
            waiter.waker.register(cx.waker());
            match waiter.take() {
                Some(grant) => Poll::Ready(grant),
                None => Poll::Pending,
            }
        });
        if let Some(grant) = grant {
            keep_here(&self.pool, grant);
        }
    }
}

/// Adds a taken-back CPU grant to the resources of the task on this thread.
fn keep_here(pool: &Pool, cpus: Grant) {
    let unkept = HERE
        .try_with(|here| match here.borrow_mut().as_mut() {
            Some(held) => {
                held.grant.absorb(cpus);
                None
            }
            None => Some(cpus),
        })
        .unwrap_or(None);
    // No task on this thread any more (only while the thread exits): give it back.
    if let Some(cpus) = unkept {
        pool.release(cpus);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        pin::pin,
        task::{Context, Waker},
    };

    use super::*;

    fn cpus(n: f64) -> Resources {
        Resources::new().with(CPU, n).unwrap()
    }

    /// Polls `fut` once.
    fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn demands_wait_in_line_and_are_served_first_fit_on_release() {
        let pool = Pool::new(cpus(2.0));
        let mut first = pin!(pool.acquire(cpus(2.0)));
        let Poll::Ready(Ok(all)) = poll_once(first.as_mut()) else {
            panic!("the first demand fits")
        };
        let mut big = pin!(pool.acquire(cpus(2.0)));
        let mut small = pin!(pool.acquire(cpus(1.0)));
        assert!(poll_once(big.as_mut()).is_pending());
        assert!(poll_once(small.as_mut()).is_pending());
        drop(all);
        // The big one was first in line and fits: it goes first; the small one still waits.
        let Poll::Ready(Ok(big_held)) = poll_once(big.as_mut()) else {
            panic!("served in order")
        };
        assert!(poll_once(small.as_mut()).is_pending());
        assert_eq!(pool.held(), cpus(2.0));
        drop(big_held);
        assert!(matches!(poll_once(small.as_mut()), Poll::Ready(Ok(_))));
    }

    #[test]
    fn a_demand_that_never_fits_fails_and_one_that_leaves_gives_back_its_grant() {
        let pool = Pool::new(cpus(1.0));
        let mut never = pin!(pool.acquire(cpus(3.0)));
        match poll_once(never.as_mut()) {
            Poll::Ready(Err(shortfall)) => assert_eq!(shortfall.resource, CPU),
            _ => panic!("3 CPUs never fit in 1"),
        }
        let Poll::Ready(Ok(held)) = poll_once(pin!(pool.acquire(cpus(1.0)))) else {
            panic!("fits")
        };
        {
            let mut waiting = Box::pin(pool.acquire(cpus(1.0)));
            assert!(poll_once(waiting.as_mut()).is_pending());
            drop(held); // granted to `waiting`, which leaves without taking it
        }
        assert!(pool.held().is_empty(), "the grant went back");
        // Zero CPUs never wait.
        assert!(matches!(
            poll_once(pin!(pool.acquire(Resources::new()))),
            Poll::Ready(Ok(_))
        ));
    }

    #[test]
    fn the_pool_counts_the_tasks_that_run_and_those_that_wait() {
        let pool = Pool::new(cpus(1.0));
        assert_eq!(pool.tasks(), (0, 0));
        let Poll::Ready(Ok(first)) = poll_once(pin!(pool.acquire(cpus(1.0)))) else {
            panic!("fits")
        };
        // A task that asks for nothing runs too, and holds nothing.
        let free = pool.try_acquire(&Resources::new()).expect("always fits");
        assert_eq!(pool.tasks(), (2, 0));
        let mut second = pin!(pool.acquire(cpus(1.0)));
        assert!(poll_once(second.as_mut()).is_pending());
        {
            let mut third = Box::pin(pool.acquire(cpus(1.0)));
            assert!(poll_once(third.as_mut()).is_pending());
            assert_eq!(pool.tasks(), (2, 2));
        } // it leaves the queue
        assert_eq!(pool.tasks(), (2, 1));
        drop(first);
        let Poll::Ready(Ok(second)) = poll_once(second.as_mut()) else {
            panic!("served on release")
        };
        assert_eq!(pool.tasks(), (2, 0));
        // An actor's holding is no task: it counts in neither, waiting or holding.
        let mut actor = pin!(pool.acquire_for(cpus(1.0), false));
        assert!(poll_once(actor.as_mut()).is_pending());
        assert_eq!(pool.tasks(), (2, 0));
        drop((second, free));
        let Poll::Ready(Ok(actor)) = poll_once(actor.as_mut()) else {
            panic!("served on release")
        };
        assert_eq!(pool.tasks(), (0, 0));
        assert_eq!(pool.held(), cpus(1.0));
        drop(actor);
        assert!(pool.held().is_empty());
    }

    #[test]
    fn a_blocked_task_lends_its_cpus_and_takes_them_back() {
        let pool = Pool::new(cpus(2.0).with(crate::resources::GPU, 1.0).unwrap());
        let demand = cpus(2.0).with(crate::resources::GPU, 1.0).unwrap();
        let Poll::Ready(Ok(held)) = poll_once(pin!(pool.acquire(demand.clone()))) else {
            panic!("fits")
        };
        let (back, ()) = held.while_running(|| {
            let lent = lend_here().expect("CPUs to lend");
            // The GPU stays held; the CPUs are free for others meanwhile.
            assert_eq!(
                pool.held(),
                Resources::new().with(crate::resources::GPU, 1.0).unwrap()
            );
            drop(lent);
            assert_eq!(pool.held(), demand);
        });
        assert!(lend_here().is_none(), "no task on this thread now");
        drop(back);
        assert!(pool.held().is_empty());
    }
}
