//! A seeded randomized soak: many callers, injected panics and kills, 12 000 calls. Every
//! object ref resolves (each wait is bounded), and the successful calls are exactly the
//! increments the actor made.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use common::get;
use helio::prelude::*;

pub struct Tally {
    /// Outlives restarts: the constructor gets the same `Arc` each time.
    total: Arc<AtomicU64>,
}

#[actor(max_restarts = -1, max_concurrency = 8)]
impl Tally {
    pub fn new(total: Arc<AtomicU64>) -> Self {
        Tally { total }
    }

    /// Counts one, or panics. Sync and `&mut`: runs alone and cannot be interrupted.
    #[remote_method]
    pub fn incr(&mut self, fail: bool) -> u64 {
        if fail {
            panic!("injected");
        }
        self.total.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Yields first, then counts one (the last step, so it counts iff it returns) or panics.
    #[remote_method]
    pub async fn incr_async(&self, fail: bool) -> u64 {
        tokio::task::yield_now().await;
        if fail {
            panic!("injected");
        }
        self.total.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// xorshift64*: a small seeded generator, so every run makes the same choices per caller.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

#[derive(Default)]
struct Outcomes {
    ok: u64,
    panicked: u64,
    died: u64,
}

const CALLERS: u64 = 8;
const CALLS_PER_CALLER: u64 = 1500;

fn caller(actor: Actor<Tally>, seed: u64) -> Outcomes {
    let mut rng = Rng(seed);
    let mut outcomes = Outcomes::default();
    let mut refs = Vec::new();
    for i in 0..CALLS_PER_CALLER {
        let fail = rng.one_in(100);
        refs.push(if rng.one_in(2) {
            actor.methods().incr().remote(fail)
        } else {
            actor.methods().incr_async().remote(fail)
        });
        if rng.one_in(200) {
            helio::kill(&actor, false);
        }
        if i % 50 == 49 || i == CALLS_PER_CALLER - 1 {
            for r in refs.drain(..) {
                match get(r) {
                    Ok(_) => outcomes.ok += 1,
                    Err(ActorError::TaskPanicked { message, .. }) => {
                        assert_eq!(message, "injected");
                        outcomes.panicked += 1;
                    }
                    Err(ActorError::ActorDied {
                        cause: DeathCause::Panicked(_) | DeathCause::Killed,
                        ..
                    }) => outcomes.died += 1,
                    Err(other) => panic!("unexpected error: {other}"),
                }
            }
        }
    }
    outcomes
}

#[test]
fn random_panics_and_kills_lose_no_call_and_count_no_call_twice() {
    // Injected panics are expected; keep the test output readable.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"injected") {
            default_hook(info);
        }
    }));

    let total = Arc::new(AtomicU64::new(0));
    let actor = Tally::new_actor().remote(Arc::clone(&total));
    let callers: Vec<_> = (0..CALLERS)
        .map(|seed| {
            let actor = actor.clone();
            std::thread::spawn(move || caller(actor, 0x9E37_79B9_7F4A_7C15 ^ (seed + 1)))
        })
        .collect();
    let mut all = Outcomes::default();
    for handle in callers {
        let outcomes = handle.join().expect("caller thread");
        all.ok += outcomes.ok;
        all.panicked += outcomes.panicked;
        all.died += outcomes.died;
    }
    assert_eq!(all.ok + all.panicked + all.died, CALLERS * CALLS_PER_CALLER);
    assert_eq!(
        all.ok,
        total.load(Ordering::SeqCst),
        "every success counted exactly once"
    );
    assert!(
        all.panicked > 0 && actor.restarts() > 0,
        "faults were injected"
    );
    assert_eq!(actor.state(), ActorState::Alive);
    eprintln!(
        "soak: {} ok, {} panicked, {} died with a crash, {} restarts",
        all.ok,
        all.panicked,
        all.died,
        actor.restarts()
    );
}
