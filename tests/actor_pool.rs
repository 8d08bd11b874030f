//! `helio::util::ActorPool`: Ray's and sunray's ActorPool examples, ported, and what a pool
//! does when a member dies. Every wait is bounded.

use std::{
    collections::BTreeSet,
    sync::mpsc,
    time::{Duration, Instant},
};

use helio::prelude::*;
use helio::util::ActorPool;

/// Doubles; `gated` waits for a word from the test, so that results come out of order.
pub struct Worker {
    gate: Option<std::sync::Arc<std::sync::Mutex<mpsc::Receiver<()>>>>,
    /// Set by `park_here`: `parks` tells it and never returns.
    parked: Option<mpsc::Sender<()>>,
}

#[actor]
impl Worker {
    pub fn new() -> Self {
        Worker {
            gate: None,
            parked: None,
        }
    }

    /// From now on, `parks` tells `parked` and never returns.
    #[remote_method]
    pub fn park_here(&mut self, parked: mpsc::Sender<()>) {
        self.parked = Some(parked);
    }

    /// `x`; or, after `park_here`, says so and waits forever (an async call, which a kill
    /// interrupts, where a sync call blocking the actor's task would run on).
    #[remote_method]
    pub async fn parks(&self, x: u64) -> u64 {
        match &self.parked {
            None => x,
            Some(parked) => {
                let _ = parked.send(());
                std::future::pending().await
            }
        }
    }

    /// Twice `x`.
    #[remote_method]
    pub fn double(&self, x: u64) -> u64 {
        2 * x
    }

    /// Holds the gate the test opens.
    #[remote_method]
    pub fn hold(&mut self, gate: Gate) {
        self.gate = Some(gate.0);
    }

    /// `x`, once the test opens the gate (at most 20 s).
    #[remote_method]
    pub fn gated(&self, x: u64) -> u64 {
        if let Some(gate) = &self.gate {
            let opened = gate
                .lock()
                .expect("the gate")
                .recv_timeout(Duration::from_secs(20));
            assert!(opened.is_ok(), "the test never opened the gate");
        }
        x
    }
}

/// A gate a worker waits at, shared with the test.
#[derive(Clone)]
pub struct Gate(std::sync::Arc<std::sync::Mutex<mpsc::Receiver<()>>>);

fn workers(n: usize) -> Vec<Actor<Worker>> {
    (0..n).map(|_| Worker::new_actor().remote()).collect()
}

/// `n` workers, the first of which waits at a gate in `gated` until the sender opens it.
fn gated_workers(n: usize) -> (Vec<Actor<Worker>>, mpsc::Sender<()>) {
    let (open, gate) = mpsc::channel();
    let members = workers(n);
    members[0]
        .methods()
        .hold()
        .remote(Gate(std::sync::Arc::new(std::sync::Mutex::new(gate))))
        .get_timeout(BOUND)
        .expect("hold the gate");
    (members, open)
}

/// Piece `0` waits at the first worker's gate; the others are doubled.
fn zero_waits(a: &Actor<Worker>, v: u64) -> ObjectRef<u64> {
    if v == 0 {
        a.methods().gated().remote(v)
    } else {
        a.methods().double().remote(v)
    }
}

const BOUND: Duration = Duration::from_secs(20);

/// Ray's docs: `pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])` gives `[2, 4, 6, 8]`.
#[test]
fn map_gives_the_results_in_order() {
    let mut pool = ActorPool::new(workers(2));
    let doubled: Result<Vec<u64>, ActorError> = pool
        .map(|a, v| a.methods().double().remote(v), [1, 2, 3, 4])
        .collect();
    assert_eq!(doubled, Ok(vec![2, 4, 6, 8]));
    assert!(!pool.has_next());
}

/// sunray's docstring: `map_unordered` gives every result, in the order they come.
#[test]
fn map_unordered_gives_the_results_as_they_come() {
    let (members, open) = gated_workers(2);
    let mut pool = ActorPool::new(members);
    // The first piece waits at the gate: the two others, on the other actor, come first.
    let mut results = pool.map_unordered(zero_waits, [0, 1, 2]);
    assert_eq!(results.next(), Some(Ok(2)));
    assert_eq!(results.next(), Some(Ok(4)));
    open.send(()).expect("open the gate");
    assert_eq!(results.next(), Some(Ok(0)));
    assert_eq!(results.next(), None);
    drop(results);
    // In order, the waiting one first.
    open.send(()).expect("open the gate");
    let got: Vec<u64> = pool
        .map(zero_waits, [0, 1, 2])
        .collect::<Result<_, _>>()
        .expect("every piece");
    assert_eq!(got, [0, 2, 4]);
}

/// Ray's docs for `submit`, `get_next`, `has_next`, `get_next_unordered`.
#[test]
fn submit_and_get_next() {
    let mut pool = ActorPool::new(workers(2));
    pool.submit(|a, v| a.methods().double().remote(v), 1);
    pool.submit(|a, v| a.methods().double().remote(v), 2);
    assert!(pool.has_next());
    assert_eq!(pool.get_next(), Some(Ok(2)));
    assert_eq!(pool.get_next(), Some(Ok(4)));
    assert!(!pool.has_next());
    assert_eq!(pool.get_next(), None);
    pool.submit(|a, v| a.methods().double().remote(v), 1);
    pool.submit(|a, v| a.methods().double().remote(v), 2);
    let got: BTreeSet<u64> = [pool.get_next_unordered(), pool.get_next_unordered()]
        .into_iter()
        .map(|next| next.expect("a result").expect("doubled"))
        .collect();
    assert_eq!(got, BTreeSet::from([2, 4]));
    assert_eq!(pool.get_next_unordered(), None);
}

