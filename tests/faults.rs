//! Fault handling at the edges: kills during construction, panicking `Drop`s, cancels and
//! pending-call slots around restarts, submission order with ref arguments, streams after a
//! kill, self-deadlock detection, consumed refs, and which runtime actors run on.
//!
//! Each test names the bug it covers. Every wait is bounded by [`common::BOUND`].

mod common;

use std::{
    future::IntoFuture,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
        mpsc::{Receiver, Sender, channel},
    },
    time::{Duration, Instant},
};

use common::{BOUND, get};
use futures::{FutureExt, StreamExt, stream};
use helio::{ActorClass, LookupError, prelude::*};
use tokio::sync::Semaphore;

// ---------------------------------------------------------------------------------------------
// Actors
// ---------------------------------------------------------------------------------------------

/// A plain actor with a method that parks at a gate.
pub struct Gated {
    gate: Arc<Semaphore>,
}

#[actor]
impl Gated {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Gated { gate }
    }

    /// Says it started, waits at the gate, then returns 1.
    #[remote_method]
    pub async fn park(&self, started: Sender<()>) -> i64 {
        let _ = started.send(());
        self.gate.acquire().await.unwrap().forget();
        1
    }

    #[remote_method]
    pub fn ping(&self) -> u32 {
        7
    }

    /// The name of the thread the method runs on.
    #[remote_method]
    pub fn thread_name(&self) -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }
}

/// Appends what it is given, in the order its calls run.
pub struct Log {
    items: Vec<i64>,
}

#[actor]
impl Log {
    pub fn new() -> Self {
        Log { items: Vec::new() }
    }

    #[remote_method]
    pub fn push(&mut self, x: i64) {
        self.items.push(x);
    }

    #[remote_method]
    pub fn log(&self) -> Vec<i64> {
        self.items.clone()
    }
}

/// Makes a constructor hang on one chosen run until `open` gets a permit.
#[derive(Clone)]
pub struct CtorPlan {
    runs: Arc<AtomicU32>,
    hang_on_run: u32,
    open: Arc<Semaphore>,
    /// Receives each run's number (1 for the first) as the constructor starts.
    entered: Sender<u32>,
}

fn ctor_plan(hang_on_run: u32) -> (CtorPlan, Arc<Semaphore>, Receiver<u32>) {
    let open = Arc::new(Semaphore::new(0));
    let (entered, entered_rx) = channel();
    let plan = CtorPlan {
        runs: Arc::new(AtomicU32::new(0)),
        hang_on_run,
        open: Arc::clone(&open),
        entered,
    };
    (plan, open, entered_rx)
}

/// An actor whose async constructor hangs on the run its [`CtorPlan`] chooses.
pub struct Slow {
    calls: Arc<Semaphore>,
}

#[actor(max_restarts = 1, max_task_retries = -1)]
impl Slow {
    pub async fn new(plan: CtorPlan, calls: Arc<Semaphore>) -> Self {
        let run = plan.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = plan.entered.send(run);
        if run == plan.hang_on_run {
            plan.open.acquire().await.unwrap().forget();
        }
        Slow { calls }
    }

    #[remote_method]
    pub fn ping(&self) -> u32 {
        7
    }

    /// Says it started, then waits at the calls gate.
    #[remote_method]
    pub async fn park(&self, started: Sender<()>) -> u32 {
        let _ = started.send(());
        self.calls.acquire().await.unwrap().forget();
        1
    }
}

/// Panics when dropped while armed (once: dropping disarms it).
pub struct Bomb(Arc<AtomicBool>);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0.swap(false, Ordering::SeqCst) {
            panic!("a Bomb was dropped while armed");
        }
    }
}

/// A panic payload whose `Drop` panics.
pub struct Payload;

impl Drop for Payload {
    fn drop(&mut self) {
        panic!("the panic payload's Drop panicked");
    }
}

/// An actor whose state panics when dropped after `crash`.
pub struct Fragile {
    bomb: Bomb,
}

#[actor]
impl Fragile {
    pub fn new(armed: Arc<AtomicBool>) -> Self {
        Fragile { bomb: Bomb(armed) }
    }

    /// Arms the state's bomb, then panics: the actor crashes and drops this instance.
    #[remote_method]
    pub fn crash(&self) {
        self.bomb.0.store(true, Ordering::SeqCst);
        panic!("crash on purpose");
    }

    /// Panics with a payload whose `Drop` panics.
    #[remote_method]
    pub fn crash_with_payload(&self) {
        std::panic::panic_any(Payload);
    }

