//! Object refs (get, get_all, put, wait, timeouts, clones, any executor) and panic isolation.

mod common;

use std::{future::IntoFuture, sync::Arc, time::Duration};

use common::{BOUND, block_on, get};
use helio::prelude::*;
use tokio::sync::Semaphore;

pub struct Worker {
    gate: Arc<Semaphore>,
    served: u64,
}

#[actor(max_concurrency = 100)]
impl Worker {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Worker { gate, served: 0 }
    }

    /// Returns `x` once the gate lets it through.
    #[remote_method]
    pub async fn gated(&self, x: u64) -> u64 {
        self.gate.acquire().await.unwrap().forget();
        x
    }

    #[remote_method]
    pub fn double(&mut self, x: u64) -> u64 {
        self.served += 1;
        x * 2
    }

    /// A pair, once the gate lets it through.
    #[remote_method]
    pub async fn pair(&self, x: u64) -> (u64, String) {
        self.gate.acquire().await.unwrap().forget();
        (x, x.to_string())
    }

    #[remote_method]
    pub fn pair_or_panic(&self, fail: bool) -> (u64, String) {
        assert!(!fail, "no pair");
        (1, "one".to_owned())
    }

    #[remote_method]
    pub fn served(&self) -> u64 {
        self.served
    }

    #[remote_method]
    pub fn explode(&mut self, message: String) -> u64 {
        panic!("{message}")
    }

    #[remote_method]
    pub async fn explode_later(&self) -> u64 {
        tokio::task::yield_now().await;
        panic!("async boom")
    }
}

fn worker() -> (Actor<Worker>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    (Worker::new_actor().remote(Arc::clone(&gate)), gate)
}

#[test]
fn put_and_get() {
    assert_eq!(helio::get(helio::put(5)).unwrap(), 5);
    let refs = vec![helio::put(1), helio::put(2), helio::put(3)];
    assert_eq!(helio::get_all(refs).unwrap(), [1, 2, 3]);
}

#[test]
fn get_all_keeps_input_order() {
    let (w, gate) = worker();
    let refs: Vec<_> = (0..50).map(|i| w.methods().gated().remote(i)).collect();
    gate.add_permits(50);
    assert_eq!(helio::get_all(refs).unwrap(), (0..50).collect::<Vec<_>>());
}

/// `get_all_timeout`: one deadline for the batch, not one per ref.
#[test]
fn get_all_timeout_has_one_deadline_for_the_batch() {
    let (w, gate) = worker();
    let refs: Vec<_> = (0..3).map(|i| w.methods().gated().remote(i)).collect();
    gate.add_permits(3);
    assert_eq!(helio::get_all_timeout(refs, BOUND), Ok(vec![0, 1, 2]));
    // Two refs that never resolve: the batch fails once, at its own timeout.
    let blocked: Vec<_> = (0..2).map(|i| w.methods().gated().remote(i)).collect();
    let timeout = Duration::from_millis(30);
    assert_eq!(
        helio::get_all_timeout(blocked, timeout),
        Err(ActorError::GetTimeout { timeout })
    );
    gate.add_permits(2);
}

#[test]
fn get_timeout_elapses_on_a_blocked_call() {
    let (w, gate) = worker();
    let blocked = w.methods().gated().remote(1);
    assert_eq!(
        blocked.get_timeout(Duration::from_millis(20)),
        Err(ActorError::GetTimeout {
            timeout: Duration::from_millis(20)
        })
    );
    gate.add_permits(1);
}

#[test]
fn wait_returns_as_soon_as_enough_are_ready() {
    let (w, gate) = worker();
    let refs = vec![
        w.methods().gated().remote(0),
        helio::put(1),
        w.methods().gated().remote(2),
        helio::put(3),
    ];
    // No timeout: returns once two are ready, in input order.
    let (ready, pending) = block_on(helio::wait(&refs, 2, None));
    assert_eq!(ready.len(), 2);
    assert!(std::ptr::eq(ready[0], &refs[1]) && std::ptr::eq(ready[1], &refs[3]));
    assert_eq!(pending.len(), 2);
    // `wait` consumes nothing: the refs are still there to get.
    gate.add_permits(2);
    let (ready, pending) = helio::wait_blocking(&refs, 4, Some(BOUND));
    assert_eq!((ready.len(), pending.len()), (4, 0));
    assert_eq!(helio::get_all(refs).unwrap(), [0, 1, 2, 3]);
}

#[test]
fn wait_honours_its_timeout() {
    let (w, gate) = worker();
    let refs = vec![helio::put(1), w.methods().gated().remote(2)];
    let short = Some(Duration::from_millis(20));
    let (ready, pending) = block_on(helio::wait(&refs, 2, short));
    assert_eq!((ready.len(), pending.len()), (1, 1));
    let (ready, pending) = helio::wait_blocking(&refs, 2, short);
    assert_eq!((ready.len(), pending.len()), (1, 1));
    // `num_returns` beyond the number of refs is capped.
    gate.add_permits(1);
    let (ready, _) = helio::wait_blocking(&refs, 10, Some(BOUND));
    assert_eq!(ready.len(), 2);
}

/// Newcomer issue: `wait_owned` hands the refs back, ready ones first to read, pending ones to
/// wait for again (Ray's `ray.wait`).
#[test]
fn wait_owned_hands_back_ready_and_pending_refs() {
    let (w, gate) = worker();
    let refs = vec![w.methods().gated().remote(0), helio::put(1), helio::put(2)];
    let (ready, pending) = block_on(helio::wait_owned(refs, 2, None));
    assert_eq!(helio::get_all(ready).unwrap(), [1, 2]);
    gate.add_permits(1);
    let (ready, pending) = helio::wait_owned_blocking(pending, 1, Some(BOUND));
    assert!(pending.is_empty());
    assert_eq!(helio::get_all(ready).unwrap(), [0]);
}

