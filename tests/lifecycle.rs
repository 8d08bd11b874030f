//! Kill, actor state and restart counts, typed lookup of named actors, and `current_actor`.

mod common;

use std::sync::Arc;

use common::get;
use helio::{LookupError, prelude::*};
use tokio::sync::Semaphore;

pub struct Cell {
    gate: Arc<Semaphore>,
    value: u64,
}

#[actor(max_concurrency = 10)]
impl Cell {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Cell { gate, value: 0 }
    }

    #[remote_method]
    pub fn set(&mut self, value: u64) {
        self.value = value;
    }

    #[remote_method]
    pub fn value(&self) -> u64 {
        self.value
    }

    #[remote_method]
    pub async fn park(&self) {
        self.gate.acquire().await.unwrap().forget();
    }

    /// Through its own handle: reads the value with a shared call (which runs beside this one),
    /// then queues `set(value)` without waiting for it: it is exclusive, so it runs only after
    /// this call returns.
    #[remote_method]
    pub async fn peek_then_set_via_self(&self, value: u64) -> Option<u64> {
        let me = helio::current_actor::<Cell>()?;
        let peeked = me.methods().value().remote().await.ok();
        drop(me.methods().set().remote(value));
        peeked
    }

    /// Reports through `events` when its future is dropped before the gate opens.
    #[remote_method]
    pub async fn park_tracked(&self, events: std::sync::mpsc::Sender<&'static str>) {
        struct Tracker(std::sync::mpsc::Sender<&'static str>, bool);
        impl Drop for Tracker {
            fn drop(&mut self) {
                let _ = self.0.send(if self.1 { "finished" } else { "dropped" });
            }
        }
        let mut tracker = Tracker(events, false);
        self.gate.acquire().await.unwrap().forget();
        tracker.1 = true;
    }

    /// Says it started, then computes (synchronously, until released) and returns without
    /// awaiting anything.
    #[remote_method]
    pub async fn compute_then_return(
        &self,
        started: std::sync::mpsc::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
    ) -> u64 {
        let _ = started.send(());
        release
            .recv_timeout(common::BOUND)
            .expect("released by the test");
        7
    }

    /// Sets `value`, says so, then waits at the gate before setting `value + 1`.
    #[remote_method]
    pub async fn set_in_two_steps(&mut self, value: u64, started: std::sync::mpsc::Sender<()>) {
        self.value = value;
        let _ = started.send(());
        self.gate.acquire().await.unwrap().forget();
        self.value = value + 1;
    }

    /// Says it started, waits (bounded) for the test's release, then sets `value`.
    #[remote_method(blocking)]
    pub fn set_when_released(
        &mut self,
        started: std::sync::mpsc::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
        value: u64,
    ) -> u64 {
        let _ = started.send(());
        release
            .recv_timeout(common::BOUND)
            .expect("released by the test");
        self.value = value;
        value
    }

    #[remote_method]
    pub fn is_a_different_actor(&self) -> bool {
        helio::current_actor::<Other>().is_some()
    }
}

pub struct Other;

#[actor]
impl Other {
    pub fn new() -> Self {
        Other
    }
}

fn cell(options: ActorOptions) -> (Actor<Cell>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    (
        Cell::new_actor().options(options).remote(Arc::clone(&gate)),
        gate,
    )
}

fn assert_killed<T: std::fmt::Debug>(r: ObjectRef<T>) {
    match get(r) {
        Err(ActorError::ActorDied {
            cause: DeathCause::Killed,
            ..
        }) => {}
        other => panic!("expected ActorDied(Killed), got {other:?}"),
    }
}

#[test]
fn kill_for_good_resolves_running_queued_and_later_calls() {
    let (actor, _gate) = cell(ActorOptions::new().max_restarts(5));
    get(actor.ready()).unwrap();
    assert_eq!(actor.state(), ActorState::Alive);
    let running = actor.methods().park().remote();
    let queued = actor.methods().set().remote(1);
    helio::kill(&actor, true);
    assert_killed(running);
    assert_killed(queued);
    assert_killed(actor.methods().value().remote());
    assert_eq!(actor.state(), ActorState::Dead(DeathCause::Killed));
    assert_eq!(actor.restarts(), 0);
}

