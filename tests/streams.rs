//! Streaming methods: order, backpressure, cancellation on drop, errors mid-stream.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
    mpsc,
};

use common::BOUND;
use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use helio::prelude::*;

/// Signals when dropped (moved into a stream, it tells when the producer is gone).
struct DropSignal(mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

pub struct Producer {
    produced: Arc<AtomicUsize>,
}

#[actor]
impl Producer {
    pub fn new(produced: Arc<AtomicUsize>) -> Self {
        Producer { produced }
    }

    /// `0..n`, counting each item as it is produced. The stream takes what it needs from the
    /// actor (a clone of the counter), so it does not borrow `self`.
    #[remote_method(stream_buffer = 4)]
    pub fn count(&self, n: u32) -> impl futures::Stream<Item = u32> + Send + 'static {
        let produced = Arc::clone(&self.produced);
        stream::iter(0..n).inspect(move |_| {
            produced.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// An async method building a boxed stream.
    #[remote_method]
    pub async fn letters(&self, word: String) -> BoxStream<'static, char> {
        tokio::task::yield_now().await;
        stream::iter(word.chars().collect::<Vec<_>>()).boxed()
    }

    /// Endless; `dropped` fires once the producer is dropped.
    #[remote_method(stream_buffer = 2)]
    pub fn forever(
        &self,
        dropped: mpsc::Sender<()>,
    ) -> impl futures::Stream<Item = u8> + Send + 'static {
        let signal = DropSignal(dropped);
        stream::repeat(1).map(move |x| {
            let _keep = &signal;
            x
        })
    }

    /// One item, once the gate opens.
    #[remote_method]
    pub fn gated(
        &self,
        gate: Arc<tokio::sync::Semaphore>,
    ) -> impl futures::Stream<Item = u8> + Send + 'static {
        stream::once(async move {
            gate.acquire().await.expect("gate open").forget();
            9
        })
    }

    /// Three items, then a panic.
    #[remote_method]
    pub fn breaks(&self) -> impl futures::Stream<Item = u32> + Send + 'static {
        stream::iter(0..10).map(|i| {
            assert!(i < 3, "broke at {i}");
            i
        })
    }
}

fn producer() -> (Actor<Producer>, Arc<AtomicUsize>) {
    let produced = Arc::new(AtomicUsize::new(0));
    (
        Producer::new_actor().remote(Arc::clone(&produced)),
        produced,
    )
}

#[test]
fn items_arrive_in_order_as_a_stream_or_a_blocking_iterator() {
    let (actor, _) = producer();
    let items: Vec<u32> = common::block_on(
        actor
            .methods()
            .count()
            .remote(100)
            .map(Result::unwrap)
            .collect(),
    );
    assert_eq!(items, (0..100).collect::<Vec<_>>());
    let letters: Result<String, _> = actor
        .methods()
        .letters()
        .remote("helio".to_owned())
        .blocking_iter()
        .collect();
    assert_eq!(letters.unwrap(), "helio");
}

#[test]
fn a_slow_consumer_holds_the_producer_back() {
    let (actor, produced) = producer();
    let buffer = 4;
    let mut items = actor.methods().count().remote(1000).blocking_iter();
    for consumed in 1..=100 {
        assert_eq!(items.next().map(Result::unwrap), Some(consumed as u32 - 1));
        // Never more than the buffer, plus the item the pump holds while it waits for room,
        // ahead of what was consumed.
        let ahead = produced.load(Ordering::SeqCst) - consumed;
        assert!(
            ahead <= buffer + 1,
            "{ahead} items produced ahead of the consumer"
        );
    }
    assert_eq!(items.map(Result::unwrap).count(), 900);
    assert_eq!(produced.load(Ordering::SeqCst), 1000);
}

#[test]
fn dropping_the_stream_cancels_the_producer() {
    let (actor, _) = producer();
    let (tx, dropped) = mpsc::channel();
    let mut items = actor.methods().forever().remote(tx).blocking_iter();
    for _ in 0..3 {
        assert_eq!(items.next().map(Result::unwrap), Some(1));
    }
    drop(items);
    dropped
        .recv_timeout(BOUND)
        .expect("the producer was dropped");
}

#[test]
fn a_panic_mid_stream_ends_it_after_the_items_already_produced() {
    let (actor, _) = producer();
    let mut items = actor.methods().breaks().remote().blocking_iter();
    for i in 0..3 {
        assert_eq!(items.next().map(Result::unwrap), Some(i));
    }
    match items.next() {
        Some(Err(ActorError::TaskPanicked {
            message,
            method: "breaks",
            ..
        })) => {
            assert_eq!(message, "broke at 3")
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    assert!(items.next().is_none());
    // The stream ran apart from the actor's state: the actor serves on.
    assert_eq!(actor.state(), ActorState::Alive);
}

#[test]
fn a_failed_call_ends_the_stream_with_its_error() {
    let (actor, _) = producer();
    helio::kill(&actor, true);
    let mut items = actor.methods().count().remote(5).blocking_iter();
    assert!(matches!(
        items.next(),
        Some(Err(ActorError::ActorDied { .. }))
    ));
    assert!(items.next().is_none());
}

#[test]
fn wait_reports_streams_whose_next_item_or_end_is_there() {
    let (actor, _) = producer();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let streams = vec![
        actor.methods().gated().remote(Arc::clone(&gate)),
        actor.methods().gated().remote(Arc::clone(&gate)),
    ];
    gate.add_permits(1);
    let (ready, pending) = helio::wait_blocking(&streams, 1, Some(BOUND));
    assert_eq!((ready.len(), pending.len()), (1, 1));
    gate.add_permits(1);
    let (ready, _) = common::block_on(helio::wait(&streams, 2, None));
    assert_eq!(ready.len(), 2);
    // A stream whose items are all taken is ready too: its end is there.
    let mut ended = actor.methods().count().remote(1).blocking_iter();
    assert_eq!(ended.next().map(Result::unwrap), Some(0));
    assert!(ended.next().is_none());
    let finished = vec![actor.methods().count().remote(0)];
    let (ready, _) = helio::wait_blocking(&finished, 1, Some(BOUND));
    assert_eq!(ready.len(), 1);
}
