//! Refs as arguments: `.remote(r)` with `r: ObjectRef<T>` for a `T` parameter.

mod common;

use std::sync::Arc;

use common::get;
use helio::prelude::*;
use tokio::sync::Semaphore;

pub struct Math {
    gate: Arc<Semaphore>,
}

#[actor(max_concurrency = 10)]
impl Math {
    pub fn new(gate: Arc<Semaphore>) -> Self {
        Math { gate }
    }

    #[remote_method]
    pub fn incr(&self, x: u64) -> u64 {
        x + 1
    }

    #[remote_method]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        a + b
    }

    #[remote_method]
    pub fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }

    /// `x`, once the gate opens.
    #[remote_method]
    pub async fn later(&self, x: u64) -> u64 {
        self.gate.acquire().await.unwrap().forget();
        x
    }

    #[remote_method]
    pub fn fail(&self) -> u64 {
        panic!("upstream failed")
    }
}

fn math() -> (Actor<Math>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let restartable = ActorOptions::new().max_restarts(-1);
    (
        Math::new_actor()
            .options(restartable)
            .remote(Arc::clone(&gate)),
        gate,
    )
}

#[test]
fn a_chain_of_100_calls_needs_no_intermediate_wait() {
    let (a, _) = math();
    let (b, _) = math();
    let mut r = helio::put(0u64);
    for i in 0..100 {
        let actor = if i % 2 == 0 { &a } else { &b };
        r = actor.methods().incr().remote(r);
    }
    assert_eq!(get(r).unwrap(), 100);
}

#[test]
fn refs_and_literals_mix_in_one_call() {
    let (m, _) = math();
    let three = m.methods().add().remote(1, 2);
    assert_eq!(get(m.methods().add().remote(three, 5)).unwrap(), 8);
    let name = String::from("ref");
    assert_eq!(
        get(m.methods().greet().remote("str")).unwrap(),
        "hello, str"
    );
    assert_eq!(
        get(m.methods().greet().remote(&name)).unwrap(),
        "hello, ref"
    );
    assert_eq!(get(m.methods().greet().remote(name)).unwrap(), "hello, ref");
}

#[test]
fn the_caller_does_not_wait_for_pending_arguments() {
    let (m, gate) = math();
    let upstream = m.methods().later().remote(41);
    // Returns at once though `upstream` cannot resolve before the gate opens.
    let downstream = m.methods().incr().remote(upstream);
    assert!(!downstream.is_ready());
    gate.add_permits(1);
    assert_eq!(get(downstream).unwrap(), 42);
}

#[test]
fn a_failed_upstream_ref_fails_the_downstream_call_with_its_error() {
    let (m, _) = math();
    let upstream = m.methods().fail().remote();
    match get(m.methods().incr().remote(upstream)) {
        Err(ActorError::TaskPanicked {
            method: "fail",
            message,
            ..
        }) => {
            assert_eq!(message, "upstream failed")
        }
        other => panic!("expected the upstream TaskPanicked, got {other:?}"),
    }
}
