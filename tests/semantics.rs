//! The runtime semantics of the core issue: ordering, concurrency limits, groups, pending-call
//! limits, blocking methods, constructors and handle lifecycle.

mod common;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use common::{BOUND, block_on, get};
use helio::prelude::*;
use tokio::sync::{Semaphore, mpsc};

// ---------------------------------------------------------------- ordering of `&mut self`

pub struct Log {
    items: Vec<u32>,
}

#[actor]
impl Log {
    pub fn new() -> Self {
        Log { items: Vec::new() }
    }

    #[remote_method]
    pub fn push(&mut self, item: u32) {
        self.items.push(item);
    }

    #[remote_method]
    pub async fn push_async(&mut self, item: u32) {
        tokio::task::yield_now().await;
        self.items.push(item);
    }

    #[remote_method]
    pub fn items(&self) -> Vec<u32> {
        self.items.clone()
    }
}

#[test]
fn mut_calls_from_one_handle_run_in_order() {
    let log = Log::new_actor().remote();
    let refs: Vec<_> = (0..2000)
        .map(|i| {
            if i % 2 == 0 {
                log.methods().push().remote(i)
            } else {
                log.methods().push_async().remote(i)
            }
        })
        .collect();
    for r in refs {
        get(r).unwrap();
    }
    assert_eq!(
        get(log.methods().items().remote()).unwrap(),
        (0..2000).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------- concurrency limits

/// Counts how many calls run at once; every call waits at `gate` until the test opens it.
pub struct Gated {
    gate: Arc<Semaphore>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    entered: mpsc::UnboundedSender<&'static str>,
}

#[actor(max_concurrency = 3, concurrency_groups = { io = 1, compute = 2 })]
impl Gated {
    pub fn new(gate: Arc<Semaphore>, entered: mpsc::UnboundedSender<&'static str>) -> Self {
        Gated {
            gate,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            entered,
        }
    }

    async fn hold(&self, tag: &'static str) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let _ = self.entered.send(tag);
        let permit = self.gate.acquire().await.expect("gate open");
        permit.forget();
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    /// Waits at the gate, in the default group.
    #[remote_method]
    pub async fn wait_default(&self) {
        self.hold("default").await
    }

    /// Waits at the gate, in group `io`.
    #[remote_method(concurrency_group = "io")]
    pub async fn wait_io(&self) {
        self.hold("io").await
    }

    /// Returns at once, in group `compute`.
    #[remote_method(concurrency_group = "compute")]
    pub fn ping(&self) -> &'static str {
        "pong"
    }

    #[remote_method]
    pub fn max_running(&self) -> usize {
        self.max_running.load(Ordering::SeqCst)
    }
}

#[test]
fn shared_calls_run_concurrently_up_to_the_limit_and_not_beyond() {
    let gate = Arc::new(Semaphore::new(0));
    let (tx, mut entered) = mpsc::unbounded_channel();
    let actor = Gated::new_actor().remote(Arc::clone(&gate), tx);
    let refs: Vec<_> = (0..10)
        .map(|_| actor.methods().wait_default().remote())
        .collect();
    // Three calls run at once: all three are inside the method, none has returned.
    block_on(async {
        for _ in 0..3 {
            entered.recv().await.unwrap();
        }
    });
    assert!(refs.iter().all(|r| !r.is_ready()));
    gate.add_permits(10);
    for r in refs {
        get(r).unwrap();
    }
    assert_eq!(get(actor.methods().max_running().remote()).unwrap(), 3);
}

#[test]
fn a_full_group_does_not_hold_up_another_group() {
    let gate = Arc::new(Semaphore::new(0));
    let (tx, mut entered) = mpsc::unbounded_channel();
    let actor = Gated::new_actor().remote(Arc::clone(&gate), tx);
    let first_io = actor.methods().wait_io().remote();
    let second_io = actor.methods().wait_io().remote();
    block_on(async { assert_eq!(entered.recv().await, Some("io")) });
    // `io` (size 1) is full; `compute` still serves.
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), "pong");
    // The second `io` call was queued before the ping and is still waiting for `io`'s permit.
    assert!(entered.try_recv().is_err());
    assert!(!second_io.is_ready());
    gate.add_permits(2);
    get(first_io).unwrap();
    get(second_io).unwrap();
}

