//! Faults around `helio::init` and `helio::shutdown`. A binary of its own, with one test that
//! runs its steps in order: shutdown and init are process-wide.

mod common;

use std::{
    sync::mpsc::channel,
    time::{Duration, Instant},
};

use common::{BOUND, get};
use futures::stream;
use helio::{Config, RuntimeError, prelude::*};

/// Streams `0, 1, 2, ...` forever; also reports the thread its sync methods run on.
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

    /// The name of the thread the method runs on.
    #[remote_method]
    pub fn thread_name(&self) -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }
}

/// What the rest of a stream held once it stopped yielding items.
#[derive(Debug)]
struct Rest {
    /// Items still yielded.
    items: usize,
    /// What came instead of the next item (`None`: the stream ended).
    stop: Option<Result<u64, ActorError>>,
    /// Whether the stream then ended (`next()` gave `None`).
    ended_after: bool,
}

/// Reads the rest of `items` on another thread, for at most `limit` items and [`BOUND`].
fn read_rest(mut items: helio::BlockingIter<u64>, limit: usize) -> Rest {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut count = 0;
        let stop = loop {
            match items.next() {
                Some(Ok(_)) if count < limit => count += 1,
                other => break other,
            }
        };
        let ended_after = stop.is_none() || items.next().is_none();
        let _ = tx.send(Rest {
            items: count,
            stop,
            ended_after,
        });
    });
    rx.recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("the stream did not stop within {BOUND:?}"))
}

#[test]
fn init_and_shutdown_faults() {
    // Bug 10: an invalid thread name is a configuration error, not a panic. First, before
    // anything starts the runtime.
    match std::panic::catch_unwind(|| helio::init(Config::new().thread_name("bad\0name"))) {
        Ok(Err(RuntimeError::InvalidConfig(_))) => {}
        Ok(other) => panic!("expected InvalidConfig for a thread name with a NUL, got {other:?}"),
        Err(_) => panic!(
            "helio::init panicked on a thread name with a NUL instead of returning InvalidConfig"
        ),
    }

    // Bug 11: a stream in flight at `shutdown` ends with `ActorDied { Shutdown }`, then `None`.
    let actor = Streamer::new_actor().remote();
    get(actor.ready()).unwrap();
    assert_eq!(actor.state(), ActorState::Alive);
    let mut items = actor.methods().endless().remote().blocking_iter();
    for i in 0..3 {
        match items.next() {
            Some(Ok(x)) => assert_eq!(x, i),
            other => panic!("expected item {i}, got {other:?}"),
        }
    }
    helio::shutdown();
    // Items buffered before the shutdown may still come: the buffer (4) and the pump's item.
    let rest = read_rest(items, 100);
    match &rest.stop {
        Some(Err(ActorError::ActorDied {
            cause: DeathCause::Shutdown,
            ..
        })) => {}
        other => panic!(
            "expected the stream to end with ActorDied(Shutdown), got {other:?} after {} more \
             items",
            rest.items
        ),
    }
    assert!(
        rest.ended_after,
        "the stream ends after its error: {rest:?}"
    );

    // Bug 12: after `shutdown` the actor is dead, not alive.
    let deadline = Instant::now() + BOUND;
    while actor.state() != ActorState::Dead(DeathCause::Shutdown) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        actor.state(),
        ActorState::Dead(DeathCause::Shutdown),
        "the actor's state after shutdown"
    );

    // Bug 13 (new API): `Config::runtime` pins every actor to the given runtime.
    helio::shutdown(); // no-op unless something restarted the runtime meanwhile
    let pinned = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pinned-rt")
        .enable_all()
        .build()
        .expect("multi-thread runtime");
    helio::init(Config::new().runtime(pinned.handle().clone()))
        .expect("init with a runtime handle");
    let actor = Streamer::new_actor().remote();
    assert_eq!(
        get(actor.methods().thread_name().remote())
            .unwrap()
            .as_deref(),
        Some("pinned-rt"),
        "an actor created from sync code runs on the runtime given to init"
    );
    helio::shutdown();
    drop(pinned);
}
