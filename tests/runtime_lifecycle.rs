//! `helio::init` and `helio::shutdown`. A binary of its own: it stops the process-wide runtime.

mod common;

use std::sync::Arc;

use common::get;
use helio::{Config, RuntimeError, prelude::*};
use tokio::sync::Semaphore;

pub struct Parked {
    gate: Arc<Semaphore>,
    bumps: u32,
}

#[actor]
impl Parked {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Parked { gate, bumps: 0 }
    }

    #[remote_method]
    pub async fn park(&self) {
        self.gate.acquire().await.unwrap().forget();
    }

    #[remote_method]
    pub fn bump(&mut self) -> u32 {
        self.bumps += 1;
        self.bumps
    }
}

fn assert_shutdown<T: std::fmt::Debug>(r: ObjectRef<T>) {
    match get(r) {
        Err(ActorError::ActorDied {
            cause: DeathCause::Shutdown,
            ..
        }) => {}
        other => panic!("expected ActorDied(Shutdown), got {other:?}"),
    }
}

#[test]
fn init_then_shutdown_resolves_every_pending_call_and_a_fresh_runtime_follows() {
    assert!(matches!(
        helio::init(Config::new().worker_threads(0)),
        Err(RuntimeError::InvalidConfig(_))
    ));
    helio::init(Config::new().worker_threads(2).thread_name("lifecycle")).unwrap();
    assert!(matches!(
        helio::init(Config::new()),
        Err(RuntimeError::AlreadyRunning)
    ));

    let gate = Arc::new(Semaphore::new(0));
    let parked = Parked::new_actor().remote(Arc::clone(&gate));
    assert_eq!(get(parked.methods().bump().remote()).unwrap(), 1);
    let running = parked.methods().park().remote();
    let queued = parked.methods().bump().remote();
    helio::shutdown();
    assert_shutdown(running);
    assert_shutdown(queued);
    assert_shutdown(parked.methods().bump().remote());

    // The next helio call starts a fresh runtime.
    let fresh = Parked::new_actor().remote(gate);
    assert_eq!(get(fresh.methods().bump().remote()).unwrap(), 1);
    helio::shutdown();
}

/// `Config::runtime` pins actors to a multi-thread runtime: a current-thread one (which runs
/// only while someone blocks on it) is refused, before anything starts.
#[test]
fn a_current_thread_runtime_cannot_be_pinned() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(matches!(
        helio::init(Config::new().runtime(rt.handle().clone())),
        Err(RuntimeError::InvalidConfig(_))
    ));
}