#[test]
fn every_clone_of_a_ref_yields_the_value() {
    let (w, gate) = worker();
    let r = w.methods().gated().remote(9);
    let clones: Vec<_> = (0..3).map(|_| r.clone()).collect();
    gate.add_permits(1);
    assert_eq!(get(r).unwrap(), 9);
    for c in clones {
        assert_eq!(get(c).unwrap(), 9);
    }
}

#[test]
fn refs_can_be_awaited_from_any_executor() {
    let (w, _gate) = worker();
    let r = w.methods().double().remote(21);
    // futures' executor knows nothing of tokio.
    assert_eq!(futures::executor::block_on(r.into_future()).unwrap(), 42);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let w2 = w.clone();
    let joined = rt.block_on(async move {
        tokio::spawn(async move { w2.methods().double().remote(5).await })
            .await
            .unwrap()
    });
    assert_eq!(joined.unwrap(), 10);
    // Blocking get from inside a multi-thread runtime's worker does not stall helio.
    let w3 = w.clone();
    let inside = rt.block_on(async move {
        tokio::spawn(async move { helio::get(w3.methods().double().remote(1)) })
            .await
            .unwrap()
    });
    assert_eq!(inside.unwrap(), 2);
}

#[test]
fn a_panic_resolves_to_task_panicked_and_kills_an_actor_without_restarts() {
    let (w, _gate) = worker();
    let queued_after = {
        let boom = w.methods().explode().remote("kaboom".to_owned());
        let after = w.methods().double().remote(1);
        match get(boom) {
            Err(ActorError::TaskPanicked {
                message,
                method: "explode",
                ..
            }) => {
                assert_eq!(message, "kaboom")
            }
            other => panic!("expected TaskPanicked, got {other:?}"),
        }
        after
    };
    for r in [queued_after, w.methods().double().remote(2)] {
        match get(r) {
            Err(ActorError::ActorDied {
                cause: DeathCause::Panicked(m),
                ..
            }) => {
                assert_eq!(m, "kaboom")
            }
            other => panic!("expected ActorDied, got {other:?}"),
        }
    }
}

#[test]
fn a_panic_restarts_an_actor_that_may_restart() {
    let gate = Arc::new(Semaphore::new(0));
    let w = Worker::new_actor()
        .options(ActorOptions::new().max_restarts(1))
        .remote(Arc::clone(&gate));
    get(w.methods().double().remote(1)).unwrap();
    let running = w.methods().gated().remote(7);
    let boom = w.methods().explode_later().remote();
    let queued = w.methods().double().remote(3);
    assert!(matches!(get(boom), Err(ActorError::TaskPanicked { .. })));
    // The call that was running when the actor crashed dies with it (no task retries here).
    assert!(matches!(
        get(running),
        Err(ActorError::ActorDied {
            cause: DeathCause::Panicked(_),
            ..
        })
    ));
    // The queued call runs on the new instance, whose state starts afresh.
    assert_eq!(get(queued).unwrap(), 6);
    assert_eq!(get(w.methods().served().remote()).unwrap(), 1);
    // The one restart is used up: the next crash is final.
    let _ = get(w.methods().explode().remote("again".to_owned()));
    assert!(matches!(
        get(w.methods().served().remote()),
        Err(ActorError::ActorDied { .. })
    ));
}

#[test]
fn a_panicking_actor_leaves_other_actors_and_callers_alone() {
    let (a, _ga) = worker();
    let (b, _gb) = worker();
    let refs: Vec<_> = (0..20)
        .map(|i| {
            if i == 10 {
                a.methods().explode().remote("isolated".to_owned())
            } else {
                b.methods().double().remote(i)
            }
        })
        .collect();
    for (i, r) in refs.into_iter().enumerate() {
        let result = get(r);
        if i == 10 {
            assert!(matches!(result, Err(ActorError::TaskPanicked { .. })));
        } else {
            assert_eq!(result.unwrap(), 2 * i as u64);
        }
    }
}

#[test]
fn unpack_gives_one_ref_per_element() {
    let (w, gate) = worker();
    let (number, text) = w.methods().pair().remote(5).unpack();
    assert!(!number.is_ready());
    gate.add_permits(1);
    assert_eq!(get(text).unwrap(), "5");
    assert_eq!(get(number).unwrap(), 5);
    // Already resolved: split at once.
    let (a, b) = helio::put((1u8, 'b')).unpack();
    assert!(a.is_ready() && b.is_ready());
    assert_eq!((get(a).unwrap(), get(b).unwrap()), (1, 'b'));
    let ten = helio::put((0, 1, 2, 3, 4, 5, 6, 7, 8, 9u16)).unpack();
    assert_eq!(get(ten.9).unwrap(), 9);
}

#[test]
fn unpack_passes_the_error_to_every_element() {
    let (w, _gate) = worker();
    let (number, text) = w.methods().pair_or_panic().remote(true).unpack();
    for err in [get(number).unwrap_err(), get(text).unwrap_err()] {
        assert!(
            matches!(
                err,
                ActorError::TaskPanicked {
                    method: "pair_or_panic",
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// Runtime issue: a blocking `get` on a multi-thread runtime's worker works (through
/// `block_in_place`), also for an actor that runs on that same runtime.
#[test]
fn blocking_get_on_a_multi_thread_worker() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let value = rt.block_on(async {
        tokio::spawn(async {
            let (w, gate) = worker();
            let r = w.methods().gated().remote(41);
            gate.add_permits(1);
            get(r).unwrap() + 1
        })
        .await
        .unwrap()
    });
    assert_eq!(value, 42);
}