#[test]
fn kill_with_restart_reruns_the_constructor_and_keeps_queued_calls() {
    let (actor, _gate) = cell(ActorOptions::new().max_restarts(1));
    get(actor.methods().set().remote(7)).unwrap();
    let running = actor.methods().park().remote();
    // Calls start in order: once this later shared call has returned, `park` is running.
    get(actor.methods().value().remote()).unwrap();
    // `set` is exclusive: it waits behind the parked call, so it is still queued at the kill.
    let queued = actor.methods().set().remote(8);
    helio::kill(&actor, false);
    assert_killed(running);
    get(queued).unwrap();
    assert_eq!(get(actor.methods().value().remote()).unwrap(), 8);
    assert_eq!(actor.restarts(), 1);
    assert_eq!(actor.state(), ActorState::Alive);
    // No restart left: the next kill is final.
    helio::kill(&actor, false);
    assert_killed(actor.methods().value().remote());
    assert_eq!(actor.state(), ActorState::Dead(DeathCause::Killed));
}

#[test]
fn typed_lookup_finds_named_actors_and_names_both_types_on_a_mismatch() {
    let (actor, _gate) = cell(
        ActorOptions::new()
            .name("lookup-cell")
            .namespace("lifecycle"),
    );
    get(actor.methods().set().remote(3)).unwrap();
    let found = helio::get_actor_in::<Cell>("lifecycle", "lookup-cell").unwrap();
    assert_eq!(found, actor);
    assert_eq!(get(found.methods().value().remote()).unwrap(), 3);
    match helio::get_actor_in::<Other>("lifecycle", "lookup-cell") {
        Err(err @ LookupError::WrongType { .. }) => {
            let text = err.to_string();
            assert!(text.contains("Cell") && text.contains("Other"), "{text}");
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    assert!(matches!(
        helio::get_actor::<Cell>("lookup-cell"),
        Err(LookupError::NotFound { .. })
    ));
    let listed = helio::list_actors();
    let info = listed
        .iter()
        .find(|i| i.namespace == "lifecycle" && i.name == "lookup-cell")
        .expect("listed");
    assert!(info.type_name.ends_with("Cell"));
    assert_eq!((info.state.clone(), info.restarts), (ActorState::Alive, 0));
    // Once every handle is gone, the name is free again.
    drop((actor, found));
    let (again, _gate) = cell(
        ActorOptions::new()
            .name("lookup-cell")
            .namespace("lifecycle"),
    );
    assert_eq!(get(again.methods().value().remote()).unwrap(), 0);
}

#[test]
fn a_detached_actor_outlives_its_handles_until_killed() {
    let options = ActorOptions::new()
        .name("detached-cell")
        .lifetime(Lifetime::Detached);
    let (actor, _gate) = cell(options);
    get(actor.methods().set().remote(11)).unwrap();
    let id = actor.id();
    drop(actor);
    let found = helio::get_actor::<Cell>("detached-cell").expect("still registered");
    assert_eq!(found.id(), id);
    assert_eq!(get(found.methods().value().remote()).unwrap(), 11);
    helio::kill(&found, true);
    assert_killed(found.methods().value().remote());
    assert!(helio::get_actor::<Cell>("detached-cell").is_err());
}

#[test]
fn a_method_can_call_its_own_actor() {
    let (actor, _gate) = cell(ActorOptions::new());
    assert_eq!(
        get(actor.methods().peek_then_set_via_self().remote(42)).unwrap(),
        Some(0)
    );
    assert_eq!(get(actor.methods().value().remote()).unwrap(), 42);
    assert!(!get(actor.methods().is_a_different_actor().remote()).unwrap());
    assert!(helio::current_actor::<Cell>().is_none());
}

fn assert_cancelled<T: std::fmt::Debug>(r: ObjectRef<T>) {
    assert!(r.is_ready(), "a cancelled ref resolves at once");
    match get(r) {
        Err(ActorError::Cancelled { .. }) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
}

/// A running async call resolves to `Cancelled` once it is dropped at an await point.
fn assert_cancelled_when_stopped<T: std::fmt::Debug>(r: ObjectRef<T>) {
    match get(r) {
        Err(ActorError::Cancelled { .. }) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
}

#[test]
fn a_cancelled_call_that_returns_before_an_await_keeps_its_value() {
    let (actor, _gate) = cell(ActorOptions::new());
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let running = actor
        .methods()
        .compute_then_return()
        .remote(started_tx, release_rx);
    started
        .recv_timeout(common::BOUND)
        .expect("the call started");
    assert!(running.cancel(), "still pending");
    assert!(
        !running.is_ready(),
        "a running async call decides its own outcome"
    );
    release.send(()).unwrap();
    // It never reached an await after the cancel: its result is kept, not thrown away.
    assert_eq!(get(running).unwrap(), 7);
}

#[test]
fn cancelling_a_queued_call_resolves_it_at_once_and_it_never_runs() {
    let (actor, gate) = cell(ActorOptions::new());
    let parked = actor.methods().park().remote();
    get(actor.methods().value().remote()).unwrap(); // `park` is running
    let queued = actor.methods().set().remote(5); // exclusive: waits behind `park`
    assert!(helio::cancel(&queued));
    assert_cancelled(queued);
    gate.add_permits(1);
    get(parked).unwrap();
    assert_eq!(get(actor.methods().value().remote()).unwrap(), 0);
}

#[test]
fn cancelling_a_running_async_call_drops_it_at_its_await_point() {
    let (actor, gate) = cell(ActorOptions::new());
    let (tx, events) = std::sync::mpsc::channel();
    let running = actor.methods().park_tracked().remote(tx);
    get(actor.methods().value().remote()).unwrap(); // `park_tracked` is running
    assert!(running.cancel());
    assert_eq!(events.recv_timeout(common::BOUND), Ok("dropped"));
    assert_cancelled_when_stopped(running);
    // The dropped call did not take the gate's permit; the actor serves on.
    gate.add_permits(1);
    assert_eq!(gate.available_permits(), 1);
    assert_eq!(get(actor.methods().value().remote()).unwrap(), 0);
    assert!(!running_cancel_is_repeatable(&actor));
}

/// Cancelling a resolved ref does nothing.
fn running_cancel_is_repeatable(actor: &Actor<Cell>) -> bool {
    let done = actor.methods().value().remote();
    let _ = done.clone().get_timeout(common::BOUND);
    done.cancel()
}

#[test]
fn cancelling_a_running_mut_call_keeps_the_state_and_the_actor() {
    let (actor, _gate) = cell(ActorOptions::new());
    let (started_tx, started) = std::sync::mpsc::channel();
    let running = actor.methods().set_in_two_steps().remote(10, started_tx);
    let after = actor.methods().value().remote(); // runs once the exclusive call is gone
    started
        .recv_timeout(common::BOUND)
        .expect("the call started");
    assert!(running.cancel());
    assert_cancelled_when_stopped(running);
    // The first step happened; the second never will. No crash, no restart.
    assert_eq!(get(after).unwrap(), 10);
    assert_eq!(actor.restarts(), 0);
    assert_eq!(actor.state(), ActorState::Alive);
}

#[test]
fn a_running_blocking_call_finishes_and_its_result_is_discarded() {
    let (actor, _gate) = cell(ActorOptions::new());
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let running = actor
        .methods()
        .set_when_released()
        .remote(started_tx, release_rx, 3);
    let after = actor.methods().value().remote();
    started
        .recv_timeout(common::BOUND)
        .expect("the blocking call started");
    assert!(running.cancel());
    assert_cancelled(running);
    // It cannot be stopped: it finishes, and only its result is dropped.
    release.send(()).unwrap();
    assert_eq!(get(after).unwrap(), 3);
}

/// Reports its `#[on_stop]` hook and its drop, in order.
pub struct Stoppable {
    events: std::sync::mpsc::Sender<&'static str>,
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        let _ = self.events.send("dropped");
    }
}

#[actor]
impl Stoppable {
    pub fn new(events: std::sync::mpsc::Sender<&'static str>) -> Self {
        Stoppable { events }
    }

    #[on_stop]
    async fn stopping(&mut self) {
        tokio::task::yield_now().await;
        let _ = self.events.send("on_stop");
    }

    #[remote_method]
    pub fn ping(&self) {}
}

#[test]
fn on_stop_runs_at_a_graceful_stop_but_not_at_a_kill() {
    let (tx, events) = std::sync::mpsc::channel();
    let graceful = Stoppable::new_actor().remote(tx.clone());
    get(graceful.methods().ping().remote()).unwrap();
    drop(graceful);
    assert_eq!(events.recv_timeout(common::BOUND), Ok("on_stop"));
    assert_eq!(events.recv_timeout(common::BOUND), Ok("dropped"));

    let killed = Stoppable::new_actor().remote(tx);
    get(killed.methods().ping().remote()).unwrap();
    helio::kill(&killed, true);
    // The state is dropped without the hook having run.
    assert_eq!(events.recv_timeout(common::BOUND), Ok("dropped"));
    drop(killed);
    assert!(events.try_recv().is_err());
}

/// Newcomer issue: a name that is taken reads as the name conflict it is, not as a death.
#[test]
fn a_taken_name_says_so() {
    let gate = || Arc::new(Semaphore::new(0));
    let first = Cell::new_actor()
        .options(ActorOptions::new().name("taken-name-message"))
        .remote(gate());
    let second = Cell::new_actor()
        .options(ActorOptions::new().name("taken-name-message"))
        .remote(gate());
    let err = common::get(second.methods().value().remote()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("was never started") && text.contains("is taken by another actor"),
        "{text}"
    );
    drop(first);
}

/// Kept state that tells when the runtime lets go of it.
pub struct Keeper {
    _count: Arc<std::sync::atomic::AtomicU64>,
}

/// Dropped by the runtime: it sends on the channel it holds.
struct Witness(std::sync::mpsc::Sender<()>);

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[actor(max_restarts = 1)]
impl Keeper {
    pub fn new(dropped: std::sync::mpsc::Sender<()>) -> Self {
        // Kept by the runtime only: the state holds the counter, not the witness.
        drop(helio::keep_across_restarts(|| {
            std::sync::Mutex::new(Witness(dropped))
        }));
        Keeper {
            _count: helio::keep_across_restarts(|| std::sync::atomic::AtomicU64::new(7)),
        }
    }
}

#[test]
fn handles_reach_kept_values_and_a_kill_for_good_lets_go_of_them_at_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let (dropped, witness) = std::sync::mpsc::channel();
    let keeper = Keeper::new_actor().remote(dropped);
    keeper.ready().get().expect("the constructor ran");
    let count = keeper.kept::<AtomicU64>().expect("kept by the constructor");
    assert_eq!(count.load(Ordering::Relaxed), 7);
    assert!(
        keeper.kept::<String>().is_none(),
        "nothing of that type is kept"
    );

    // A crash restarts the actor: the kept values stay.
    helio::kill(&keeper, false);
    keeper.ready().get().expect("the constructor ran");
    assert_eq!(keeper.restarts(), 1);
    assert!(witness.try_recv().is_err(), "a restart keeps what is kept");
    assert!(Arc::ptr_eq(&count, &keeper.kept::<AtomicU64>().unwrap()));

    // Killed for good: let go of before `kill` returns, not when the driver gets to it.
    helio::kill(&keeper, true);
    assert_eq!(witness.try_recv(), Ok(()), "dropped by the kill itself");
    assert!(keeper.kept::<AtomicU64>().is_none());
}