#[test]
fn call_options_pick_a_group_and_unknown_groups_fail() {
    let gate = Arc::new(Semaphore::new(0));
    let (tx, _entered) = mpsc::unbounded_channel();
    let actor = Gated::new_actor().remote(gate, tx);
    let ping = actor
        .methods()
        .ping()
        .options(CallOptions::new().concurrency_group("io"));
    assert_eq!(get(ping.remote()).unwrap(), "pong");
    let nope = actor
        .methods()
        .ping()
        .options(CallOptions::new().concurrency_group("nope"));
    match get(nope.remote()) {
        Err(ActorError::UnknownConcurrencyGroup {
            group, declared, ..
        }) => {
            assert_eq!(group, "nope");
            assert_eq!(declared, "default, io, compute");
        }
        other => panic!("expected UnknownConcurrencyGroup, got {other:?}"),
    }
}

// ---------------------------------------------------------------- `&mut self` is a barrier

pub struct Barrier {
    gate: Arc<Semaphore>,
    events: Mutex<Vec<&'static str>>,
}

#[actor(max_concurrency = 10)]
impl Barrier {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Barrier {
            gate,
            events: Mutex::new(Vec::new()),
        }
    }

    fn event(&self, e: &'static str) {
        self.events.lock().unwrap().push(e);
    }

    #[remote_method]
    pub async fn slow(&self) {
        self.event("slow:start");
        self.gate.acquire().await.unwrap().forget();
        self.event("slow:end");
    }

    #[remote_method]
    pub fn exclusive(&mut self) {
        self.events.get_mut().unwrap().push("exclusive");
    }

    #[remote_method]
    pub fn shared(&self) {
        self.event("shared");
    }

    #[remote_method]
    pub fn events(&self) -> Vec<&'static str> {
        self.events.lock().unwrap().clone()
    }
}

#[test]
fn a_mut_call_waits_for_earlier_calls_and_holds_back_later_ones() {
    let gate = Arc::new(Semaphore::new(0));
    let actor = Barrier::new_actor().remote(Arc::clone(&gate));
    let slow = actor.methods().slow().remote();
    let exclusive = actor.methods().exclusive().remote();
    let shared = actor.methods().shared().remote();
    // `events` is queued behind `exclusive` too, so it cannot answer before the gate opens.
    let before = actor.methods().events().remote();
    assert!(!exclusive.is_ready() && !shared.is_ready() && !before.is_ready());
    gate.add_permits(1);
    get(slow).unwrap();
    get(exclusive).unwrap();
    get(shared).unwrap();
    assert_eq!(
        get(before).unwrap(),
        ["slow:start", "slow:end", "exclusive", "shared"]
    );
}

// ---------------------------------------------------------------- pending-call limit

#[actor(max_pending_calls = 2, max_concurrency = 10)]
impl Gated2 {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Gated2 { gate }
    }

    #[remote_method]
    pub async fn wait(&self) {
        self.gate.acquire().await.unwrap().forget();
    }
}

pub struct Gated2 {
    gate: Arc<Semaphore>,
}

#[test]
fn pending_call_limit_rejects_at_once_per_handle() {
    let gate = Arc::new(Semaphore::new(0));
    let actor = Gated2::new_actor().remote(Arc::clone(&gate));
    let wait = actor.methods().wait();
    let first = wait.remote();
    let second = wait.remote();
    let third = wait.remote();
    assert!(third.is_ready(), "the over-limit call resolves at once");
    match get(third) {
        Err(ActorError::PendingCallsLimitExceeded {
            limit: 2,
            method: "wait",
            ..
        }) => {}
        other => panic!("expected PendingCallsLimitExceeded, got {other:?}"),
    }
    // Another handle has its own budget.
    let other = actor.clone();
    let from_clone = other.methods().wait().remote();
    assert!(!from_clone.is_ready());
    gate.add_permits(3);
    get(first).unwrap();
    get(second).unwrap();
    get(from_clone).unwrap();
    // Completed calls free the budget.
    let again = wait.remote();
    gate.add_permits(1);
    get(again).unwrap();
}

// ---------------------------------------------------------------- blocking methods

pub struct Blocking;

#[actor(max_concurrency = 2)]
impl Blocking {
    pub fn new() -> Self {
        Blocking
    }

    /// Blocks its thread until the test releases it (bounded), after saying it started.
    #[remote_method(blocking)]
    pub fn hold(
        &self,
        started: std::sync::mpsc::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
    ) -> bool {
        let _ = started.send(());
        release.recv_timeout(BOUND).is_ok()
    }

    #[remote_method]
    pub fn ping(&self) -> u8 {
        7
    }
}

#[test]
fn blocking_methods_leave_the_actor_serving() {
    let actor = Blocking::new_actor().remote();
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let blocked = actor.methods().hold().remote(started_tx, release_rx);
    started
        .recv_timeout(BOUND)
        .expect("the blocking call started");
    // While `hold` blocks a thread of the blocking pool, the actor still answers.
    assert_eq!(get(actor.methods().ping().remote()).unwrap(), 7);
    release.send(()).unwrap();
    assert!(get(blocked).unwrap());
}

