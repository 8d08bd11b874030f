//! Newcomer issue: a panic helio catches is not printed through the panic hook (it becomes a
//! `tracing` event), and the user's own hook is kept for every other panic. A binary of its
//! own: the panic hook is process-wide.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use common::get;
use helio::prelude::*;

pub struct Fragile;

#[actor(max_restarts = -1)]
impl Fragile {
    pub fn new() -> Self {
        Fragile
    }

    #[remote_method]
    pub fn crash(&self) {
        panic!("on purpose");
    }

    #[remote_method]
    pub async fn crash_later(&self) {
        tokio::task::yield_now().await;
        panic!("on purpose, later");
    }

    #[remote_method(blocking)]
    pub fn crash_blocking(&self) {
        panic!("on purpose, blocking");
    }

    #[remote_method]
    pub fn ping(&self) -> u32 {
        7
    }
}

/// Makes one call on the actor.
type Call = fn(&Actor<Fragile>) -> ObjectRef<()>;

#[test]
fn caught_panics_skip_the_hook_and_the_users_hook_stays() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        eprintln!("user hook: {info}");
    }));

    let actor = Fragile::new_actor().remote();
    assert_eq!(get(actor.methods().ping().remote()), Ok(7));
    // One at a time: a crash also fails the calls running beside it.
    let calls: [Call; 3] = [
        |a| a.methods().crash().remote(),
        |a| a.methods().crash_later().remote(),
        |a| a.methods().crash_blocking().remote(),
    ];
    for call in calls {
        let got = get(call(&actor));
        assert!(
            matches!(got, Err(ActorError::TaskPanicked { .. })),
            "expected TaskPanicked, got {got:?}"
        );
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a caught panic reached the hook"
    );

    // A panic helio does not catch still reaches the user's hook.
    let outside = std::thread::spawn(|| panic!("not helio's")).join();
    assert!(outside.is_err());
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the user's hook was replaced"
    );
}
