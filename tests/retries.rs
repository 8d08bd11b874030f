//! Task retries: calls interrupted by a crash are re-run on the restarted actor, exactly up to
//! `max_task_retries` (call > method > actor), before the calls that were still queued.

mod common;

use std::sync::{
    Arc, Mutex,
    mpsc::{Receiver, Sender, channel},
};

use common::{BOUND, get};
use helio::prelude::*;
use tokio::sync::Semaphore;

/// Not `Clone`: a call taking it cannot be re-run.
pub struct Token;

pub struct Retried {
    gate: Arc<Semaphore>,
    log: Arc<Mutex<Vec<u32>>>,
}

#[actor(max_restarts = -1, max_concurrency = 10)]
impl Retried {
    pub fn new(gate: Arc<Semaphore>, log: Arc<Mutex<Vec<u32>>>) -> Self {
        Retried { gate, log }
    }

    async fn wait_at_gate(&self, tag: u32, started: &Sender<u32>) -> u32 {
        let _ = started.send(tag);
        self.gate.acquire().await.unwrap().forget();
        self.log.lock().unwrap().push(tag);
        tag
    }

    /// Says it started, then waits at the gate.
    #[remote_method]
    pub async fn work(&self, tag: u32, started: Sender<u32>) -> u32 {
        self.wait_at_gate(tag, &started).await
    }

    /// Like `work`, with a method-level `max_task_retries`.
    #[remote_method(max_task_retries = 1)]
    pub async fn work_retry_once(&self, tag: u32, started: Sender<u32>) -> u32 {
        self.wait_at_gate(tag, &started).await
    }

    /// Like `work`, but exclusive.
    #[remote_method]
    pub async fn work_alone(&mut self, tag: u32, started: Sender<u32>) -> u32 {
        self.wait_at_gate(tag, &started).await
    }

    /// Like `work`, with an argument that is not `Clone`.
    #[remote_method]
    pub async fn work_with_token(&self, tag: u32, started: Sender<u32>, _token: Token) -> u32 {
        self.wait_at_gate(tag, &started).await
    }

    #[remote_method]
    pub fn push(&mut self, tag: u32) {
        self.log.lock().unwrap().push(tag);
    }

    #[remote_method]
    pub fn ping(&self) {}
}

fn retried(options: ActorOptions) -> (Actor<Retried>, Arc<Semaphore>, Arc<Mutex<Vec<u32>>>) {
    let gate = Arc::new(Semaphore::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let actor = Retried::new_actor()
        .options(options)
        .remote(Arc::clone(&gate), Arc::clone(&log));
    (actor, gate, log)
}

fn started(rx: &Receiver<u32>) -> u32 {
    rx.recv_timeout(BOUND).expect("the call started")
}

fn assert_killed(r: ObjectRef<u32>) {
    match get(r) {
        Err(ActorError::ActorDied {
            cause: DeathCause::Killed,
            ..
        }) => {}
        other => panic!("expected ActorDied(Killed), got {other:?}"),
    }
}

/// No further run started: a run re-queued after the last restart would start before `ping`.
fn assert_no_more_runs(actor: &Actor<Retried>, rx: &Receiver<u32>) {
    get(actor.methods().ping().remote()).unwrap();
    assert!(rx.try_recv().is_err(), "the call ran again");
}

#[test]
fn an_interrupted_call_runs_again_exactly_up_to_the_limit() {
    let (actor, _gate, _log) = retried(ActorOptions::new().max_task_retries(2));
    let (tx, rx) = channel();
    let call = actor.methods().work().remote(7, tx);
    for _ in 0..3 {
        assert_eq!(started(&rx), 7);
        helio::kill(&actor, false);
    }
    assert_killed(call);
    assert_no_more_runs(&actor, &rx);
    assert_eq!(actor.restarts(), 3);
}

#[test]
fn a_retried_call_returns_its_value() {
    let (actor, gate, log) = retried(ActorOptions::new().max_task_retries(-1));
    let (tx, rx) = channel();
    let call = actor.methods().work().remote(8, tx);
    assert_eq!(started(&rx), 8);
    helio::kill(&actor, false);
    assert_eq!(started(&rx), 8);
    gate.add_permits(1);
    assert_eq!(get(call).unwrap(), 8);
    assert_eq!(*log.lock().unwrap(), [8], "it finished once");
}

#[test]
fn call_options_and_method_attributes_override_the_actor() {
    let (actor, _gate, _log) = retried(ActorOptions::new().max_task_retries(-1));
    let (tx, rx) = channel();
    let never = actor
        .methods()
        .work()
        .options(CallOptions::new().max_task_retries(0))
        .remote(1, tx.clone());
    assert_eq!(started(&rx), 1);
    helio::kill(&actor, false);
    assert_killed(never);
    assert_no_more_runs(&actor, &rx);

    // The actor's default is 0 here; the method's attribute allows one retry.
    let (actor, _gate, _log) = retried(ActorOptions::new());
    let once = actor.methods().work_retry_once().remote(2, tx);
    assert_eq!(started(&rx), 2);
    helio::kill(&actor, false);
    assert_eq!(started(&rx), 2);
    helio::kill(&actor, false);
    assert_killed(once);
    assert_no_more_runs(&actor, &rx);
}

#[test]
fn an_interrupted_exclusive_call_runs_again() {
    let (actor, gate, _log) = retried(ActorOptions::new().max_task_retries(1));
    let (tx, rx) = channel();
    let call = actor.methods().work_alone().remote(3, tx);
    assert_eq!(started(&rx), 3);
    helio::kill(&actor, false);
    assert_eq!(started(&rx), 3);
    gate.add_permits(1);
    assert_eq!(get(call).unwrap(), 3);
}

#[test]
fn a_call_with_arguments_that_are_not_clone_is_not_retried() {
    let (actor, _gate, _log) = retried(ActorOptions::new().max_task_retries(-1));
    let (tx, rx) = channel();
    let call = actor.methods().work_with_token().remote(4, tx, Token);
    assert_eq!(started(&rx), 4);
    helio::kill(&actor, false);
    assert_killed(call);
    assert_no_more_runs(&actor, &rx);
}

#[test]
fn queued_calls_survive_a_restart_in_order_behind_the_retried_call() {
    let (actor, gate, log) = retried(ActorOptions::new().max_task_retries(1));
    let (tx, rx) = channel();
    let running = actor.methods().work().remote(0, tx);
    // Exclusive: they queue behind the running call.
    let queued: Vec<_> = (1..=50).map(|i| actor.methods().push().remote(i)).collect();
    assert_eq!(started(&rx), 0);
    helio::kill(&actor, false);
    assert_eq!(started(&rx), 0);
    gate.add_permits(1);
    assert_eq!(get(running).unwrap(), 0);
    for r in queued {
        get(r).unwrap();
    }
    assert_eq!(*log.lock().unwrap(), (0..=50).collect::<Vec<_>>());
}