    #[remote_method]
    pub fn ping(&self) -> u32 {
        7
    }
}

/// Streams `0, 1, 2, ...` forever.
pub struct Streamer;

#[actor]
impl Streamer {
    pub fn new() -> Self {
        Streamer
    }

    #[remote_method(stream_buffer = 4)]
    pub fn endless(&self) -> impl futures::Stream<Item = u64> + Send + 'static {
        stream::unfold(0u64, |i| async move {
            tokio::task::yield_now().await;
            Some((i, i + 1))
        })
    }
}

/// Blocks in a sync method on a call to itself.
pub struct Reentrant;

#[actor(max_concurrency = 4)]
impl Reentrant {
    pub fn new() -> Self {
        Reentrant
    }

    #[remote_method]
    pub fn inner(&self) -> i64 {
        5
    }

    /// Blocks on `inner` of its own actor and returns what the blocking `get` gave.
    #[remote_method]
    pub fn outer(&self) -> Result<i64, ActorError> {
        let me = helio::current_actor::<Self>().expect("inside a method of this actor");
        helio::get(me.methods().inner().remote())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Polls `actor.state()` until `pred` holds, failing the test after [`BOUND`].
#[track_caller]
fn wait_for_state<A: ActorClass>(
    actor: &Actor<A>,
    what: &str,
    pred: impl Fn(&ActorState) -> bool,
) -> ActorState {
    let deadline = Instant::now() + BOUND;
    loop {
        let state = actor.state();
        if pred(&state) {
            return state;
        }
        if Instant::now() >= deadline {
            panic!("the actor was not {what} within {BOUND:?}; its state is {state:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[track_caller]
fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{what}: nothing within {BOUND:?}"))
}

#[track_caller]
fn assert_killed<T: std::fmt::Debug>(r: ObjectRef<T>) {
    match get(r) {
        Err(ActorError::ActorDied {
            cause: DeathCause::Killed,
            ..
        }) => {}
        other => panic!("expected ActorDied(Killed), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Bug 1: a kill for good while the constructor hangs is ignored
// ---------------------------------------------------------------------------------------------

/// Bug 1: `kill(&a, true)` while the first (async) constructor run hangs must win at once: the
/// actor is `Dead(Killed)` and calls queued meanwhile resolve `ActorDied { Killed }`.
#[test]
fn kill_for_good_while_the_constructor_hangs_kills_the_actor() {
    let (plan, open, entered) = ctor_plan(1);
    let actor = Slow::new_actor().remote(plan, Arc::new(Semaphore::new(0)));
    assert_eq!(recv(&entered, "the constructor started"), 1);
    let queued = actor.methods().ping().remote();
    helio::kill(&actor, true);
    assert_killed(queued);
    wait_for_state(&actor, "Dead(Killed)", |s| {
        *s == ActorState::Dead(DeathCause::Killed)
    });
    assert_killed(actor.methods().ping().remote());
    assert_eq!(actor.state(), ActorState::Dead(DeathCause::Killed));
    open.add_permits(10);
}

/// Bug 1: `kill(&a, true)` while the constructor hangs on a restart (after `kill(&a, false)`)
/// must win at once too: `Dead(Killed)`, and calls resolve `ActorDied { Killed }`.
#[test]
fn kill_for_good_while_the_restart_constructor_hangs_kills_the_actor() {
    let (plan, open, entered) = ctor_plan(2);
    let actor = Slow::new_actor().remote(plan, Arc::new(Semaphore::new(0)));
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    assert_eq!(recv(&entered, "the first constructor run"), 1);
    helio::kill(&actor, false);
    assert_eq!(recv(&entered, "the restart's constructor run"), 2);
    wait_for_state(&actor, "Restarting", |s| *s == ActorState::Restarting);
    let queued = actor.methods().ping().remote();
    helio::kill(&actor, true);
    assert_killed(queued);
    wait_for_state(&actor, "Dead(Killed)", |s| {
        *s == ActorState::Dead(DeathCause::Killed)
    });
    assert_killed(actor.methods().ping().remote());
    open.add_permits(10);
}

// ---------------------------------------------------------------------------------------------
// Bug 2: a panicking `Drop` kills the dispatcher without cleanup
// ---------------------------------------------------------------------------------------------

/// Bug 2: the old instance's `Drop` panics while it is dropped at a restart; the actor must
/// still restart (`restarts() == 1`) and serve later calls.
#[test]
fn a_drop_that_panics_at_a_restart_does_not_stop_the_restart() {
    let armed = Arc::new(AtomicBool::new(false));
    let actor = Fragile::new_actor()
        .options(ActorOptions::new().max_restarts(1))
        .remote(Arc::clone(&armed));
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    match get(actor.methods().crash().remote()) {
        Err(ActorError::TaskPanicked { .. }) => {}
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    match get(actor.methods().ping().remote()) {
        Ok(7) => {}
        other => panic!("expected the restarted actor to answer 7, got {other:?}"),
    }
    assert_eq!(actor.restarts(), 1);
    assert_eq!(actor.state(), ActorState::Alive);
    assert!(
        !armed.load(Ordering::SeqCst),
        "the old instance was dropped"
    );
}

/// Bug 2: with no restart left, a `Drop` that panics while the crashed instance is dropped
/// must not skip the cleanup: the actor is `Dead(Panicked(..))` and its name is free again.
#[test]
fn a_drop_that_panics_when_the_actor_dies_still_frees_its_name() {
    const NAME: &str = "faults-fragile-detached";
    let options = || {
        ActorOptions::new()
            .max_restarts(0)
            .name(NAME)
            .lifetime(Lifetime::Detached)
    };
    let armed = Arc::new(AtomicBool::new(false));
    let actor = Fragile::new_actor()
        .options(options())
        .remote(Arc::clone(&armed));
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    match get(actor.methods().crash().remote()) {
        Err(ActorError::TaskPanicked { .. }) => {}
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    wait_for_state(&actor, "Dead(Panicked(..))", |s| {
        matches!(s, ActorState::Dead(DeathCause::Panicked(_)))
    });
    match get(actor.methods().ping().remote()) {
        Err(ActorError::ActorDied {
            cause: DeathCause::Panicked(_),
            ..
        }) => {}
        other => panic!("expected ActorDied(Panicked), got {other:?}"),
    }
    match helio::get_actor::<Fragile>(NAME) {
        Err(LookupError::NotFound { .. }) => {}
        other => panic!("expected the name to be free (NotFound), got {other:?}"),
    }
    let again = Fragile::new_actor()
        .options(options())
        .remote(Arc::new(AtomicBool::new(false)));
    match get(again.methods().ping().remote()) {
        Ok(7) => {}
        other => panic!("a new actor under the freed name should serve, got {other:?}"),
    }
    helio::kill(&again, true);
}

/// Bug 2: a method panics with a payload whose `Drop` panics; the call resolves `TaskPanicked`
/// and the actor restarts (`max_restarts = 1`) and serves the next call.
#[test]
fn a_panic_payload_whose_drop_panics_still_restarts_the_actor() {
    let actor = Fragile::new_actor()
        .options(ActorOptions::new().max_restarts(1))
        .remote(Arc::new(AtomicBool::new(false)));
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    match get(actor.methods().crash_with_payload().remote()) {
        Err(ActorError::TaskPanicked { .. }) => {}
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    match get(actor.methods().ping().remote()) {
        Ok(7) => {}
        other => panic!("expected the restarted actor to answer 7, got {other:?}"),
    }
    assert_eq!(actor.restarts(), 1);
    assert_eq!(actor.state(), ActorState::Alive);
}

// ---------------------------------------------------------------------------------------------
// Bug 3: cancelling a call queued for a retry waits for the restart
// ---------------------------------------------------------------------------------------------

/// Bug 3: a call interrupted by a crash sits queued for its retry while the constructor hangs;
/// cancelling it must resolve it to `Cancelled` at once, while the restart still hangs.
#[test]
fn cancelling_a_call_queued_for_a_retry_resolves_it_during_the_restart() {
    let (plan, open, entered) = ctor_plan(2);
    let calls = Arc::new(Semaphore::new(0));
    let actor = Slow::new_actor().remote(plan, Arc::clone(&calls));
    let (started_tx, started) = channel();
    let call = actor.methods().park().remote(started_tx);
    recv(&started, "the call started");
    assert_eq!(recv(&entered, "the first constructor run"), 1);
    helio::kill(&actor, false);
    assert_eq!(recv(&entered, "the restart's constructor run"), 2);
    wait_for_state(&actor, "Restarting", |s| *s == ActorState::Restarting);
    assert!(call.cancel(), "the call is still pending");
    match get(call) {
        Err(ActorError::Cancelled { .. }) => {}
        other => panic!("expected Cancelled during the restart, got {other:?}"),
    }
    assert_eq!(
        actor.state(),
        ActorState::Restarting,
        "the cancel resolved while the restart still hangs"
    );
    open.add_permits(1);
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    assert_eq!(actor.restarts(), 1);
    calls.add_permits(10);
}

// ---------------------------------------------------------------------------------------------
// Bug 4: a cancelled queued call keeps its pending-call slot
// ---------------------------------------------------------------------------------------------

/// Bug 4: with `max_pending_calls = 2`, cancelling a queued call must free its slot, so a third
/// call is accepted (and succeeds).
#[test]
fn cancelling_a_queued_call_frees_its_pending_call_slot() {
    let gate = Arc::new(Semaphore::new(0));
    let actor = Gated::new_actor()
        .options(ActorOptions::new().max_pending_calls(2).max_concurrency(1))
        .remote(Arc::clone(&gate));
    let (started_tx, started) = channel();
    let first = actor.methods().park().remote(started_tx);
    recv(&started, "the first call started");
    let second = actor.methods().ping().remote(); // queued behind `park` (max_concurrency 1)
    assert!(second.cancel(), "the queued call is still pending");
    match get(second) {
        Err(ActorError::Cancelled { .. }) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
    let third = actor.methods().ping().remote();
    gate.add_permits(1);
    assert_eq!(get(first).unwrap(), 1);
    match get(third) {
        Ok(7) => {}
        other => panic!("the third call should be accepted and answer 7, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Bug 5: a call with a pending ref argument overtakes later calls of the same handle
// ---------------------------------------------------------------------------------------------

/// Bug 5: calls from one handle run in submission order (as in Ray), even when an earlier call
/// waits for a pending `ObjectRef` argument: the later call waits behind it.
#[test]
fn a_call_waiting_for_a_ref_argument_keeps_its_place_in_line() {
    let gate = Arc::new(Semaphore::new(0));
    let source = Gated::new_actor().remote(Arc::clone(&gate));
    let (started_tx, started) = channel();
    let pending: ObjectRef<i64> = source.methods().park().remote(started_tx);
    recv(&started, "the source call started");
    let log = Log::new_actor().remote();
    let first = log.methods().push().remote(pending);
    let second = log.methods().push().remote(2);
    gate.add_permits(1);
    get(first).unwrap();
    get(second).unwrap();
    assert_eq!(
        get(log.methods().log().remote()).unwrap(),
        [1, 2],
        "calls ran out of submission order"
    );
}

// ---------------------------------------------------------------------------------------------
// Bug 6: a stream keeps producing after a kill
// ---------------------------------------------------------------------------------------------

/// Bug 6: after `kill(&a, true)` a streaming call's stream must end, after at most a bounded
/// number of buffered items, with `ActorDied { Killed }` and then `None`.
#[test]
fn a_stream_ends_with_actor_died_after_a_kill() {
    /// Items allowed after the kill: the buffer (4) and the pump's item, with ample margin.
    const LIMIT: usize = 100;
    let actor = Streamer::new_actor().remote();
    let mut items = actor.methods().endless().remote();
    common::block_on(async {
        for i in 0..3 {
            match items.next().await {
                Some(Ok(x)) => assert_eq!(x, i),
                other => panic!("expected item {i}, got {other:?}"),
            }
        }
        helio::kill(&actor, true);
        let mut after_kill = 0;
        loop {
            match items.next().await {
                Some(Ok(_)) => {
                    after_kill += 1;
                    assert!(
                        after_kill <= LIMIT,
                        "the stream still produced {after_kill} items after the kill"
                    );
                }
                Some(Err(ActorError::ActorDied {
                    cause: DeathCause::Killed,
                    ..
                })) => break,
                other => panic!("expected ActorDied(Killed) after the kill, got {other:?}"),
            }
        }
        assert!(
            items.next().await.is_none(),
            "the stream ends after its error"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Bug 7: a sync method blocking on its own actor deadlocks
// ---------------------------------------------------------------------------------------------

/// Bug 7: a sync `&self` method that blocks with `helio::get` on a call to its own actor must
/// not deadlock (even with `max_concurrency` > 1): the inner `get` fails with `SelfDeadlock`.
#[test]
fn blocking_on_a_call_to_the_own_actor_reports_self_deadlock() {
    let actor = Reentrant::new_actor().remote();
    match get(actor.methods().outer().remote()) {
        Ok(Err(ActorError::SelfDeadlock { .. })) => {}
        other => panic!("expected the inner get to fail with SelfDeadlock, got {other:?}"),
    }
    // The actor is still usable.
    assert_eq!(get(actor.methods().inner().remote()).unwrap(), 5);
}

// ---------------------------------------------------------------------------------------------
// Bug 8: polling a consumed ref reports a zero timeout
// ---------------------------------------------------------------------------------------------

/// Bug 8: polling a ref's future again after it yielded its value reports `AlreadyConsumed`,
/// not `GetTimeout { timeout: 0 }`.
#[test]
fn polling_a_consumed_ref_reports_already_consumed() {
    let log = Log::new_actor().remote();
    get(log.methods().push().remote(3)).unwrap();
    let mut fut = log.methods().log().remote().into_future();
    assert_eq!(common::block_on(&mut fut).unwrap(), [3]);
    match (&mut fut).now_or_never() {
        Some(Err(ActorError::AlreadyConsumed)) => {}
        other => panic!("expected AlreadyConsumed, got {other:?}"),
    }

    let mut put = helio::put(9u8).into_future();
    assert_eq!((&mut put).now_or_never(), Some(Ok(9)));
    match (&mut put).now_or_never() {
        Some(Err(ActorError::AlreadyConsumed)) => {}
        other => panic!("expected AlreadyConsumed for a put ref, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Bug 9: which runtime an actor runs on
// ---------------------------------------------------------------------------------------------

/// Bug 9 (new behaviour): actors created inside a multi-thread tokio runtime run on it; created
/// from plain sync code or inside a current-thread runtime they run on helio's embedded runtime
/// (`helio-worker`), and a blocking `get` works from both.
#[test]
fn actors_run_on_the_multi_thread_runtime_they_are_created_in() {
    // Plain sync code: helio's runtime, and a blocking get works.
    let actor = Gated::new_actor().remote(Arc::new(Semaphore::new(0)));
    assert_eq!(
        get(actor.methods().thread_name().remote())
            .unwrap()
            .as_deref(),
        Some("helio-worker")
    );

    // Inside a current-thread runtime: helio's runtime, and a blocking get works there too.
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("current-thread runtime");
    let name = current.block_on(async {
        let actor = Gated::new_actor().remote(Arc::new(Semaphore::new(0)));
        get(actor.methods().thread_name().remote()).unwrap()
    });
    assert_eq!(name.as_deref(), Some("helio-worker"));

    // Inside a multi-thread runtime: that runtime.
    let user = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("user-rt")
        .enable_all()
        .build()
        .expect("multi-thread runtime");
    let name = user.block_on(async {
        let actor = Gated::new_actor().remote(Arc::new(Semaphore::new(0)));
        tokio::time::timeout(BOUND, actor.methods().thread_name().remote())
            .await
            .unwrap_or_else(|_| panic!("no result within {BOUND:?}"))
            .unwrap()
    });
    assert_eq!(
        name.as_deref(),
        Some("user-rt"),
        "an actor created in a multi-thread runtime should run on it"
    );
}

/// Panics in whichever kind of method it is asked to.
pub struct Panicky;

#[actor(max_restarts = -1)]
impl Panicky {
    pub fn new() -> Self {
        Panicky
    }

    #[remote_method]
    pub fn sync_boom(&self) {
        panic!("boom");
    }

    #[remote_method]
    pub async fn async_boom(&self) {
        panic!("boom");
    }

    #[remote_method(blocking)]
    pub fn blocking_boom(&mut self) {
        panic!("boom");
    }
}

/// Papercut (#35): by the time a caller sees `TaskPanicked`, the actor's state shows the
/// crash: the restart is counted, and it is restarting (or alive again), for a sync, an
/// async and a blocking method; and with no restarts left it is dead.
#[test]
fn the_state_shows_the_crash_as_soon_as_the_caller_sees_the_panic() {
    let actor = Panicky::new_actor().remote();
    let mut crashes = 0;
    for round in 0..60 {
        let call = match round % 3 {
            0 => actor.methods().sync_boom().remote(),
            1 => actor.methods().async_boom().remote(),
            _ => actor.methods().blocking_boom().remote(),
        };
        let err = call.get_timeout(BOUND).expect_err("it panics");
        assert!(matches!(err, ActorError::TaskPanicked { .. }), "{err:?}");
        crashes += 1;
        assert_eq!(actor.restarts(), crashes, "round {round}");
        let state = actor.state();
        assert!(
            matches!(state, ActorState::Restarting | ActorState::Alive),
            "round {round}: {state:?}"
        );
    }
    let last = Panicky::new_actor()
        .options(ActorOptions::new().max_restarts(0))
        .remote();
    let err = last.methods().sync_boom().remote().get_timeout(BOUND);
    assert!(matches!(err, Err(ActorError::TaskPanicked { .. })));
    assert!(
        matches!(last.state(), ActorState::Dead(DeathCause::Panicked(_))),
        "{:?}",
        last.state()
    );
}