// ---------------------------------------------------------------- constructors

pub struct Fallible {
    n: u32,
}

#[actor]
impl Fallible {
    #[init]
    pub async fn connect(n: u32) -> Result<Self, String> {
        tokio::task::yield_now().await;
        if n == 0 {
            Err("n must not be zero".to_owned())
        } else {
            Ok(Fallible { n })
        }
    }

    #[remote_method]
    pub fn n(&self) -> u32 {
        self.n
    }
}

#[test]
fn async_fallible_constructor_success() {
    let actor = Fallible::new_actor().remote(5);
    get(actor.ready()).unwrap();
    assert_eq!(get(actor.methods().n().remote()).unwrap(), 5);
}

#[test]
fn constructor_failure_reaches_ready_and_every_call() {
    let actor = Fallible::new_actor().remote(0);
    let call = actor.methods().n().remote();
    match get(actor.ready()) {
        Err(ActorError::InitFailed { message, .. }) => assert_eq!(message, "n must not be zero"),
        other => panic!("expected InitFailed, got {other:?}"),
    }
    for r in [call, actor.methods().n().remote()] {
        match get(r) {
            Err(
                err @ ActorError::ActorDied {
                    cause: DeathCause::InitFailed(_),
                    ..
                },
            ) => {
                let text = err.to_string();
                assert!(text.contains("Fallible") && text.contains("`n`"), "{text}");
            }
            other => panic!("expected ActorDied(InitFailed), got {other:?}"),
        }
    }
}

#[test]
fn invalid_runtime_options_are_reported() {
    let actor = Log::new_actor()
        .options(ActorOptions::new().max_restarts(-2))
        .remote();
    match get(actor.methods().items().remote()) {
        Err(ActorError::ActorDied {
            cause: DeathCause::InvalidOptions(m),
            ..
        }) => {
            assert!(m.contains("max_restarts"), "{m}");
        }
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
}

// ---------------------------------------------------------------- lifecycle

/// Reports its own drop.
pub struct DropProbe {
    dropped: std::sync::mpsc::Sender<()>,
    calls: u32,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

#[actor]
impl DropProbe {
    pub fn new(dropped: std::sync::mpsc::Sender<()>) -> Self {
        DropProbe { dropped, calls: 0 }
    }

    #[remote_method]
    pub async fn call(&mut self) -> u32 {
        tokio::task::yield_now().await;
        self.calls += 1;
        self.calls
    }
}

#[test]
fn dropping_every_handle_stops_the_actor_after_its_queued_calls() {
    let (tx, dropped) = std::sync::mpsc::channel();
    let actor = DropProbe::new_actor().remote(tx);
    let refs: Vec<_> = (0..100).map(|_| actor.methods().call().remote()).collect();
    let clone = actor.clone();
    drop(actor);
    assert!(dropped.try_recv().is_err(), "a clone still holds the actor");
    drop(clone);
    let results: Vec<u32> = refs.into_iter().map(|r| get(r).unwrap()).collect();
    assert_eq!(results, (1..=100).collect::<Vec<_>>());
    dropped
        .recv_timeout(BOUND)
        .expect("the actor's state is dropped once its handles are gone");
}

// ---------------------------------------------------------------- named actors

#[test]
fn a_taken_name_fails_unless_get_if_exists() {
    let options = || ActorOptions::new().name("named-log").namespace("semantics");
    let first = Log::new_actor().options(options()).remote();
    get(first.methods().push().remote(1)).unwrap();
    let taken = Log::new_actor().options(options()).remote();
    match get(taken.methods().items().remote()) {
        Err(ActorError::ActorDied {
            cause: DeathCause::NameTaken { name, namespace },
            ..
        }) => {
            assert_eq!(
                (namespace.as_str(), name.as_str()),
                ("semantics", "named-log")
            );
        }
        other => panic!("expected NameTaken, got {other:?}"),
    }
    let same = Log::new_actor()
        .options(options().get_if_exists(true))
        .remote();
    assert_eq!(same, first);
    assert_eq!(get(same.methods().items().remote()).unwrap(), [1]);
}

#[test]
fn racing_get_if_exists_creates_one_actor() {
    let handles: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                Log::new_actor()
                    .options(ActorOptions::new().name("race").get_if_exists(true))
                    .remote()
            })
        })
        .collect();
    let actors: Vec<Actor<Log>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(actors.windows(2).all(|w| w[0] == w[1]));
}