/// Ray's docs for `pop_idle` and `push`; work waits for an idle actor, and a pushed actor
/// takes it at once.
#[test]
fn pop_idle_and_push() {
    let mut pool = ActorPool::new(workers(1));
    pool.submit(|a, v| a.methods().double().remote(v), 1);
    assert!(pool.pop_idle().is_none(), "the only actor is busy");
    assert_eq!(pool.get_next(), Some(Ok(2)));
    let actor = pool.pop_idle().expect("idle again");
    // No actor: the work waits; then it fails, as none is left to do it.
    pool.submit(|a, v| a.methods().double().remote(v), 3);
    assert!(matches!(
        pool.get_next(),
        Some(Err(ActorError::ActorUnavailable { message, .. })) if message.contains("no actor is left")
    ));
    pool.submit(|a, v| a.methods().double().remote(v), 4);
    pool.push(actor);
    assert_eq!(pool.get_next(), Some(Ok(8)));
}

/// A result not there within the timeout: `GetTimeout`, and the result stays in the pool.
#[test]
fn a_timed_out_get_next_leaves_the_result_in_the_pool() {
    let (members, open) = gated_workers(1);
    let mut pool = ActorPool::new(members);
    pool.submit(|a, v| a.methods().gated().remote(v), 7);
    assert!(matches!(
        pool.get_next_timeout(Duration::from_millis(50)),
        Some(Err(ActorError::GetTimeout { .. }))
    ));
    assert!(matches!(
        pool.get_next_unordered_timeout(Duration::from_millis(50)),
        Some(Err(ActorError::GetTimeout { .. }))
    ));
    assert!(pool.has_next());
    open.send(()).expect("open the gate");
    assert_eq!(pool.get_next_timeout(BOUND), Some(Ok(7)));
}

/// A member killed mid-`map`: its piece goes to another member, and every result comes, in
/// order. The dead member leaves the pool.
#[test]
fn a_member_killed_mid_map_leaves_and_its_work_goes_to_another() {
    let members = workers(2);
    let victim = members[0].clone();
    let (tell, parked) = mpsc::channel();
    victim
        .methods()
        .park_here()
        .remote(tell)
        .get_timeout(BOUND)
        .expect("park the victim");
    let mut pool = ActorPool::new(members);
    let since = Instant::now();
    let mut results = pool.map(|a, v| a.methods().parks().remote(v), 0..6);
    // The victim takes a piece and waits forever, until killed.
    parked
        .recv_timeout(BOUND)
        .expect("the victim takes a piece");
    helio::kill(&victim, true);
    let got: Vec<u64> = results
        .by_ref()
        .collect::<Result<_, _>>()
        .expect("every piece, the victim's too");
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert!(since.elapsed() < BOUND);
    drop(results);
    // One member is left.
    let left = pool.pop_idle().expect("the survivor");
    assert!(pool.pop_idle().is_none(), "the dead member left the pool");
    assert_eq!(left.methods().double().remote(2).get_timeout(BOUND), Ok(4));
}

/// When every member is dead, the piece fails with the death, and what waits with
/// `ActorUnavailable`.
#[test]
fn with_every_member_dead_the_work_fails() {
    let members = workers(1);
    helio::kill(&members[0], true);
    let mut pool = ActorPool::new(members);
    pool.submit(|a, v| a.methods().double().remote(v), 1);
    pool.submit(|a, v| a.methods().double().remote(v), 2);
    assert!(matches!(
        pool.get_next_timeout(BOUND),
        Some(Err(ActorError::ActorDied { .. }))
    ));
    assert!(matches!(
        pool.get_next_timeout(BOUND),
        Some(Err(ActorError::ActorUnavailable { .. }))
    ));
    assert_eq!(pool.get_next(), None);
}

/// The async forms: `next`, `next_unordered`, and the streams.
#[test]
fn the_async_forms() {
    use helio::stream::StreamExt;
    let mut pool = ActorPool::new(workers(2));
    futures::executor::block_on(async {
        pool.submit(|a, v| a.methods().double().remote(v), 5);
        assert_eq!(pool.next().await, Some(Ok(10)));
        pool.submit(|a, v| a.methods().double().remote(v), 6);
        assert_eq!(pool.next_unordered().await, Some(Ok(12)));
        assert_eq!(pool.next().await, None);
        let ordered: Vec<_> = pool
            .map_stream(|a, v| a.methods().double().remote(v), [3, 1])
            .collect()
            .await;
        assert_eq!(ordered, [Ok(6), Ok(2)]);
    });
    let (members, open) = gated_workers(2);
    let mut pool = ActorPool::new(members);
    futures::executor::block_on(async {
        let mut unordered = std::pin::pin!(pool.map_unordered_stream(zero_waits, [0, 1]));
        assert_eq!(unordered.next().await, Some(Ok(2)));
        open.send(()).expect("open the gate");
        assert_eq!(unordered.next().await, Some(Ok(0)));
        assert_eq!(unordered.next().await, None);
    });
}
